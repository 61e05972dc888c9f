"""Collect learning histories: one source run per (task, seed) job, in parallel processes.

Each job writes its own file atomically (:func:`ad_agent.histories.write_run` writes a hidden
temporary file, then renames it), so a collection can be killed at any point, even with
``kill -9``, and re-running it only does the jobs whose files are missing. Before running,
:func:`plan` removes the temporary files a killed run left behind and moves corrupted or
truncated run files aside (``<name>.corrupt``) so their jobs are done again.

Two backends run the jobs: ``local`` (a process pool on this machine's cores) and ``ray`` (Ray
tasks on a local Ray instance or a cluster; ``pip install 'ad-agent[ray]'``). With Ray, every
worker writes straight into the output folder, so a multi-machine cluster needs that folder on a
filesystem all its nodes share (NFS, a mounted bucket, ...); a local instance just uses the disk.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import multiprocessing as mp
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np

from ad_agent.collection.processes import die_with_parent
from ad_agent.devices import check_device, torch_threads
from ad_agent.histories import (
    SUFFIX,
    CorruptHistoryWarning,
    CorruptRunError,
    Streams,
    verify_run,
    write_run,
)
from ad_agent.presets import BATCHED_SOURCES, SOURCE_PRESETS
from ad_agent.sources import (
    ALGORITHMS,
    SCRIPTED_SOURCES,
    SOURCES,
    AnySourceConfig,
    BatchedSourceConfig,
    SourceConfig,
    record,
)
from ad_agent.sources.batched import check_batch_fits, check_env_fits, run_batched
from ad_agent.sources.sb3 import check_learner_fits, single_stream
from envs.core import Split, evenly_spaced

ProgressFn = Callable[[dict[str, Any]], None]

SPLITS: tuple[Split, ...] = ("train", "test")
TASK_CHOICES = (*SPLITS, "all")
BACKENDS = ("local", "ray")
RAY_EXTRA = "pip install 'ad-agent[ray]'"


class WorkerDiedError(RuntimeError):
    """A local worker process died mid-collection (``kill -9``, out of memory): resuming is the fix."""


@dataclass(frozen=True)
class Job:
    """One source run: a task (given to the env as ``env_kwargs``) and a seed."""

    env_id: str
    env_kwargs: dict[str, Any]
    seed: int
    split: str

    @property
    def filename(self) -> str:
        task = "_".join(f"{k}{'-'.join(map(str, np.atleast_1d(v)))}" for k, v in sorted(self.env_kwargs.items()))
        return f"{self.env_id}_{task}_seed{self.seed}{SUFFIX}"


def make_jobs(env_id: str, tasks: Sequence[Any], runs_per_task: int, seed: int, split: str) -> list[Job]:
    """Jobs for every task x run, with seeds derived from ``seed`` so each job's is distinct.

    Splits other than ``train`` mix their name into the seed, so a train and a test task of the
    same index never share one; train seeds stay as they always were, so old datasets resume.
    """
    if runs_per_task < 1 or not tasks:
        raise ValueError(f"need at least one task and one run per task, got {len(tasks)} tasks, {runs_per_task} runs")
    salt = [] if split == "train" else list(split.encode())
    jobs = []
    for task_index, task in enumerate(tasks):
        for run in range(runs_per_task):
            job_seed = int(np.random.SeedSequence([seed, task_index, run, *salt]).generate_state(1)[0] % 2**31)
            kwargs = {"task": tuple(task) if isinstance(task, (list, tuple)) else task}
            jobs.append(Job(env_id, kwargs, job_seed, split))
    return jobs


def split_jobs(
    env_id: str,
    tasks_of: Callable[[Split], Sequence[Any]],
    which: str,
    runs_per_task: int,
    seed: int,
    num_tasks: int | None = None,
) -> list[Job]:
    """Jobs for the tasks of split ``which`` (``train``, ``test`` or ``all``), each tagged with its split.

    ``tasks_of(split)`` lists a split's tasks (an env's ``tasks`` method); ``num_tasks`` keeps N of
    each split, spread evenly over it (:func:`envs.core.evenly_spaced`), with the very jobs (seeds
    included) that the whole split plans for them, so a subset reuses a full collection's runs.
    Collecting on test tasks is for baselines and analysis: AD itself must never train on them.
    """
    if which not in TASK_CHOICES:
        raise ValueError(f"unknown task split {which!r}; choose from {', '.join(TASK_CHOICES)}")
    if num_tasks is not None and num_tasks < 1:
        raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
    jobs = []
    for split in SPLITS if which == "all" else (cast(Split, which),):  # checked against TASK_CHOICES above
        tasks = list(tasks_of(split))
        every_job = make_jobs(env_id, tasks, runs_per_task, seed, split)
        for index in evenly_spaced(range(len(tasks)), num_tasks):
            jobs += every_job[index * runs_per_task : (index + 1) * runs_per_task]
    return jobs


def scripted_source(name: str, env_id: str) -> AnySourceConfig:
    """The scripted source ``name`` (a key of :data:`~ad_agent.sources.SCRIPTED_SOURCES`) at its
    defaults, refused here on an env it cannot play rather than in every worker."""
    if name not in SCRIPTED_SOURCES:
        raise ValueError(f"unknown scripted source {name!r}; choose from {', '.join(SCRIPTED_SOURCES)}")
    make, envs = SCRIPTED_SOURCES[name]
    if env_id not in envs:
        raise ValueError(f"the {name} source plays {', '.join(envs)}, not {env_id}")
    return make()


def source_for(
    env_id: str,
    base: AnySourceConfig,
    algo: str | None = None,
    total_timesteps: int | None = None,
    learners_per_batch: int | None = None,
    one_actor: bool = False,
) -> AnySourceConfig:
    """The source learner to collect with: ``base`` (the preset's), or the SB3 learner ``algo``.

    Another ``algo`` gets its tuned config (:data:`ad_agent.presets.SOURCE_PRESETS`) when
    ``env_id`` has one, else SB3's default hyper-parameters at ``base``'s scale (actors and step
    budget): another algorithm's tuned hyper-parameters would not fit it, SB3's defaults are sane.
    ``learners_per_batch`` runs that learner batched (:class:`BatchedSourceConfig`), that many at once;
    the preset's learner gives way to the env's :data:`~ad_agent.presets.BATCHED_SOURCES` entry there.
    ``one_actor`` makes it a single-stream learner (:func:`~ad_agent.sources.sb3.single_stream`, same
    step budget): each history then shows one actor's own learning, not a stream of a shared policy.
    """
    source = _sb3_source(env_id, base, algo)
    if learners_per_batch is not None and source is base and env_id in BATCHED_SOURCES:
        source = BATCHED_SOURCES[env_id]
    if one_actor:
        if not isinstance(source, SourceConfig):
            raise ValueError(f"one actor per run applies to SB3 learners, not to {type(source).__name__}")
        source = single_stream(source, source.total_timesteps)
    if isinstance(source, SourceConfig):
        check_learner_fits(source.algo, env_id)
    if learners_per_batch is not None:
        if not isinstance(source, SourceConfig):
            raise ValueError(f"batched learners replace SB3 PPO/A2C learners, not {type(source).__name__}")
        check_env_fits(env_id, source.learner_views)
        source = BatchedSourceConfig.like(source, learners_per_batch)
    if total_timesteps is None:
        return source
    if not isinstance(source, SourceConfig | BatchedSourceConfig):
        raise ValueError(f"a step budget applies to SB3 learners, not to {type(source).__name__}")
    return dataclasses.replace(source, total_timesteps=total_timesteps)


def _sb3_source(env_id: str, base: AnySourceConfig, algo: str | None) -> AnySourceConfig:
    source = base
    if algo is not None and not (isinstance(base, SourceConfig) and base.algo == algo):
        if algo not in ALGORITHMS:
            raise ValueError(f"unknown source algorithm {algo!r}; choose from {', '.join(sorted(ALGORITHMS))}")
        source = SOURCE_PRESETS.get((env_id, algo)) or _default_source(base, algo)
    return source


def _default_source(base: AnySourceConfig, algo: str) -> SourceConfig:
    scale = base if isinstance(base, SourceConfig) else SourceConfig()
    return SourceConfig(algo, n_envs=scale.n_envs, total_timesteps=scale.total_timesteps)


def run_job(job: Job, source: AnySourceConfig, out_dir: Path) -> dict[str, Any]:
    """Run one source learner and write its history file; returns a short summary."""
    streams, extras = record(source, job.env_id, job.env_kwargs, job.seed)
    return _write(job, source, out_dir, streams, extras)


def run_batch(jobs: Sequence[Job], source: BatchedSourceConfig, out_dir: Path) -> list[dict[str, Any]]:
    """Run the learners of ``jobs`` together (:func:`~ad_agent.sources.batched.run_batched`), one file each.

    A batch runs on the GPU when there is one, else on one torch thread: collection scales over cores
    with workers, and a second thread per batch contends with them (or with anything else running).
    The run files are those of SB3 runs, their metadata adding which batch a run was trained in (its
    size and its first job's file).
    """
    for job in jobs:
        if set(job.env_kwargs) != {"task"} or job.env_id != jobs[0].env_id:
            raise ValueError(f"a batch takes jobs of one env that differ by task only, got {job}")
    tasks = [job.env_kwargs["task"] for job in jobs]
    with torch_threads(1):
        captures = run_batched(source, jobs[0].env_id, tasks, [job.seed for job in jobs], str(check_device("auto")))
    batch = {"learners": len(jobs), "first_run": jobs[0].filename}
    runs = zip(jobs, captures, strict=True)
    return [_write(job, source, out_dir, c.streams, c.extras(), batch=batch) for job, c in runs]


def _write(
    job: Job,
    source: AnySourceConfig,
    out_dir: Path,
    streams: Streams,
    extras: dict[str, np.ndarray],
    **more_metadata: Any,
) -> dict[str, Any]:
    metadata = {
        "env_id": job.env_id,
        "env_kwargs": job.env_kwargs,
        "task": job.env_kwargs,
        "split": job.split,
        "seed": job.seed,
        "source": source_record(source),
        "final_return": streams.final_return(),
        "versions": _versions(),
        **more_metadata,
    }
    write_run(out_dir / job.filename, streams, metadata, extras)
    steps = streams.n_actors * streams.n_steps
    return {"file": job.filename, "final_return": metadata["final_return"], "env_steps": steps}


def work_units(todo: Sequence[Job], source: AnySourceConfig) -> list[list[Job]]:
    """``todo`` as the units a worker runs at once: batches for a batched source, single runs otherwise."""
    size = source.learners_per_batch if isinstance(source, BatchedSourceConfig) else 1
    return [list(todo[i : i + size]) for i in range(0, len(todo), size)]


def run_unit(jobs: list[Job], source: AnySourceConfig, out_dir: Path) -> list[dict[str, Any]]:
    """Run one unit of :func:`work_units`; a summary per run."""
    if isinstance(source, BatchedSourceConfig):
        return run_batch(jobs, source, out_dir)
    return [run_job(job, source, out_dir) for job in jobs]


def source_record(source: AnySourceConfig) -> dict[str, Any]:
    """The source as a run file's metadata records it (JSON types: tuples read back as lists)."""
    return json.loads(json.dumps({"kind": type(source).__name__, **asdict(source)}))


def _as_recorded_today(recorded: dict[str, Any] | None) -> dict[str, Any] | None:
    """A run file's source record as this version would write it: settings added since the run was
    collected take their defaults, which is how that run was collected. Unreadable records stay as
    they are (and then differ from any source asked for)."""
    if not isinstance(recorded, dict) or recorded.get("kind") not in SOURCES:
        return recorded
    settings = {key: value for key, value in recorded.items() if key != "kind"}
    try:
        return source_record(SOURCES[recorded["kind"]](**settings))
    except (TypeError, ValueError):
        return recorded


class SourceMismatchError(ValueError):
    """A dataset folder holds runs of another source than the one asked for."""


def _differences(recorded: dict[str, Any] | None, asked: dict[str, Any]) -> str:
    """The source settings a run file disagrees on, as ``name: recorded there, asked now``."""
    recorded = recorded or {}
    keys = sorted(key for key in recorded.keys() | asked.keys() if recorded.get(key) != asked.get(key))
    return "; ".join(f"{key}: {recorded.get(key)!r} there, {asked.get(key)!r} now" for key in keys)


def _versions() -> dict[str, str]:
    import gymnasium
    import stable_baselines3
    import torch

    import ad_agent

    return {
        "ad_agent": ad_agent.__version__,
        "gymnasium": gymnasium.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
    }


def pending_jobs(jobs: Sequence[Job], out_dir: str | Path) -> list[Job]:
    """The jobs whose history file is not in ``out_dir`` yet."""
    return [job for job in jobs if not (Path(out_dir) / job.filename).exists()]


@dataclass
class CollectionPlan:
    """What a collection still has to do in its folder, and what it found there."""

    todo: list[Job]
    done: list[dict[str, Any]]  # summaries (file, final_return) of the runs already there and sound
    corrupt: dict[Path, str]  # run files found corrupted, now at ``<name>.corrupt``, and why
    stale: list[Path]  # temporary files of writers killed mid-write, now removed


def plan_collection(jobs: Sequence[Job], out_dir: str | Path, source: AnySourceConfig | None = None) -> CollectionPlan:
    """Tidy ``out_dir`` after a crash and list the jobs left to do.

    Every existing run file of ``jobs`` is verified in full: a corrupted or truncated one is moved
    aside, not deleted (it may be worth a look), and its job counts as not done. Given ``source``,
    a sound run that another source wrote raises :class:`SourceMismatchError`: resuming would
    silently mix two learners' histories in one dataset (run files are named by task and seed only).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stale = sorted(out_dir.glob(f".*{SUFFIX}.*.tmp"))  # write_run's temporary names
    for path in stale:
        path.unlink(missing_ok=True)
    done, corrupt = [], {}
    asked = None if source is None else source_record(source)
    for path in (out_dir / job.filename for job in jobs):
        if not path.exists():
            continue
        try:
            metadata = verify_run(path)
        except CorruptRunError as err:
            os.replace(path, path.with_name(path.name + ".corrupt"))
            corrupt[path] = str(err)
            continue
        recorded = _as_recorded_today(metadata.get("source"))
        if asked is not None and recorded != asked:
            raise SourceMismatchError(
                f"{path} was collected with another source ({_differences(recorded, asked)}); "
                "collect into a new folder, or remove the old runs"
            )
        done.append({"file": path.name, "final_return": metadata.get("final_return", float("nan"))})
    return CollectionPlan(pending_jobs(jobs, out_dir), done, corrupt, stale)


def require_backend(backend: str) -> None:
    """Fail before any work when ``backend`` is unknown or its optional package is missing."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend == "ray":
        _import_ray()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ImportError(f"the ray backend needs Ray; install ray: {RAY_EXTRA}") from err
    return ray


def run_jobs(
    todo: Sequence[Job],
    source: AnySourceConfig,
    out_dir: str | Path,
    workers: int | None = None,
    on_progress: ProgressFn | None = None,
    backend: str = "local",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Run ``todo`` on ``backend``, ``workers`` at a time; ``on_progress`` gets each finished job's summary.

    ``local``: ``workers`` processes (default: every core; 1 runs in this process, for debugging).
    If one dies, :class:`WorkerDiedError` says so and re-running resumes; retrying here could
    loop forever on a job that runs out of memory every time.
    ``ray``: one Ray task per job (one CPU each) on the cluster at ``address``, or on a local
    instance of ``workers`` CPUs; Ray itself re-runs a task whose worker died (3 retries, its default).
    """
    require_backend(backend)
    if address is not None and backend != "ray":
        raise ValueError("an address is for the ray backend only")
    out_dir = Path(out_dir).resolve()  # workers may run with another working directory
    if isinstance(source, BatchedSourceConfig) and todo:
        check_batch_fits(source, todo[0].env_id, min(len(todo), source.learners_per_batch))
    if backend == "ray":
        summaries = _ray_summaries(todo, source, out_dir, workers, address)
    else:
        summaries = _local_summaries(todo, source, out_dir, workers or mp.cpu_count())
    finished = []
    for summary in summaries:
        finished.append(summary)
        if on_progress:
            on_progress(summary)
    return finished


def env_modules(env_ids: set[str]) -> list[str]:
    """The modules that define these envs, outside this package: a spawned worker imports them first, so
    an env (and the preset) registered by a user's own module exists there too."""
    modules = set()
    for env_id in env_ids:
        entry = gym.spec(env_id).entry_point
        module = entry.split(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", None)
        if module and module.split(".")[0] not in ("envs", "gymnasium", "__main__"):
            modules.add(module)
    return sorted(modules)


def _start_worker(parent_pid: int, modules: list[str]) -> None:
    die_with_parent(parent_pid)
    for module in modules:
        importlib.import_module(module)


def _local_summaries(todo: Sequence[Job], source: AnySourceConfig, out_dir: Path, workers: int) -> Iterator[dict]:
    units = work_units(todo, source)
    if workers == 1:
        for unit in units:
            yield from run_unit(unit, source, out_dir)
        return
    # spawn, not fork: a forked child may inherit torch's thread pools in a locked state; workers
    # end with this process, also after a kill -9 of it (die_with_parent)
    context = mp.get_context("spawn")
    setup = (os.getpid(), env_modules({job.env_id for job in todo}))
    with ProcessPoolExecutor(workers, context, initializer=_start_worker, initargs=setup) as pool:
        futures = [pool.submit(run_unit, unit, source, out_dir) for unit in units]
        finished = 0
        try:
            for future in as_completed(futures):
                for summary in future.result():
                    yield summary
                    finished += 1
        except BrokenProcessPool as err:
            raise WorkerDiedError(
                f"a worker process died (killed, or out of memory?) after {finished} of {len(todo)} runs; "
                f"finished runs are saved in {out_dir}: re-run the same command to do the rest"
            ) from err
        finally:  # on any early exit (Ctrl-C, an error), do not start the jobs still queued
            pool.shutdown(cancel_futures=True)


def _ray_summaries(
    todo: Sequence[Job], source: AnySourceConfig, out_dir: Path, workers: int | None, address: str | None
) -> Iterator[dict]:
    ray = _import_ray()
    with _ray_session(ray, address, workers):
        task = ray.remote(num_cpus=1)(run_unit)
        pending = [task.remote(unit, source, out_dir) for unit in work_units(todo, source)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(done[0])


@contextmanager
def _ray_session(ray: Any, address: str | None, workers: int | None) -> Iterator[None]:
    """Join the cluster at ``address`` or start a local instance; a session already open is reused, not closed."""
    if ray.is_initialized():
        yield
        return
    local = {} if address else {"num_cpus": workers, "include_dashboard": False}
    ray.init(address=address, **local)
    try:
        yield
    finally:
        ray.shutdown()


def collect(
    jobs: Sequence[Job],
    source: AnySourceConfig,
    out_dir: str | Path,
    workers: int | None = None,
    on_progress: ProgressFn | None = None,
    backend: str = "local",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Run the ``jobs`` whose files are not in ``out_dir`` yet (see :func:`plan_collection`, :func:`run_jobs`).

    Corrupted run files are moved aside with a :class:`~ad_agent.histories.CorruptHistoryWarning`
    naming them, and their jobs are done again.
    """
    require_backend(backend)
    if isinstance(source, SourceConfig):
        for env_id in {job.env_id for job in jobs}:
            check_learner_fits(source.algo, env_id)
    plan = plan_collection(jobs, out_dir, source)
    for path, reason in plan.corrupt.items():
        warnings.warn(f"redoing {path}, moved aside to {path.name}.corrupt: {reason}", CorruptHistoryWarning, 2)
    return run_jobs(plan.todo, source, out_dir, workers, on_progress, backend, address)
