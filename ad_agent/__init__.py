"""ad-agent: Algorithm Distillation of any RL learner into an in-context policy.

The data path: ``envs`` (tasks) -> :mod:`ad_agent.sources` (learners + :class:`HistoryRecorder`)
-> :mod:`ad_agent.histories` (dataset on disk) -> :mod:`ad_agent.train` (the transformer)
-> :class:`InContextPolicy` -> :func:`evaluate`.
"""

import envs  # noqa: F401  (registers the task environments' Gymnasium ids)

__version__ = "0.1.0"

from ad_agent.evaluate import evaluate  # noqa: E402
from ad_agent.policy import InContextPolicy  # noqa: E402
from ad_agent.sources.sb3 import HistoryRecorder  # noqa: E402

__all__ = ["HistoryRecorder", "InContextPolicy", "evaluate", "__version__"]
