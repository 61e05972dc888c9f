"""A learning history in memory: every actor's stream of one source run, and its episodes.

:class:`Streams` is what a source records and a run file stores; the functions here cut it into
episodes (their returns, the learner's learning curve) and into the views the paper trains on
(every k-th episode, App. I; the last episodes, for Expert Distillation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_FIELDS = ("observations", "actions", "rewards", "episode_starts")


@dataclass
class Streams:
    """Aligned per-actor arrays, each shaped ``(n_actors, n_steps, ...)``.

    Actions are integers ``(n_actors, n_steps)`` for a ``Discrete`` action space, or floats
    ``(n_actors, n_steps, *action_shape)`` for a continuous (``Box``) one, as the env received them.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_starts: np.ndarray

    def __post_init__(self) -> None:
        lead = self.actions.shape[:2]
        if len(lead) != 2:
            raise ValueError(f"actions must be shaped (n_actors, n_steps, ...), got {self.actions.shape}")
        if self.actions.dtype.kind not in "iuf":
            raise ValueError(f"actions must be integers or floats, got dtype {self.actions.dtype}")
        for name in _FIELDS:
            if getattr(self, name).shape[:2] != lead:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected leading {lead}")

    @property
    def continuous(self) -> bool:
        """Whether the actions are continuous (floats): a ``Box`` action space."""
        return self.actions.dtype.kind == "f"

    @property
    def n_actors(self) -> int:
        return self.actions.shape[0]

    @property
    def n_steps(self) -> int:
        return self.actions.shape[1]

    def final_return(self, last_episodes: int | None = None) -> float:
        """:func:`final_return` of these streams."""
        return final_return(self.rewards, self.episode_starts, last_episodes or FINAL_EPISODES)


def episode_returns(rewards: np.ndarray, episode_starts: np.ndarray) -> np.ndarray:
    """Sum of rewards of each episode of one stream (the last one may be incomplete)."""
    bounds = np.flatnonzero(episode_starts)
    if len(bounds) == 0 or bounds[0] != 0:
        bounds = np.concatenate([[0], bounds])
    return np.add.reduceat(rewards.astype(np.float64), bounds)


def _episode_ids(episode_starts: np.ndarray) -> np.ndarray:
    """Episode number of each step of one stream; steps before the first start are episode 0."""
    return np.cumsum(episode_starts) - (1 if episode_starts[0] else 0)


def _keep_steps(streams: Streams, keep: Callable[[np.ndarray], np.ndarray]) -> list[Streams]:
    """Per actor, the steps whose episode number passes ``keep``; actors may keep different counts."""
    views = []
    for a in range(streams.n_actors):
        mask = keep(_episode_ids(streams.episode_starts[a]))
        views.append(Streams(*(getattr(streams, name)[a : a + 1, mask] for name in _FIELDS)))
    return views


def subsample_episodes(streams: Streams, every: int) -> list[Streams]:
    """Each actor's episodes 0, k, 2k, ... laid end to end (paper App. I: every 10th episode).

    One single-actor :class:`Streams` per actor, because actors whose episodes differ in length
    keep different numbers of steps.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    return _keep_steps(streams, lambda ids: ids % every == 0)


def last_episodes(streams: Streams, n: int) -> list[Streams]:
    """Each actor's last ``n`` episodes (the expert-only view for Expert Distillation)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return _keep_steps(streams, lambda ids: ids > ids[-1] - n)


def learning_curve(rewards: np.ndarray, episode_starts: np.ndarray) -> np.ndarray:
    """Return of each episode averaged over actors, from ``(n_actors, n_steps)`` arrays.

    Each stream's last episode is left out, since a stream may end mid-episode and a cut episode's
    return would understate the learner; the curve is as long as the actor with fewest episodes.
    """
    per_actor = [episode_returns(r, s)[:-1] for r, s in zip(rewards, episode_starts, strict=True)]
    n = min(len(returns) for returns in per_actor)
    return np.mean([returns[:n] for returns in per_actor], axis=0)


#: How many of a run's last complete episodes its final return averages: two smooth out one unlucky
#: exploratory episode without reaching back into the learning phase.
FINAL_EPISODES = 2


def final_return(rewards: np.ndarray, episode_starts: np.ndarray, last_episodes: int = FINAL_EPISODES) -> float:
    """What a run has learned by the end of its history: the mean of the last ``last_episodes`` points of
    its :func:`learning_curve` (complete episodes, averaged over actors); NaN when no stream holds a
    complete episode. The one meaning of "final return" in this package: run metadata, dataset
    summaries and the source presets' yardstick all use it."""
    if last_episodes < 1:
        raise ValueError(f"last_episodes must be >= 1, got {last_episodes}")
    curve = learning_curve(rewards, episode_starts)
    return float(np.mean(curve[-last_episodes:])) if len(curve) else float("nan")


def previous_actions_and_rewards(
    actions: np.ndarray, rewards: np.ndarray, null_action: int
) -> tuple[np.ndarray, np.ndarray]:
    """Shift ``(n, t, ...)`` action classes and ``(n, t)`` rewards one step later, as the model takes them
    (each step sees what the step before did and earned); the first step gets ``null_action`` and 0 reward."""
    n = actions.shape[0]
    first = np.full((n, 1, *actions.shape[2:]), null_action, np.int64)
    prev_act = np.concatenate([first, actions[:, :-1].astype(np.int64)], axis=1)
    prev_rew = np.concatenate([np.zeros((n, 1), np.float32), rewards[:, :-1].astype(np.float32)], axis=1)
    return prev_act, prev_rew
