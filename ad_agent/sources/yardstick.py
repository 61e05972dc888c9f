"""The yardstick a source learner is measured against: what its run has learned by the end of its history.

Algorithm Distillation can only distil improvement that its source histories contain, so a source must
actually learn each task within its history: a source preset (:data:`ad_agent.presets.SOURCE_PRESETS`)
is kept only if, at the end of its history, it earns at least 90% of the optimal return on at least 90%
of the tasks it was measured on (:func:`~ad_agent.histories.streams.final_return` over :func:`spread_tasks`;
``python -m benchmarks.source_presets``, ``benchmarks/results/source_presets.json``).
"""

from __future__ import annotations

from typing import Any, cast

import gymnasium as gym

import envs  # noqa: F401  (registers the ids)
from envs.core import Split, TaskEnv, evenly_spaced


def spread_tasks(env_id: str, n: int, split: Split = "train") -> list[Any]:
    """``n`` tasks of ``split`` evenly spaced through its list, so a sample covers the whole room."""
    env = cast(TaskEnv, gym.make(env_id).unwrapped)  # every env this package registers is one
    tasks = env.tasks(split)
    if not 1 <= n <= len(tasks):
        raise ValueError(f"{env_id} has {len(tasks)} {split} tasks, asked for {n}")
    return evenly_spaced(tasks, n)
