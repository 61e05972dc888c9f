"""Learners that produce learning histories: SB3 algorithms (one run at a time, or many batched), UCB,
a noisy scripted expert.

:func:`record` runs any of them from its config, so collection does not care which it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ad_agent.devices import torch_threads
from ad_agent.histories import Streams
from ad_agent.sources.batched import BatchedSourceConfig, run_batched
from ad_agent.sources.noisy_expert import NoisyExpertConfig, run_noisy_expert
from ad_agent.sources.presets import SOURCE_PRESETS, source_preset
from ad_agent.sources.sb3 import ALGORITHMS, DARKROOM_PPO, HistoryRecorder, SourceConfig, run_source
from ad_agent.sources.ucb import UCBConfig, run_ucb

AnySourceConfig = SourceConfig | BatchedSourceConfig | UCBConfig | NoisyExpertConfig

__all__ = [
    "ALGORITHMS",
    "DARKROOM_PPO",
    "AnySourceConfig",
    "BatchedSourceConfig",
    "HistoryRecorder",
    "NoisyExpertConfig",
    "SOURCE_PRESETS",
    "SourceConfig",
    "UCBConfig",
    "record",
    "run_noisy_expert",
    "run_source",
    "run_ucb",
    "source_preset",
]


def record(
    config: AnySourceConfig, env_id: str, env_kwargs: dict[str, Any], seed: int
) -> tuple[Streams, dict[str, np.ndarray]]:
    """One source run on the task ``env_kwargs`` fixes: every actor's stream, and the extra
    datasets of :data:`ad_agent.histories.EXTRA_FIELDS` the source can see (SB3 learners: how each
    episode really ended, its terminal observation, the learner's step counter)."""
    if isinstance(config, SourceConfig):
        recorder = HistoryRecorder()
        # one learner per core beats one learner on all cores; the caller's count comes back after, so
        # collection in this process does not slow (or change) the training that follows
        with torch_threads(1):
            run_source(config, env_id, env_kwargs, seed, recorder=recorder)
        capture = recorder.capture()
        return capture.streams, capture.extras()
    if isinstance(config, BatchedSourceConfig):  # a batch of one; collection batches many (ad_agent.collect)
        (capture,) = run_batched(config, env_id, [env_kwargs["task"]], [seed])
        return capture.streams, capture.extras()
    if isinstance(config, UCBConfig):
        return run_ucb(config, env_id, env_kwargs, seed), {}
    if isinstance(config, NoisyExpertConfig):
        return run_noisy_expert(config, env_id, env_kwargs, seed), {}
    raise TypeError(f"not a source config: {config!r}")
