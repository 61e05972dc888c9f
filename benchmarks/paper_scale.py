"""Paper-scale learning histories: thousands of source runs collected on this machine, timed.

Collects ``--num-tasks`` train tasks (spread over the split) x ``--runs-per-task`` runs of the env's
preset source into ``--out`` with :func:`ad_agent.collection.runner.collect`, exactly as ``ad-agent collect``
does (``--batched`` for the batched PPO/A2C learners, ``--source noisy-expert`` for the scripted
noisy expert, the paper's cheap AD-epsilon source; ``--source grid-search`` for the tabular searcher of the
Dark rooms). Re-running the same command resumes a collection
that was stopped; the record then says how many runs this invocation collected and how long it took.

The record (``benchmarks/results/paper_scale_<env>_<source>.json``) holds the wall time, runs per
hour, env steps per second, the peak memory of the collecting processes, the dataset's size on disk,
and the share of runs that end at >= 90% of their task's optimum (the mean of each run's last two
complete episodes over its actors, :meth:`~ad_agent.histories.Streams.final_return`).

    python -m benchmarks.paper_scale --env DarkKeyToDoor-v0 --num-tasks 1000 --runs-per-task 2 --batched \\
        --workers 2 --seed 0 --out runs/paper_scale/DarkKeyToDoor-v0
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from ad_agent.collection.runner import collect, plan_collection, scripted_source, source_for, split_jobs
from ad_agent.histories import read_shape_and_metadata, run_files
from ad_agent.presets import get_preset
from ad_agent.sources import SCRIPTED_SOURCES
from benchmarks.common import env_slug, write_result

SOLVED = 0.9


def _peak_rss_bytes() -> int:
    """The largest resident set of this process or any child it waited for (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return 1024 * max(own, children)


def dataset_summary(out: Path, env: Any) -> dict[str, Any]:
    """Runs, distinct tasks, env steps, size on disk and the share of runs that solved their task, from
    the runs' metadata (the collection verified every file, and wrote each run's final return there)."""
    solved, tasks, steps = [], set(), 0
    for path in run_files(out):
        (n_actors, n_steps), metadata = read_shape_and_metadata(path)
        task = metadata["env_kwargs"]["task"]
        tasks.add(str(task))
        steps += n_actors * n_steps
        solved.append(metadata["final_return"] >= SOLVED * env.optimal_return(env.check_task(task)))
    return {
        "runs": len(solved),
        "distinct_tasks": len(tasks),
        "env_steps": steps,
        "disk_bytes": sum(p.stat().st_size for p in run_files(out)),
        "solved_fraction": float(np.mean(solved)) if solved else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--num-tasks", type=int, required=True, help="train tasks, spread over the split")
    parser.add_argument("--runs-per-task", type=int, default=1)
    parser.add_argument("--source", choices=("preset", *SCRIPTED_SOURCES), default="preset")
    parser.add_argument("--batched", action="store_true", help="batched PPO/A2C learners")
    parser.add_argument("--learners-per-batch", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="dataset folder (re-running resumes)")
    args = parser.parse_args()
    preset = get_preset(args.env)
    if args.source == "preset":
        source = source_for(
            args.env, preset.source, learners_per_batch=args.learners_per_batch if args.batched else None
        )
    else:  # 64 streams of 40 episodes, as many streams as a learner's actors
        source = scripted_source(args.source, args.env)
    jobs = split_jobs(args.env, preset.task_env.tasks, "train", args.runs_per_task, args.seed, args.num_tasks)
    before = len(jobs) - len(plan_collection(jobs, args.out, source).todo)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    collect(jobs, source, args.out, workers=args.workers)
    seconds = time.perf_counter() - start
    summary = dataset_summary(Path(args.out), preset.task_env)
    collected = len(jobs) - before
    name = "batched" if args.batched else args.source
    record = {
        "env_id": args.env,
        "source_name": name,
        "source": source.__class__.__name__,
        "workers": args.workers,
        "learners_per_batch": args.learners_per_batch if args.batched else None,
        "jobs": len(jobs),
        "collected_now": collected,
        "already_there": before,
        "seconds": seconds,
        "runs_per_hour": 3600 * collected / seconds if collected else None,
        "env_steps_per_second": summary["env_steps"] * collected / len(jobs) / seconds if collected else None,
        "peak_rss_bytes": _peak_rss_bytes(),
        "load_average_1min_at_start": load,
        **summary,
    }
    print(
        f"{args.env} {name}: {collected} runs collected in {seconds / 60:.1f} min ({before} already there); "
        f"{summary['runs']} runs on {summary['distinct_tasks']} tasks, {summary['solved_fraction']:.1%} solved, "
        f"{summary['disk_bytes'] / 2**20:.0f} MiB on disk, peak memory {record['peak_rss_bytes'] / 2**30:.2f} GiB"
    )
    record_name = f"paper_scale_{env_slug(args.env)}_{name.replace('-', '_')}"
    print(f"wrote {write_result(record_name, record)}")


if __name__ == "__main__":
    main()
