"""``ad-agent`` command line: parse, call the library, show progress bars and tables."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, cast

import numpy as np
from tqdm import tqdm

from ad_agent import __version__
from ad_agent.collection.runner import (
    BACKENDS,
    TASK_CHOICES,
    Job,
    WorkerDiedError,
    plan_collection,
    require_backend,
    run_jobs,
    scripted_source,
    source_for,
    split_jobs,
)
from ad_agent.deployment.attention import attention_maps, play_trial
from ad_agent.deployment.evaluation import evaluate
from ad_agent.deployment.policy import InContextPolicy, check_temperature
from ad_agent.deployment.policy_file import PRETRAINED_PREFIX
from ad_agent.devices import AMP_MODES, check_device
from ad_agent.pipeline import (
    block_means,
    distill,
    evaluate_held_out,
    optimal_mean_return,
    random_mean_return,
)
from ad_agent.plots import plot_attention, plot_learning_curve
from ad_agent.presets import PRESETS, TRAIN_PRESETS, Preset, get_preset
from ad_agent.sources import ALGORITHMS, SCRIPTED_SOURCES, AnySourceConfig
from ad_agent.training.distributed import is_main, joined, launched_world_size
from envs.core import Split, evenly_spaced

#: Learners per batch with ``--batched``: env steps per second per core peak between 64 and 128
#: learners (fewer pay more Python per step, more fall out of the CPU's caches).
BATCH_LEARNERS = 128

#: With ``--checkpoint-dir``, a checkpoint every this many steps unless told otherwise: a crash
#: loses at most this much training (~1 min of the Dark Room default on 2 cores), and each
#: checkpoint of the default model (weights and Adam state) takes 2.4 MB.
CHECKPOINT_EVERY = 100


def _given(value: int | None, default: int) -> int:
    """The option's value when given (0 included, so bad values reach the library's checks)."""
    return default if value is None else value


class _Parser(argparse.ArgumentParser):
    """Help shows every option's default; a bad value is one line on stderr (no usage) and exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` unless the help already says it or there is no default to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``minimum``, else an error naming the flag."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


_NON_NEGATIVE, _POSITIVE = _int_at_least(0), _int_at_least(1)


def _temperature(text: str) -> float:
    """An argparse ``type``: a sampling temperature, a finite number above 0."""
    try:
        value = float(text)
        check_temperature(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}") from None
    return value


def _device(text: str) -> str:
    """An argparse ``type``: a device this machine has (``banana`` or CUDA without CUDA is an error)."""
    try:
        check_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _check_values(args: argparse.Namespace) -> None:
    """What the parser alone cannot see: a task count beyond the split, a file given for a folder."""
    if getattr(args, "num_tasks", None) is not None:
        env, which = get_preset(args.env).task_env, cast(Split, getattr(args, "tasks", "train"))  # a --tasks choice
        splits: tuple[Split, ...] = ("train", "test") if which == "all" else (which,)
        for split in splits:
            if args.num_tasks > len(env.tasks(split)):
                raise ValueError(f"--num-tasks {args.num_tasks}: {args.env} has {len(env.tasks(split))} {split} tasks")
    for flag in ("data", "val_data"):
        folder = getattr(args, flag, None)
        if folder and Path(folder).is_file():
            raise ValueError(f"--{flag.replace('_', '-')} {folder} is a file; give the folder collect wrote")


def _source(args: argparse.Namespace, preset: Preset) -> AnySourceConfig:
    """The source the options name: a scripted one, or the preset's learner as --algo, --steps and
    --batched change it."""
    if args.source == "preset":
        batch = args.learners_per_batch if args.batched else None
        return source_for(preset.env_id, preset.source, args.algo, args.steps, batch, args.single_stream)
    learner_options = {
        "--algo": args.algo,
        "--steps": args.steps,
        "--batched": args.batched,
        "--single-stream": args.single_stream,
    }
    given = [flag for flag, value in learner_options.items() if value]
    if given:
        raise ValueError(f"--source {args.source} is not an SB3 learner, so {', '.join(given)} cannot change it")
    return scripted_source(args.source, preset.env_id)


def _collect(args: argparse.Namespace) -> None:
    preset = get_preset(args.env)
    which = getattr(args, "tasks", "train")  # `run` has no --tasks: it distils from the train tasks
    runs = _given(args.runs_per_task, preset.runs_per_task)
    jobs = split_jobs(preset.env_id, preset.task_env.tasks, which, runs, args.seed, args.num_tasks)
    source = _source(args, preset)
    try:
        require_backend(args.backend)
        done = _collect_missing(args, jobs, source)
    except (ImportError, WorkerDiedError) as err:  # a one-line error and exit 2, as main() gives bad input
        print(f"ad-agent {args.command}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from err
    print(f"{len(jobs)} source runs in {args.out} ({done} were already there)")


def _collect_missing(args: argparse.Namespace, jobs: list[Job], source: AnySourceConfig) -> int:
    """Tidy the folder, name corrupted files, run the rest under a progress bar; returns the runs already done.

    The bar's mean final return counts the sound runs already there too, so a resumed collection
    shows the same number as an uninterrupted one.
    """
    plan = plan_collection(jobs, args.out, source)
    for path, reason in plan.corrupt.items():
        print(f"corrupted run {path} moved aside to {path.name}.corrupt and redone: {reason}", file=sys.stderr)
    finals = [summary["final_return"] for summary in plan.done]
    steps = 0  # env steps of the runs collected now (a batched source reports a whole batch at once)
    with tqdm(total=len(jobs), initial=len(plan.done), desc="collect", unit="run") as bar:

        def progress(summary: dict[str, Any]) -> None:
            nonlocal steps
            finals.append(summary["final_return"])
            steps += summary["env_steps"]
            bar.set_postfix(final_return=f"{np.mean(finals):.2f}", env_steps=tqdm.format_sizeof(steps))
            bar.update()

        run_jobs(plan.todo, source, args.out, args.workers, progress, args.backend, args.address)
    return len(plan.done)


def _customised_preset(args: argparse.Namespace) -> Preset:
    """The env's preset under ``--train-preset``, then ``--config`` (``{"model": {...}, "train": {...}}``),
    then the flags: :meth:`Preset.customised`'s one override order."""
    settings = json.loads(Path(args.config).read_text()) if args.config else {}
    unknown = set(settings) - {"model", "train"}
    if unknown:
        raise ValueError(f"--config {args.config}: unknown sections {sorted(unknown)}; use 'model' and 'train'")
    train = dict(settings.get("train", {}))
    if args.checkpoint_every is not None:
        train["checkpoint_every"] = args.checkpoint_every
    elif args.checkpoint_dir is not None:
        train.setdefault("checkpoint_every", CHECKPOINT_EVERY)
    flags = {
        "amp": args.amp,
        "in_context_every": args.in_context_every,
        "compile": args.compile or None,
        "keep_checkpoints": args.keep_checkpoints,
    }
    train.update({name: value for name, value in flags.items() if value is not None})
    return get_preset(args.env).customised(args.train_preset, settings.get("model", {}), train)


def _train_command(args: argparse.Namespace) -> None:
    """``ad-agent train``, data-parallel across the processes when started by torchrun."""
    with joined(args.device):
        _train(args)


def _train(args: argparse.Namespace) -> InContextPolicy:
    """Distil a policy; inside a process group only rank 0 shows progress and writes the policy."""
    preset = _customised_preset(args)
    steps = _given(args.train_steps, preset.train.steps)
    _check_policy_folder(args.policy)
    main = is_main()
    with tqdm(total=steps, desc="train", unit="step", disable=not main) as bar:

        def progress(record: dict[str, float]) -> None:
            shown = {"loss": record["loss"], "acc": record["accuracy"], "val_loss": record.get("val_loss")}
            shown["icl_last"] = record.get("in_context_last")
            bar.set_postfix({k: f"{v:.3f}" for k, v in shown.items() if v is not None})
            bar.update()

        policy, _ = distill(
            preset,
            args.data,
            args.seed,
            steps,
            args.device,
            progress,
            val_dir=args.val_data,
            checkpoint_dir=args.checkpoint_dir,
            resume=args.resume,
            log_dir=args.log_dir,
        )
    if main:
        policy.save(args.policy)
        print(f"policy saved to {args.policy}")
    return policy


def _check_policy_folder(path: str | Path) -> None:
    """Refuse an unusable ``--policy`` before training rather than after it, when the model would be lost."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--policy {path} is a file; give a folder (it is created if missing)")
    if any(parent.exists() and not parent.is_dir() for parent in path.parents):
        raise ValueError(f"--policy {path}: a parent of it is a file")


def _evaluate(args: argparse.Namespace, policy: InContextPolicy | None = None) -> dict[str, Any]:
    policy = policy or InContextPolicy.load(args.policy, device=args.device)
    preset = get_preset(policy.spec.env_id)
    episodes = _given(args.episodes, preset.eval_episodes)
    trials = _given(args.trials, preset.eval_trials_per_task)
    with tqdm(total=episodes * (policy.spec.max_episode_steps or 0) or None, desc="evaluate", unit="step") as bar:
        returns = evaluate_held_out(policy, preset, args.seed, episodes, trials, bar.update, args.temperature)
    optimal = optimal_mean_return(preset)
    blocks = block_means(returns)
    print(
        f"\nIn-context RL on {len(preset.test_tasks)} held-out tasks x {trials} trial(s), frozen weights "
        f"(optimal mean return {optimal:.2f}):"
    )
    print(f"{'episodes':>10} | {'mean return':>11} | {'% of optimal':>12}")
    for label, mean in blocks.items():
        print(f"{label:>10} | {mean:11.2f} | {100 * mean / optimal:11.1f}%")
    result = {
        "env_id": preset.env_id,
        "policy": str(args.policy),
        "seed": args.seed,
        "trials_per_task": trials,
        "temperature": args.temperature,
        "optimal_mean_return": optimal,
        "block_means": blocks,
        "per_episode_mean": returns.mean(axis=0).tolist(),
        "per_episode_std": returns.std(axis=0).tolist(),
    }
    return result


def _evaluate_command(args: argparse.Namespace) -> None:
    result = _evaluate(args)
    result["command"] = "ad-agent " + " ".join(sys.argv[1:])
    if args.json:
        _write_json(args.json, result)


def _run(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir or Path("runs") / args.env)
    args.out = args.data = workdir / "histories"
    args.policy = workdir / "policy"
    args.json = args.json or workdir / "results.json"
    clock = time.perf_counter()
    _collect(args)
    t_collect = time.perf_counter() - clock
    policy = _train(args)
    t_train = time.perf_counter() - clock - t_collect
    result = _evaluate(args, policy)
    t_total = time.perf_counter() - clock
    result["wall_seconds"] = {
        "collect": t_collect,
        "train": t_train,
        "evaluate": t_total - t_collect - t_train,
        "total": t_total,
    }
    result["command"] = "ad-agent " + " ".join(sys.argv[1:])
    _write_json(args.json, result)
    print(f"wall time: collect {t_collect:.0f}s, train {t_train:.0f}s, total {t_total:.0f}s")


def _chosen_policy(args: argparse.Namespace) -> InContextPolicy:
    """``--policy`` or the policy shipped for ``--env`` (default: the shipped Dark Room one)."""
    if args.policy is not None and args.env is not None:
        raise ValueError("give --policy or --env, not both")
    return InContextPolicy.load(args.policy or f"{PRETRAINED_PREFIX}{args.env or 'DarkRoom-v0'}", device=args.device)


def _demo(args: argparse.Namespace) -> None:
    """In-context learning on held-out tasks (at most ``--tasks``, spread over the split), live from a
    shipped or saved policy: seconds, not the full protocol of ``evaluate``."""
    policy = _chosen_policy(args)
    preset = get_preset(policy.spec.env_id)
    tasks = evenly_spaced(preset.test_tasks, min(args.tasks, len(preset.test_tasks)))
    clock = time.perf_counter()
    returns = evaluate(policy, preset.env_id, tasks, args.episodes, args.seed, temperature=args.temperature)
    seconds = time.perf_counter() - clock
    optimal, random = optimal_mean_return(preset, tasks), random_mean_return(preset, tasks)
    print(
        f"{policy.spec.env_id}: {len(tasks)} held-out tasks the policy never trained on, "
        f"weights frozen ({seconds:.1f} s). Mean return per episode:"
    )
    for episode, mean in enumerate(returns.mean(axis=0), start=1):
        bar = "#" * round(40 * mean / optimal)
        print(f"  episode {episode:3d} {mean:6.2f} {bar}")
    print(f"  (random policy {random:.2f}, optimal {optimal:.2f})")
    title = f"In-context RL on held-out {policy.spec.env_id} tasks"
    print(f"plot written to {plot_learning_curve(returns, optimal, random, title, args.plot)}")


def _attention(args: argparse.Namespace) -> None:
    """The paper's Fig. 15 for one held-out task: where the policy's attention goes in its own history."""
    policy = _chosen_policy(args)
    tasks = get_preset(policy.spec.env_id).test_tasks
    if args.task_index >= len(tasks):
        raise ValueError(f"--task-index {args.task_index}: {policy.spec.env_id} has {len(tasks)} held-out tasks")
    trial = play_trial(policy, policy.spec.env_id, tasks[args.task_index], args.episodes, args.seed)
    returns = " ".join(f"{r:g}" for r in trial.episode_returns)
    print(f"{policy.spec.env_id}, held-out task {trial.task}: episode returns {returns}")
    print(f"plot written to {plot_attention(trial, attention_maps(policy, trial), args.plot)}")


def _write_json(path: str | Path, data: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    print(f"results written to {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ad-agent", description="Algorithm Distillation, end to end.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, e.g. one that registers a task family and its preset (repeatable)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    env_help = f"environment id (presets: {', '.join(sorted(PRESETS))})"
    collect_p = _Parser(add_help=False)
    collect_p.add_argument("--env", default="DarkRoom-v0", help=env_help)
    collect_p.add_argument(
        "--runs-per-task", type=_POSITIVE, default=None, help="source runs per task (default: preset)"
    )
    collect_p.add_argument(
        "--num-tasks", type=_POSITIVE, default=None, help="use only N tasks of each split, spread evenly (default: all)"
    )
    collect_p.add_argument("--steps", type=_POSITIVE, default=None, help="env steps per source run (default: preset)")
    collect_p.add_argument(
        "--batched",
        action="store_true",
        help="run the PPO/A2C learners many at once in each process (same histories format, far faster)",
    )
    collect_p.add_argument(
        "--single-stream",
        action="store_true",
        help="one actor per source run for its whole step budget, so each history is one learner's own (paper Fig. 6)",
    )
    collect_p.add_argument(
        "--learners-per-batch",
        type=_POSITIVE,
        default=BATCH_LEARNERS,
        help=f"with --batched: learners trained together (default {BATCH_LEARNERS}; more use more memory)",
    )
    collect_p.add_argument("--workers", type=_POSITIVE, default=None, help="parallel processes (default: all cores)")
    collect_p.add_argument(
        "--algo", choices=sorted(ALGORITHMS), default=None, help="SB3 source learner (default: the preset's)"
    )
    collect_p.add_argument(
        "--source",
        choices=("preset", *SCRIPTED_SOURCES),
        default="preset",
        help="preset: the env's source learner; or a scripted source (no SB3 learner) at its defaults",
    )
    collect_p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="local: processes on this machine; ray: Ray tasks (pip install 'ad-agent[ray]')",
    )
    collect_p.add_argument(
        "--address", default=None, help="Ray cluster to join (default: a local instance); needs a shared --out folder"
    )
    train_p = _Parser(add_help=False)
    train_p.add_argument("--train-steps", type=_POSITIVE, default=None, help="gradient steps (default: preset)")
    train_p.add_argument(
        "--train-preset",
        choices=sorted(TRAIN_PRESETS),
        default=None,
        help="model + optimisation preset (default: env's)",
    )
    train_p.add_argument("--val-data", default=None, help="held-out tasks' histories for validation loss/accuracy")
    train_p.add_argument("--checkpoint-dir", default=None, help="write checkpoints here")
    train_p.add_argument(
        "--checkpoint-every",
        type=_NON_NEGATIVE,
        default=None,
        help=f"steps between checkpoints (default {CHECKPOINT_EVERY} with --checkpoint-dir; 0: the last step only)",
    )
    train_p.add_argument(
        "--keep-checkpoints",
        type=_NON_NEGATIVE,
        default=None,
        help="how many of the latest checkpoints stay on disk (default: all)",
    )
    train_p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint, bit for bit")
    train_p.add_argument("--log-dir", default=None, help="TensorBoard log folder")
    train_p.add_argument(
        "--in-context-every",
        type=_NON_NEGATIVE,
        default=None,
        help="play held-out tasks in context every N steps (default: the preset's, 0: never)",
    )
    train_p.add_argument(
        "--config", default=None, help='JSON {"model": {...}, "train": {...}}: settings over the presets'
    )
    train_p.add_argument(
        "--amp", choices=AMP_MODES, default=None, help="mixed precision (default auto: bf16 on CUDA, off on CPU)"
    )
    train_p.add_argument("--compile", action="store_true", help="torch.compile the training step")
    eval_p = _Parser(add_help=False)
    eval_p.add_argument("--episodes", type=_POSITIVE, default=None, help="episodes per trial (default: preset)")
    eval_p.add_argument("--trials", type=_POSITIVE, default=None, help="trials per held-out task (default: preset)")
    eval_p.add_argument("--json", default=None, help="write the results here as JSON")
    temperature_help = "sampling temperature; the default is the paper's protocol, others a diagnostic (default 1.0)"
    eval_p.add_argument("--temperature", type=_temperature, default=1.0, help=temperature_help)
    seeded = _Parser(add_help=False)
    seeded.add_argument("--seed", type=_NON_NEGATIVE, default=0, help="seeds data, model and evaluation")
    common = _Parser(add_help=False, parents=[seeded])  # collect has no use for a device
    common.add_argument("--device", type=_device, default="auto", help="torch device; auto = CUDA if present")

    p = sub.add_parser("collect", parents=[collect_p, seeded], help="record source learners' histories")
    p.add_argument("--out", required=True, help="dataset folder (re-running resumes)")
    p.add_argument("--tasks", choices=TASK_CHOICES, default="train", help="which split's tasks (default train)")
    p = sub.add_parser("train", parents=[train_p, common], help="distill histories into a policy")
    p.add_argument("--env", default="DarkRoom-v0", help=env_help)
    p.add_argument("--data", required=True, help="dataset folder written by collect")
    p.add_argument("--policy", required=True, help="policy folder to write")
    p = sub.add_parser("evaluate", parents=[eval_p, common], help="in-context RL on held-out tasks")
    p.add_argument("--policy", required=True, help="policy folder written by train")
    p = sub.add_parser("run", parents=[collect_p, train_p, eval_p, common], help="collect -> train -> evaluate")
    p.add_argument("--workdir", default=None, help="histories, policy and results go here (default runs/ENV)")
    policy_p = _Parser(add_help=False)
    policy_p.add_argument("--policy", default=None, help="policy folder or pretrained:ENV")
    policy_p.add_argument("--env", default=None, help="the policy shipped for ENV (default: pretrained:DarkRoom-v0)")
    policy_p.add_argument("--seed", type=_NON_NEGATIVE, default=0, help="seeds the evaluation")
    policy_p.add_argument("--device", type=_device, default="auto", help="torch device; auto = CUDA if present")
    demo_help = "watch a trained policy learn new tasks in context, with a plot"
    p = sub.add_parser("demo", parents=[policy_p], help=demo_help)
    p.add_argument("--episodes", type=_POSITIVE, default=20, help="episodes per held-out task")
    p.add_argument("--tasks", type=_POSITIVE, default=32, help="held-out tasks, spread over the split (default 32)")
    p.add_argument("--plot", default="ad_demo.png", help="where to write the PNG (default ad_demo.png)")
    p.add_argument("--temperature", type=_temperature, default=1.0, help=temperature_help)
    p = sub.add_parser("attention", parents=[policy_p], help="plot where a policy attends in its own history")
    p.add_argument("--episodes", type=_POSITIVE, default=30, help="episodes played on the task before plotting")
    p.add_argument("--task-index", type=_NON_NEGATIVE, default=0, help="which held-out task (default: the first)")
    p.add_argument("--plot", default="ad_attention.png", help="where to write the PNG (default ad_attention.png)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "collect": _collect,
        "train": _train_command,
        "evaluate": _evaluate_command,
        "run": _run,
        "demo": _demo,
        "attention": _attention,
    }
    try:
        for module in args.imports:
            try:
                importlib.import_module(module)
            except ImportError as err:
                raise ValueError(f"--import {module}: {err}") from err
        if args.command != "train" and launched_world_size() > 1:
            raise ValueError("only 'ad-agent train' runs under torchrun (several processes)")
        _check_values(args)
        handlers[args.command](args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"ad-agent {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
