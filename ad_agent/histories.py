"""Learning histories on disk: one HDF5 file per source run, one stream per actor.

Why HDF5 (via h5py): chunked, compressed arrays with attributes in one self-describing file that
numpy-speaking tools (and Minari, Farama's offline-RL format) already read; slices can be read
without loading a whole run; and one file per run makes writes atomic (write, then rename), so a
killed collection never leaves a half-written run behind and resuming only does what is missing.

File layout (``format_version`` 1)::

    observations    (n_actors, n_steps, *obs_shape)   as emitted by the env
    actions         (n_actors, n_steps)               int64
    rewards         (n_actors, n_steps)               float32, earned by that action
    episode_starts  (n_actors, n_steps)               bool, the observation opened an episode
    attrs["metadata"]  JSON: env id and kwargs, task, algorithm, hyper-parameters, seed, versions
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

FORMAT_VERSION = 1
SUFFIX = ".h5"
_FIELDS = ("observations", "actions", "rewards", "episode_starts")


@dataclass
class Streams:
    """Aligned per-actor arrays, each shaped ``(n_actors, n_steps, ...)``."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_starts: np.ndarray

    def __post_init__(self) -> None:
        lead = self.actions.shape
        for name in _FIELDS:
            if getattr(self, name).shape[:2] != lead:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected leading {lead}")

    @property
    def n_actors(self) -> int:
        return self.actions.shape[0]

    @property
    def n_steps(self) -> int:
        return self.actions.shape[1]


def episode_returns(rewards: np.ndarray, episode_starts: np.ndarray) -> np.ndarray:
    """Sum of rewards of each episode of one stream (the last one may be incomplete)."""
    bounds = np.flatnonzero(episode_starts)
    if len(bounds) == 0 or bounds[0] != 0:
        bounds = np.concatenate([[0], bounds])
    return np.add.reduceat(rewards.astype(np.float64), bounds)


def write_run(path: str | Path, streams: Streams, metadata: dict[str, Any]) -> Path:
    """Write one source run atomically: readers see the whole file or none of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    meta = {"format_version": FORMAT_VERSION, **metadata}
    with h5py.File(tmp, "w") as f:
        for name in _FIELDS:
            data = getattr(streams, name)
            chunks = (1, min(data.shape[1], 4096), *data.shape[2:]) if data.shape[1] else None
            f.create_dataset(name, data=data, chunks=chunks, compression="gzip", compression_opts=4)
        f.attrs["metadata"] = json.dumps(meta, sort_keys=True)
    os.replace(tmp, path)
    return path


def read_run(path: str | Path) -> tuple[Streams, dict[str, Any]]:
    """Load one run written by :func:`write_run`, checking its format version."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            meta = json.loads(f.attrs["metadata"])
            arrays = {name: f[name][()] for name in _FIELDS}
    except (OSError, KeyError) as err:
        raise ValueError(f"{path} is not a readable history file: {err}") from err
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format_version {meta.get('format_version')}, expected {FORMAT_VERSION}")
    return Streams(**arrays), meta


def run_files(root: str | Path) -> list[Path]:
    """The finished run files of a dataset folder, in a stable order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"history dataset folder {root} does not exist")
    return sorted(root.glob(f"*{SUFFIX}"))


def iter_runs(root: str | Path) -> Iterator[tuple[Streams, dict[str, Any]]]:
    for path in run_files(root):
        yield read_run(path)


@dataclass
class FlatHistories:
    """Every stream of a dataset laid end to end, with the previous action and reward aligned.

    ``prev_actions[i]`` / ``prev_rewards[i]`` are what the step before ``i`` did and earned in
    the same stream; the first step of a stream gets the null action ``n_actions`` and 0 reward.
    ``stream_starts`` / ``stream_lengths`` delimit streams so windows never cross them.
    """

    observations: np.ndarray
    actions: np.ndarray
    prev_actions: np.ndarray
    prev_rewards: np.ndarray
    episode_starts: np.ndarray
    stream_starts: np.ndarray
    stream_lengths: np.ndarray
    metadata: list[dict[str, Any]]

    @classmethod
    def load(cls, root: str | Path, n_actions: int) -> FlatHistories:
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "act", "pact", "prew", "start")}
        lengths, metas = [], []
        for streams, meta in iter_runs(root):
            n, t = streams.n_actors, streams.n_steps
            prev_act = np.concatenate([np.full((n, 1), n_actions), streams.actions[:, :-1]], axis=1)
            prev_rew = np.concatenate([np.zeros((n, 1), np.float32), streams.rewards[:, :-1]], axis=1)
            parts["obs"].append(streams.observations.reshape(n * t, *streams.observations.shape[2:]))
            parts["act"].append(streams.actions.reshape(-1))
            parts["pact"].append(prev_act.reshape(-1))
            parts["prew"].append(prev_rew.reshape(-1))
            parts["start"].append(streams.episode_starts.reshape(-1))
            lengths += [t] * n
            metas.append(meta)
        if not lengths:
            raise ValueError(f"no history files ({SUFFIX}) in {root}")
        stream_lengths = np.asarray(lengths, dtype=np.int64)
        return cls(
            observations=np.concatenate(parts["obs"]),
            actions=np.concatenate(parts["act"]).astype(np.int64),
            prev_actions=np.concatenate(parts["pact"]).astype(np.int64),
            prev_rewards=np.concatenate(parts["prew"]).astype(np.float32),
            episode_starts=np.concatenate(parts["start"]).astype(bool),
            stream_starts=np.concatenate([[0], np.cumsum(stream_lengths)[:-1]]),
            stream_lengths=stream_lengths,
            metadata=metas,
        )

    def sample_windows(self, rng: np.random.Generator, batch_size: int, length: int) -> dict[str, np.ndarray]:
        """``batch_size`` windows of ``length`` consecutive steps, each inside one stream."""
        eligible = np.flatnonzero(self.stream_lengths >= length)
        if len(eligible) == 0:
            raise ValueError(f"no stream is at least {length} steps long")
        streams = rng.choice(eligible, size=batch_size)
        offsets = rng.integers(0, self.stream_lengths[streams] - length + 1)
        index = (self.stream_starts[streams] + offsets)[:, None] + np.arange(length)
        return {
            "observations": self.observations[index],
            "prev_actions": self.prev_actions[index],
            "prev_rewards": self.prev_rewards[index],
            "episode_starts": self.episode_starts[index],
            "actions": self.actions[index],
        }
