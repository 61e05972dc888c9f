"""The action head: what the model's last layer says about ``a_t``, how it is trained, how an action is drawn.

The model's last layer is one linear map (``ADModel.head``); a head object reads its raw outputs as a
distribution over actions. Two kinds:

- :class:`CategoricalHead` (``action_head="categorical"``): a categorical over a Discrete space's
  actions, or over each Box dimension's bins (:mod:`ad_agent.actions`), trained by cross-entropy.
- :class:`SquashedGaussianHead` (``action_head="gaussian"``, Box only): each dimension is
  ``tanh`` of a Gaussian, scaled to the bounds, as SAC's policies are. The recorded actions are
  known to the model only as bins, so it is trained by the probability its distribution gives the
  recorded action's bin (the bin's interval, the outer bins reaching to the bounds): a likelihood
  of the same data a categorical sees, in the same units as the categorical's cross-entropy.

``benchmarks/action_heads.py`` measures the two on the point robot; the README says which won.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ad_agent.actions import ActionCoding

ACTION_HEADS = ("categorical", "gaussian")
_LOG_STD_RANGE = (-5.0, 2.0)  # a std from 0.007 to 7.4 before the squashing: finite, never degenerate
_FAR = 100.0  # stands for infinity before tanh: tanh(100) is 1 in floats, and 100 / 7.4 is 13.5 stds
_MIN_PROBABILITY = 1e-12  # a bin's floor, so one far-off target costs 28 nats, not infinity


class CategoricalHead:
    """Scores ``(..., n_actions)`` for a Discrete action, ``(..., d, bins)`` for a Box one."""

    def __init__(self, coding: ActionCoding) -> None:
        self.coding = coding
        self.outputs = coding.components * coding.classes

    def arrange(self, raw: torch.Tensor) -> torch.Tensor:
        coding = self.coding
        return raw.unflatten(-1, (coding.components, coding.classes)) if coding.continuous else raw

    def loss(
        self, scores: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0, reduction: str = "mean"
    ) -> torch.Tensor:
        """Cross-entropy per predicted class (a step, or a Box action's dimension)."""
        rows = scores.reshape(-1, scores.shape[-1])
        return F.cross_entropy(rows, targets.flatten(), label_smoothing=label_smoothing, reduction=reduction)

    def hits(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Whether the most likely class is the target, per target class."""
        return scores.argmax(-1) == targets

    def probabilities(self, scores: torch.Tensor) -> np.ndarray:
        return torch.softmax(scores.float(), -1).cpu().numpy()

    def choose(
        self, scores: torch.Tensor, rng: np.random.Generator, deterministic: bool, temperature: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Env actions and their classes: the most likely class, or one drawn with ``rng`` from the
        scores divided by ``temperature`` (above 1 flatter, below 1 sharper than the model's own)."""
        if deterministic:
            classes = scores.float().argmax(-1).cpu().numpy()
        else:
            scores = scores.float()
            # shifted first, so that a tiny temperature gives the most likely class rather than inf - inf
            classes = _inverse_cdf(self.probabilities((scores - scores.amax(-1, keepdim=True)) / temperature), rng)
        return self.coding.decode(classes), classes


class SquashedGaussianHead:
    """Outputs ``(..., d, 2)``: each dimension's Gaussian mean and log-std before ``tanh``."""

    def __init__(self, coding: ActionCoding) -> None:
        if not coding.continuous:
            raise ValueError("a Gaussian action head needs a Box action space; a Discrete one takes 'categorical'")
        self.coding = coding
        self.outputs = 2 * coding.components
        self._low = np.asarray(coding.low)
        self._half_span = (np.asarray(coding.high) - self._low) / 2

    def arrange(self, raw: torch.Tensor) -> torch.Tensor:
        out = raw.unflatten(-1, (self.coding.components, 2))
        return torch.stack([out[..., 0], out[..., 1].clamp(*_LOG_STD_RANGE)], dim=-1)

    def loss(
        self, out: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0, reduction: str = "mean"
    ) -> torch.Tensor:
        """Negative log-probability of each recorded action dimension's bin, a cross-entropy as the
        categorical's."""
        if label_smoothing:
            raise ValueError("label smoothing is for a categorical action head, not a Gaussian one")
        nll = -self._log_bin_probability(out, targets)
        return nll.mean() if reduction == "mean" else nll.sum()

    def _log_bin_probability(self, out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log P(bin) of ``targets`` under each dimension's squashed Gaussian ``out`` ``(..., d, 2)``."""
        half_width = 1.0 / (self.coding.classes - 1)  # of a bin, on the [-1, 1] scale tanh reaches
        centre = targets.to(out.dtype) * (2 * half_width) - 1
        lower, upper = (centre - half_width).clamp(min=-1.0), (centre + half_width).clamp(max=1.0)
        mean, std = out[..., 0], out[..., 1].exp()
        # the bounds are at +-infinity before tanh: a finite stand-in keeps the gradients finite
        edges = torch.atanh(torch.stack([lower, upper])).clamp(-_FAR, _FAR)
        a, b = (edges[0] - mean) / std, (edges[1] - mean) / std
        # Phi(b) - Phi(a), from the nearer tail so that a bin far out keeps its few digits
        mass = torch.where(
            a > 0, torch.special.ndtr(-a) - torch.special.ndtr(-b), torch.special.ndtr(b) - torch.special.ndtr(a)
        )
        return mass.clamp(min=_MIN_PROBABILITY).log()

    def hits(self, out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Whether the distribution's median (``tanh`` of the mean) falls in the target's bin, per dimension."""
        bins = self.coding.classes - 1
        return torch.round((torch.tanh(out[..., 0]) + 1) / 2 * bins).long() == targets

    def choose(
        self, out: torch.Tensor, rng: np.random.Generator, deterministic: bool, temperature: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Env actions ``(..., d)`` (``tanh`` of the mean, or of a draw with ``rng`` whose spread is the
        model's times ``temperature``, scaled to the bounds) and their bins, which is how the model reads
        them back."""
        params = out.float().cpu().numpy()
        pre = params[..., 0]
        if not deterministic:
            pre = pre + temperature * np.exp(params[..., 1]) * rng.standard_normal(pre.shape)
        actions = (self._low + (np.tanh(pre) + 1) * self._half_span).astype(np.float32)
        return actions, self.coding.encode(actions)


ActionHead = CategoricalHead | SquashedGaussianHead


def make_head(kind: str, coding: ActionCoding) -> ActionHead:
    """The head ``kind`` (one of :data:`ACTION_HEADS`) for actions coded by ``coding``."""
    if kind == "categorical":
        return CategoricalHead(coding)
    if kind == "gaussian":
        return SquashedGaussianHead(coding)
    raise ValueError(f"action_head must be one of {ACTION_HEADS}, got {kind!r}")


def _inverse_cdf(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class per distribution (the last axis) by inverse CDF: a cheap, seeded draw
    (``torch.multinomial`` costs more than the whole cached forward pass at batch 1)."""
    rows = probs.reshape(-1, probs.shape[-1])
    cdf = rows.cumsum(axis=1)
    u = rng.random((len(rows), 1)) * cdf[:, -1:]
    return (cdf <= u).sum(axis=1).clip(max=rows.shape[1] - 1).reshape(probs.shape[:-1])
