"""The yardstick a source learner is measured against: what its run has learned by the end of its history.

Algorithm Distillation can only distil improvement that its source histories contain, so a source must
actually learn each task within its history: a source preset (:data:`ad_agent.presets.SOURCE_PRESETS`)
is kept only if, at the end of its history, it earns at least 90% of the optimal return on at least 90%
of the tasks it was measured on (:func:`final_return` over :func:`spread_tasks`;
``python -m benchmarks.source_presets``, ``benchmarks/results/source_presets.json``).
"""

from __future__ import annotations

from typing import Any, cast

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the ids)
from ad_agent.histories import Streams, learning_curve
from envs.core import Split, TaskEnv, evenly_spaced


def final_return(streams: Streams, last_episodes: int = 2) -> float:
    """What a run has learned by the end of its history: its last complete episodes, averaged over actors.

    Two episodes rather than one smooth out a single unlucky exploratory episode without reaching
    back into the learning phase; :func:`learning_curve` already leaves out each stream's last,
    possibly cut, episode.
    """
    curve = learning_curve(streams.rewards, streams.episode_starts)
    if len(curve) == 0:
        raise ValueError("the streams hold no complete episode")
    return float(np.mean(curve[-last_episodes:]))


def spread_tasks(env_id: str, n: int, split: Split = "train") -> list[Any]:
    """``n`` tasks of ``split`` evenly spaced through its list, so a sample covers the whole room."""
    env = cast(TaskEnv, gym.make(env_id).unwrapped)  # every env this package registers is one
    tasks = env.tasks(split)
    if not 1 <= n <= len(tasks):
        raise ValueError(f"{env_id} has {len(tasks)} {split} tasks, asked for {n}")
    return evenly_spaced(tasks, n)
