"""The action distributions of SB3's ``ActorCriticPolicy`` for N learners' batches at once.

Everything that depends on the kind of action lives here, so the rollout loop and the losses are
the same for both: the log-probability of given actions, the entropy, and sampling. Sampling draws
from a numpy generator (the batch's), not torch's, so a batch's histories follow from its seed alone.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch.distributions import Normal


class ActionDistribution(Protocol):
    """Each learner's policy on each of its ``B`` observations; tensors are ``(N, B, ...)``."""

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """``(N, B)`` log-probabilities (densities for Box actions) of ``actions``."""
        ...

    def entropy(self) -> torch.Tensor:
        """``(N, B)`` entropies."""
        ...

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One action per observation, ``(N, B, *action_shape)``, drawn from ``rng``."""
        ...


class Categorical:
    """SB3's ``CategoricalDistribution`` (Discrete actions) over ``logits`` ``(N, B, n_actions)``."""

    def __init__(self, logits: torch.Tensor) -> None:
        self.log_softmax = torch.log_softmax(logits, dim=-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.log_softmax.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        return -(self.log_softmax.exp() * self.log_softmax).sum(-1)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """int64 actions by inverting each cumulative distribution at a uniform draw."""
        cumulative = np.cumsum(self.log_softmax.detach().exp().cpu().numpy(), axis=-1)
        u = rng.random(cumulative.shape[:-1])
        return np.minimum((cumulative < u[..., None]).sum(-1), cumulative.shape[-1] - 1)


class DiagGaussian:
    """SB3's ``DiagGaussianDistribution`` (Box actions): means ``(N, B, d)`` and each learner's
    state-independent ``log_std`` ``(N, d)``; log-probabilities and entropies sum over the ``d`` dims."""

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor) -> None:
        self.normal = Normal(mean, torch.ones_like(mean) * log_std.exp().unsqueeze(1))

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.normal.log_prob(actions).sum(-1)

    def entropy(self) -> torch.Tensor:
        return self.normal.entropy().sum(-1)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """float32 actions ``mean + std * noise``, unbounded: the envs get them clipped to their box, as in SB3."""
        mean, std = self.normal.loc.detach(), self.normal.scale.detach()
        noise = torch.as_tensor(rng.standard_normal(mean.shape), dtype=mean.dtype, device=mean.device)
        return (mean + std * noise).cpu().numpy()
