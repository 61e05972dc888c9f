"""Collection throughput: env steps per second of collecting Dark Room PPO histories, and the dataset's time.

Runs ``--jobs`` jobs of the default Dark Room dataset (its first train tasks, the preset's runs per
task and source) through :func:`ad_agent.collection.runner.collect` with ``--workers`` processes into a temporary
folder, so process start-up and writing the HDF5 files count as they do in a real collection. The time
for the whole default dataset is projected from the seconds per job (``--jobs 0`` collects it all).

    python -m benchmarks.collection_throughput --jobs 16 --workers 2 --seed 0
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import h5py

from ad_agent.collection.runner import collect, make_jobs
from ad_agent.histories import run_files
from ad_agent.presets import get_preset
from benchmarks.common import write_result

ENV_ID = "DarkRoom-v0"


def env_steps(out_dir: Path) -> int:
    """Env steps stored in a dataset folder: actors x steps of every run."""
    total = 0
    for path in run_files(out_dir):
        with h5py.File(path, "r") as f:
            total += int(f["actions"].size)
    return total


def measure(n_jobs: int, workers: int, seed: int) -> dict[str, Any]:
    """Collect ``n_jobs`` jobs of the default dataset (all of them for 0) and time it."""
    preset = get_preset(ENV_ID)
    jobs = make_jobs(ENV_ID, preset.train_tasks, preset.runs_per_task, seed, "train")
    timed = jobs[:n_jobs] if n_jobs else jobs
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        collect(timed, preset.source, tmp, workers=workers)
        seconds = time.perf_counter() - start
        steps = env_steps(Path(tmp))
    return {
        "source": asdict(preset.source),
        "jobs_timed": len(timed),
        "dataset_jobs": len(jobs),
        "workers": workers,
        "seconds": seconds,
        "env_steps": steps,
        "env_steps_per_second": steps / seconds,
        "seconds_per_job": seconds / len(timed),
        "dataset_seconds": seconds * len(jobs) / len(timed),
        "dataset_env_steps": steps * len(jobs) // len(timed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=16, help="jobs to time (0: the whole default dataset)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    load = os.getloadavg()[0]  # the CPU is shared: say how busy it was
    r = measure(args.jobs, args.workers, args.seed)
    kind = "measured" if r["jobs_timed"] == r["dataset_jobs"] else "projected"
    print(
        f"{ENV_ID} PPO, {r['workers']} workers: {r['jobs_timed']} jobs, {r['env_steps']} env steps in "
        f"{r['seconds']:.1f} s = {r['env_steps_per_second']:.0f} env steps/s ({r['seconds_per_job']:.2f} s per job)\n"
        f"default dataset ({r['dataset_jobs']} jobs, {r['dataset_env_steps']} env steps): "
        f"{r['dataset_seconds']:.0f} s {kind}"
    )
    path = write_result(
        "collection_throughput",
        {"env_id": ENV_ID, "seed": args.seed, "dataset_time": kind, "load_average_1min": load, **r},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
