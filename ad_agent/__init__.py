"""ad-agent: Algorithm Distillation of any RL learner into an in-context policy.

The data path: ``envs`` (tasks) -> :mod:`ad_agent.sources` (learners + :class:`HistoryRecorder`)
-> :mod:`ad_agent.histories` (dataset on disk) -> :mod:`ad_agent.train` (the transformer)
-> :class:`InContextPolicy` -> :func:`evaluate` (:mod:`ad_agent.evaluation`).

Importing the package, loading a policy and acting with it need neither Stable-Baselines3, h5py
nor the training code: :class:`HistoryRecorder` is imported on first use.
"""

from typing import Any

import envs  # noqa: F401  (registers the task environments' Gymnasium ids)

__version__ = "0.1.0"

from ad_agent.evaluation import evaluate  # noqa: E402
from ad_agent.policy import InContextPolicy  # noqa: E402

__all__ = ["HistoryRecorder", "InContextPolicy", "evaluate", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "HistoryRecorder":
        from ad_agent.sources.sb3 import HistoryRecorder

        return HistoryRecorder
    raise AttributeError(f"module 'ad_agent' has no attribute {name!r}")
