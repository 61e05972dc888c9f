"""Return against training budget: AD distilled from the same histories for several numbers of steps.

Issue 17 asks, where a target is out of reach at our budget, for the curve of return against the
training budget that says how much more it would take. Each budget is a run of its own (the
learning-rate schedule spans it), played on the held-out tasks with the Fig. 4 protocol. Policies
and evaluations are cached under the names ``main_results`` gives them, so a budget that a main
result already trained is not trained again, and a budget added later reuses the others.

Training seeds can be played apart and pooled: a record keeps each seed's curve, and ``--pool``
combines earlier records of the same experiment with this run's seeds exactly as one run of them all
would (``Curve.pooled``), so a seed sweep longer than a session is one record per session plus a
pooling run (``--train-seeds 0`` plays nothing new).

    python -m benchmarks.training_budget --env DarkKeyToDoor-v0 --seed 0 --num-tasks 1000 --runs-per-task 2 \\
        --batched --steps 1200 3000 6000 --test-tasks 16 --trials 2 --episodes 100 --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ad_agent.histories import run_files
from ad_agent.model import ARCHS
from ad_agent.pipeline import block_means as pipeline_block_means
from ad_agent.pipeline import optimal_mean_return, random_mean_return
from ad_agent.plots import pyplot, save_figure
from ad_agent.presets import TRAIN_PRESETS, Preset, max_episode_steps
from ad_agent.training.loop import WEIGHT_NEUTRAL_SETTINGS
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
from benchmarks.main_results import (
    ENVS,
    Budgets,
    _run_preset,
    add_source_options,
    check_source_options,
    in_context_returns,
    policy_names,
    quick_budgets,
    source_label,
    source_name,
    use_data_options,
)
from envs.core import evenly_spaced

# episodes (1-based, inclusive) whose mean return each budget reports, those a trial reaches
BLOCKS = ((1, 10), (41, 50), (91, 100), (151, 160))
# issue 17's target per env: a share of optimal by the last episode of a block (1-based)
TARGETS = {
    "DarkRoom-v0": (0.9, 50),
    "DarkKeyToDoor-v0": (0.9, 100),
    "DarkRoomHard-v0": (0.8, 100),
    "PixelWatermaze-v0": (0.5, 160),
}


def _as_main_results(args: argparse.Namespace, steps: int, preset_steps: int) -> argparse.Namespace:
    """The ``main_results`` arguments whose cache names this budget shares (the preset's steps are unnamed)."""
    return argparse.Namespace(**{**vars(args), "train_steps": None if steps == preset_steps else steps})


def block_means(returns: np.ndarray) -> dict[str, float]:
    """Mean return over each of :data:`BLOCKS` the trial reaches (clipped to the episodes played)."""
    return {f"ep {block}": round(mean, 3) for block, mean in pipeline_block_means(returns, BLOCKS).items()}


def plot_budget(rows: dict[int, dict], optimal: float, random: float, title: str, path: Path) -> Path:
    """Mean return of each episode block against the gradient steps trained (log axis)."""
    steps = sorted(rows)
    fig, ax = pyplot().subplots(figsize=(6, 4), dpi=120)
    for block in rows[steps[0]]["blocks"]:
        (line,) = ax.plot(steps, [rows[s]["blocks"][block] for s in steps], marker="o", label=f"episodes {block[3:]}")
        if "blocks on train tasks" in rows[steps[0]]:
            seen = [rows[s]["blocks on train tasks"][block] for s in steps]
            ax.plot(steps, seen, marker="x", linestyle="--", color=line.get_color(), label="same, train tasks")
    ax.axhline(optimal, color="black", linestyle="--", linewidth=1, label="optimal")
    ax.axhline(random, color="gray", linestyle=":", linewidth=1, label="random")
    ax.set(xscale="log", xlabel="AD training steps (each its own run)", ylabel="mean return", title=title)
    ax.set_xticks(steps, [str(s) for s in steps])
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def _flat(row: dict) -> dict:
    """A budget's row as one level of columns for the report: held-out blocks, their spread over training
    seeds, then train-task blocks."""
    flat = dict(row["blocks"])
    flat |= {f"{k} std over seeds": v for k, v in row.get("std over training seeds", {}).items()}
    flat |= {f"train tasks {k}": v for k, v in row.get("blocks on train tasks", {}).items()}
    return flat | {k: v for k, v in row.items() if not k.startswith("blocks") and k != "std over training seeds"}


def _target_finding(rows: dict[int, dict], key: str, late: str, target: float, optimal: float, where: str) -> dict:
    """Whether the best budget's mean return over block ``late`` (``rows[steps][key]``) reaches ``target``."""
    best_steps = max(rows, key=lambda s: rows[s][key][late])
    best = rows[best_steps][key][late]
    return finding(
        f"AD reaches {target:.0%} of optimal in episodes {late[3:]} {where}",
        best >= target * optimal,
        f"best: {best:.2f} of {optimal:.2f} ({best / optimal:.1%}) after {best_steps} steps; per budget "
        + ", ".join(f"{s}: {rows[s][key][late]}" for s in sorted(rows)),
    )


def shape_name(args: argparse.Namespace) -> str:
    """How the model departs from the preset's, as cache names and labels carry it ('' for the preset's)."""
    parts = [args.arch] if args.arch != "transformer" else []
    parts += [f"{args.n_layers}layers"] if args.n_layers is not None else []
    parts += [f"ctx{args.context_len}"] if args.context_len is not None else []
    parts += [f"on-{args.histories.name}"] if args.histories is not None else []
    parts += [f"ls{args.label_smoothing:g}"] if args.label_smoothing is not None else []
    parts += [f"every{args.every_kth_episode}"] if args.every_kth_episode > 1 else []
    return "-".join(parts)


def source_parts(args: argparse.Namespace) -> tuple[str, str]:
    """The record name's and title's parts for a source other than the preset's learner; none for its
    batched twin, whose records kept the preset's names."""
    name = source_name(args).removesuffix("-batched")
    return name.replace("-", "_"), source_label(args) if name else ""


def train_seeds(args: argparse.Namespace) -> list[int]:
    """The training seeds this run plays: ``--train-seeds`` of them from ``--first-train-seed`` (default ``--seed``)."""
    first = args.seed if args.first_train_seed is None else args.first_train_seed
    return list(range(first, first + args.train_seeds))


def seeds_parts(seeds: list[int], data_seed: int) -> tuple[str, str]:
    """The record name's and title's parts for its training seeds: none for the data's own seed alone,
    so that one seed's record is neither named nor titled as another's."""
    if seeds == [data_seed]:
        return "", ""
    if len(seeds) == 1:
        return f"_seed{seeds[0]}", f", training seed {seeds[0]}"
    return f"_{len(seeds)}seeds", f", {len(seeds)} training seeds"


def _views(args: argparse.Namespace) -> dict[str, int]:
    """The view of each stream AD trains on, as ``distill`` takes it: none for whole streams, so the
    cache keys of whole-stream runs stay what they were."""
    return {"every_kth_episode": args.every_kth_episode} if args.every_kth_episode > 1 else {}


def _budgets_record(budgets: Budgets, preset: Preset, held_out: int, views: dict[str, int]) -> dict[str, Any]:
    """What the record says it spent, as JSON reads it back; ``AD`` keeps a ``{seeds}`` slot for the seed count."""
    return json.loads(
        json.dumps(
            {
                "held_out_tasks": held_out,
                "AD": f"{budgets.episodes} in-context episodes x {budgets.trials or preset.eval_trials_per_task} "
                f"trials per task, {{seeds}} training seed(s), context {preset.model.value('context_len')}",
                "data": budgets.data or "the preset's collection",
                "model": preset.model.resolved(),
                "train": dataclasses.asdict(preset.train),
            }
            | ({"views": views} if views else {})
        )
    )


def _comparable(budgets: dict[str, Any]) -> dict[str, Any]:
    """A record's budgets less what may differ between runs that pool: the seed count and where it trained."""
    train = {k: v for k, v in budgets["train"].items() if k not in WEIGHT_NEUTRAL_SETTINGS}
    return {**budgets, "AD": re.sub(r"(\d+|\{seeds\}) training seed", "N training seed", budgets["AD"]), "train": train}


def differences(record: dict[str, Any], env_id: str, seed: int, mode: str, budgets: dict[str, Any]) -> list[str]:
    """What makes ``record`` another experiment than this one (env, data seed, mode, budgets), if anything:
    records of the same experiment hold curves that pool, whatever their training seeds and steps."""
    return [
        what
        for what, same in (
            ("env", record["env_id"] == env_id),
            ("data seed", record["seed"] == seed),
            ("mode", record["mode"] == mode),
            ("budgets", _comparable(record["budgets"]) == _comparable(budgets)),
        )
        if not same
    ]


def record_seed_curves(record: dict[str, Any]) -> dict[int, dict[int, dict[str, Any]]]:
    """Each training seed's curve (and training seconds) per budget in a record. A record made before
    records kept ``seed_curves`` holds one seed, the data's, whose curves are the record's."""
    if "seed_curves" in record:
        return {
            int(steps): {int(s): {**v, "curve": Curve.from_dict(v["curve"])} for s, v in by_seed.items()}
            for steps, by_seed in record["seed_curves"].items()
        }
    if " 1 training seed(s)" not in record["budgets"]["AD"]:
        raise ValueError("a record of several training seeds without seed_curves cannot be pooled")
    table = record["tables"]["Mean return per episode block, by training steps"]
    curves = {curve["method"]: Curve.from_dict(curve) for curve in record["curves"]}
    return {
        int(steps): {record["seed"]: {"curve": curves[f"AD, {steps} steps"], "train_seconds": row["train_seconds"]}}
        for steps, row in table.items()
    }


def pooled_seeds(args: argparse.Namespace, budgets: dict[str, Any]) -> dict[int, dict[int, dict[str, Any]]]:
    """The training seeds of ``--pool``'s records, per budget, after checking that each record is this
    experiment (same env, data, model, training and evaluation) and that no seed comes twice."""
    pooled: dict[int, dict[int, dict[str, Any]]] = {}
    for path in args.pool:
        record = json.loads(path.read_text())
        mismatch = differences(record, args.env, args.seed, "quick" if args.quick else "full", budgets)
        if mismatch:
            raise ValueError(f"{path} is not this experiment: its {', '.join(mismatch)} differ")
        by_steps = record_seed_curves(record)
        for steps in args.steps:
            if steps not in by_steps:
                raise ValueError(f"{path} has no {steps}-step budget to pool")
            twice = set(by_steps[steps]) & (set(pooled.get(steps, {})) | set(train_seeds(args)))
            if twice:
                raise ValueError(f"training seed(s) {sorted(twice)} of {path} come twice")
            pooled.setdefault(steps, {}).update(by_steps[steps])
    return pooled


def run(args: argparse.Namespace) -> Path:
    torch.set_num_threads(args.threads)
    started = time.time()
    if args.quick:
        budgets = quick_budgets()
    else:
        budgets = Budgets(episodes=args.episodes, trials=args.trials, test_tasks=args.test_tasks)
    preset = _run_preset(args.env, budgets)
    if args.arch == "lstm":  # the LSTM variant's shape (paper App. K), the env preset's training
        preset = dataclasses.replace(preset, model=preset.model.updated(TRAIN_PRESETS["lstm"].model.choices()))
    if args.n_layers is not None:
        preset = dataclasses.replace(preset, model=dataclasses.replace(preset.model, n_layers=args.n_layers))
    if args.context_len is not None:
        preset = dataclasses.replace(preset, model=dataclasses.replace(preset.model, context_len=args.context_len))
    if args.label_smoothing is not None:
        preset = preset.customised(train={"label_smoothing": args.label_smoothing})
    use_data_options(args, budgets)

    if args.histories is not None:  # a dataset made elsewhere (another source), named in the record
        budgets.data = {"histories": str(args.histories)}

    @functools.cache
    def histories() -> Path:  # collected only when a seed is played here, not by a run that only pools
        if args.histories is not None:
            return args.histories
        return dataset(args.env, args.seed, args.workdir, workers=args.workers, **budgets.data)

    tasks = evenly_spaced(preset.test_tasks, budgets.test_tasks)
    train_tasks = evenly_spaced(preset.train_tasks, args.train_tasks) if args.train_tasks else []
    horizon = max_episode_steps(args.env)
    optimal, random = optimal_mean_return(preset, tasks), random_mean_return(preset, tasks)

    shape = shape_name(args)
    seeds = train_seeds(args)  # training seeds played here, all on the same histories
    views = _views(args)
    budgets_record = _budgets_record(budgets, preset, len(tasks), views)
    pooled = pooled_seeds(args, budgets_record)
    rows: dict[int, dict] = {}
    seed_record: dict[str, dict] = {}  # each training seed's curve, for a later run to pool
    seed_rows: dict[str, dict] = {}  # each training seed's blocks, when there are several
    curves = []
    for steps in sorted(set(args.steps)):
        as_main = _as_main_results(args, steps, preset.train.steps)
        budgets.train_steps = as_main.train_steps
        name = policy_names(as_main)[0]
        if shape:  # a shape of its own: its own cache entries
            name = name.replace("ad", f"ad-{shape}", 1)
        method = f"AD, {steps} steps"
        played = {
            s: {
                "curve": Curve.from_returns(
                    method,
                    in_context_returns(preset, histories(), name, tasks, budgets, s, args.workdir, **views),
                    horizon,
                ),
                "train_seconds": compute_seconds(policy_folder(args.env, args.workdir, name, s)),
            }
            for s in seeds
        }
        by_seed = dict(sorted((pooled.get(steps, {}) | played).items()))
        seed_record[str(steps)] = {str(s): {**v, "curve": v["curve"].to_dict()} for s, v in by_seed.items()}
        curve = Curve.pooled(method, [v["curve"] for v in by_seed.values()])
        curves.append(curve)
        seconds = [v["train_seconds"] for v in by_seed.values() if v["train_seconds"] is not None]
        rows[steps] = {
            "blocks": block_means(curve.mean[None, :]),
            "best_episode_share_of_optimal": round(float(curve.mean.max() / optimal), 3),
            **{f"env steps to {share:.0%}": curve.steps_to_reach(share * optimal) for share in (0.8, 0.9)},
            "train_seconds": round(float(np.mean(seconds)), 1) if seconds else None,
            "cache_name": name,
        }
        if len(by_seed) > 1:  # the spread of the blocks' means over training seeds
            seed_blocks = {
                f"{steps} steps, seed {s}": block_means(v["curve"].mean[None, :]) for s, v in by_seed.items()
            }
            spread = np.array([list(blocks.values()) for blocks in seed_blocks.values()]).std(axis=0)
            rows[steps]["std over training seeds"] = dict(
                zip(rows[steps]["blocks"], spread.round(3).tolist(), strict=True)
            )
            seed_rows |= seed_blocks
        if train_tasks:  # the same policy on tasks it trained on: does it generalise, or only remember?
            seen = [
                in_context_returns(
                    preset,
                    histories(),
                    name,
                    train_tasks,
                    budgets,
                    s,
                    args.workdir,
                    evaluation=f"{name}-train-tasks",
                    **views,
                )
                for s in seeds
            ]
            rows[steps]["blocks on train tasks"] = block_means(np.concatenate(seen))

    target, by_episode = TARGETS.get(args.env, (0.9, 100))
    reached = [(first, last) for first, last in BLOCKS if last <= min(by_episode, budgets.episodes)]
    late = "ep {}-{}".format(*(reached or [(1, budgets.episodes)])[-1])
    label = f"training_budget_{env_slug(args.env)}"
    label += f"_{shape.replace('-', '_')}" if shape else ""
    source_part, source_title = source_parts(args)
    label += source_part
    all_seeds = sorted({int(seed) for by_seed in seed_record.values() for seed in by_seed})
    seeds_label, seeds_title = seeds_parts(all_seeds, args.seed)
    label += seeds_label
    label += f"_{args.record_suffix}" if args.record_suffix else ""
    label = f"{label}_quick" if args.quick else label
    findings = [_target_finding(rows, "blocks", late, target, optimal, "within the budgets measured")]
    if train_tasks:  # the issue asks for the train tasks too
        train_optimal, where = optimal_mean_return(preset, train_tasks), f"on {len(train_tasks)} of its train tasks too"
        findings.append(_target_finding(rows, "blocks on train tasks", late, target, train_optimal, where))
    plots = [
        plot_budget(rows, optimal, random, f"{args.env}: held-out return vs training", args.results / f"{label}.png"),
        plot_curves(curves, optimal, random, f"{args.env}: AD per budget", args.results / f"{label}_curves.png"),
    ]
    figures = {
        "title": f"Held-out return against AD's training budget on {args.env}"
        + ("" if args.arch == "transformer" else f", {args.arch.upper()}")
        + ("" if args.n_layers is None else f", {args.n_layers} layers")
        + ("" if args.context_len is None else f", context {args.context_len} steps")
        + ("" if args.histories is None else f", on {args.histories.name}")
        + source_title
        + ("" if args.label_smoothing is None else f", label smoothing {args.label_smoothing:g}")
        + ("" if args.every_kth_episode == 1 else f", one episode in {args.every_kth_episode} of each stream")
        + seeds_title,
        "summary": (
            f"AD trained for {', '.join(map(str, sorted(rows)))} gradient steps (each its own run, training seed(s) "
            f"{', '.join(map(str, all_seeds))}) on the same histories, each played in context on {len(tasks)} "
            "held-out tasks; mean return per episode block"
            + (
                f"; seed(s) {', '.join(map(str, sorted(set(all_seeds) - set(seeds))))} from --pool's records."
                if pooled
                else "."
            )
        ),
        "env_id": args.env,
        "findings": findings,
        "tables": {"Mean return per episode block, by training steps": {str(s): _flat(r) for s, r in rows.items()}}
        | ({"Mean return per episode block, by training seed": seed_rows} if seed_rows else {}),
        "plots": [p.name for p in plots],
        "budgets": {**budgets_record, "AD": budgets_record["AD"].format(seeds=len(all_seeds))},
        "training_seeds": all_seeds,
        "optimal": optimal,
        "random": random,
        "wall_time_s": round(time.time() - started, 1),
        "seed_curves": seed_record,
    }
    return save_experiment(label.removesuffix("_quick"), args, figures, curves)


def main(argv: list[str] | None = None) -> None:
    parser = experiment_parser(__doc__.splitlines()[0])
    parser.add_argument("--env", default="DarkRoom-v0", choices=ENVS)
    parser.add_argument(
        "--steps", type=positive_int, nargs="+", required=True, help="training budgets (gradient steps)"
    )
    parser.add_argument("--num-tasks", type=positive_int, default=None, help="train tasks (default: the split)")
    parser.add_argument("--runs-per-task", type=positive_int, default=None, help="source runs per train task")
    add_source_options(parser)
    parser.add_argument("--test-tasks", type=positive_int, default=None, help="held-out tasks (default: all)")
    parser.add_argument("--train-tasks", type=positive_int, default=None, help="also play N train tasks (spread)")
    parser.add_argument(
        "--train-seeds", type=int, default=1, help="training seeds played here (first, first + 1, ...; 0: pool only)"
    )
    parser.add_argument("--first-train-seed", type=int, default=None, help="the first of them (default: --seed)")
    parser.add_argument(
        "--pool",
        nargs="+",
        type=Path,
        default=[],
        metavar="RECORD",
        help="records of this experiment with other training seeds (e.g. from another session) to pool with",
    )
    parser.add_argument("--episodes", type=positive_int, default=100, help="in-context episodes per trial")
    parser.add_argument("--trials", type=positive_int, default=None, help="trials per held-out task")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads")
    parser.add_argument("--n-layers", type=positive_int, default=None, help="model layers (default: preset)")
    parser.add_argument(
        "--histories",
        type=Path,
        default=None,
        help="train on this dataset folder (e.g. another source's, from paper_scale) instead of collecting",
    )
    parser.add_argument(
        "--context-len", type=positive_int, default=None, help="steps AD sees, in training and play (default: preset)"
    )
    parser.add_argument(
        "--label-smoothing", type=float, default=None, help="of the action targets (default: preset; paper Fig. 10)"
    )
    parser.add_argument(
        "--every-kth-episode",
        type=positive_int,
        default=1,
        help="train on each stream's episodes 0, k, 2k, ... (paper Fig. 6 / App. I; default 1: all)",
    )
    parser.add_argument(
        "--record-suffix", default="", help="appended to the record's name, e.g. for other data (x16batched)"
    )
    parser.add_argument(
        "--arch", choices=ARCHS, default="transformer", help="the sequence model (lstm: the lstm training preset's)"
    )
    args = parser.parse_args(argv)
    if args.train_seeds < 0 or (args.train_seeds == 0 and not args.pool):
        parser.error("--train-seeds must be >= 1, or 0 with --pool")
    if args.pool and args.train_tasks:
        parser.error("--pool pools held-out curves only; --train-tasks needs every seed played here")
    check_source_options(parser, args)
    if args.histories is not None and (args.num_tasks or args.runs_per_task or source_name(args)):
        parser.error(
            "--histories names the data; --num-tasks, --runs-per-task and the source options choose a collection"
        )
    if args.histories is not None and (not args.histories.is_dir() or not run_files(args.histories)):
        parser.error(f"--histories: no run files in {args.histories}")
    if missing := [str(path) for path in args.pool if not path.is_file()]:
        parser.error(f"--pool: no record at {', '.join(missing)}")
    print(f"wrote {run(args)}")


if __name__ == "__main__":
    main()
