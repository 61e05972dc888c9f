"""The source algorithm from scratch on one task, as a single stream: AD's data-efficiency yardstick.

AD plays a held-out task as one stream of episodes; the fair in-weights comparison is the source
learner run on that task with one actor, its return per episode against the steps it has taken
(paper Sec. 5, Fig. 4). The source presets are tuned for many actors, so :func:`single_stream`
states how each setting carries over to one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ad_agent.histories import learning_curve
from ad_agent.sources.sb3 import SourceConfig, run_source


def single_stream(config: SourceConfig, total_timesteps: int) -> SourceConfig:
    """``config`` with one actor for ``total_timesteps`` steps, every other setting kept where it still means the same.

    ``n_steps`` is per actor in SB3, so each update still follows the same stretch of one actor's
    experience (one Dark Room episode for the PPO preset), and epochs, learning rate, entropy bonus
    and discount are kept. Only a minibatch larger than the now 1-actor rollout is shrunk to the
    rollout (PPO's 320 of 64 x 20 steps becomes 20): one minibatch per epoch, rather than the
    preset's four, which would be 5 transitions each and too noisy to learn from. This makes a
    single stream take more gradient steps per env step than the preset does, which favours the
    baseline.
    """
    hyperparams = dict(config.hyperparams)
    if "n_steps" in hyperparams and "batch_size" in hyperparams:
        hyperparams["batch_size"] = min(hyperparams["batch_size"], hyperparams["n_steps"])
    return dataclasses.replace(config, n_envs=1, total_timesteps=total_timesteps, hyperparams=hyperparams)


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
