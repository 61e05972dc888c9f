"""Do the tuned source presets learn? Share of tasks whose history ends at >= 90% of the optimal return.

Each preset of :data:`ad_agent.presets.SOURCE_PRESETS` runs once on each of ``--tasks`` train
tasks spread over the split (seed ``--seed``); a run's final return is the mean of its last two complete
episodes over actors (:func:`ad_agent.histories.final_return`). ``--workers`` runs go at a
time, one torch thread each, so the seconds per run include sharing the CPU with the other worker.
``--envs`` / ``--presets`` measure only some presets; their entries replace those already in the JSON
and the others' stay, each entry with the settings and date it was measured with.

    python -m benchmarks.source_presets --tasks 16 --seed 0 --workers 2
    python -m benchmarks.source_presets --envs DarkRoomHard-v0 --tasks 16 --seed 0 --workers 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ad_agent.presets import SOURCE_PRESETS, source_preset
from ad_agent.sources.sb3 import run_source
from ad_agent.sources.yardstick import spread_tasks
from benchmarks.common import RESULTS_DIR, write_result

FRACTION = 0.9
NAME = "source_presets"


def one_run(env_id: str, algo: str, task: Any, seed: int) -> dict[str, Any]:
    """One preset run on one task: its final return against the optimum, its time and its env steps."""
    torch.set_num_threads(1)  # as collection runs each learner
    start = time.perf_counter()
    streams, _ = run_source(source_preset(env_id, algo), env_id, {"task": task}, seed)
    seconds = time.perf_counter() - start
    optimal = gym.make(env_id).unwrapped.optimal_return(task)
    return {
        "task": task,
        "final_over_optimal": streams.final_return() / optimal,
        "seconds": seconds,
        "env_steps": streams.n_actors * streams.n_steps,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one preset over its runs."""
    ratios = np.array([run["final_over_optimal"] for run in runs])
    return {
        "fraction_reaching": float(np.mean(ratios >= FRACTION)),
        "mean_final_over_optimal": float(ratios.mean()),
        "min_final_over_optimal": float(ratios.min()),
        "mean_seconds_per_run": float(np.mean([run["seconds"] for run in runs])),
        "env_steps_per_run": int(np.mean([run["env_steps"] for run in runs])),
        "runs": runs,
    }


def measure(keys: list[tuple[str, str]], n_tasks: int, seed: int, workers: int) -> dict[str, dict[str, Any]]:
    """Every run of every preset in ``keys``, ``workers`` processes at a time."""
    jobs = [(env_id, algo, task, seed) for env_id, algo in keys for task in spread_tasks(env_id, n_tasks)]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        runs = list(pool.map(one_run, *zip(*jobs, strict=True)))
    return {
        f"{env_id}/{algo}": summarize([run for job, run in zip(jobs, runs, strict=True) if job[:2] == (env_id, algo)])
        for env_id, algo in keys
    }


def selected(names: list[str] | None, env_ids: list[str] | None) -> list[tuple[str, str]]:
    """The presets named (``ENV/ALGO``) or belonging to ``env_ids``; every preset when neither is given."""
    keys = [
        key for key in SOURCE_PRESETS if (not names or "/".join(key) in names) and (not env_ids or key[0] in env_ids)
    ]
    if not keys:
        raise SystemExit(f"no source preset matches; available: {', '.join('/'.join(k) for k in SOURCE_PRESETS)}")
    return keys


def previous_presets() -> dict[str, Any]:
    """The entries already in the results file, which a partial measurement keeps."""
    path = RESULTS_DIR / f"{NAME}.json"
    return json.loads(path.read_text()).get("presets", {}) if path.exists() else {}


def main() -> None:
    names = [f"{env_id}/{algo}" for env_id, algo in SOURCE_PRESETS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=16, help="train tasks per preset, spread over the split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--presets", nargs="+", default=None, choices=names, metavar="ENV/ALGO")
    parser.add_argument("--envs", nargs="+", default=None, choices=sorted({e for e, _ in SOURCE_PRESETS}))
    args = parser.parse_args()
    keys = selected(args.presets, args.envs)
    load = os.getloadavg()[0]  # the CPU is shared: say how busy it was
    results = measure(keys, args.tasks, args.seed, args.workers)
    print(f"{'preset':24s} {'>=90% opt':>10s} {'mean/opt':>9s} {'min/opt':>8s} {'s/run':>6s} {'steps/run':>10s}")
    for name, r in results.items():
        print(
            f"{name:24s} {r['fraction_reaching']:10.2f} {r['mean_final_over_optimal']:9.3f} "
            f"{r['min_final_over_optimal']:8.3f} {r['mean_seconds_per_run']:6.1f} {r['env_steps_per_run']:10d}"
        )
    settings = {"tasks": args.tasks, "seed": args.seed, "workers": args.workers, "load_average_1min": load}
    date = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    measured = {name: {"measured_with": {**settings, "date": date}, **r} for name, r in results.items()}
    presets = {**previous_presets(), **measured}
    print(f"wrote {write_result(NAME, {'fraction': FRACTION, 'presets': presets})}")


if __name__ == "__main__":
    main()
