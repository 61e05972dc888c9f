"""What every AD sequence model shares: the step embedding going in and the action head coming out.

Step ``t`` is one input vector: the encoded observation ``o_t`` (see
:mod:`ad_agent.model.encoders`) plus embeddings of the previous action ``a_{t-1}``, the previous
reward ``r_{t-1}`` and an episode-start flag; the output at ``t`` predicts ``a_t``. That is
exactly the information of ``h_{t-1}, o_t`` (Eq. 6) in one vector per step. Architectures
differ only in the sequence body between the two ends (:meth:`ADModel._build_body`), so they
train by the same loop on the same windows and are driven by the same policy: each has
:meth:`ADModel.new_cache` for a decoding state that ``forward(..., cache=...)`` continues in place.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ad_agent.model.config import ModelConfig
from ad_agent.model.encoders import make_encoder
from ad_agent.model.heads import make_head


class ADModel(nn.Module):
    """Step embedding -> sequence body (subclass) -> action head (:mod:`ad_agent.model.heads`).

    The embedding modules keep their attribute names (``obs_embed``, ``prev_action_embed``, ...)
    and are registered before the body and the head, so transformer weight files and seeded
    initialisations are what they were before the body became pluggable.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        coding = self.action_coding = config.action_coding  # once: the property builds and checks one
        self.obs_embed = make_encoder(config)
        # one table for every action component, each its classes and a last "no action yet" row
        self.prev_action_embed = nn.Embedding(coding.components * (coding.classes + 1), d)
        self.register_buffer("action_offsets", torch.arange(coding.components) * (coding.classes + 1), persistent=False)
        self.prev_reward_embed = nn.Linear(1, d)
        self.start_embed = nn.Embedding(2, d)
        self.drop = nn.Dropout(config.dropout)
        self.action_head = make_head(config.action_head, coding)
        self.head = nn.Linear(self._build_body(), self.action_head.outputs)
        self.apply(self._init_weights)

    action_offsets: torch.Tensor  # a buffer, registered in __init__

    def _build_body(self) -> int:
        """Register the layers between the step vectors and the head; return the head's input width."""
        raise NotImplementedError

    def new_cache(self, batch_size: int) -> Any:
        """An empty decoding state for ``batch_size`` sequences, continued in place by ``forward``."""
        raise NotImplementedError

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def embed_steps(
        self,
        obs_features: torch.Tensor,
        prev_actions: torch.Tensor,
        prev_rewards: torch.Tensor,
        episode_starts: torch.Tensor,
    ) -> torch.Tensor:
        """One ``d_model`` vector per step ``(B, T, d_model)`` from the encoded observations and the feedback."""
        x = (
            obs_features
            + self._embed_actions(prev_actions)
            + self.prev_reward_embed(prev_rewards.unsqueeze(-1))
            + self.start_embed(episode_starts.long())
        )
        return self.drop(x)

    def _embed_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """Action classes ``(B, T)`` (Discrete) or ``(B, T, d)`` (a Box's bins) -> ``(B, T, d_model)``."""
        if not self.action_coding.continuous:
            return self.prev_action_embed(actions)
        return self.prev_action_embed(actions + self.action_offsets).sum(dim=-2)

    def action_head_output(self, features: torch.Tensor) -> torch.Tensor:
        """The head on the body's output, arranged by :attr:`action_head`: ``(B, T, n_actions)`` scores,
        ``(B, T, d, bins)`` for a Box action's bins, ``(B, T, d, 2)`` for its Gaussians."""
        return self.action_head.arrange(self.head(features))
