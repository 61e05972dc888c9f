"""Paper Fig. 4: AD against Expert Distillation, the source algorithm from scratch, RL^2, random and optimal.

Every method is measured on the env's held-out tasks. AD and ED play ``episodes`` in-context episodes
with frozen weights (``trials`` per task); the source learner is trained afresh on each held-out task
as one stream; RL^2 is meta-trained on trials of the train tasks and plays one trial per held-out
task. Each method's curve is its mean return per episode against the environment steps it has taken
on the task, over training seeds x held-out tasks (x trials). The expensive baselines are cached
under ``--workdir``, so ``--scratch-seeds`` / ``--rl2-seeds`` can grow between runs without redoing earlier seeds.

    python -m benchmarks.main_results --env DarkRoom-v0 --seed 0 --scratch-seeds 2
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ad_agent.baselines import RL2Config, evaluate_rl2, learn_from_scratch, single_stream, train_rl2
from ad_agent.collection.processes import die_with_parent
from ad_agent.deployment.evaluation import evaluate
from ad_agent.deployment.policy import InContextPolicy
from ad_agent.histories import episode_returns, iter_rewards
from ad_agent.pipeline import optimal_mean_return, random_mean_return
from ad_agent.presets import PRESETS, Preset, get_preset, max_episode_steps
from ad_agent.sources import SCRIPTED_SOURCES
from ad_agent.sources.sb3 import SourceConfig
from benchmarks.common import env_slug
from benchmarks.experiments import (
    Curve,
    adopt_trained_policy,
    cached_returns,
    compute_seconds,
    dataset,
    dataset_key,
    efficiency_table,
    experiment_parser,
    finding,
    plot_curves,
    positive_int,
    save_experiment,
    speedup_finding,
    trained_policy,
    training_key,
)
from envs.core import evenly_spaced

ENVS = ("DarkRoom-v0", "DarkRoomHard-v0", "DarkKeyToDoor-v0", "PixelWatermaze-v0", "PointRobot-v0")
METHODS = ("AD", "ED", "source (scratch)", "RL^2", "random", "optimal")
LEARNED = METHODS[:4]  # measured on the held-out tasks; random and optimal are computed
SPEEDUP = 5.0  # the data-efficiency factor checked against the source from scratch
ICL_MARGIN = 0.1  # "learns in context": last episodes beat the first by this share of (optimal - random)


@dataclass
class Budgets:
    """What each method gets; the full values are the committed experiment's, quick ones only test the code."""

    episodes: int = 100  # in-context episodes per AD / ED trial
    trials: int | None = None  # per held-out task; None: the preset's
    train_steps: int | None = None  # AD / ED gradient steps; None: the preset's
    scratch_steps: int = 10_000  # env steps of the single-stream source per task (500 Dark Room episodes)
    rl2: RL2Config = field(default_factory=RL2Config)
    scratch_seeds: int = 1  # training seeds of the source from scratch (seed, seed + 1, ...)
    rl2_seeds: int = 1  # training seeds of RL^2
    data: dict[str, Any] = field(default_factory=dict)  # dataset() overrides
    context_len: int | None = None  # None: the preset's
    test_tasks: int | None = None  # N held-out tasks spread over the split; None: all


def quick_budgets() -> Budgets:
    """Seconds, not findings: a short context so a few source episodes make a training window."""
    rl2 = RL2Config(episodes_per_trial=2, total_timesteps=256, n_envs=2)
    rl2.hyperparams.update(n_steps=64, batch_size=64, n_epochs=1)
    return Budgets(
        episodes=4,
        trials=1,
        train_steps=10,
        scratch_steps=100,
        rl2=rl2,
        data=dict(num_tasks=2, runs_per_task=1, steps=64 * 20 * 4),
        context_len=40,
        test_tasks=3,
    )


def expert_episodes(context_len: int, horizon: int) -> int:
    """How many of each stream's last episodes ED trains on: enough for one context window, plus one
    episode so windows can start at different steps; any more would reach back into learning."""
    return math.ceil(context_len / horizon) + 1


def _run_preset(env_id: str, budgets: Budgets) -> Preset:
    if env_id not in PRESETS:
        raise SystemExit(
            f"main_results: no pipeline preset for {env_id} yet (ad_agent/presets.py has {sorted(PRESETS)}); "
            "add one before running this experiment on it"
        )
    preset = get_preset(env_id)
    if budgets.context_len is not None:
        preset = dataclasses.replace(preset, model=dataclasses.replace(preset.model, context_len=budgets.context_len))
    return preset


def _source_config(preset: Preset) -> SourceConfig:
    if not isinstance(preset.source, SourceConfig):
        raise SystemExit(f"main_results: {preset.env_id}'s source is not an SB3 learner; no single stream to run")
    return preset.source


def in_context_returns(
    preset: Preset,
    data: Path,
    name: str,
    tasks: list[Any],
    budgets: Budgets,
    seed: int,
    workdir: Path,
    evaluation: str | None = None,
    **views: Any,
) -> np.ndarray:
    """AD's protocol for AD and ED alike (``trials`` per task, ``budgets.episodes`` episodes each) with
    the policy ``trained_policy`` caches as ``name``; the returns are cached too (as ``evaluation``,
    default ``name``: another name keeps the same policy's returns on other tasks apart)."""
    trials = preset.eval_trials_per_task if budgets.trials is None else budgets.trials
    job = {
        "model": preset.model.resolved(),
        "train": training_key(preset.train),
        "data": dataset_key(data),
        "steps": budgets.train_steps,
        "views": views,
        "episodes": budgets.episodes,
        "trials": trials,
        "tasks": tasks,
        "seed": seed,
    }

    policy: list[InContextPolicy] = []

    def train_first() -> None:
        policy.append(trained_policy(preset, data, seed, workdir, name, budgets.train_steps, **views))

    def play() -> np.ndarray:
        return evaluate(policy[0], preset.env_id, tasks * trials, budgets.episodes, seed)

    folder = workdir / preset.env_id / "evaluations" / f"{evaluation or name}-seed{seed}"
    adopt_trained_policy(preset, data, seed, workdir, name, budgets.train_steps, **views)
    return cached_returns(folder, job, play, train_first)


def scratch_returns(preset: Preset, tasks: list[Any], budgets: Budgets, seed: int, workdir: Path) -> np.ndarray:
    config = single_stream(_source_config(preset), budgets.scratch_steps)
    per_seed = []
    for s in [seed + i for i in range(budgets.scratch_seeds)]:
        job = {"config": dataclasses.asdict(config), "tasks": tasks, "seed": s}
        folder = workdir / preset.env_id / "baselines" / f"scratch-{budgets.scratch_steps}-seed{s}"
        per_seed.append(cached_returns(folder, job, lambda s=s: learn_from_scratch(config, preset.env_id, tasks, s)))
    n = min(r.shape[1] for r in per_seed)
    return np.concatenate([r[:, :n] for r in per_seed])


def rl2_returns(preset: Preset, tasks: list[Any], budgets: Budgets, seed: int, workdir: Path) -> np.ndarray:
    config = budgets.rl2
    per_seed = []
    for s in [seed + i for i in range(budgets.rl2_seeds)]:
        job = {"config": dataclasses.asdict(config), "train": preset.train_tasks, "test": tasks, "seed": s}
        folder = workdir / preset.env_id / "baselines" / f"rl2-{config.total_timesteps}-seed{s}"

        def run(s: int = s) -> np.ndarray:
            model = train_rl2(config, preset.env_id, preset.train_tasks, s)
            return evaluate_rl2(model, preset.env_id, tasks, config.episodes_per_trial, s, deterministic=False)

        per_seed.append(cached_returns(folder, job, run))
    return np.concatenate(per_seed)


def expert_share(data_dir: Path, preset: Preset, n_last: int) -> float:
    """Mean return of the episodes ED trains on, as a share of each train task's optimal return:
    checks that the last ``n_last`` episodes of the histories are expert behaviour."""
    shares = []
    for run in iter_rewards(data_dir):
        optimal = preset.optimal_return(run.metadata["task"]["task"])
        for rewards, starts in zip(run.rewards, run.episode_starts, strict=True):
            shares.append(episode_returns(rewards, starts)[-n_last:] / optimal)
    return float(np.mean(np.concatenate(shares)))


def _learns_in_context(curve: Curve, optimal: float, random: float, block: int = 10) -> tuple[bool, float, float]:
    first, last = float(curve.mean[:block].mean()), float(curve.mean[-block:].mean())
    return last - first >= ICL_MARGIN * (optimal - random), first, last


def expert_distillation_finding(ad: Curve, ed: Curve, optimal: float, random: float) -> dict:
    """The paper's ED claim, judged by margins on both sides: ED's own in-context gain stays under the
    margin and AD ends above ED by at least the margin; an ED that fails beside an AD that fails too
    does not count as reproducing it."""
    margin = ICL_MARGIN * (optimal - random)
    ed_learns, ed_first, ed_last = _learns_in_context(ed, optimal, random)
    ad_last = float(ad.mean[-10:].mean())
    ahead = ad_last - ed_last
    return finding(
        "ED does not learn in context, and AD ends above it",
        not ed_learns and ahead >= margin,
        f"ED {ed_first:.2f} over its first 10 episodes, {ed_last:.2f} over its last 10; AD ends {ahead:+.2f} "
        f"above ED (both need a margin of {margin:.2f}: ED's gain under it, AD's lead at least it)",
    )


def findings(curves: dict[str, Curve], optimal: float, random: float, horizon: int, budgets: Budgets) -> list[dict]:
    """The paper's Fig. 4 claims, each with the numbers that decide it."""
    ad, ed, scratch = curves["AD"], curves["ED"], curves["source (scratch)"]
    out = []
    learns, first, last = _learns_in_context(ad, optimal, random)
    out.append(
        finding(
            "AD learns in context on held-out tasks",
            learns,
            f"mean return {first:.2f} over its first 10 episodes, {last:.2f} over its last 10 "
            f"(optimal {optimal:.2f}, random {random:.2f})",
        )
    )
    ad90 = ad.steps_to_reach(0.9 * optimal)
    out.append(
        finding(
            f"AD reaches 90% of optimal within 100 episodes ({100 * horizon} steps)",
            ad90 is not None and ad90 <= 100 * horizon,
            f"first at episode {ad90 // horizon} ({ad90} steps)"
            if ad90
            else f"not within {budgets.episodes} episodes; best episode {ad.mean.max():.2f} = "
            f"{ad.mean.max() / optimal:.0%} of optimal",
        )
    )
    out.append(
        speedup_finding(
            f"AD needs >= {SPEEDUP:.0f}x fewer env steps than the source from scratch (single stream) to reach "
            "80% of optimal",
            ad,
            scratch,
            0.8 * optimal,
            SPEEDUP,
            "80% of optimal",
        )
    )
    rl2 = curves["RL^2"]
    learns, first, last = _learns_in_context(rl2, optimal, random, block=min(10, len(rl2.mean) // 2 or 1))
    out.append(
        finding(
            "AD matches asymptotic RL^2 (the paper's RL^2 had 1e9 env steps)",
            None,
            f"not testable at our budget: RL^2 had {budgets.rl2.total_timesteps} env steps of meta-training and "
            f"{'does' if learns else 'does not'} learn in context yet (mean return {first:.2f} over its first "
            f"episodes, {last:.2f} over its last, random {random:.2f})",
        )
    )
    out.append(expert_distillation_finding(ad, ed, optimal, random))
    return out


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose the source learner whose histories AD and ED distil."""
    parser.add_argument("--batched", action="store_true", help="collect with the batched PPO/A2C learners")
    parser.add_argument(
        "--source",
        choices=("preset", *SCRIPTED_SOURCES),
        default="preset",
        help="preset: the env's source learner; or a scripted source, as `ad-agent collect --source` takes",
    )
    parser.add_argument(
        "--single-stream",
        action="store_true",
        help="one actor per source run, as `ad-agent collect --single-stream` (paper Fig. 6)",
    )
    parser.add_argument(
        "--source-steps", type=positive_int, default=None, help="env steps per source run (default: the preset's)"
    )
    parser.add_argument(
        "--learners-per-batch",
        type=positive_int,
        default=None,
        help="with --batched: learners trained together, as `ad-agent collect` takes it (default: its own)",
    )


def check_source_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse learner options with a scripted --source (they change the SB3 or batched learner only), and a
    batch size without batches."""
    given = [flag for flag, value in _learner_options(args).items() if value]
    if args.source != "preset" and given:
        parser.error(f"{', '.join(given)} change(s) an SB3 learner; --source {args.source} is not one")
    if args.learners_per_batch is not None and not args.batched:
        parser.error("--learners-per-batch sizes the batches of --batched; give both or neither")


def _learner_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options that change the preset's learner (arguments made without them have none)."""
    return {
        "--batched": args.batched,
        "--single-stream": getattr(args, "single_stream", False),
        "--source-steps": getattr(args, "source_steps", None),
        "--learners-per-batch": getattr(args, "learners_per_batch", None),
    }


def scripted_source_name(args: argparse.Namespace) -> str | None:
    """The scripted source ``--source`` names, if any (arguments made without the option have none)."""
    source = getattr(args, "source", "preset")
    return None if source == "preset" else source


def source_name(args: argparse.Namespace) -> str:
    """The source's part of dataset, cache and record names: '' for the preset's learner, else how the
    learner differs ('-singlestream-envsteps20000-batched') or the scripted source's name ('-gridsearch')."""
    if scripted := scripted_source_name(args):
        return "-" + scripted.replace("-", "")
    options = _learner_options(args)
    parts = ["-singlestream" if options["--single-stream"] else ""]
    parts += [f"-envsteps{options['--source-steps']}" if options["--source-steps"] else ""]
    return "".join(parts) + ("-batched" if args.batched else "")


def data_name(args: argparse.Namespace) -> str | None:
    """The dataset's own name when it is not the preset's collection (a task subset, more runs,
    another source)."""
    parts = [f"tasks{args.num_tasks}" if args.num_tasks is not None else ""]
    parts += [f"x{args.runs_per_task}" if args.runs_per_task is not None else ""]
    parts += [source_name(args)]
    return "".join(parts).lstrip("-") or None


def use_data_options(args: argparse.Namespace, budgets: Budgets) -> None:
    """Point ``budgets.data`` at a dataset of its own when the options ask for one (a task subset, more
    runs, another source), named as the ablations name theirs."""
    if data_name(args) is not None:
        options = _learner_options(args)
        given = {
            "num_tasks": args.num_tasks,
            "runs_per_task": args.runs_per_task,
            "batched": options["--batched"] or None,
            "single_stream": options["--single-stream"] or None,
            "steps": options["--source-steps"],
            "learners_per_batch": options["--learners-per-batch"],
            "source": scripted_source_name(args),
        }
        given = {key: value for key, value in given.items() if value is not None}
        kept = dict(budgets.data)
        if "source" in given:
            kept.pop("steps", None)  # an SB3 learner's step budget: a scripted source has none
        budgets.data = {**kept, **given, "name": data_name(args)}


def _data_label(args: argparse.Namespace) -> str:
    """How the record's data differs from the preset's collection, for its title."""
    if data_name(args) is None:
        return ""
    runs = "" if args.runs_per_task is None else f" x {args.runs_per_task} runs"
    tasks = "all train tasks" if args.num_tasks is None else f"{args.num_tasks} train tasks"
    return f", {tasks}{runs}{source_label(args)}"


def source_label(args: argparse.Namespace) -> str:
    """How the source differs from the preset's learner, for titles ('' when it does not)."""
    if scripted := scripted_source_name(args):
        return f", {scripted} source"
    options = _learner_options(args)
    learner = ("single-stream " if options["--single-stream"] else "") + ("batched " if args.batched else "")
    steps = f", {options['--source-steps']} env steps per run" if options["--source-steps"] else ""
    return f", {learner}PPO{steps}" if learner or steps else ""


def variant(args: argparse.Namespace) -> str:
    """A name suffix for AD and ED trained for other than the preset's number of steps, or on another
    source's histories: their own cache entries and result file."""
    steps = "" if args.train_steps is None else f"-steps{args.train_steps}"
    return steps + source_name(args)


def policy_names(args: argparse.Namespace) -> tuple[str, str]:
    """The cache names of this run's AD and ED."""
    return f"ad{variant(args)}", f"ed{variant(args)}"


def constant_curve(method: str, values: np.ndarray, steps: np.ndarray) -> Curve:
    """A policy that does not learn: the same per-task return in every episode."""
    mean, std = np.full(len(steps), values.mean()), np.full(len(steps), values.std())
    return Curve(method, steps, mean, std, len(values))


@dataclass
class Setup:
    """What measuring any method needs, rebuilt from the arguments in each process that measures one."""

    args: argparse.Namespace
    preset: Preset
    budgets: Budgets
    tasks: list[Any]
    data: Path

    @property
    def ed_episodes(self) -> int:
        return expert_episodes(self.preset.model.value("context_len"), max_episode_steps(self.args.env))


def plan(args: argparse.Namespace, data: Path | None = None) -> Setup:
    """The run's preset, budgets and held-out tasks; collects the histories unless ``data`` names them."""
    budgets = quick_budgets() if args.quick else Budgets(scratch_seeds=args.scratch_seeds, rl2_seeds=args.rl2_seeds)
    if args.rl2_steps is not None:
        budgets.rl2 = dataclasses.replace(budgets.rl2, total_timesteps=args.rl2_steps)
    for option in ("scratch_steps", "train_steps", "test_tasks", "episodes", "trials"):
        if getattr(args, option) is not None:
            setattr(budgets, option, getattr(args, option))
    preset = _run_preset(args.env, budgets)
    use_data_options(args, budgets)
    tasks = evenly_spaced(preset.test_tasks, budgets.test_tasks)
    if data is None:
        data = dataset(args.env, args.seed, args.workdir, workers=args.workers, **budgets.data)
    return Setup(args, preset, budgets, tasks, data)


def method_returns(setup: Setup, method: str) -> np.ndarray:
    """One learned method's returns on the held-out tasks (cached under ``--workdir``)."""
    args, preset, budgets, tasks = setup.args, setup.preset, setup.budgets, setup.tasks
    ad_name, ed_name = policy_names(args)
    if method == "AD":
        return in_context_returns(preset, setup.data, ad_name, tasks, budgets, args.seed, args.workdir)
    if method == "ED":
        views = {"last_episodes": setup.ed_episodes}
        return in_context_returns(preset, setup.data, ed_name, tasks, budgets, args.seed, args.workdir, **views)
    if method == "source (scratch)":
        return scratch_returns(preset, tasks, budgets, args.seed, args.workdir)
    if method == "RL^2":
        return rl2_returns(preset, tasks, budgets, args.seed, args.workdir)
    raise ValueError(f"no learned method {method!r}; the learned ones are {LEARNED}")


def _measure_apart(args: argparse.Namespace, data: Path, method: str) -> np.ndarray:
    torch.set_num_threads(args.threads)
    return method_returns(plan(args, data), method)


def measure(setup: Setup, jobs: int) -> dict[str, np.ndarray]:
    """Every learned method's returns, ``jobs`` methods at once in processes of their own (spawned, as
    collection's workers are, and ended with this one); AD, the longest, starts first."""
    if jobs == 1:
        return {method: method_returns(setup, method) for method in LEARNED}
    context = mp.get_context("spawn")
    workers = min(jobs, len(LEARNED))
    with ProcessPoolExecutor(workers, context, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        futures = [pool.submit(_measure_apart, setup.args, setup.data, method) for method in LEARNED]
        try:
            return {method: future.result() for method, future in zip(LEARNED, futures, strict=True)}
        finally:  # on an error, start no queued method; the finished ones are cached for a re-run
            pool.shutdown(cancel_futures=True)


def run(args: argparse.Namespace) -> Path:
    torch.set_num_threads(args.threads)
    started = time.time()
    setup = plan(args)
    preset, budgets, tasks, data = setup.preset, setup.budgets, setup.tasks, setup.data
    horizon = max_episode_steps(args.env)
    optimal, random = optimal_mean_return(preset, tasks), random_mean_return(preset, tasks)
    ed_episodes = setup.ed_episodes
    returns = measure(setup, args.jobs)
    curves = {method: Curve.from_returns(method, r, horizon) for method, r in returns.items()}
    ad_steps = curves["AD"].steps
    curves["random"] = constant_curve("random", np.array([preset.task_env.random_return(t) for t in tasks]), ad_steps)
    curves["optimal"] = constant_curve("optimal", np.array([preset.optimal_return(t) for t in tasks]), ad_steps)

    name = f"main_results_{env_slug(args.env)}{variant(args).replace('-', '_')}"
    trained_for = "" if args.train_steps is None else f", AD and ED trained {args.train_steps} steps"
    label = f"{name}_quick" if args.quick else name
    learned = [curves[m] for m in LEARNED]
    plot = plot_curves(
        learned, optimal, random, f"{args.env}: held-out tasks", args.results / f"{label}.png", xscale="log"
    )
    figures = {
        "title": f"Main results on {args.env}{trained_for}{_data_label(args)} (paper Fig. 4)",
        "summary": (
            f"AD, ED, the source ({_source_config(preset).algo}) from scratch as a single stream, RL^2, random and "
            f"optimal on {len(tasks)} held-out tasks of {args.env}; mean return per episode against the env steps "
            "each method took on the task."
        ),
        "env_id": args.env,
        "findings": findings(curves, optimal, random, horizon, budgets),
        "tables": {
            "Environment steps until the mean return first reaches 80% / 90% of optimal": efficiency_table(
                list(curves.values()), optimal
            ),
            "Mean return per block of episodes": _block_table(curves, horizon),
        },
        "plots": [plot.name],
        "budgets": _budgets_record(budgets, preset, tasks, ed_episodes),
        "notes": (
            "The source from scratch keeps its preset's per-actor rollout (single_stream()), so it updates "
            "after every episode of its one stream: far more updates per env step than the 64-actor preset, "
            "which favours it. Steps-to-threshold is the first episode whose mean over runs reaches the "
            "threshold, so the noisier curves (fewer runs) can cross earlier by chance."
        ),
        "ed_data_share_of_optimal": round(expert_share(data, preset, ed_episodes), 3),
        "optimal": optimal,
        "random": random,
        "wall_time_s": round(time.time() - started, 1),
        "compute_seconds": _compute_seconds(args, budgets),
    }
    return save_experiment(name, args, figures, list(curves.values()))


def _block_table(curves: dict[str, Curve], horizon: int) -> dict[str, dict[str, float]]:
    """Mean return over episodes 1-10, 11-20, ... up to 100, and the last 10, per method."""
    table = {}
    for method, curve in curves.items():
        episodes = curve.steps // horizon
        row = {}
        for first in (1, 11, 41, 91):
            keep = (episodes >= first) & (episodes < first + 10)
            if keep.any():
                row[f"ep {first}-{first + 9}"] = round(float(curve.mean[keep].mean()), 2)
        row["last 10 ep"] = round(float(curve.mean[-10:].mean()), 2)
        table[method] = row
    return table


def _compute_seconds(args: argparse.Namespace, budgets: Budgets) -> dict[str, float | None]:
    """Wall seconds of every cached piece this record reuses, as measured when it ran (on the shared machine)."""
    env = args.workdir / args.env
    ad_name, ed_name = policy_names(args)
    folders = {
        "AD training": env / "policies" / f"{ad_name}-seed{args.seed}",
        "ED training": env / "policies" / f"{ed_name}-seed{args.seed}",
        "AD evaluation": env / "evaluations" / f"{ad_name}-seed{args.seed}",
        "ED evaluation": env / "evaluations" / f"{ed_name}-seed{args.seed}",
    }
    for i in range(budgets.scratch_seeds):
        folders[f"source from scratch, seed {args.seed + i}"] = (
            env / "baselines" / f"scratch-{budgets.scratch_steps}-seed{args.seed + i}"
        )
    for i in range(budgets.rl2_seeds):
        folders[f"RL^2 training + evaluation, seed {args.seed + i}"] = (
            env / "baselines" / f"rl2-{budgets.rl2.total_timesteps}-seed{args.seed + i}"
        )
    return {name: compute_seconds(folder) for name, folder in folders.items()}


def _budgets_record(budgets: Budgets, preset: Preset, tasks: list[Any], ed_episodes: int) -> dict[str, Any]:
    trials = preset.eval_trials_per_task if budgets.trials is None else budgets.trials
    return {
        "held_out_tasks": len(tasks),
        "AD/ED": f"{budgets.episodes} in-context episodes x {trials} trials per task, 1 training seed, "
        f"{budgets.train_steps or preset.train.steps} gradient steps, context {preset.model.value('context_len')}",
        "ED data": f"the last {ed_episodes} episodes of every source stream",
        "source (scratch)": f"{budgets.scratch_steps} env steps per task x {budgets.scratch_seeds} seeds, "
        f"{dataclasses.asdict(single_stream(_source_config(preset), budgets.scratch_steps))}",
        "RL^2": f"{budgets.rl2.total_timesteps} env steps of meta-training x {budgets.rl2_seeds} seeds; "
        f"evaluated for one trial of {budgets.rl2.episodes_per_trial} episodes per task, sampled actions; "
        f"{dataclasses.asdict(budgets.rl2)}",
        "data": budgets.data or "the preset's collection",
    }


def main(argv: list[str] | None = None) -> None:
    parser = experiment_parser(__doc__.splitlines()[0])
    parser.add_argument("--env", default="DarkRoom-v0", choices=ENVS)
    parser.add_argument("--scratch-seeds", type=int, default=1, help="seeds of the source from scratch")
    parser.add_argument("--rl2-seeds", type=int, default=1, help="seeds of RL^2")
    parser.add_argument("--rl2-steps", type=int, default=None, help="RL^2 meta-training env steps per seed")
    parser.add_argument("--scratch-steps", type=int, default=None, help="env steps of the source from scratch")
    count = positive_int  # a bad value fails at parse time, before any collection
    parser.add_argument("--train-steps", type=count, default=None, help="AD / ED gradient steps (default: preset)")
    parser.add_argument("--num-tasks", type=count, default=None, help="train tasks to collect on (default: the split)")
    parser.add_argument(
        "--runs-per-task", type=count, default=None, help="source runs per train task (default: preset)"
    )
    add_source_options(parser)
    parser.add_argument("--test-tasks", type=count, default=None, help="held-out tasks to measure on (default: all)")
    parser.add_argument("--episodes", type=count, default=None, help="in-context episodes per AD / ED trial")
    parser.add_argument("--trials", type=count, default=None, help="AD / ED trials per held-out task")
    parser.add_argument("--threads", type=count, default=1, help="torch threads (1 leaves a core to another job)")
    parser.add_argument(
        "--jobs", type=count, default=1, help="methods measured at once after collection, each with --threads threads"
    )
    args = parser.parse_args(argv)
    check_source_options(parser, args)
    path = run(args)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
