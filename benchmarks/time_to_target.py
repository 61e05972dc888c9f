"""Wall time for the default Dark Room run to reach its in-context target, collection included.

The default pipeline of ``ad-agent run --env DarkRoom-v0``: the preset's PPO source on the train
goals (through ``ad-agent collect``, into an emptied ``--workdir`` so that collection is timed from
scratch), then :func:`ad_agent.pipeline.distill` with the env's training preset and the
in-context probe on: every ``--probe-every`` steps the model being trained plays every held-out
goal in context for ``--probe-episodes`` episodes (one trial each, frozen weights). The run stops
at the first probe whose last episode reaches the target; its wall time is collection plus
training up to that probe, probes included (they are part of getting there).

Target: the held-out goals' mean return in the 50th episode of the probe (the evaluation
protocol's trial length) at least 80% of the optimal mean return. The shipped seed-0 policy, after
the full 4,800 steps, averages 80% of optimal over episodes 21-30 and 90% over 41-50
(``results/darkroom_run_seed0.json``, 4 trials per goal): 90% lies at the very end of what the
default run reaches at all, so its first crossing would mostly time probe noise; 80% is a level
the default run clearly reaches, and asks for the rise a source-like learner shows in context.

    python -m benchmarks.time_to_target --seed 0            # full: 10-25 min on an idle 2-core machine
    python -m benchmarks.time_to_target --quick --seed 0    # smoke run: tiny data, model and budget
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from ad_agent.pipeline import distill, optimal_mean_return
from ad_agent.presets import get_preset
from benchmarks.ablation_common import QUICK_MODEL, QUICK_SB3_STEPS, QUICK_TASKS, QUICK_TRAIN, QUICK_TRAIN_STEPS
from benchmarks.common import RESULTS_DIR, write_result
from benchmarks.experiments import dataset

ENV = "DarkRoom-v0"
TARGET = 0.8  # of the optimal mean return, in the probe's last episode
FULL = {"probe_every": 100, "probe_episodes": 50}
QUICK = {"probe_every": 10, "probe_episodes": 6}


class TargetReached(Exception):
    """Raised from the progress callback to end training at the first probe on target."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny data, model and budget (CI smoke run)")
    parser.add_argument("--target", type=float, default=TARGET, help="fraction of optimal (default 0.8)")
    parser.add_argument("--workdir", type=Path, default=Path("runs/trainperf/time_to_target"), help="emptied first")
    parser.add_argument("--results", type=Path, default=None, help="JSON folder (default benchmarks/results)")
    return parser


def _collect(args: argparse.Namespace) -> tuple[Path, float]:
    shutil.rmtree(args.workdir, ignore_errors=True)
    quick = {"runs_per_task": 1, "num_tasks": QUICK_TASKS, "steps": QUICK_SB3_STEPS} if args.quick else {}
    clock = time.perf_counter()
    data_dir = dataset(ENV, args.seed, args.workdir, **quick)
    return data_dir, time.perf_counter() - clock


def _train_until(args: argparse.Namespace, data_dir: Path, goal: float) -> tuple[list[dict[str, Any]], float]:
    """Train with the probe on until a probe reaches ``goal``; every probe's record, and the training time."""
    plan = QUICK if args.quick else FULL
    probes: list[dict[str, Any]] = []
    clock = time.perf_counter()

    def progress(record: dict[str, float]) -> None:
        if "in_context_last" not in record:
            return
        keys = ("step", "loss", "in_context_first", "in_context_last")
        probes.append({**{k: record[k] for k in keys}, "train_seconds": time.perf_counter() - clock})
        probes[-1]["load_average_1min"] = os.getloadavg()[0]  # the CPU is shared: say how busy it was
        if record["in_context_last"] >= goal:
            raise TargetReached

    quick = {"model": QUICK_MODEL, "train": QUICK_TRAIN} if args.quick else {"model": {}, "train": {}}
    preset = get_preset(ENV).customised(
        model=quick["model"], train={**quick["train"], "in_context_every": plan["probe_every"]}
    )
    with contextlib.suppress(TargetReached):
        distill(
            preset,
            data_dir,
            args.seed,
            QUICK_TRAIN_STEPS if args.quick else None,
            on_progress=progress,
            in_context_episodes=plan["probe_episodes"],
        )
    return probes, time.perf_counter() - clock


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    goal = args.target * optimal_mean_return(get_preset(ENV))
    data_dir, collect_s = _collect(args)
    probes, train_s = _train_until(args, data_dir, goal)
    hit = probes[-1] if probes and probes[-1]["in_context_last"] >= goal else None
    to_target = None
    if hit:
        to_target = {"collect": collect_s, "train": hit["train_seconds"], "total": collect_s + hit["train_seconds"]}
        print(f"target {goal:.2f} reached at step {hit['step']}: {to_target}")
    else:
        print(f"target {goal:.2f} not reached in {train_s:.0f} s of training after {collect_s:.0f} s of collection")
    figures = {
        "env_id": ENV,
        "seed": args.seed,
        "quick": args.quick,
        "target_fraction_of_optimal": args.target,
        "target_return": goal,
        **(QUICK if args.quick else FULL),
        "reached": hit is not None,
        "step_at_target": hit["step"] if hit else None,
        "wall_seconds_to_target": to_target,
        "wall_seconds_run": {"collect": collect_s, "train": train_s},
        "probes": probes,
    }
    results = args.results or (args.workdir.parent / "results" if args.quick else RESULTS_DIR)
    print(f"wrote {write_result('time_to_target', figures, results)}")


if __name__ == "__main__":
    main()
