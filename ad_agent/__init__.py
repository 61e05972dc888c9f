"""ad-agent: Algorithm Distillation of any RL learner into an in-context policy.

The data path, one package per stage: ``envs`` (tasks) -> :mod:`ad_agent.sources` (learners +
:class:`HistoryRecorder`) -> :mod:`ad_agent.collection` (jobs over tasks and seeds) ->
:mod:`ad_agent.histories` (dataset on disk) -> :mod:`ad_agent.model` and :mod:`ad_agent.training`
(the transformer) -> :mod:`ad_agent.deployment` (:class:`InContextPolicy`, :func:`evaluate`).

Importing the package, loading a policy and acting with it need neither Stable-Baselines3, h5py
nor the training code: :class:`HistoryRecorder` is imported on first use.
"""

from pathlib import Path
from typing import Any

import envs  # registers the task environments' Gymnasium ids

if Path(getattr(envs, "__file__", None) or "").resolve().parent.parent != Path(__file__).resolve().parent.parent:
    raise ImportError(
        f"'import envs' found {getattr(envs, '__file__', None) or envs!r}, not the task environments installed "
        "with ad-agent: another package named 'envs' comes first on sys.path; rename it or put ad-agent first"
    )

__version__ = "0.1.0"

from ad_agent.deployment.evaluation import evaluate  # noqa: E402
from ad_agent.deployment.policy import InContextPolicy  # noqa: E402

__all__ = ["HistoryRecorder", "InContextPolicy", "evaluate", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "HistoryRecorder":
        from ad_agent.sources.sb3 import HistoryRecorder

        return HistoryRecorder
    raise AttributeError(f"module 'ad_agent' has no attribute {name!r}")
