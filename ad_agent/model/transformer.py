"""The AD sequence model: a small causal (GPT-style) transformer over one token per step.

Token layout: step ``t`` is one token, the step vector of :mod:`ad_agent.model.base` (the encoded
observation ``o_t`` plus embeddings of ``a_{t-1}``, ``r_{t-1}`` and an episode-start flag); the
output at ``t`` predicts ``a_t``. Compared with the paper's separate (o, a, r) tokens this keeps
exactly the information of ``h_{t-1}, o_t`` (Eq. 6) in a third of the sequence length, so
attention over the same number of steps costs ~9x less and a 2-core CPU can afford contexts of
ten episodes.

Positions are rotary (RoPE) and attention is a sliding window of ``context_len`` steps at every
layer. Both make incremental decoding exact: a cached key never has to change when the window
rolls, because it carries its own absolute position and attention scores depend only on the
distance between query and key. A policy can therefore process one new step per call against a
:class:`KVCache` and get, to float rounding, what :meth:`ADTransformer.forward` computes over the
whole history with the same sliding-window mask. Training windows hold at most ``context_len``
steps, where the sliding window is the ordinary causal mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ad_agent.model.base import ADModel
from ad_agent.model.config import ModelConfig

ROPE_BASE = 10_000.0
_EMPTY_SLOT = -(2**62)  # position of a cache slot that holds nothing: outside every window


def rope_tables(positions: torch.Tensor, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation factors for ``positions`` ``(T,)``, each ``(T, 1, 1, 2, head_dim // 2)``.

    They broadcast over the query/key part of the attention's ``(B, T, 2, H, head_dim)`` projection,
    viewed as ``(B, T, 2, H, 2, head_dim // 2)`` halves: :func:`apply_rope` rotates queries and keys
    of every head in one pass over that contiguous layout, ~3x cheaper than rotating each of the
    permuted ``(B, H, T, D)`` views. Angles are formed in float64 so that positions in the tens of
    thousands (long deployments) rotate as precisely as the first ones.
    """
    inv_freq = ROPE_BASE ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=positions.device) / head_dim)
    angles = positions.to(torch.float64)[:, None] * inv_freq
    cos, sin = angles.cos().float(), angles.sin().float()
    shape = (len(positions), 1, 1, 2, head_dim // 2)
    return torch.stack([cos, cos], dim=1).view(shape), torch.stack([-sin, sin], dim=1).view(shape)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the two halves ``(x1, x2)`` of each head's features by the angles: the first half becomes
    ``x1 cos - x2 sin``, the second ``x2 cos + x1 sin`` (``sin`` holds ``-sin`` for the first half)."""
    halves = x.unflatten(-1, (2, -1))
    return (halves * cos + halves.flip(-2) * sin).flatten(-2)


def sliding_window_mask(query_pos: torch.Tensor, key_pos: torch.Tensor, window: int) -> torch.Tensor:
    """``(Tq, Tk)`` boolean: a query sees keys at most ``window - 1`` steps older than itself."""
    distance = query_pos[:, None] - key_pos[None, :]
    return (distance >= 0) & (distance < window)


@dataclass
class KVCache:
    """Keys and values of the last ``window`` steps of every layer, in a ring indexed by position.

    ``keys[layer]`` / ``values[layer]`` are ``(B, H, window, head_dim)``; ``positions`` ``(window,)``
    says which step each slot holds. Slot ``p % window`` holds step ``p``, so writing a new step
    overwrites exactly the step that just left the window and nothing is ever shifted.
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    positions: torch.Tensor
    next_position: int = 0

    @classmethod
    def empty(cls, config: ModelConfig, batch_size: int, device: torch.device | str) -> KVCache:
        shape = (batch_size, config.n_heads, config.context_len, config.d_model // config.n_heads)
        return cls(
            keys=[torch.zeros(shape, device=device) for _ in range(config.n_layers)],
            values=[torch.zeros(shape, device=device) for _ in range(config.n_layers)],
            positions=torch.full((config.context_len,), _EMPTY_SLOT, dtype=torch.long, device=device),
        )

    @property
    def window(self) -> int:
        return self.positions.shape[0]

    def new_positions(self, steps: int) -> torch.Tensor:
        return torch.arange(self.next_position, self.next_position + steps, device=self.positions.device)

    def attend_one(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None):
        """Attention of one new step, already placed by :meth:`advance`: stored in its slot, then read
        back with the whole ring; the slot it takes held the step that just left the window."""
        slot = (self.next_position - 1) % self.window
        self.keys[layer][:, :, slot] = k[:, :, 0]
        self.values[layer][:, :, slot] = v[:, :, 0]
        return F.scaled_dot_product_attention(q, self.keys[layer], self.values[layer], attn_mask=mask)

    def window_mask(self) -> torch.Tensor | None:
        """Which slots the newest step may attend to; ``None`` once every slot is in the window."""
        if self.next_position >= self.window:
            return None
        return (self.positions >= 0)[None]  # (1 query, window keys)

    def write(self, layer: int, keys: torch.Tensor, values: torch.Tensor, positions: torch.Tensor) -> None:
        """Store the newest ``window`` of the given steps of ``layer`` in their slots."""
        keys, values, positions = keys[:, :, -self.window :], values[:, :, -self.window :], positions[-self.window :]
        slots = positions % self.window
        self.keys[layer][:, :, slots] = keys
        self.values[layer][:, :, slots] = values

    def advance(self, positions: torch.Tensor) -> None:
        """Mark the steps at ``positions`` as stored; call once all layers have written them."""
        positions = positions[-self.window :]
        self.positions[positions % self.window] = positions
        self.next_position = int(positions[-1]) + 1


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.n_heads = config.n_heads
        self.window = config.context_len
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.attn_dropout = config.attn_dropout

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], cache: KVCache | None
    ) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self._project(x, rope)
        if cache is None:
            y = self._attend_within(q, k, v, positions)
        elif t == 1:
            y = cache.attend_one(self.layer, q, k, v, cache.window_mask())
        else:
            # Past steps come from the cache, new ones from this call; the mask keeps the window.
            keys = torch.cat([cache.keys[self.layer], k], dim=2)
            values = torch.cat([cache.values[self.layer], v], dim=2)
            mask = sliding_window_mask(positions, torch.cat([cache.positions, positions]), self.window)
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
            cache.write(self.layer, k, v, positions)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))

    def _project(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]):
        """Queries and keys (rotated) and values, each ``(B, H, T, head_dim)``."""
        b, t, d = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads)
        q, k = apply_rope(qkv[:, :, :2], *rope).permute(2, 0, 3, 1, 4)
        return q, k, qkv[:, :, 2].transpose(1, 2)

    def attention_weights(
        self, x: torch.Tensor, positions: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """``(B, H, T, T)`` softmax weights of a cache-free pass over ``x``, for inspection: the fused
        kernel of :meth:`forward` never materialises them."""
        q, k, _ = self._project(x, rope)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        mask = sliding_window_mask(positions, positions, self.window)
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)

    def _attend_within(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, positions: torch.Tensor):
        dropout = self.attn_dropout if self.training else 0.0
        if q.shape[2] <= self.window:  # the sliding window is the plain causal mask: fused kernel
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        mask = sliding_window_mask(positions, positions, self.window)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)


class Block(nn.Module):
    """Pre-norm transformer block (more stable than the paper's post-norm at small batch)."""

    def __init__(self, config: ModelConfig, layer: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config, layer)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff),
            nn.GELU(),
            nn.Linear(config.d_ff, config.d_model),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor, positions: torch.Tensor, rope, cache: KVCache | None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), positions, rope, cache)
        return x + self.mlp(self.ln2(x))


class ADTransformer(ADModel):
    """Maps a sequence of steps to the action head's next-action prediction at every position."""

    def _build_body(self) -> int:
        self.blocks = nn.ModuleList(Block(self.config, layer) for layer in range(self.config.n_layers))
        self.ln_f = nn.LayerNorm(self.config.d_model)
        return self.config.d_model

    def new_cache(self, batch_size: int) -> KVCache:
        """An empty cache for decoding ``batch_size`` sequences step by step with :meth:`forward`."""
        return KVCache.empty(self.config, batch_size, self.head.weight.device)

    def forward(
        self,
        observations: torch.Tensor,
        prev_actions: torch.Tensor,
        prev_rewards: torch.Tensor,
        episode_starts: torch.Tensor,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Logits ``(B, T, A)`` for ``T`` steps: observations ``(B, T, *config.obs_input_shape)``, the rest ``(B, T)``.

        Observations are integer components (discrete), floats (vector) or uint8 pixels (image).

        Without ``cache`` the steps are a sequence of their own (any length; each step attends to
        the ``context_len`` latest steps up to itself). With ``cache`` they continue the steps the
        cache holds, which it then also holds.
        """
        t = observations.shape[1]
        positions = torch.arange(t, device=observations.device) if cache is None else cache.new_positions(t)
        x = self.embed_steps(self.obs_embed(observations), prev_actions, prev_rewards, episode_starts)
        rope = rope_tables(positions, self.config.d_model // self.config.n_heads)
        one_step = cache is not None and t == 1
        if cache is not None and one_step:  # place the step first: each layer then attends to the ring in place
            cache.advance(positions)
        for block in self.blocks:
            x = block(x, positions, rope, cache)
        if cache is not None and not one_step:
            cache.advance(positions)
        return self.action_head_output(self.ln_f(x))
