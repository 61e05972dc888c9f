"""The AD sequence model: a small causal (GPT-style) transformer over one token per step.

Token layout: step ``t`` is one token, the sum of embeddings of the observation ``o_t``, the
previous action ``a_{t-1}``, the previous reward ``r_{t-1}`` and an episode-start flag; the
output at ``t`` predicts ``a_t``. Compared with the paper's separate (o, a, r) tokens this keeps
exactly the information of ``h_{t-1}, o_t`` (Eq. 6) in a third of the sequence length, so
attention over the same number of steps costs ~9x less and a 2-core CPU can afford contexts of
ten episodes. Causality makes every prediction depend on the past only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ad_agent.model.config import ModelConfig


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.attn_dropout = config.attn_dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.attn_dropout if self.training else 0.0
        )
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """Pre-norm transformer block (more stable than the paper's post-norm at small batch)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff),
            nn.GELU(),
            nn.Linear(config.d_ff, config.d_model),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ADTransformer(nn.Module):
    """Maps a window of steps to next-action logits at every position."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        # One table for all observation components; offsets keep each component's rows apart.
        offsets = torch.tensor([0, *config.obs_nvec[:-1]]).cumsum(0)
        self.register_buffer("obs_offsets", offsets, persistent=False)
        self.obs_embed = nn.Embedding(sum(config.obs_nvec), d)
        self.prev_action_embed = nn.Embedding(config.n_actions + 1, d)  # last row: "no action yet"
        self.prev_reward_embed = nn.Linear(1, d)
        self.start_embed = nn.Embedding(2, d)
        self.pos_embed = nn.Embedding(config.context_len, d)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.n_actions)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self,
        observations: torch.Tensor,
        prev_actions: torch.Tensor,
        prev_rewards: torch.Tensor,
        episode_starts: torch.Tensor,
    ) -> torch.Tensor:
        """Shapes: observations ``(B, T, n_obs)`` long, the rest ``(B, T)``; returns ``(B, T, A)``."""
        t = observations.shape[1]
        if t > self.config.context_len:
            raise ValueError(f"window of {t} steps exceeds context_len {self.config.context_len}")
        x = (
            self.obs_embed(observations + self.obs_offsets).sum(dim=2)
            + self.prev_action_embed(prev_actions)
            + self.prev_reward_embed(prev_rewards.unsqueeze(-1))
            + self.start_embed(episode_starts.long())
            + self.pos_embed(torch.arange(t, device=observations.device))
        )
        x = self.drop(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))
