"""Learning histories on disk: one HDF5 file per source run, one stream per actor.

Why HDF5 (via h5py): chunked, compressed arrays with attributes in one self-describing file that
numpy-speaking tools (and Minari, Farama's offline-RL format, see :mod:`ad_agent.minari_io`) already
read; slices can be read without loading a whole run; and one file per run makes writes atomic
(write to a hidden temporary name, then rename), so a killed collection never leaves a half-written
run behind and resuming only does what is missing.

File layout (``format_version`` 2), a run of ``n_actors`` streams of ``n_steps`` steps each::

    /observations    (n_actors, n_steps, *obs_shape)  dtype as emitted by the env (images: uint8 H x W x C)
    /actions         (n_actors, n_steps)              int64
    /rewards         (n_actors, n_steps)              float32
    /episode_starts  (n_actors, n_steps)              bool
    optional, when the source can see them (the SB3 recorder does; see :data:`EXTRA_FIELDS`):
    /terminated      (n_actors, n_steps)              bool: the row's action ended the episode (a terminal state)
    /truncated       (n_actors, n_steps)              bool: the row's action ended it by a time limit
    /terminal_observations (n_episode_ends, *obs_shape)  the observation each episode really ended on,
                                                      actor 0's ends in time order, then actor 1's, ...
    /learner_steps   (n_steps,)                       int64: the learner's step counter after each row
    /<each dataset>.attrs["sha256"]   hex SHA-256 of the array's C-order bytes, written with it
    /.attrs["metadata"]               JSON object (below)

Row ``t`` of actor ``a``: the actor saw ``observations[a, t]``, took ``actions[a, t]`` and was paid
``rewards[a, t]`` for it; ``episode_starts[a, t]`` is true when ``observations[a, t]`` is the first
observation of an episode (right after a reset). Rows are in the order the learner lived them, so
a stream is the actor's whole learning history; the observation that follows an episode's last
action is not stored (the next row is already the next episode's reset). A stream may end
mid-episode.

Every dataset is chunked one actor by at most 4096 steps (fewer for big observations, so a chunk
stays near 512 KiB and a window read decompresses little), compressed losslessly (shuffle + gzip
level 4; images stay exact uint8) and carries HDF5's per-chunk fletcher32 checksum. Corruption is
caught twice: fletcher32 fails the read of a damaged chunk, and the SHA-256 attribute catches
anything that still decodes (a damaged byte in an uncompressed region, a rewritten array).

``metadata`` always holds ``format_version``; :mod:`ad_agent.collect` adds ``env_id``,
``env_kwargs``, ``task``, ``split`` (train/test), ``seed``, ``source`` (algorithm and its
hyper-parameters), ``final_return`` and ``versions`` (package versions).

Reading: :func:`read_run` loads and verifies one run; :class:`FlatHistories` loads a whole
dataset into memory (fast sampling; optional every-k-th-episode and last-episodes views);
:class:`LazyHistories` keeps only an index in memory and reads each window from the files. Both
skip a corrupted file with a :class:`CorruptHistoryWarning` naming it (``strict=True`` raises), so
one bad file does not stop training on the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

FORMAT_VERSION = 2
SUFFIX = ".h5"
_FIELDS = ("observations", "actions", "rewards", "episode_starts")
#: Optional datasets a source may add to a run, and their dtype (``None``: as given).
EXTRA_FIELDS: dict[str, Any] = {
    "terminated": np.bool_,
    "truncated": np.bool_,
    "terminal_observations": None,
    "learner_steps": np.int64,
}
_DTYPES = {"actions": np.int64, "rewards": np.float32, "episode_starts": np.bool_}
_CHUNK_BYTES = 512 * 1024
_MAX_CHUNK_STEPS = 4096


class CorruptRunError(ValueError):
    """A history file that cannot be opened, read, or does not match its checksums."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} is not a readable history file: {reason}")
        self.path = path


class CorruptHistoryWarning(UserWarning):
    """A history file was skipped because it is corrupted or truncated."""


@dataclass
class Streams:
    """Aligned per-actor arrays, each shaped ``(n_actors, n_steps, ...)``."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_starts: np.ndarray

    def __post_init__(self) -> None:
        lead = self.actions.shape
        if len(lead) != 2:
            raise ValueError(f"actions must be shaped (n_actors, n_steps), got {lead}")
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


def _episode_ids(episode_starts: np.ndarray) -> np.ndarray:
    """Episode number of each step of one stream; steps before the first start are episode 0."""
    return np.cumsum(episode_starts) - (1 if episode_starts[0] else 0)


def _keep_steps(streams: Streams, keep: Callable[[np.ndarray], np.ndarray]) -> list[Streams]:
    """Per actor, the steps whose episode number passes ``keep``; actors may keep different counts."""
    views = []
    for a in range(streams.n_actors):
        mask = keep(_episode_ids(streams.episode_starts[a]))
        views.append(Streams(*(getattr(streams, name)[a : a + 1, mask] for name in _FIELDS)))
    return views


def subsample_episodes(streams: Streams, every: int) -> list[Streams]:
    """Each actor's episodes 0, k, 2k, ... laid end to end (paper App. I: every 10th episode).

    One single-actor :class:`Streams` per actor, because actors whose episodes differ in length
    keep different numbers of steps.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    return _keep_steps(streams, lambda ids: ids % every == 0)


def last_episodes(streams: Streams, n: int) -> list[Streams]:
    """Each actor's last ``n`` episodes (the expert-only view for Expert Distillation)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return _keep_steps(streams, lambda ids: ids > ids[-1] - n)


def learning_curve(rewards: np.ndarray, episode_starts: np.ndarray) -> np.ndarray:
    """Return of each episode averaged over actors, from ``(n_actors, n_steps)`` arrays.

    Each stream's last episode is left out, since a stream may end mid-episode and a cut episode's
    return would understate the learner; the curve is as long as the actor with fewest episodes.
    """
    per_actor = [episode_returns(r, s)[:-1] for r, s in zip(rewards, episode_starts, strict=True)]
    n = min(len(returns) for returns in per_actor)
    return np.mean([returns[:n] for returns in per_actor], axis=0)


def _sha256(data: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(data).data).hexdigest()


def _chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """One actor by as many steps as fit in about ``_CHUNK_BYTES`` (at least 1, at most 4096)."""
    step_bytes = itemsize * int(np.prod(shape[2:], dtype=np.int64))
    steps = max(1, min(shape[1], _MAX_CHUNK_STEPS, _CHUNK_BYTES // max(step_bytes, 1)))
    return (1, steps, *shape[2:])


def write_run(
    path: str | Path, streams: Streams, metadata: dict[str, Any], extras: dict[str, np.ndarray] | None = None
) -> Path:
    """Write one source run atomically: readers see the whole file or none of it.

    ``extras`` are optional datasets named in :data:`EXTRA_FIELDS` (how episodes really ended, the
    learner's step counter), written and checksummed like the streams.
    """
    if streams.n_steps == 0:
        raise ValueError("cannot write a run with no steps")
    extras = dict(extras or {})
    unknown = set(extras) - set(EXTRA_FIELDS)
    if unknown:
        raise ValueError(f"unknown extra datasets {sorted(unknown)}; known: {sorted(EXTRA_FIELDS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    meta = {**metadata, "format_version": FORMAT_VERSION}
    with h5py.File(tmp, "w") as f:
        for name in _FIELDS:
            data = np.ascontiguousarray(getattr(streams, name), dtype=_DTYPES.get(name))
            ds = f.create_dataset(
                name,
                data=data,
                chunks=_chunks(data.shape, data.dtype.itemsize),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
                fletcher32=True,
            )
            ds.attrs["sha256"] = _sha256(data)
        for name, value in extras.items():
            data = np.ascontiguousarray(value, dtype=EXTRA_FIELDS[name])
            filters = dict(compression="gzip", shuffle=True, fletcher32=True) if data.size else {}
            f.create_dataset(name, data=data, **filters).attrs["sha256"] = _sha256(data)
        f.attrs["metadata"] = json.dumps(meta, sort_keys=True)
    os.replace(tmp, path)
    return path


def _open(path: Path, **kwargs: Any) -> h5py.File:
    try:
        return h5py.File(path, "r", **kwargs)
    except OSError as err:  # truncated, not HDF5, unreadable
        raise CorruptRunError(path, str(err)) from err


#: The JSON type of each metadata field :mod:`ad_agent.collect` writes, checked whenever a run is read.
_METADATA_TYPES: dict[str, type | tuple[type, ...]] = {
    "env_id": str,
    "split": str,
    "seed": int,
    "env_kwargs": dict,
    "task": dict,
    "source": dict,
    "final_return": (int, float),
    "versions": dict,
}


def _check_metadata(meta: Any, path: Path) -> None:
    """Refuse metadata that is not an object or whose known fields have the wrong type, naming the field."""
    if not isinstance(meta, dict):
        raise CorruptRunError(path, f"metadata must be a JSON object, got {type(meta).__name__}")
    for key, kind in _METADATA_TYPES.items():
        value = meta.get(key)
        if key in meta and (not isinstance(value, kind) or isinstance(value, bool)):
            raise CorruptRunError(path, f"metadata field {key!r} has the wrong type ({type(value).__name__})")
    if meta.get("split", "train") not in ("train", "test"):
        raise CorruptRunError(path, f"metadata field 'split' must be 'train' or 'test', got {meta['split']!r}")


def _metadata(f: h5py.File, path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(f.attrs["metadata"])
    except (OSError, KeyError, ValueError) as err:
        raise CorruptRunError(path, f"no readable metadata ({err})") from err
    _check_metadata(meta, path)
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format_version {meta.get('format_version')}, expected {FORMAT_VERSION}")
    return meta


def _read_verified(f: h5py.File, path: Path, name: str) -> np.ndarray:
    """The whole dataset ``name``, checked against its stored SHA-256."""
    try:
        ds = f[name]
        data, expected = ds[()], ds.attrs["sha256"]
    except (OSError, KeyError, RuntimeError) as err:
        raise CorruptRunError(path, f"{name}: {err}") from err
    if _sha256(data) != expected:
        raise CorruptRunError(path, f"{name}: SHA-256 mismatch")
    return data


def read_run(path: str | Path) -> tuple[Streams, dict[str, Any]]:
    """Load one run written by :func:`write_run`, verifying its format version and checksums."""
    path = Path(path)
    with _open(path) as f:
        meta = _metadata(f, path)
        arrays = {name: _read_verified(f, path, name) for name in _FIELDS}
    return Streams(**arrays), meta


def read_extras(path: str | Path) -> dict[str, np.ndarray]:
    """The optional datasets (:data:`EXTRA_FIELDS`) a run holds, verified; empty if it has none."""
    path = Path(path)
    with _open(path) as f:
        _metadata(f, path)
        return {name: _read_verified(f, path, name) for name in EXTRA_FIELDS if name in f}


def verify_run(path: str | Path) -> dict[str, Any]:
    """Check every dataset of a run against its SHA-256, one chunk row at a time; returns metadata.

    Reads the whole file but holds only one chunk's worth of it, so it scales to runs that do
    not fit in memory; raises :class:`CorruptRunError` naming the file.
    """
    path = Path(path)
    with _open(path) as f:
        meta = _metadata(f, path)
        for name in _FIELDS:
            try:
                ds = f[name]
                digest, block = hashlib.sha256(), ds.chunks[1]
                for a in range(ds.shape[0]):
                    for t in range(0, ds.shape[1], block):
                        digest.update(np.ascontiguousarray(ds[a, t : t + block]).data)
                expected = ds.attrs["sha256"]
            except (OSError, KeyError, RuntimeError, TypeError) as err:
                raise CorruptRunError(path, f"{name}: {err}") from err
            if digest.hexdigest() != expected:
                raise CorruptRunError(path, f"{name}: SHA-256 mismatch")
        for name in EXTRA_FIELDS:  # small next to the streams: read whole
            if name in f:
                _read_verified(f, path, name)
    return meta


def run_files(root: str | Path) -> list[Path]:
    """The finished run files of a dataset folder, in a stable order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"history dataset folder {root} does not exist")
    return sorted(root.glob(f"*{SUFFIX}"))


def _skip_or_raise(err: CorruptRunError, strict: bool) -> None:
    if strict:
        raise err
    warnings.warn(f"skipping corrupted history file {err.path}: {err}", CorruptHistoryWarning, stacklevel=3)


def iter_runs(root: str | Path, strict: bool = False) -> Iterator[tuple[Streams, dict[str, Any]]]:
    """Every readable run of a dataset folder; corrupted files are skipped with a warning."""
    for path in run_files(root):
        try:
            run = read_run(path)
        except CorruptRunError as err:
            _skip_or_raise(err, strict)
            continue
        yield run


def scan(root: str | Path) -> dict[Path, str]:
    """The corrupted files of a dataset folder and why, checking every byte (empty: all good)."""
    bad = {}
    for path in run_files(root):
        try:
            verify_run(path)
        except CorruptRunError as err:
            bad[path] = str(err)
    return bad


def summarize(
    root: str | Path, optimal_return: float | None = None, fraction: float = 0.9, strict: bool = False
) -> dict[str, Any]:
    """How well the source runs learned: per run learning curve and final return, plus dataset stats.

    A run's final return is the last point of its :func:`learning_curve`. With ``optimal_return``
    (assumed positive), ``fraction_reaching`` is the share of runs whose final return is at least
    ``fraction * optimal_return``. Only rewards and episode starts are read, so it is cheap even
    for image datasets.
    """
    runs = []
    for path in run_files(root):
        try:
            with _open(path) as f:
                meta = _metadata(f, path)
                curve = learning_curve(*(_read_verified(f, path, n) for n in ("rewards", "episode_starts")))
        except CorruptRunError as err:
            _skip_or_raise(err, strict)
            continue
        final = float(curve[-1]) if len(curve) else float("nan")
        runs.append({"file": path.name, "task": meta.get("task"), "curve": curve, "final_return": final})
    finals = np.array([run["final_return"] for run in runs])
    summary: dict[str, Any] = {
        "runs": runs,
        "n_runs": len(runs),
        "mean_final_return": float(np.mean(finals)) if len(runs) else float("nan"),
    }
    if optimal_return is not None:
        summary["fraction_reaching"] = float(np.mean(finals >= fraction * optimal_return)) if len(runs) else 0.0
    return summary


def _draw(
    rng: np.random.Generator, stream_lengths: np.ndarray, batch_size: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which stream and which first step each window takes; shared so lazy and flat sample alike."""
    eligible = np.flatnonzero(stream_lengths >= length)
    if len(eligible) == 0:
        raise ValueError(f"no stream is at least {length} steps long")
    streams = rng.choice(eligible, size=batch_size)
    offsets = rng.integers(0, stream_lengths[streams] - length + 1)
    return streams, offsets


def _views(run: Streams, every: int, last: int | None) -> list[Streams]:
    """``run`` through :func:`subsample_episodes` then :func:`last_episodes`, where asked for."""
    views = [run] if every == 1 else subsample_episodes(run, every)
    return views if last is None else [kept for view in views for kept in last_episodes(view, last)]


@dataclass
class FlatHistories:
    """Every stream of a dataset laid end to end in memory, with the previous action and reward aligned.

    ``prev_actions[i]`` / ``prev_rewards[i]`` are what the step before ``i`` did and earned in
    the same stream; the first step of a stream gets the null action ``n_actions`` and 0 reward.
    ``stream_starts`` / ``stream_lengths`` delimit streams so windows never cross them.
    ``metadata`` has one entry per run file loaded. Use :class:`LazyHistories` when the dataset
    does not fit in memory.
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
    def load(
        cls,
        root: str | Path,
        n_actions: int,
        *,
        every_kth_episode: int = 1,
        last_episodes: int | None = None,
        strict: bool = False,
    ) -> FlatHistories:
        """Load every readable run of ``root``, optionally through episode views.

        ``every_kth_episode`` keeps episodes 0, k, 2k, ... of each stream; ``last_episodes`` then
        keeps the last N episodes of each (resulting) stream. Corrupted files are skipped with a
        :class:`CorruptHistoryWarning` unless ``strict``.
        """
        streams: list[Streams] = []
        metas = []
        for run, meta in iter_runs(root, strict=strict):
            streams += _views(run, every_kth_episode, last_episodes)
            metas.append(meta)
        if not streams:
            raise ValueError(f"no readable history files ({SUFFIX}) in {root}")
        return cls.from_streams(streams, n_actions, metas)

    @classmethod
    def from_streams(cls, runs: Sequence[Streams], n_actions: int, metadata: list[dict[str, Any]]) -> FlatHistories:
        """Lay the actors of ``runs`` end to end, one stream per actor."""
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "act", "pact", "prew", "start")}
        lengths: list[int] = []
        for run in runs:
            n, t = run.n_actors, run.n_steps
            prev_act, prev_rew = _previous(run.actions, run.rewards, n_actions)
            parts["obs"].append(run.observations.reshape(n * t, *run.observations.shape[2:]))
            parts["act"].append(run.actions.reshape(-1))
            parts["pact"].append(prev_act.reshape(-1))
            parts["prew"].append(prev_rew.reshape(-1))
            parts["start"].append(run.episode_starts.reshape(-1))
            lengths += [t] * n
        stream_lengths = np.asarray(lengths, dtype=np.int64)
        return cls(
            observations=np.concatenate(parts["obs"]),
            actions=np.concatenate(parts["act"]).astype(np.int64),
            prev_actions=np.concatenate(parts["pact"]).astype(np.int64),
            prev_rewards=np.concatenate(parts["prew"]).astype(np.float32),
            episode_starts=np.concatenate(parts["start"]).astype(bool),
            stream_starts=np.concatenate([[0], np.cumsum(stream_lengths)[:-1]]).astype(np.int64),
            stream_lengths=stream_lengths,
            metadata=metadata,
        )

    def sample_windows(self, rng: np.random.Generator, batch_size: int, length: int) -> dict[str, np.ndarray]:
        """``batch_size`` windows of ``length`` consecutive steps, each inside one stream."""
        streams, offsets = _draw(rng, self.stream_lengths, batch_size, length)
        index = (self.stream_starts[streams] + offsets)[:, None] + np.arange(length)
        return {
            "observations": self.observations[index],
            "prev_actions": self.prev_actions[index],
            "prev_rewards": self.prev_rewards[index],
            "episode_starts": self.episode_starts[index],
            "actions": self.actions[index],
        }


def _previous(actions: np.ndarray, rewards: np.ndarray, n_actions: int) -> tuple[np.ndarray, np.ndarray]:
    """Shift ``(n, t)`` actions and rewards one step later; the first step gets the null action and 0."""
    n = actions.shape[0]
    prev_act = np.concatenate([np.full((n, 1), n_actions, np.int64), actions[:, :-1].astype(np.int64)], axis=1)
    prev_rew = np.concatenate([np.zeros((n, 1), np.float32), rewards[:, :-1].astype(np.float32)], axis=1)
    return prev_act, prev_rew


@dataclass
class LazyHistories:
    """A dataset sampled straight from its files: only an index of streams is held in memory.

    Stream ``i`` is actor ``stream_actors[i]`` of file ``paths[stream_files[i]]``; each window is
    an h5py slice of that stream, so memory stays at one batch plus HDF5's chunk cache whatever
    the dataset's size. Streams are ordered as in :class:`FlatHistories`, so the same ``rng``
    draws the same windows from both. Files stay open until :meth:`close` (or ``with``).
    """

    paths: list[Path]
    n_actions: int
    stream_files: np.ndarray
    stream_actors: np.ndarray
    stream_lengths: np.ndarray
    metadata: list[dict[str, Any]]
    _files: dict[int, h5py.File] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def open(cls, root: str | Path, n_actions: int, *, verify: bool = True, strict: bool = False) -> LazyHistories:
        """Index the readable runs of ``root``; ``verify`` checks every file's checksums first.

        Verification reads each file once, a chunk at a time; without it, damage inside a chunk
        still fails the window read that touches it (fletcher32), naming the file.
        """
        paths: list[Path] = []
        metas: list[dict[str, Any]] = []
        files: list[int] = []
        actors: list[int] = []
        lengths: list[int] = []
        for path in run_files(root):
            try:
                (n_actors, n_steps), meta = _read_shape_and_meta(path)
                if verify:
                    verify_run(path)
            except CorruptRunError as err:
                _skip_or_raise(err, strict)
                continue
            files += [len(paths)] * n_actors
            actors += range(n_actors)
            lengths += [n_steps] * n_actors
            paths.append(path)
            metas.append(meta)
        if not paths:
            raise ValueError(f"no readable history files ({SUFFIX}) in {root}")
        as_int = lambda xs: np.asarray(xs, dtype=np.int64)  # noqa: E731
        return cls(paths, n_actions, as_int(files), as_int(actors), as_int(lengths), metas)

    def _file(self, index: int) -> h5py.File:
        if index not in self._files:
            self._files[index] = _open(self.paths[index], rdcc_nbytes=4 * 2**20)
        return self._files[index]

    def _window(self, stream: int, start: int, length: int) -> dict[str, np.ndarray]:
        path_index, a = int(self.stream_files[stream]), int(self.stream_actors[stream])
        f, first = self._file(path_index), max(start - 1, 0)  # one step earlier: previous action/reward
        try:
            acts = f["actions"][a, first : start + length]
            rews = f["rewards"][a, first : start + length]
            obs = f["observations"][a, start : start + length]
            starts = f["episode_starts"][a, start : start + length]
        except (OSError, RuntimeError) as err:
            raise CorruptRunError(self.paths[path_index], str(err)) from err
        if start == 0:  # nothing before the stream: the null action and no reward
            acts, rews = np.concatenate([[self.n_actions], acts]), np.concatenate([[0.0], rews])
        return {
            "observations": obs,
            "prev_actions": acts[:-1].astype(np.int64),
            "prev_rewards": rews[:-1].astype(np.float32),
            "episode_starts": starts,
            "actions": acts[1:].astype(np.int64),
        }

    def sample_windows(self, rng: np.random.Generator, batch_size: int, length: int) -> dict[str, np.ndarray]:
        """``batch_size`` windows of ``length`` consecutive steps, each inside one stream, read from disk."""
        streams, offsets = _draw(rng, self.stream_lengths, batch_size, length)
        windows = [self._window(s, int(o), length) for s, o in zip(streams, offsets, strict=True)]
        return {name: np.stack([w[name] for w in windows]) for name in windows[0]}

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __enter__(self) -> LazyHistories:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fingerprint(data: FlatHistories | LazyHistories) -> str:
    """A short hash of which runs a dataset holds (their metadata, in order) and how long each stream
    is: checkpoints keep it, so that training never resumes on other histories than it began on.
    A dataset read from disk and the same one in memory share it."""
    digest = hashlib.sha256(json.dumps(data.metadata, sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(data.stream_lengths, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def in_memory_bytes(root: str | Path) -> int:
    """What :meth:`FlatHistories.load` of ``root`` would hold: per step the observation as stored, an
    int64 action and previous action, a float32 previous reward and a bool episode start. Reads
    only the files' shapes, so it is cheap for any size. A file loading would skip (unreadable, or
    without observations) counts for nothing here rather than failing: loading warns about it."""
    total = 0
    for path in run_files(root):
        try:
            with _open(path) as f:
                obs = f["observations"]
                step_bytes = obs.dtype.itemsize * int(np.prod(obs.shape[2:])) + 8 + 8 + 4 + 1
                total += int(obs.shape[0]) * int(obs.shape[1]) * step_bytes
        except (CorruptRunError, KeyError):
            continue
    return total


def _read_shape_and_meta(path: Path) -> tuple[tuple[int, int], dict[str, Any]]:
    with _open(path) as f:
        meta = _metadata(f, path)
        try:
            shape = f["actions"].shape
        except KeyError as err:
            raise CorruptRunError(path, f"actions: {err}") from err
    return (int(shape[0]), int(shape[1])), meta
