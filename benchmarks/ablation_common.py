"""What the ablation scripts (paper Figs. 3, 5, 6, 7, 10, 12, 14) share on top of :mod:`benchmarks.experiments`.

Each ablation trains a few variants of Algorithm Distillation and plays them on held-out tasks. This
module holds the parts they all need: the quick (CI) or full budget of a run, a preset with a variant's
model and training settings, held-out curves (optionally from a primed context), the numbers a
summary quotes, and writing the JSON and PNG together. The full-mode budgets are cut to what a shared
2-core machine does in minutes; every script records the budget it used in its JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ad_agent.collection.runner import source_record, split_jobs
from ad_agent.deployment.evaluation import evaluate
from ad_agent.deployment.policy import InContextPolicy
from ad_agent.histories import run_files
from ad_agent.pipeline import block_means, optimal_mean_return, random_mean_return
from ad_agent.presets import Preset, get_preset, max_episode_steps
from ad_agent.sources import SourceConfig
from ad_agent.training.loop import TrainConfig
from benchmarks.experiments import (
    Curve,
    dataset,
    efficiency_table,
    finding,
    plot_curves,
    save_experiment,
    trained_policy,
    training_key,
)
from envs.core import evenly_spaced

# Quick mode: the smallest model and data that still run every code path of a script.
QUICK_MODEL = {"context_len": 40, "d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64}
QUICK_TRAIN = {"batch_size": 16, "warmup_steps": 5}
QUICK_TRAIN_STEPS = 30
QUICK_TASKS = 2  # train and held-out tasks
QUICK_EPISODES = 6
QUICK_SB3_STEPS = 64 * 60  # three 20-step episodes for each of PPO's 64 actors (12 for DQN's 16)


@dataclass
class Budget:
    """How much one run of a script does; ``None`` means the preset's own value."""

    train_steps: int | None
    eval_tasks: int | None
    trials: int | None
    episodes: int | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def budget(
    args: argparse.Namespace,
    train_steps: int | None = None,
    episodes: int | None = None,
    eval_tasks: int | None = None,
    trials: int | None = None,
) -> Budget:
    """The script's full-mode budget, or the quick one under ``--quick``."""
    if args.quick:
        return Budget(QUICK_TRAIN_STEPS, QUICK_TASKS, 1, QUICK_EPISODES)
    return Budget(train_steps, eval_tasks, trials, episodes)


def setup(args: argparse.Namespace) -> None:
    """One torch thread (ablations share a small machine with other jobs); start the wall clock."""
    torch.set_num_threads(1)
    args.started = time.monotonic()


def variant(env_id: str, args: argparse.Namespace, model: dict | None = None, **train: Any) -> Preset:
    """``env_id``'s preset with a variant's model overrides and training settings (shrunk under ``--quick``)."""
    preset = get_preset(env_id)
    model = {**(QUICK_MODEL if args.quick else {}), **(model or {})}
    return preset.customised(model=model, train={**(QUICK_TRAIN if args.quick else {}), **train})


def source_data(env_id: str, args: argparse.Namespace, name: str = "histories", **options: Any) -> Path:
    """Source histories through :func:`benchmarks.experiments.dataset`; a few tiny runs under ``--quick``.

    The default name and options are the lead's default dataset, so full runs reuse it.
    """
    if args.quick:
        sb3 = isinstance(get_preset(env_id).source, SourceConfig)
        quick = {"runs_per_task": 1, "num_tasks": min(options.get("num_tasks") or QUICK_TASKS, QUICK_TASKS)}
        options = {**options, **quick, **({"steps": QUICK_SB3_STEPS} if sb3 else {})}
        name = f"quick-{name}"
    workers = args.workers if args.workers is not None else (1 if args.quick else None)
    return dataset(env_id, args.seed, args.workdir, name=name, workers=workers, **options)


def shipped_as_preset(policy: InContextPolicy, preset: Preset) -> bool:
    """Whether ``policy`` was distilled from ``preset``'s source with its model, training settings and
    seed 0 (its file's record): a policy shipped from another source's histories is no preset baseline."""
    trained = policy.spec.provenance.get("train", {})
    same_training = training_key(TrainConfig(**trained)) == training_key(preset.train) if trained else False
    same_source = policy.spec.provenance.get("source") == source_record(preset.source)
    return same_training and same_source and policy.spec.model == preset.model_config()


def default_policy(args: argparse.Namespace, preset: Preset) -> tuple[InContextPolicy, str]:
    """AD with the env preset's own data and training: the baseline several ablations vary from.

    For seed 0 in full mode that is the job of the shipped ``pretrained:<env>`` policy (``ad-agent run
    --env <env> --seed 0``) when the shipped file says it was trained with the preset's model and
    training settings; then it is loaded rather than retrained. Otherwise it is trained (or loaded) as
    ``"ad"``, so that an ablation never compares its variants against a baseline trained otherwise.
    Under ``--quick`` it trains the quick budget's steps, as the variants do.
    """
    if not args.quick and args.seed == 0 and preset == get_preset(preset.env_id):
        name = f"pretrained:{preset.env_id}"
        shipped = InContextPolicy.load(name)
        if shipped_as_preset(shipped, preset):
            return shipped, name
    data = source_data(preset.env_id, args)
    return trained_policy(preset, data, args.seed, args.workdir, "ad", budget(args).train_steps), "ad"


def default_data_dir(env_id: str, args: argparse.Namespace) -> Path:
    """Where :func:`source_data` keeps ``env_id``'s default dataset (read without collecting it)."""
    return args.workdir / env_id / f"{'quick-' if args.quick else ''}histories-seed{args.seed}"


def task_subset(env_id: str, args: argparse.Namespace, num_tasks: int) -> Path:
    """``num_tasks`` train tasks' histories (spread over the split), reusing the runs the default dataset holds.

    ``ad-agent collect --num-tasks N`` plans exactly the jobs (task, run, seed) that the full
    collection ran for those tasks, so their files are linked in rather than recomputed; ``collect`` then
    verifies them and runs only what is missing.
    """
    preset = get_preset(env_id)
    full = default_data_dir(env_id, args)
    name = f"tasks{num_tasks}"
    out = args.workdir / env_id / f"{'quick-' if args.quick else ''}{name}-seed{args.seed}"
    runs = 1 if args.quick else preset.runs_per_task
    out.mkdir(parents=True, exist_ok=True)
    jobs = split_jobs(env_id, preset.task_env.tasks, "train", runs, args.seed, num_tasks)
    for stale in set(run_files(out)) - {out / job.filename for job in jobs}:  # a subset planned otherwise
        stale.unlink()
    for job in jobs:
        if (full / job.filename).exists() and not (out / job.filename).exists():
            os.link(full / job.filename, out / job.filename)
    return source_data(env_id, args, name=name, num_tasks=num_tasks)


class PrimedPolicy:
    """A policy whose every trial starts from a given history in its context (paper Fig. 5's prompts).

    :func:`ad_agent.deployment.evaluation.evaluate` resets the policy at the start; this wrapper primes it right
    after that reset, so prompted and unprompted runs share one evaluation loop.
    """

    def __init__(self, policy: InContextPolicy, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray):
        self.policy = policy
        self.history = (observations, actions, rewards)

    def reset(self, batch_size: int = 1, seed: int | None = None) -> None:
        self.policy.reset(batch_size, seed)
        self.policy.prime(*self.history)

    def act(self, obs: Any, reward: Any = 0.0, **kwargs: Any) -> int | np.ndarray:
        return self.policy.act(obs, reward, **kwargs)


def held_out_tasks(preset: Preset, plan: Budget, split: str = "test") -> list[Any]:
    """The held-out (or ``split``) tasks a script measures on: ``plan.eval_tasks`` spread over the split."""
    return evenly_spaced(preset.task_env.tasks(split), plan.eval_tasks)


def eval_tasks(preset: Preset, plan: Budget, split: str = "test") -> list[Any]:
    """The tasks every trial plays, in order: each of :func:`held_out_tasks`, ``trials`` times."""
    return held_out_tasks(preset, plan, split) * (plan.trials or preset.eval_trials_per_task)


def held_out_curve(
    method: str,
    policy: InContextPolicy | PrimedPolicy,
    preset: Preset,
    plan: Budget,
    seed: int,
    split: str = "test",
) -> Curve:
    """Per-episode returns of frozen ``policy`` on ``split``'s tasks, as a curve against its own steps."""
    episodes = plan.episodes or preset.eval_episodes
    returns = evaluate(policy, preset.env_id, eval_tasks(preset, plan, split), episodes, seed)
    return Curve.from_returns(method, returns, max_episode_steps(preset.env_id) or 1)


def curve_summary(curve: Curve, first: int = 3, last: int = 10) -> dict[str, float]:
    """Mean return of the first and the last episodes of a curve and the in-context gain between them."""
    begin, end = float(curve.mean[:first].mean()), float(curve.mean[-last:].mean())
    return {"first_episodes": begin, "last_episodes": end, "gain": end - begin}


def scale(preset: Preset) -> tuple[float, float]:
    """Optimal and random mean return over the held-out tasks."""
    return optimal_mean_return(preset), random_mean_return(preset)


def finish(
    name: str,
    args: argparse.Namespace,
    *,
    title: str,
    claim: str,
    reproduced: bool,
    evidence: str,
    curves: Sequence[Curve],
    preset: Preset,
    plan: Budget,
    note: str = "",
    tables: dict[str, Any] | None = None,
    extra_plots: Sequence[Path] = (),
    claim_source: str = "The paper's finding",
    **figures: Any,
) -> Path:
    """Plot the curves and write the experiment's JSON in the report's schema (:mod:`benchmarks.experiments`).

    The summary is ``evidence`` (the numbers), the paper's ``claim`` (or ``claim_source``'s) with
    whether it reproduced, and ``note`` (how this setup departs from the paper's); ``tables`` and ``extra_plots`` (PNGs
    already written beside the JSON) join the standard ones.
    """
    optimal, random = scale(preset)
    label = f"{name}_quick" if args.quick else name
    figure = plot_curves(list(curves), optimal, random, title, args.results / f"{label}.png")
    verdict = "reproduced" if reproduced else "did not reproduce"
    summary = f"{evidence} {claim_source} ({claim}) {verdict} here. {note}".strip()
    if args.quick:
        summary = f"Quick (CI) mode, tiny budgets: these numbers only check the pipeline. {summary}"
    record = {
        "title": title,
        "summary": summary,
        "env_id": preset.env_id,
        "findings": [finding(claim, reproduced, evidence)],
        "tables": {
            "held-out return per episode (first 3, last 10, in-context gain)": {
                c.method: curve_summary(c) for c in curves
            },
            "mean return by block of episodes": {c.method: block_means(c.mean[None]) for c in curves},
            "environment steps to reach a fraction of optimal": efficiency_table(list(curves), optimal),
            **(tables or {}),
        },
        "plots": [figure.name, *(plot.name for plot in extra_plots)],
        "budgets": {"env_id": preset.env_id, **plan.to_dict(), "context_len": preset.model.value("context_len")},
        "wall_time_s": time.monotonic() - args.started,
        "optimal_mean_return": optimal,
        "random_mean_return": random,
        **figures,
    }
    path = save_experiment(name, args, record, list(curves))
    print(f"{path}\n{summary}")
    return path
