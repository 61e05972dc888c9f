"""The paper's LSTM variant of AD (App. K, Fig. 14): a recurrent body between the shared ends.

The paper's LSTM reads the embedded ``(o_i, a_i, r_i)`` triplets up to step ``t - 1``; its output,
concatenated with the embedding of ``o_t``, goes through an MLP torso (depth 2, width 256; LSTM
hidden size 512, all tuned by grid search) to the distribution over ``a_t``. Here the LSTM reads
the shared step vectors of :mod:`ad_agent.model.base` (``o_t`` with ``a_{t-1}``, ``r_{t-1}``
and the episode-start flag), which by step ``t`` carry the same triplets up to ``t - 1`` plus
``o_t``; its output at ``t`` is concatenated with the encoded ``o_t`` (the paper's direct path
from the current observation to the torso) and goes through a two-layer ReLU torso of width
``d_ff`` to the shared action head. It trains on the same ``context_len`` windows as the
transformer, each read from a zero state.

State at deployment: the policy carries ``(h, c)`` across the whole trial, one step per
:meth:`ADLSTM.forward` call, and never re-reads past steps. That is what the paper describes
(the LSTM receives the triplets "up to the most recent time step"), it makes ``act`` cost one
LSTM step whatever the trial length, and it gives the LSTM what it is for: a memory that is
not cut at a window. The alternative, re-reading the last ``context_len`` steps from a zero
state at every step, would match the training windows exactly but costs ``context_len``
sequential LSTM steps per action (see ``benchmarks/lstm_variant.py``). The price of carrying
is a length shift: a trial of thousands of steps is longer than any training window, so the
state must stay in the range the forget gates reached during training. A full-sequence
:meth:`ADLSTM.forward` without a cache reads its whole input from a zero state, which is
exactly what step-by-step decoding computes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ad_agent.model.base import ADModel


@dataclass
class LSTMState:
    """The recurrent state of every layer, ``h`` and ``c`` each ``(n_layers, B, lstm_hidden)``.

    ``next_position`` counts the steps read so far, like :class:`~ad_agent.model.transformer.KVCache`.
    """

    h: torch.Tensor
    c: torch.Tensor
    next_position: int = 0


class ADLSTM(ADModel):
    """Maps a sequence of steps to the action head's next-action prediction at every position, recurrently."""

    def _build_body(self) -> int:
        config = self.config
        self.lstm = nn.LSTM(
            config.d_model,
            config.lstm_hidden,
            num_layers=config.n_layers,
            batch_first=True,
            dropout=config.dropout if config.n_layers > 1 else 0.0,  # torch applies it between layers only
        )
        self.torso = nn.Sequential(
            nn.Linear(config.lstm_hidden + config.d_model, config.d_ff),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.d_ff, config.d_ff),
            nn.ReLU(),
            nn.Dropout(config.dropout),
        )
        return config.d_ff

    def new_cache(self, batch_size: int) -> LSTMState:
        """A zero state for decoding ``batch_size`` sequences step by step with :meth:`forward`."""
        shape = (self.config.n_layers, batch_size, self.config.lstm_hidden)
        device = self.head.weight.device
        return LSTMState(torch.zeros(shape, device=device), torch.zeros(shape, device=device))

    def forward(
        self,
        observations: torch.Tensor,
        prev_actions: torch.Tensor,
        prev_rewards: torch.Tensor,
        episode_starts: torch.Tensor,
        cache: LSTMState | None = None,
    ) -> torch.Tensor:
        """Logits ``(B, T, A)`` for ``T`` steps, inputs as for :meth:`ADTransformer.forward`.

        Without ``cache`` the steps are read from a zero state; with it they continue the steps
        it has read, and it is advanced past them.
        """
        obs = self.obs_embed(observations)
        x = self.embed_steps(obs, prev_actions, prev_rewards, episode_starts)
        out, (h, c) = self.lstm(x, None if cache is None else (cache.h, cache.c))
        if cache is not None:
            cache.h, cache.c = h, c
            cache.next_position += x.shape[1]
        return self.action_head_output(self.torso(torch.cat([out, obs], dim=-1)))
