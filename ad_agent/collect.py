"""Collect learning histories: one source run per (task, seed) job, in parallel processes.

Each job writes its own file atomically, so a collection can be killed at any point and
re-running it only does the jobs whose files are missing.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ad_agent.histories import SUFFIX, episode_returns, write_run
from ad_agent.sources import AnySourceConfig, record

ProgressFn = Callable[[dict[str, Any]], None]


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
    """Jobs for every task x run, with seeds derived from ``seed`` so each job's is distinct."""
    if runs_per_task < 1 or not tasks:
        raise ValueError(f"need at least one task and one run per task, got {len(tasks)} tasks, {runs_per_task} runs")
    jobs = []
    for task_index, task in enumerate(tasks):
        for run in range(runs_per_task):
            job_seed = int(np.random.SeedSequence([seed, task_index, run]).generate_state(1)[0] % 2**31)
            kwargs = {"task": tuple(task) if isinstance(task, (list, tuple)) else task}
            jobs.append(Job(env_id, kwargs, job_seed, split))
    return jobs


def run_job(job: Job, source: AnySourceConfig, out_dir: Path) -> dict[str, Any]:
    """Run one source learner and write its history file; returns a short summary."""
    streams, extras = record(source, job.env_id, job.env_kwargs, job.seed)
    finals = [episode_returns(streams.rewards[i], streams.episode_starts[i])[-1] for i in range(streams.n_actors)]
    metadata = {
        "env_id": job.env_id,
        "env_kwargs": job.env_kwargs,
        "task": job.env_kwargs,
        "split": job.split,
        "seed": job.seed,
        "source": {"kind": type(source).__name__, **asdict(source)},
        "final_return": float(np.mean(finals)),
        "versions": _versions(),
    }
    write_run(out_dir / job.filename, streams, metadata, extras)
    return {"file": job.filename, "final_return": metadata["final_return"]}


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


def collect(
    jobs: Sequence[Job],
    source: AnySourceConfig,
    out_dir: str | Path,
    workers: int | None = None,
    on_progress: ProgressFn | None = None,
) -> list[dict[str, Any]]:
    """Run the ``jobs`` whose files are not in ``out_dir`` yet, ``workers`` at a time.

    ``workers`` defaults to every local core; 1 runs in this process (handy for debugging).
    ``on_progress`` is called with each finished job's summary.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = pending_jobs(jobs, out_dir)
    workers = workers or mp.cpu_count()
    summaries = []
    if workers == 1:
        for job in todo:
            summaries.append(run_job(job, source, out_dir))
            if on_progress:
                on_progress(summaries[-1])
        return summaries
    # spawn, not fork: a forked child may inherit torch's thread pools in a locked state
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(run_job, job, source, out_dir) for job in todo]
        for future in as_completed(futures):
            summaries.append(future.result())
            if on_progress:
                on_progress(summaries[-1])
    return summaries
