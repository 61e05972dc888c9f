"""Learning histories: recorded (:mod:`~ad_agent.histories.streams`), stored one HDF5 file per run
(:mod:`~ad_agent.histories.runfile`), summarised (:mod:`~ad_agent.histories.summary`) and cut into
training windows (:mod:`~ad_agent.histories.windows`).
"""

from ad_agent.histories.runfile import (
    EXTRA_FIELDS,
    FORMAT_VERSION,
    SUFFIX,
    CorruptHistoryWarning,
    CorruptRunError,
    RunRewards,
    iter_rewards,
    iter_runs,
    read_extras,
    read_rewards,
    read_run,
    read_shape_and_metadata,
    run_files,
    scan,
    verify_run,
    write_run,
)
from ad_agent.histories.streams import (
    Streams,
    episode_returns,
    final_return,
    last_episodes,
    learning_curve,
    subsample_episodes,
)
from ad_agent.histories.summary import summarize
from ad_agent.histories.windows import CodedObservations, FlatHistories, LazyHistories, fingerprint, in_memory_bytes

__all__ = [
    "CodedObservations",
    "EXTRA_FIELDS",
    "FORMAT_VERSION",
    "SUFFIX",
    "CorruptHistoryWarning",
    "CorruptRunError",
    "FlatHistories",
    "LazyHistories",
    "RunRewards",
    "Streams",
    "episode_returns",
    "final_return",
    "fingerprint",
    "in_memory_bytes",
    "iter_rewards",
    "iter_runs",
    "last_episodes",
    "learning_curve",
    "read_extras",
    "read_rewards",
    "read_run",
    "read_shape_and_metadata",
    "run_files",
    "scan",
    "subsample_episodes",
    "summarize",
    "verify_run",
    "write_run",
]
