"""The source algorithm from scratch on one task, as a single stream: AD's data-efficiency yardstick.

AD plays a held-out task as one stream of episodes; the fair in-weights comparison is the source
learner run on that task with one actor, its return per episode against the steps it has taken
(paper Sec. 5, Fig. 4). The source presets are tuned for many actors, so
:func:`~ad_agent.sources.sb3.single_stream` states how each setting carries over to one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ad_agent.histories import learning_curve
from ad_agent.sources.sb3 import SourceConfig, run_source


def learn_from_scratch(config: SourceConfig, env_id: str, tasks: Sequence[Any], seed: int) -> np.ndarray:
    """Per-episode returns ``(len(tasks), episodes)`` of a fresh single-stream learner on each task.

    Every learner's seed is ``seed`` and the curves are cut to the shortest, so with fixed-length
    episodes column ``i`` is the ``i``-th episode everywhere. A stream's last (possibly unfinished)
    episode is dropped, as :func:`ad_agent.histories.learning_curve` does.
    """
    if config.n_envs != 1:
        raise ValueError(f"a single stream needs n_envs=1, got {config.n_envs}; see single_stream()")
    curves = []
    for task in tasks:
        streams, _ = run_source(config, env_id, {"task": task}, seed)
        curves.append(learning_curve(streams.rewards, streams.episode_starts))
    n = min(len(curve) for curve in curves)
    return np.stack([curve[:n] for curve in curves])
