"""RL^2 meta-trained until its in-context curve plateaus, so that "AD matches asymptotic RL^2" can be tested.

The paper gave RL^2 1e9 env steps (Fig. 4); the main results give it 1.5e5, where it has not begun to
learn. Here RecurrentPPO meta-trains on the train tasks in chunks of ``--chunk-steps``; after each
chunk it is saved and played with frozen weights for one trial on the held-out tasks (sampled
actions, as in the main results). It stops at ``--max-steps`` or when the curve has plateaued: the
mean return of the trial's last 5 episodes moved less than 5% of optimal over the last 3
evaluations, having come at least 20% of the way from random to optimal (a flat start is not a
plateau). Re-running the command resumes from the last saved chunk (the weights and optimiser carry
over; the trial envs restart), so a long meta-training can span sessions.

The record compares RL^2's best trial with AD's own curve (from the env's main-results record) over
the same episodes of a trial.

    python -m benchmarks.rl2_plateau --env DarkRoom-v0 --seed 0 --chunk-steps 500000 --max-steps 20000000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ad_agent.baselines import RL2Config, evaluate_rl2, train_rl2
from ad_agent.pipeline import optimal_mean_return, random_mean_return
from ad_agent.plots import pyplot, save_figure
from ad_agent.presets import get_preset
from benchmarks.common import RESULTS_DIR, env_slug, write_result
from benchmarks.experiments import experiment_parser, finding, positive_int
from envs.core import evenly_spaced

LATE, EARLY = 5, 3  # episodes at the end / start of a trial whose mean return is tracked
PLATEAU_EVALUATIONS, PLATEAU_SPAN = 3, 0.05  # late return within 5% of optimal over 3 evaluations
LEARNED = 0.2  # ... and at least 20% of the way from random to optimal
FULL = {"chunk_steps": 500_000, "max_steps": 20_000_000, "test_tasks": 16, "trials": 2}
QUICK = {"chunk_steps": 256, "max_steps": 512, "test_tasks": 2, "trials": 1}


@dataclasses.dataclass
class Progress:
    """What a run has done so far: saved after every chunk, read back to resume."""

    steps: int = 0
    evaluations: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    train_seconds: float = 0.0

    @classmethod
    def load(cls, folder: Path) -> Progress:
        path = folder / "progress.json"
        return cls(**json.loads(path.read_text())) if path.exists() else cls()

    def save(self, folder: Path) -> None:
        tmp = folder / "progress.json.tmp"
        tmp.write_text(json.dumps(dataclasses.asdict(self)))
        os.replace(tmp, folder / "progress.json")  # atomic: a kill leaves the old or the new file


def plateaued(late_returns: list[float], optimal: float, random: float) -> bool:
    """Whether the last :data:`PLATEAU_EVALUATIONS` late-trial returns lie within :data:`PLATEAU_SPAN` of
    optimal, and above random by :data:`LEARNED` of the way to optimal: a flat start is not a plateau."""
    last = late_returns[-PLATEAU_EVALUATIONS:]
    learned = min(last, default=random) >= random + LEARNED * (optimal - random)
    return len(last) == PLATEAU_EVALUATIONS and learned and max(last) - min(last) < PLATEAU_SPAN * optimal


def evaluation(returns: np.ndarray, steps: int) -> dict[str, Any]:
    """One evaluation's figures from per-episode returns ``(trials, episodes)``."""
    mean, late_per_trial = returns.mean(axis=0), returns[:, -LATE:].mean(axis=1)
    early, late = float(mean[:EARLY].mean()), float(late_per_trial.mean())
    return {
        "steps": steps,
        "early": early,
        "late": late,
        "late_std": float(late_per_trial.std()),
        "gain": late - early,
        "curve": mean.tolist(),
    }


def chunk_config(args: argparse.Namespace) -> RL2Config:
    """The main results' RL^2 (shrunk under ``--quick``), for one chunk of meta-training."""
    config = dataclasses.replace(RL2Config(), total_timesteps=args.chunk_steps)
    if args.quick:
        config.hyperparams.update(n_steps=64, batch_size=64, n_epochs=1)
        config = dataclasses.replace(config, n_envs=2, episodes_per_trial=2)
    return config


def meta_train(
    args: argparse.Namespace,
    folder: Path,
    tasks: list[Any],
    optimal: float,
    random: float,
    report: Callable[[Progress], None],
) -> None:
    """Chunks of meta-training and evaluation until the plateau or ``--max-steps``, resuming ``folder``;
    ``report`` gets the progress after every chunk, and once more at the end."""
    preset, config = get_preset(args.env), chunk_config(args)
    progress = Progress.load(folder)
    while progress.steps < args.max_steps and not plateaued([e["late"] for e in progress.evaluations], optimal, random):
        chunk = len(progress.evaluations)
        saved = folder / f"model-{progress.steps}.zip"
        started = time.perf_counter()
        model = train_rl2(config, args.env, preset.train_tasks, args.seed + chunk, saved if progress.steps else None)
        progress.train_seconds += time.perf_counter() - started
        steps = model.num_timesteps  # SB3 rounds a chunk up to whole rollouts
        model.save(folder / f"model-{steps}.zip")
        returns = evaluate_rl2(model, args.env, tasks, config.episodes_per_trial, args.seed, deterministic=False)
        progress.evaluations.append(evaluation(returns, steps))
        progress.steps = steps
        progress.save(folder)
        saved.unlink(missing_ok=True)  # only the latest model is kept
        last = progress.evaluations[-1]
        print(f"RL^2 {steps:>11,d} steps: first {EARLY} episodes {last['early']:.2f}, last {LATE} {last['late']:.2f}")
        report(progress)
    report(progress)


def ad_reference(env_id: str, episodes: int, *folders: Path) -> tuple[str, list[float]] | None:
    """The env's main-results record in the first of ``folders`` that has one, and AD's mean return over
    its first ``episodes`` episodes there: the paper-scale one (batched learners' histories) when there
    is one, else the preset's. A run writing its record elsewhere still finds the committed ones."""
    for folder in folders:
        for name in (f"main_results_{env_slug(env_id)}_batched.json", f"main_results_{env_slug(env_id)}.json"):
            path = folder / name
            if path.exists():
                curves = {curve["method"]: curve["mean"] for curve in json.loads(path.read_text())["curves"]}
                return (name, curves["AD"][:episodes]) if "AD" in curves else None
    return None


def plot(progress: Progress, ad: list[float] | None, optimal: float, random: float, path: Path) -> Path:
    """Late- and early-trial return against meta-training steps (log scale), AD's and the scales as lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    steps = [e["steps"] for e in progress.evaluations]
    ax.plot(steps, [e["late"] for e in progress.evaluations], "o-", label=f"RL^2, last {LATE} episodes of a trial")
    ax.plot(steps, [e["early"] for e in progress.evaluations], "s--", label=f"RL^2, first {EARLY} episodes")
    if ad is not None:
        ax.axhline(float(np.mean(ad[-LATE:])), color="C2", label=f"AD, the same {LATE} episodes (frozen weights)")
    ax.axhline(optimal, color="k", lw=0.8, label="optimal")
    ax.axhline(random, color="grey", lw=0.8, ls=":", label="random")
    ax.set(xscale="log", xlabel="RL^2 meta-training env steps", ylabel="mean return per episode")
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def write_record(
    args: argparse.Namespace, label: str, progress: Progress, tasks: list[Any], optimal: float, random: float
) -> None:
    """The record of the run so far: written after every chunk, so a stopped run leaves its partial results."""
    best = max(progress.evaluations, key=lambda e: e["late"])
    reference = None if args.quick else ad_reference(args.env, len(best["curve"]), args.results, RESULTS_DIR)
    ad_record, ad = reference or (None, None)
    done = plateaued([e["late"] for e in progress.evaluations], optimal, random)
    evidence = (
        f"RL^2 after {progress.steps:,} meta-training steps ({'plateaued' if done else 'not plateaued yet'}): best "
        f"late-trial return {best['late']:.2f} at {best['steps']:,} steps "
        f"(first {EARLY} episodes {best['early']:.2f}); "
        + (f"AD over the same episodes {np.mean(ad[-LATE:]):.2f}" if ad else "no AD record to compare")
        + f"; optimal {optimal:.2f}, random {random:.2f}."
    )
    matches = None if not (done and ad) else bool(np.mean(ad[-LATE:]) >= best["late"] - PLATEAU_SPAN * optimal)
    figure = plot(progress, ad, optimal, random, args.results / f"{label}.png")
    record = {
        "title": f"RL^2 meta-trained to a plateau on {args.env}",
        "summary": evidence,
        "env_id": args.env,
        "seed": args.seed,
        "mode": "quick" if args.quick else "full",
        "findings": [finding("AD matches asymptotic RL^2", matches, evidence)],
        "tables": {
            "RL^2's held-out return by meta-training steps": {
                f"{e['steps']:,}": {f"first {EARLY} episodes": e["early"], f"last {LATE}": e["late"], "gain": e["gain"]}
                for e in progress.evaluations
            }
        },
        "curves": [
            {
                "method": f"RL^2, last {LATE} episodes of a trial, by meta-training steps",
                "n": len(tasks),
                "steps": [e["steps"] for e in progress.evaluations],
                "mean": [e["late"] for e in progress.evaluations],
                "std": [e["late_std"] for e in progress.evaluations],
            }
        ],
        "plateaued": done,
        "steps": progress.steps,
        "train_seconds": round(progress.train_seconds, 1),
        "budgets": {k: vars(args)[k] for k in ("chunk_steps", "max_steps", "test_tasks", "trials")},
        "rl2": {**dataclasses.asdict(chunk_config(args)), "total_timesteps": progress.steps},
        "evaluations": progress.evaluations,
        "ad_reference": ad,
        "ad_reference_record": ad_record,
        "optimal": optimal,
        "random": random,
        "plots": [figure.name],
    }
    print(f"{write_result(label, record, args.results)}\n{evidence}")


def main(argv: list[str] | None = None) -> None:
    parser = experiment_parser(__doc__.splitlines()[0])
    parser.add_argument("--env", default="DarkRoom-v0")
    parser.add_argument("--chunk-steps", type=positive_int, help="meta-training steps per chunk (default 500,000)")
    parser.add_argument("--max-steps", type=positive_int, help="stop here if not plateaued (default 20,000,000)")
    parser.add_argument("--test-tasks", type=positive_int, help="held-out tasks, spread over the split (default 16)")
    parser.add_argument("--trials", type=positive_int, help="trials per held-out task (default 2)")
    args = parser.parse_args(argv)
    for name, default in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    preset = get_preset(args.env)
    tasks = evenly_spaced(preset.test_tasks, args.test_tasks) * args.trials
    optimal, random = optimal_mean_return(preset), random_mean_return(preset)
    label = f"rl2_plateau_{env_slug(args.env)}" + ("_quick" if args.quick else "")
    evaluated_on = f"tasks{args.test_tasks}x{args.trials}"  # resuming compares like with like
    folder = args.workdir / args.env / "baselines" / f"{label}-chunk{args.chunk_steps}-{evaluated_on}-seed{args.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    meta_train(
        args,
        folder,
        tasks,
        optimal,
        random,
        lambda progress: write_record(args, label, progress, tasks, optimal, random),
    )


if __name__ == "__main__":
    main()
