"""Training windows from a dataset: in memory (:class:`FlatHistories`) or read from disk
(:class:`LazyHistories`), both drawing the same windows from the same generator.

:class:`FlatHistories` loads a whole dataset into memory (fast sampling; optional every-k-th-episode
and last-episodes views); :class:`LazyHistories` keeps only an index in memory and reads each window
from the files. Both
skip a corrupted file with a :class:`CorruptHistoryWarning` naming it (``strict=True`` raises), so
one bad file does not stop training on the rest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ad_agent.actions import ActionCoding, action_coding
from ad_agent.histories.runfile import (
    SUFFIX,
    CorruptRunError,
    _open,
    _skip_or_raise,
    iter_runs,
    read_shape_and_metadata,
    run_files,
    verify_run,
)
from ad_agent.histories.streams import Streams, last_episodes, previous_actions_and_rewards, subsample_episodes


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
class CodedObservations:
    """Observations held as rows of a table of the distinct ones: ``table[codes[i]]`` is step ``i``'s.

    A gridworld's images repeat (the pixel maze emits 324 views), so millions of steps of them hold a
    few MB of images and 4 bytes per step, where laid out they would take 9 KB per step.
    """

    table: np.ndarray
    codes: np.ndarray

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        return self.table[self.codes[index]]

    def __len__(self) -> int:
        return len(self.codes)


class _Codebook:
    """Grows a table of the distinct images seen, and codes each image as its row there."""

    def __init__(self) -> None:
        self._rows: dict[bytes, int] = {}
        self._images: list[np.ndarray] = []

    def coded(self, run: Streams) -> Streams:
        """``run`` with its observations replaced by their rows ``(n_actors, n_steps)`` int32."""
        images = run.observations.reshape(-1, *run.observations.shape[2:])
        codes = np.empty(len(images), dtype=np.int32)
        for i, image in enumerate(images):
            code = self._rows.setdefault(image.tobytes(), len(self._images))
            if code == len(self._images):
                self._images.append(image.copy())
            codes[i] = code
        return dataclasses.replace(run, observations=codes.reshape(run.observations.shape[:2]))

    def table(self) -> np.ndarray | None:
        """The distinct images in order of first sight, or None when no run held images."""
        return np.stack(self._images) if self._images else None


_NARROW_INTEGERS = tuple(np.dtype(name) for name in ("uint8", "int8", "uint16", "int16", "uint32", "int32"))


def _narrowest(values: np.ndarray) -> np.dtype:
    """The smallest integer type that holds every one of integer ``values``; others keep their type."""
    if values.dtype.kind not in "iu" or values.size == 0:
        return values.dtype
    low, high = values.min(), values.max()
    return next((t for t in _NARROW_INTEGERS if np.iinfo(t).min <= low and high <= np.iinfo(t).max), values.dtype)


def _compact(values: np.ndarray) -> np.ndarray:
    """``values`` in :func:`_narrowest` type: a gridworld's coordinates and actions fit a byte, where
    their files hold 8 per number."""
    return values.astype(_narrowest(values), copy=False)


def _is_image(run: Streams) -> bool:
    """uint8 observations of two or more dimensions per step, which :class:`FlatHistories` holds coded."""
    return run.observations.dtype == np.uint8 and run.observations.ndim >= 4


@dataclass
class FlatHistories:
    """Every stream of a dataset laid end to end in memory, with the previous action and reward aligned.

    Actions are held as the model's classes (:class:`~ad_agent.actions.ActionCoding`: a Discrete
    action itself, a Box action's bin per dimension). ``prev_actions[i]`` / ``prev_rewards[i]`` are
    what the step before ``i`` did and earned in the same stream; the first step of a stream gets the
    null class and 0 reward. Loaders take the coding, or a Discrete space's size.
    ``stream_starts`` / ``stream_lengths`` delimit streams so windows never cross them.
    ``metadata`` has one entry per run file loaded. Image observations are held coded
    (:class:`CodedObservations`) when loaded from files. Integer observations and action classes
    are held in the smallest integer type that fits them (a byte for a gridworld, against the
    files' eight): windows come out as ``observation_dtype`` (the observations' type as given) and
    int64 classes, exactly as :class:`LazyHistories` reads them. Use :class:`LazyHistories` when the
    dataset does not fit in memory.
    """

    observations: np.ndarray | CodedObservations
    actions: np.ndarray
    prev_actions: np.ndarray
    prev_rewards: np.ndarray
    episode_starts: np.ndarray
    stream_starts: np.ndarray
    stream_lengths: np.ndarray
    metadata: list[dict[str, Any]]
    observation_dtype: np.dtype | None = None  # what windows hold; None: as ``observations`` are

    @classmethod
    def load(
        cls,
        root: str | Path,
        n_actions: int | ActionCoding,
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
        metas: list[dict[str, Any]] = []
        codebook = _Codebook()

        def views() -> Iterator[Streams]:  # one run in memory at a time, as it was read
            for run, meta in iter_runs(root, strict=strict):
                metas.append(meta)
                for view in _views(run, every_kth_episode, last_episodes):
                    yield codebook.coded(view) if _is_image(run) else view  # only this run's images laid out

        layout = _Layout.of(views(), action_coding(n_actions))
        if not metas:
            raise ValueError(f"no readable history files ({SUFFIX}) in {root}")
        return layout.histories(metas, codebook.table())

    @classmethod
    def from_streams(
        cls,
        runs: Sequence[Streams],
        n_actions: int | ActionCoding,
        metadata: list[dict[str, Any]],
        table: np.ndarray | None = None,
    ) -> FlatHistories:
        """Lay the actors of ``runs`` end to end, one stream per actor; given ``table``, the runs'
        observations are rows of it (:class:`CodedObservations`)."""
        return _Layout.of(runs, action_coding(n_actions)).histories(metadata, table)

    def sample_windows(self, rng: np.random.Generator, batch_size: int, length: int) -> dict[str, np.ndarray]:
        """``batch_size`` windows of ``length`` consecutive steps, each inside one stream."""
        streams, offsets = _draw(rng, self.stream_lengths, batch_size, length)
        index = (self.stream_starts[streams] + offsets)[:, None] + np.arange(length)
        observations = self.observations[index]
        if self.observation_dtype is not None:  # held compact: as the files hold them
            observations = observations.astype(self.observation_dtype)
        return {
            "observations": observations,
            "prev_actions": self.prev_actions[index].astype(np.int64),
            "prev_rewards": self.prev_rewards[index],
            "episode_starts": self.episode_starts[index],
            "actions": self.actions[index].astype(np.int64),
        }


@dataclass
class _Layout:
    """Runs' actors laid end to end, each run's part compacted as it comes, so that loading holds
    the compact parts and one run at a time, not every run at its files' width."""

    parts: dict[str, list[np.ndarray]]
    lengths: list[int]
    observation_dtypes: list[np.dtype]

    @classmethod
    def of(cls, runs: Iterable[Streams], coding: ActionCoding) -> _Layout:
        layout = cls({k: [] for k in ("obs", "act", "pact", "prew", "start")}, [], [])
        for run in runs:
            n, t = run.n_actors, run.n_steps
            classes = coding.encode(run.actions)
            prev_act, prev_rew = previous_actions_and_rewards(classes, run.rewards, coding.null)
            layout.parts["obs"].append(_compact(run.observations.reshape(n * t, *run.observations.shape[2:])))
            layout.parts["act"].append(_compact(classes.reshape(n * t, *coding.shape)))
            layout.parts["pact"].append(_compact(prev_act.reshape(n * t, *coding.shape)))
            layout.parts["prew"].append(prev_rew.reshape(-1).astype(np.float32))
            layout.parts["start"].append(run.episode_starts.reshape(-1).astype(bool))
            layout.lengths += [t] * n
            layout.observation_dtypes.append(run.observations.dtype)
        return layout

    def histories(self, metadata: list[dict[str, Any]], table: np.ndarray | None) -> FlatHistories:
        if not self.lengths:
            raise ValueError("no streams to lay out")
        stream_lengths = np.asarray(self.lengths, dtype=np.int64)
        observations = np.concatenate(self.parts["obs"])  # the smallest type that holds every run's
        given = np.result_type(*self.observation_dtypes)
        return FlatHistories(
            observations=observations if table is None else CodedObservations(table, observations),
            actions=np.concatenate(self.parts["act"]),
            prev_actions=np.concatenate(self.parts["pact"]),
            prev_rewards=np.concatenate(self.parts["prew"]),
            episode_starts=np.concatenate(self.parts["start"]),
            stream_starts=np.concatenate([[0], np.cumsum(stream_lengths)[:-1]]).astype(np.int64),
            stream_lengths=stream_lengths,
            metadata=metadata,
            observation_dtype=None if table is not None or given == observations.dtype else given,
        )


@dataclass
class LazyHistories:
    """A dataset sampled straight from its files: only an index of streams is held in memory.

    Stream ``i`` is actor ``stream_actors[i]`` of file ``paths[stream_files[i]]``; each window is
    an h5py slice of that stream, so memory stays at one batch plus HDF5's chunk cache whatever
    the dataset's size. Streams are ordered as in :class:`FlatHistories`, so the same ``rng``
    draws the same windows from both. Files stay open until :meth:`close` (or ``with``).
    """

    paths: list[Path]
    coding: ActionCoding
    stream_files: np.ndarray
    stream_actors: np.ndarray
    stream_lengths: np.ndarray
    metadata: list[dict[str, Any]]
    _files: dict[int, h5py.File] = field(default_factory=dict, init=False, repr=False)
    # each open file's four arrays: h5py's name lookup per read cost more than the read itself
    _arrays: dict[int, dict[str, h5py.Dataset]] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def open(
        cls, root: str | Path, n_actions: int | ActionCoding, *, verify: bool = True, strict: bool = False
    ) -> LazyHistories:
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
                (n_actors, n_steps), meta = read_shape_and_metadata(path)
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
        return cls(paths, action_coding(n_actions), as_int(files), as_int(actors), as_int(lengths), metas)

    def _file_arrays(self, index: int) -> dict[str, h5py.Dataset]:
        if index not in self._arrays:
            self._files[index] = f = _open(self.paths[index], rdcc_nbytes=4 * 2**20)
            self._arrays[index] = {name: f[name] for name in ("actions", "rewards", "observations", "episode_starts")}
        return self._arrays[index]

    def _window(self, stream: int, start: int, length: int) -> dict[str, np.ndarray]:
        path_index, a = int(self.stream_files[stream]), int(self.stream_actors[stream])
        f, first = self._file_arrays(path_index), max(start - 1, 0)  # one step earlier: previous action/reward
        try:
            acts = f["actions"][a, first : start + length]
            rews = f["rewards"][a, first : start + length]
            obs = f["observations"][a, start : start + length]
            starts = f["episode_starts"][a, start : start + length]
        except (OSError, RuntimeError) as err:
            raise CorruptRunError(self.paths[path_index], str(err)) from err
        acts = self.coding.encode(acts)
        if start == 0:  # nothing before the stream: the null action and no reward
            null = np.full((1, *self.coding.shape), self.coding.null, np.int64)
            acts, rews = np.concatenate([null, acts]), np.concatenate([[0.0], rews])
        return {
            "observations": obs,
            "prev_actions": acts[:-1],
            "prev_rewards": rews[:-1].astype(np.float32),
            "episode_starts": starts,
            "actions": acts[1:],
        }

    def sample_windows(self, rng: np.random.Generator, batch_size: int, length: int) -> dict[str, np.ndarray]:
        """``batch_size`` windows of ``length`` consecutive steps, each inside one stream, read from disk."""
        streams, offsets = _draw(rng, self.stream_lengths, batch_size, length)
        windows = [self._window(s, int(o), length) for s, o in zip(streams, offsets, strict=True)]
        return {name: np.stack([w[name] for w in windows]) for name in windows[0]}

    def close(self) -> None:
        self._arrays.clear()
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


def in_memory_bytes(
    root: str | Path, n_actions: int | ActionCoding | None = None, *, image_rows: int | None = None
) -> int:
    """What :meth:`FlatHistories.load` of ``root`` would hold: per step the observation (integer ones
    at the width of the smallest type that holds all of them, which this reads from the files; others
    as stored), the action and previous action at the width of ``n_actions``'s classes (8 bytes each
    without it), a float32 previous reward and a bool episode start. Images count as stored, unless
    ``image_rows`` bounds how many distinct ones the dataset holds (its env's observation table): then
    as what loading makes of them, a row number per step of the width that ``image_rows`` rows need,
    and a table of ``image_rows`` images (at most what loading holds, exactly that when every row
    appears). Cheap for any size but an integer dataset, whose observations it reads once. A file
    loading would skip (unreadable, or without observations) counts for nothing here rather than
    failing: loading warns about it."""
    class_bytes = 8 if n_actions is None else np.min_scalar_type(action_coding(n_actions).null).itemsize
    steps = 0  # steps of the integer observations, whose width is known only once all are read
    widths: list[np.dtype] = []
    total = table = 0
    for path in run_files(root):
        try:
            with _open(path) as f:
                obs, action_dims = f["observations"], int(np.prod(f["actions"].shape[2:]))
                n_steps = int(obs.shape[0]) * int(obs.shape[1])
                per_step = int(np.prod(obs.shape[2:]))
                total += n_steps * (2 * class_bytes * action_dims + 4 + 1)
                coded = obs.dtype == np.uint8 and obs.ndim >= 4  # images, as _is_image tells them
                if obs.dtype.kind in "iu" and not coded and obs.size:
                    widths.append(_narrowest(obs[()]))
                    steps += n_steps * per_step
                elif coded and image_rows is not None:
                    total += n_steps * np.min_scalar_type(max(image_rows - 1, 0)).itemsize
                    table = image_rows * per_step  # the distinct images, once
                else:
                    total += n_steps * per_step * obs.dtype.itemsize
        except (CorruptRunError, KeyError):
            continue
    return total + table + (steps * np.result_type(*widths).itemsize if widths else 0)
