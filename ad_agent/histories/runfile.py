"""Learning histories on disk: one HDF5 file per source run, one stream per actor.

Why HDF5 (via h5py): chunked, compressed arrays with attributes in one self-describing file that
numpy-speaking tools (and Minari, Farama's offline-RL format, see :mod:`ad_agent.histories.minari_io`) already
read; slices can be read without loading a whole run; and one file per run makes writes atomic
(write to a hidden temporary name, then rename), so a killed collection never leaves a half-written
run behind and resuming only does what is missing.

File layout (``format_version`` 2), a run of ``n_actors`` streams of ``n_steps`` steps each::

    /observations    (n_actors, n_steps, *obs_shape)  dtype as emitted by the env (images: uint8 H x W x C)
    /actions         (n_actors, n_steps)              int64 (Discrete actions), or
                     (n_actors, n_steps, *action_shape) float32 (continuous, Box, as the env received them)
    /rewards         (n_actors, n_steps)              float32
    /episode_starts  (n_actors, n_steps)              bool
    optional, when the source can see them (the SB3 recorder does; see :data:`EXTRA_FIELDS`):
    /terminated      (n_actors, n_steps)              bool: the row's action ended the episode (a terminal state)
    /truncated       (n_actors, n_steps)              bool: the row's action ended it by a time limit
    /terminal_observations (n_episode_ends, *obs_shape)  the observation each episode really ended on,
                                                      actor 0's ends in time order, then actor 1's, ...
    /learner_steps   (n_steps,)                       int64: the learner's step counter after each row
    /learner_actions (n_actors, n_steps, *action_shape) float32: a continuous learner's own actions before
                                                      they were clipped to the action space (on-policy SB3)
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

``metadata`` always holds ``format_version``; :mod:`ad_agent.collection.runner` adds ``env_id``,
``env_kwargs``, ``task``, ``split`` (train/test), ``seed``, ``source`` (algorithm and its
hyper-parameters), ``final_return`` and ``versions`` (package versions).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import h5py
import numpy as np

from ad_agent.histories.streams import _FIELDS, Streams

FORMAT_VERSION = 2
SUFFIX = ".h5"
T = TypeVar("T")

EXTRA_FIELDS: dict[str, Any] = {
    "terminated": np.bool_,
    "truncated": np.bool_,
    "terminal_observations": None,
    "learner_steps": np.int64,
    "learner_actions": np.float32,
}
_DTYPES = {"rewards": np.float32, "episode_starts": np.bool_}


def _dtype(name: str, data: np.ndarray) -> Any:
    """How ``name`` is stored: actions as int64 (discrete) or float32 (continuous), the rest fixed."""
    if name == "actions":
        return np.float32 if np.asarray(data).dtype.kind == "f" else np.int64
    return _DTYPES.get(name)


_CHUNK_BYTES = 512 * 1024
_MAX_CHUNK_STEPS = 4096


class CorruptRunError(ValueError):
    """A history file that cannot be opened, read, or does not match its checksums."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} is not a readable history file: {reason}")
        self.path = path


class CorruptHistoryWarning(UserWarning):
    """A history file was skipped because it is corrupted or truncated."""


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
            data = np.ascontiguousarray(getattr(streams, name), dtype=_dtype(name, getattr(streams, name)))
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


#: The JSON type of each metadata field :mod:`ad_agent.collection.runner` writes, checked whenever a run is read.
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


class RunRewards(NamedTuple):
    """One run's rewards and episode starts, ``(n_actors, n_steps)`` each, with its file and metadata."""

    path: Path
    rewards: np.ndarray
    episode_starts: np.ndarray
    metadata: dict[str, Any]


def read_rewards(path: str | Path) -> RunRewards:
    """One run's rewards and episode starts, verified, without its observations: what judging a
    source's learning needs, cheap even for runs of images."""
    path = Path(path)
    with _open(path) as f:
        meta = _metadata(f, path)
        rewards, starts = (_read_verified(f, path, name) for name in ("rewards", "episode_starts"))
    return RunRewards(path, rewards, starts, meta)


def read_extras(path: str | Path) -> dict[str, np.ndarray]:
    """The optional datasets (:data:`EXTRA_FIELDS`) a run holds, verified; empty if it has none."""
    path = Path(path)
    with _open(path) as f:
        _metadata(f, path)
        return {name: _read_verified(f, path, name) for name in EXTRA_FIELDS if name in f}


#: Files this process has verified, by what identifies a version of them, and their metadata: a
#: collection verifies its folder and the training that follows would read 1.7 GB of maze images again.
_VERIFIED: dict[tuple[str, int, int, int], dict[str, Any]] = {}


def _version(path: Path) -> tuple[str, int, int, int] | None:
    """The file's path, inode, size and modification time: ``write_run`` replaces a file, changing them."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns


def verify_run(path: str | Path) -> dict[str, Any]:
    """Check every dataset of a run against its SHA-256, one chunk row at a time; returns metadata.

    Reads the whole file but holds only one chunk's worth of it, so it scales to runs that do
    not fit in memory; raises :class:`CorruptRunError` naming the file. A file this process
    already verified, unchanged since, is not read again (reads still check each chunk's fletcher32).
    """
    path = Path(path)
    version = _version(path)
    if version in _VERIFIED:
        return dict(_VERIFIED[version])
    meta = _verify(path)
    if version is not None:
        _VERIFIED[version] = dict(meta)
    return meta


def _verify(path: Path) -> dict[str, Any]:
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


def _each_readable(root: str | Path, read: Callable[[Path], T], strict: bool) -> Iterator[T]:
    """``read`` of every run file of a dataset folder; corrupted files are skipped with a warning."""
    for path in run_files(root):
        try:
            run = read(path)
        except CorruptRunError as err:
            _skip_or_raise(err, strict)
            continue
        yield run


def iter_runs(root: str | Path, strict: bool = False) -> Iterator[tuple[Streams, dict[str, Any]]]:
    """Every readable run of a dataset folder; corrupted files are skipped with a warning."""
    return _each_readable(root, read_run, strict)


def iter_rewards(root: str | Path, strict: bool = False) -> Iterator[RunRewards]:
    """:func:`read_rewards` of every readable run of a dataset folder, skipping corrupted files as
    :func:`iter_runs` does."""
    return _each_readable(root, read_rewards, strict)


def scan(root: str | Path) -> dict[Path, str]:
    """The corrupted files of a dataset folder and why, checking every byte (empty: all good)."""
    bad = {}
    for path in run_files(root):
        try:
            verify_run(path)
        except CorruptRunError as err:
            bad[path] = str(err)
    return bad


def read_shape_and_metadata(path: str | Path) -> tuple[tuple[int, int], dict[str, Any]]:
    """A run's ``(n_actors, n_steps)`` and metadata, without reading (or checking) its streams: cheap
    for runs of images, whose streams are hundreds of MB."""
    path = Path(path)
    with _open(path) as f:
        meta = _metadata(f, path)
        try:
            shape = f["actions"].shape
        except KeyError as err:
            raise CorruptRunError(path, f"actions: {err}") from err
    return (int(shape[0]), int(shape[1])), meta
