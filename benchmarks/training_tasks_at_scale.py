"""Paper Fig. 12 at the paper's data scale: AD's in-context RL against the number of training tasks.

For each count N, N train tasks spread over the split get ``--runs-per-task`` batched PPO runs each
(the paper-scale collection's recipe), AD is distilled with the env preset's model and training, and
it plays the held-out tasks with the main results' protocol. The paper (Fig. 12, Key-to-Door) finds
little in-context RL below ~150 training tasks and the best models at 1,212-2,424. Every count has
its own dataset and caches (``tasks<N>x<runs>-batched``, ``ad-tasks<N>x<runs>-batched``), so counts can be
added later and a rerun resumes.

    python -m benchmarks.training_tasks_at_scale --env DarkKeyToDoor-v0 --counts 100 300 1000 --seed 0 \\
        --runs-per-task 2 --test-tasks 16 --trials 2 --episodes 100
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from ad_agent.pipeline import optimal_mean_return, random_mean_return
from ad_agent.presets import max_episode_steps
from benchmarks.common import env_slug
from benchmarks.experiments import (
    Curve,
    compute_seconds,
    dataset,
    experiment_parser,
    finding,
    plot_curves,
    policy_folder,
    positive_int,
    save_experiment,
)
from benchmarks.main_results import ENVS, Budgets, _run_preset, in_context_returns, quick_budgets
from benchmarks.training_budget import block_means
from envs.core import evenly_spaced

FEW_TASKS = 150  # the paper's "fewer than ~150 training tasks give little in-context RL"


def count_row(returns: np.ndarray, optimal: float) -> dict[str, float]:
    """Mean return by episode block, and the last block's share of optimal."""
    blocks = block_means(returns)
    return {**blocks, "last block share of optimal": round(list(blocks.values())[-1] / optimal, 3)}


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    started = time.time()
    budgets = quick_budgets() if args.quick else Budgets(episodes=args.episodes, trials=args.trials)
    budgets.test_tasks = budgets.test_tasks if args.quick else args.test_tasks
    preset = _run_preset(args.env, budgets)
    tasks = evenly_spaced(preset.test_tasks, budgets.test_tasks)
    optimal, random = optimal_mean_return(preset, tasks), random_mean_return(preset, tasks)
    rows, curves = {}, []
    for n in sorted(set(args.counts)):
        name = f"tasks{n}x{args.runs_per_task}-batched"
        data = dataset(
            args.env, args.seed, args.workdir, name=name, num_tasks=n, runs_per_task=args.runs_per_task,
            batched=True, workers=args.workers, **({"steps": budgets.data["steps"]} if args.quick else {}),
        )  # fmt: skip
        policy = f"ad-{name}"
        returns = in_context_returns(preset, data, policy, tasks, budgets, args.seed, args.workdir)
        curves.append(Curve.from_returns(f"{n} training tasks", returns, max_episode_steps(args.env) or 1))
        train_seconds = compute_seconds(policy_folder(args.env, args.workdir, policy, args.seed))
        rows[str(n)] = {**count_row(returns, optimal), "train_seconds": train_seconds}
    shares = [row["last block share of optimal"] for row in rows.values()]
    few = [row["last block share of optimal"] for n, row in rows.items() if int(n) < FEW_TASKS]
    many = [row["last block share of optimal"] for n, row in rows.items() if int(n) >= FEW_TASKS]
    evidence = "Held-out share of optimal over the last block: " + ", ".join(
        f"{n} tasks {share:.0%}" for n, share in zip(rows, shares, strict=True)
    )
    grows = all(a <= b + 0.02 for a, b in zip(shares, shares[1:], strict=False))
    reproduced = grows and (not few or not many or max(few) < min(many))
    label = f"training_tasks_at_scale_{env_slug(args.env)}"
    figure = plot_curves(curves, optimal, random, f"{args.env}: AD by training tasks", args.results / f"{label}.png")
    record = {
        "title": f"AD on {args.env}: number of training tasks at the paper's data scale (paper Fig. 12)",
        "summary": f"{evidence}.",
        "env_id": args.env,
        "findings": [
            finding("in-context RL on held-out tasks grows with the number of training tasks", reproduced, evidence)
        ],
        "tables": {"Mean return per episode block, by training tasks": rows},
        "plots": [figure.name],
        "budgets": {
            "held_out_tasks": len(tasks),
            "AD": f"{budgets.episodes} episodes x {budgets.trials} trials per task, 1 training seed",
            "data": f"{args.runs_per_task} batched PPO runs per train task",
            "model": preset.model.resolved(),
            "train": dataclasses.asdict(preset.train),
        },
        "optimal": optimal,
        "random": random,
        "wall_time_s": round(time.time() - started, 1),
    }
    print(f"wrote {save_experiment(label, args, record, curves)}\n{evidence}")


def main(argv: list[str] | None = None) -> None:
    parser = experiment_parser(__doc__.splitlines()[0])
    parser.add_argument("--env", default="DarkKeyToDoor-v0", choices=ENVS)
    parser.add_argument("--counts", type=positive_int, nargs="+", default=[100, 300, 1000], help="train task counts")
    parser.add_argument("--runs-per-task", type=positive_int, default=2, help="batched source runs per train task")
    parser.add_argument("--test-tasks", type=positive_int, default=16, help="held-out tasks, spread over the split")
    parser.add_argument("--trials", type=positive_int, default=2, help="trials per held-out task")
    parser.add_argument("--episodes", type=positive_int, default=100, help="in-context episodes per trial")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
