"""Batched learners against SB3: the same learning curves, and how many more source runs per hour.

For each env, its SB3 PPO (or ``--algo A2C``) preset (:data:`ad_agent.presets.SOURCE_PRESETS`;
on the pixel maze the decoded learner that ``--batched`` runs there, :data:`~ad_agent.presets.BATCHED_SOURCES`)
runs once on each of ``--tasks`` train tasks spread over the split, one run at a time on one torch
thread, and its batched twin (:meth:`BatchedSourceConfig.like`, the same hyper-parameters, actors and
budget) runs on the same tasks as one batch, also on one thread. Both are timed in this process, one
after the other, so a busy machine slows both alike.

**Fidelity.** A curve is each task's mean return of the episodes its actors finished in each of
``--bins`` equal spans of the learner's env steps. At every span the batched and SB3 means over tasks
are compared by their paired difference over tasks: the curves *match* when that difference is within
two standard errors (over tasks, i.e. the run-to-run and task-to-task noise) in at least 90% of spans,
and so is the difference of the runs' final returns. Each run also counts as *solved* when it ends at
>= 90% of its task's optimum (:meth:`~ad_agent.histories.Streams.final_return`).

**Throughput.** One batch of ``--learners`` batched learners (the collection's unit of work) is timed
separately, on one thread; runs per hour per core compare it with the SB3 runs' seconds per run.

    python -m benchmarks.batched_sources --tasks 16 --learners 128 --seed 0
    python -m benchmarks.batched_sources --envs PointRobot-v0 --tasks 16 --learners 128 --seed 0
    python -m benchmarks.batched_sources --envs PixelWatermaze-v0 --tasks 16 --learners 128 --seed 0

Measuring some envs keeps the record's entries for the others, each with its own settings, load average and date.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from typing import Any

import gymnasium as gym
import matplotlib
import numpy as np
import torch

from ad_agent.presets import BATCHED_SOURCES, source_preset
from ad_agent.sources import SourceConfig, record
from ad_agent.sources.batched import BatchedSourceConfig, run_batched
from ad_agent.sources.yardstick import spread_tasks
from benchmarks.common import RESULTS_DIR, write_result

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ENVS = ("DarkRoom-v0", "DarkKeyToDoor-v0", "DarkRoomHard-v0")
# measured on request (--envs): Gaussian PPO/A2C on continuous actions; PPO on the maze's decoded images
OTHER_ENVS = ("PointRobot-v0", "PixelWatermaze-v0")
SOLVED = 0.9
NAME = "batched_sources"


def binned_curve(rewards: np.ndarray, starts: np.ndarray, n_actors: int, total_steps: int, bins: int) -> np.ndarray:
    """Mean return of the episodes finished in each of ``bins`` equal spans of the learner's env steps.

    ``rewards`` / ``starts`` are ``(n_actors, n_steps)``; actors step together, so an episode that
    ends at row ``t`` ends at learner step ``n_actors * (t + 1)``. A span no episode ended in is NaN.
    """
    returns, ends = [], []
    for actor_rewards, actor_starts in zip(rewards, starts, strict=True):
        first = np.flatnonzero(actor_starts)  # row 0 opens the first episode
        returns.append(np.add.reduceat(actor_rewards, first)[:-1])  # the last episode may be cut: left out
        ends.append(n_actors * first[1:])  # an episode ends where the next one starts
    returns, ends = np.concatenate(returns), np.concatenate(ends)
    which = np.minimum((ends - 1) * bins // total_steps, bins - 1)
    totals = np.bincount(which, weights=returns, minlength=bins)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore"):
        return totals / counts


def compare(ours: np.ndarray, theirs: np.ndarray) -> dict[str, Any]:
    """Paired comparison over tasks of two ``(tasks, ...)`` arrays: mean difference, its standard error,
    and whether the difference is within two standard errors (NaN spans are left out)."""
    diff = ours - theirs
    n = np.sum(~np.isnan(diff), axis=0)
    mean = np.nanmean(diff, axis=0)
    se = np.nanstd(diff, axis=0, ddof=1) / np.sqrt(np.maximum(n, 1))
    return {"difference": mean, "standard_error": se, "within": np.abs(mean) <= 2 * se + 1e-9}


def compared_source(env_id: str, algo: str) -> SourceConfig:
    """The learner both sides run: the env's batched source where it has its own (the maze's decoded PPO),
    else its SB3 preset."""
    own = BATCHED_SOURCES.get(env_id)
    return copy.deepcopy(own) if own is not None and own.algo == algo else source_preset(env_id, algo)


def sb3_runs(env_id: str, algo: str, tasks: list[Any], seed: int, bins: int) -> dict[str, Any]:
    config = compared_source(env_id, algo)
    curves, finals, seconds = [], [], []
    for index, task in enumerate(tasks):
        start = time.perf_counter()
        streams, _ = record(config, env_id, {"task": task}, seed + index)
        seconds.append(time.perf_counter() - start)
        steps = streams.n_actors * streams.n_steps
        curves.append(binned_curve(streams.rewards, streams.episode_starts, streams.n_actors, steps, bins))
        finals.append(streams.final_return())
    return {"curves": np.array(curves), "finals": np.array(finals), "seconds_per_run": float(np.mean(seconds))}


def batched_runs(env_id: str, algo: str, tasks: list[Any], seed: int, bins: int) -> dict[str, Any]:
    config = BatchedSourceConfig.like(compared_source(env_id, algo), learners_per_batch=len(tasks))
    start = time.perf_counter()
    captures = run_batched(config, env_id, tasks, [seed + i for i in range(len(tasks))])
    seconds = time.perf_counter() - start
    curves, finals = [], []
    for capture in captures:
        s = capture.streams
        curves.append(binned_curve(s.rewards, s.episode_starts, s.n_actors, s.n_actors * s.n_steps, bins))
        finals.append(s.final_return())
    return {"curves": np.array(curves), "finals": np.array(finals), "seconds_per_run": seconds / len(tasks)}


def batch_tasks(env_id: str, learners: int) -> list[Any]:
    """One train task per learner, spread over the split; repeated (with other seeds) when there are
    more learners than train tasks."""
    tasks = spread_tasks(env_id, min(learners, len(gym.make(env_id).unwrapped.tasks("train"))))
    return (tasks * learners)[:learners]


def batch_throughput(env_id: str, algo: str, learners: int, seed: int, device: str = "cpu") -> dict[str, Any]:
    """Time one full batch of ``learners`` on the env's train tasks (:func:`batch_tasks`) on ``device``."""
    config = BatchedSourceConfig.like(compared_source(env_id, algo), learners_per_batch=learners)
    tasks = batch_tasks(env_id, learners)
    start = time.perf_counter()
    captures = run_batched(config, env_id, tasks, [seed + i for i in range(learners)], device)
    seconds = time.perf_counter() - start
    steps = sum(c.streams.n_actors * c.streams.n_steps for c in captures)
    env = gym.make(env_id).unwrapped
    solved = [c.streams.final_return() >= SOLVED * env.optimal_return(t) for c, t in zip(captures, tasks, strict=True)]
    return {
        "learners": learners,
        "seconds": seconds,
        "seconds_per_run": seconds / learners,
        "env_steps_per_second": steps / seconds,
        "solved_fraction": float(np.mean(solved)),
    }


def measure_env(env_id: str, algo: str, n_tasks: int, learners: int, seed: int, bins: int) -> dict[str, Any]:
    tasks = spread_tasks(env_id, n_tasks)
    optimal = np.array([gym.make(env_id).unwrapped.optimal_return(t) for t in tasks])
    sb3 = sb3_runs(env_id, algo, tasks, seed, bins)
    ours = batched_runs(env_id, algo, tasks, seed, bins)
    spans = compare(ours["curves"], sb3["curves"])
    final = compare(ours["finals"], sb3["finals"])
    batch = batch_throughput(env_id, algo, learners, seed)
    steps_per_run = compared_source(env_id, algo).total_timesteps
    return {
        "tasks": [np.asarray(t).tolist() for t in tasks],
        "optimal_mean": float(optimal.mean()),
        "sb3": {
            "mean_curve": np.nanmean(sb3["curves"], 0).tolist(),
            "std_curve": np.nanstd(sb3["curves"], 0).tolist(),
            "final_mean": float(sb3["finals"].mean()),
            "solved_fraction": float(np.mean(sb3["finals"] >= SOLVED * optimal)),
            "seconds_per_run": sb3["seconds_per_run"],
            "runs_per_hour_per_core": 3600 / sb3["seconds_per_run"],
            "env_steps_per_second": steps_per_run / sb3["seconds_per_run"],
        },
        "batched": {
            "mean_curve": np.nanmean(ours["curves"], 0).tolist(),
            "std_curve": np.nanstd(ours["curves"], 0).tolist(),
            "final_mean": float(ours["finals"].mean()),
            "solved_fraction": float(np.mean(ours["finals"] >= SOLVED * optimal)),
            "seconds_per_run_in_fidelity_batch": ours["seconds_per_run"],
            "batch": batch,
            "runs_per_hour_per_core": 3600 / batch["seconds_per_run"],
        },
        "spans_within_noise": float(np.mean(spans["within"])),
        "span_difference": spans["difference"].tolist(),
        "span_standard_error": spans["standard_error"].tolist(),
        "final_difference": float(final["difference"]),
        "final_standard_error": float(final["standard_error"]),
        "curves_match": bool(np.mean(spans["within"]) >= 0.9 and final["within"]),
        "speedup_runs_per_hour": sb3["seconds_per_run"] / batch["seconds_per_run"],
    }


def plot(results: dict[str, Any], steps: dict[str, int], algo: str, name: str) -> str:
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6))
    for ax, (env_id, r) in zip(np.atleast_1d(axes), results.items(), strict=True):
        x = (np.arange(len(r["sb3"]["mean_curve"])) + 0.5) * steps[env_id] / len(r["sb3"]["mean_curve"])
        for label, side, color in ((f"SB3 {algo}", "sb3", "tab:blue"), (f"batched {algo}", "batched", "tab:orange")):
            mean, std = np.array(r[side]["mean_curve"]), np.array(r[side]["std_curve"])
            ax.plot(x, mean, label=label, color=color)
            ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2)
        ax.axhline(r["optimal_mean"], color="k", ls="--", lw=0.8, label="optimal")
        ax.set_title(f"{env_id} ({len(r['tasks'])} tasks)")
        ax.set_xlabel("learner env steps")
        ax.set_ylabel("episode return (mean, std over tasks)")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    fig.savefig(RESULTS_DIR / f"{name}.png", dpi=120)
    plt.close(fig)
    return f"{name}.png"


def previous_envs(name: str) -> dict[str, Any]:
    """The env entries already in the record ``name``, which a measurement of other envs keeps; an entry
    from before entries had their own settings gets the record's."""
    path = RESULTS_DIR / f"{name}.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    shared = {key: record[key] for key in ("seed", "tasks", "bins", "load_average_1min", "date") if key in record}
    envs = {key: value for key, value in record.items() if key in ENVS + OTHER_ENVS}
    return {key: {"measured_with": shared, **value} for key, value in envs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=ENVS + OTHER_ENVS)
    parser.add_argument("--algo", choices=("PPO", "A2C"), default="PPO", help="the envs' SB3 preset of this algorithm")
    parser.add_argument("--tasks", type=int, default=16, help="train tasks spread over the split, one run each")
    parser.add_argument("--learners", type=int, default=128, help="learners in the timed batch")
    parser.add_argument("--bins", type=int, default=20, help="spans of env steps the curves are compared in")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    name = NAME if args.algo == "PPO" else f"{NAME}_{args.algo.lower()}"
    results = previous_envs(name)
    for env_id in args.envs:
        settings = {"seed": args.seed, "tasks": args.tasks, "learners": args.learners, "bins": args.bins}
        settings |= {"load_average_1min": os.getloadavg()[0], "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        r = measure_env(env_id, args.algo, args.tasks, args.learners, args.seed, args.bins)
        results[env_id] = {"measured_with": settings, **r}
        print(
            f"{env_id}: SB3 {r['sb3']['seconds_per_run']:.2f} s/run, "
            f"batched {r['batched']['batch']['seconds_per_run']:.2f} s/run "
            f"({r['speedup_runs_per_hour']:.1f}x runs per hour per core); solved SB3 "
            f"{r['sb3']['solved_fraction']:.0%}, batched {r['batched']['solved_fraction']:.0%} "
            f"(batch of {args.learners}: {r['batched']['batch']['solved_fraction']:.0%}); curves within noise in "
            f"{r['spans_within_noise']:.0%} of spans, final {r['final_difference']:+.3f} +- "
            f"{r['final_standard_error']:.3f}: {'match' if r['curves_match'] else 'DIFFER'}",
            flush=True,
        )
    png = plot(results, {e: compared_source(e, args.algo).total_timesteps for e in results}, args.algo, name)
    path = write_result(name, {"algo": args.algo, "plot": png, **results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
