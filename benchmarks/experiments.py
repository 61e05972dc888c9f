"""What the paper-reproduction experiments share: cached data and policies, learning curves, the report figures.

Every experiment script (``python -m benchmarks.<name> [--quick] --seed S``) follows the same path:
collect source histories once (:func:`dataset`), distil a policy once per configuration
(:func:`trained_policy`), play the held-out tasks, and turn per-episode returns into :class:`Curve`\\ s
against environment steps. Both caches live under ``--workdir`` (``runs/experiments`` by default), so
re-running a script, or running another one that needs the same data or model, does not redo the work;
collection resumes after a crash as ``ad-agent collect`` does.

``--quick`` exists so CI can run every experiment end to end within its budget: it shrinks task
counts, step budgets and episodes, and its numbers only show that the pipeline works, never a finding.

The record :func:`save_experiment` writes is what ``benchmarks/report.py`` reads; beside ``seed``,
``mode``, ``curves`` and the command/machine/date of :func:`benchmarks.common.write_result`, the
``figures`` an experiment passes should hold:

- ``title`` (str) and ``summary`` (str, a sentence or two: what was compared, on what);
- ``findings``: a list of :func:`finding` records, each a paper claim with whether it reproduced;
- ``tables``: ``{table name: {row: {column: value}}}``, rendered as Markdown tables;
- ``plots``: PNG file names, relative to the JSON's folder;
- ``budgets`` (what each method was given, in environment steps, seeds, episodes) and ``wall_time_s``.

Any other key is kept in the JSON but not rendered.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ad_agent.cli import main as ad_agent_cli
from ad_agent.deployment.policy import InContextPolicy
from ad_agent.histories import run_files
from ad_agent.pipeline import distill
from ad_agent.plots import pyplot, save_figure
from ad_agent.presets import Preset
from ad_agent.training.checkpoint import latest_checkpoint, load_checkpoint
from ad_agent.training.loop import WEIGHT_NEUTRAL_SETTINGS, TrainConfig
from benchmarks.common import RESULTS_DIR, write_result

DEFAULT_WORKDIR = Path("runs") / "experiments"
#: A trained policy's job checkpoints this often, so a killed experiment resumes its training where it stopped.
CHECKPOINT_EVERY = 200


def positive_int(text: str) -> int:
    """An argparse type for counts and budgets: a bad value fails at parse time, before any collection."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def experiment_parser(description: str) -> argparse.ArgumentParser:
    """The options every experiment script takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seed", type=int, default=0, help="seeds data, models and evaluation (default 0)")
    parser.add_argument("--quick", action="store_true", help="tiny budgets for CI: checks the pipeline, not findings")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="cache of datasets and policies")
    parser.add_argument("--workers", type=int, default=None, help="collection processes (default: all cores)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where JSON and PNG results go")
    return parser


def dataset(
    env_id: str,
    seed: int,
    workdir: Path,
    *,
    name: str = "histories",
    split: str = "train",
    runs_per_task: int | None = None,
    num_tasks: int | None = None,
    steps: int | None = None,
    algo: str | None = None,
    workers: int | None = None,
    batched: bool = False,
    learners_per_batch: int | None = None,
    single_stream: bool = False,
    source: str = "preset",
) -> Path:
    """Source histories of ``env_id``'s ``split`` tasks, collected with its preset source unless told otherwise
    (``batched``: its PPO/A2C learners batched, ``ad-agent collect --batched``; ``single_stream``: one actor
    per run, ``--single-stream``; ``source``: a scripted source by the name ``ad-agent collect --source`` takes).

    Goes through ``ad-agent collect`` itself, so an experiment's data is exactly what a user gets, and an
    interrupted collection resumes. ``name`` keeps datasets of different settings apart.
    """
    out = workdir / env_id / f"{name}-seed{seed}"
    argv = ["collect", "--env", env_id, "--out", str(out), "--tasks", split, "--seed", str(seed)]
    options = {
        "--runs-per-task": runs_per_task,
        "--num-tasks": num_tasks,
        "--steps": steps,
        "--algo": algo,
        "--workers": workers,
        "--learners-per-batch": learners_per_batch,
    }
    for flag, value in options.items():
        if value is not None:
            argv += [flag, str(value)]
    argv += ["--batched"] if batched else []
    argv += ["--single-stream"] if single_stream else []
    argv += ["--source", source] if source != "preset" else []
    if ad_agent_cli(argv) != 0:
        raise RuntimeError(f"collection failed: ad-agent {' '.join(argv)}")
    return out


def dataset_key(data_dir: Path) -> dict[str, Any]:
    """A dataset as cache keys record it: its folder and the run files in it, so a policy trained on
    a folder whose runs have since changed (a task subset planned otherwise) is not reused."""
    return {"folder": str(data_dir), "runs": [path.name for path in run_files(data_dir)]}


def trained_policy(
    preset: Preset,
    data_dir: Path,
    seed: int,
    workdir: Path,
    name: str,
    steps: int | None = None,
    **views: Any,
) -> InContextPolicy:
    """``preset``'s model distilled from ``data_dir``, loaded from ``workdir`` when this exact job already ran.

    ``views`` go to :func:`ad_agent.pipeline.distill` (``every_kth_episode``, ``last_episodes``). The
    cache key is the folder ``name`` plus a record of the preset, data (:func:`dataset_key`), views and
    steps: a changed setting under the same name retrains instead of silently reusing a stale policy.
    """
    folder = policy_folder(preset.env_id, workdir, name, seed)
    job = _policy_job(preset, data_dir, steps)
    if _job_done(folder, {**job, **views}):
        return InContextPolicy.load(folder / "policy")
    started = time.perf_counter()
    checkpoints = _resumable_checkpoints(folder, {**job, **views})
    earlier = _seconds_trained(checkpoints)
    checkpointed = preset.customised(train={"checkpoint_every": CHECKPOINT_EVERY, "keep_checkpoints": 1})
    policy, _ = distill(checkpointed, data_dir, seed, steps, checkpoint_dir=checkpoints, resume=True, **views)
    policy.save(folder / "policy")
    _record_seconds(folder, earlier + time.perf_counter() - started)
    _mark_done(folder, {**job, **views})
    shutil.rmtree(checkpoints, ignore_errors=True)
    (folder / "pending.json").unlink(missing_ok=True)
    return policy


def policy_folder(env_id: str, workdir: Path, name: str, seed: int) -> Path:
    """Where :func:`trained_policy` keeps the policy it caches as ``name`` for ``seed``."""
    return workdir / env_id / "policies" / f"{name}-seed{seed}"


def _policy_job(preset: Preset, data_dir: Path, steps: int | None) -> dict[str, Any]:
    """What a cached policy depends on (its views aside): the model, training, steps and data."""
    job = {"model": preset.model.resolved(), "train": training_key(preset.train), "steps": steps}
    return {**job, "data": dataset_key(data_dir)}


def adopt_trained_policy(
    preset: Preset, data_dir: Path, seed: int, workdir: Path, name: str, steps: int | None = None, **views: Any
) -> None:
    """Bring a finished twin of this policy job (trained under another name) to ``name`` without
    training, so that a run whose returns are cached under a twin's name still finds what its policy
    cost (:func:`compute_seconds`). Does nothing when no such job has finished."""
    _job_done(policy_folder(preset.env_id, workdir, name, seed), {**_policy_job(preset, data_dir, steps), **views})


def _seconds_trained(checkpoints: Path) -> float:
    """Training seconds that the interrupted runs of a job spent before its latest checkpoint (0 with
    none), so that a job resumed across sessions records the compute of all its parts, not its last."""
    latest = latest_checkpoint(checkpoints)
    log = load_checkpoint(latest).log if latest is not None else []
    return float(log[-1]["seconds"]) if log else 0.0


def training_key(config: TrainConfig) -> dict[str, Any]:
    """The training settings a cached policy depends on: those that can change its weights (a new
    setting that cannot, such as where it trains, leaves every cached job valid)."""
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in WEIGHT_NEUTRAL_SETTINGS}


def _resumable_checkpoints(folder: Path, job: dict[str, Any]) -> Path:
    """Where ``job`` checkpoints its training: kept from an interrupted run of the same job (which then
    resumes, bit for bit), emptied when the checkpoints there belong to other settings."""
    checkpoints, pending = folder / "checkpoints", folder / "pending.json"
    if not (pending.exists() and pending.read_text() == _job_key(job)):
        shutil.rmtree(checkpoints, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        pending.write_text(_job_key(job))
    return checkpoints


def cached_returns(
    folder: Path,
    job: dict[str, Any],
    compute: Callable[[], np.ndarray],
    setup: Callable[[], None] | None = None,
) -> np.ndarray:
    """``compute()``'s array, saved in ``folder`` and reloaded while ``job`` (a JSON-able record of
    everything that determines it) stays the same: the expensive baselines run once per setting.

    ``setup()`` runs first, only when the cache misses, and outside the recorded seconds: training
    the policy that ``compute`` plays is timed by its own cache, and would otherwise count twice."""
    if _job_done(folder, job):
        return np.load(folder / "returns.npy")
    if setup is not None:
        setup()
    started = time.perf_counter()
    returns = np.asarray(compute())
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "returns.npy", returns)
    _record_seconds(folder, time.perf_counter() - started)
    _mark_done(folder, job)
    return returns


def compute_seconds(folder: Path) -> float | None:
    """Wall seconds the cached job in ``folder`` took when it ran (None if not recorded): a run that
    reuses the caches reports what its numbers cost, not just its own few seconds."""
    path = folder / "seconds.json"
    return json.loads(path.read_text())["seconds"] if path.exists() else None


def _record_seconds(folder: Path, seconds: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seconds.json").write_text(json.dumps({"seconds": round(seconds, 1)}))


def _job_key(job: dict[str, Any]) -> str:
    return json.dumps(job, sort_keys=True, default=str)


def _job_done(folder: Path, job: dict[str, Any]) -> bool:
    """Whether ``folder`` holds the finished output of exactly ``job`` (its record is written last), or
    now does, copied from a twin under another name (:func:`_adopt_twin`)."""
    key_file = folder / "job.json"
    return (key_file.exists() and key_file.read_text() == _job_key(job)) or _adopt_twin(folder, job)


def _same_training(job: dict[str, Any]) -> dict[str, Any]:
    """``job`` with its training length in one field: a job that overrides its preset's steps and one
    whose preset trains that many steps by default train the same model."""
    if not isinstance(job.get("train"), dict) or "steps" not in job:
        return job
    steps = job["train"].get("steps") if job["steps"] is None else job["steps"]
    return {**job, "steps": steps, "train": {**job["train"], "steps": None}}


def _adopt_twin(folder: Path, job: dict[str, Any]) -> bool:
    """Copy into ``folder`` a finished job of the same seed that differs from ``job`` only in its name.

    Cache names say how a job departs from its preset ("ad-steps2400"), so a preset change renames
    its jobs; this finds them again instead of training anew. The seed is in the folder name, not
    the job, so only folders of the same seed are twins."""
    _, marker, seed = folder.name.rpartition("-seed")
    if not marker or not folder.parent.is_dir():
        return False
    wanted = _job_key(_same_training(job))
    for twin in sorted(folder.parent.glob(f"*-seed{seed}")):
        key_file = twin / "job.json"
        if twin == folder or not key_file.exists():
            continue
        try:
            stored = json.loads(key_file.read_text())
        except json.JSONDecodeError:
            continue
        if isinstance(stored, dict) and _job_key(_same_training(stored)) == wanted:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(twin, folder, ignore=shutil.ignore_patterns("checkpoints", "pending.json", "job.json"))
            _mark_done(folder, job)
            return True
    return False


def _mark_done(folder: Path, job: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.json").write_text(_job_key(job))


@dataclass
class Curve:
    """Mean +- std return per episode of one method, against the environment steps spent so far.

    ``steps[i]`` counts every step the method took on one task up to the end of episode ``i``: for an
    in-context learner that is its deployment experience; for an online learner it is its training
    experience on that task (one stream).
    """

    method: str
    steps: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    n: int  # independent curves averaged (training seeds x evaluation tasks x trials)

    @classmethod
    def from_returns(cls, method: str, returns: np.ndarray, episode_length: int) -> Curve:
        """From per-episode returns ``(n, episodes)`` of fixed-length episodes."""
        returns = np.asarray(returns, dtype=np.float64)
        steps = episode_length * np.arange(1, returns.shape[1] + 1)
        return cls(method, steps, returns.mean(axis=0), returns.std(axis=0), returns.shape[0])

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Curve:
        """The curve that :meth:`to_dict` wrote into a record."""
        arrays = (np.asarray(record[key], dtype=np.float64) for key in ("steps", "mean", "std"))
        return cls(record["method"], *arrays, record["n"])

    @classmethod
    def pooled(cls, method: str, curves: list[Curve]) -> Curve:
        """The curve of all of ``curves``' returns taken together, as :meth:`from_returns` of their rows
        concatenated would give: runs made apart (training seeds in different sessions) combine exactly."""
        if any(not np.array_equal(c.steps, curves[0].steps) for c in curves):
            raise ValueError("only curves over the same episodes pool")
        weights = np.array([c.n for c in curves], dtype=np.float64)[:, None] / sum(c.n for c in curves)
        mean = (weights * np.array([c.mean for c in curves])).sum(axis=0)
        second_moment = (weights * np.array([c.std**2 + c.mean**2 for c in curves])).sum(axis=0)
        std = np.sqrt(np.maximum(second_moment - mean**2, 0.0))
        return cls(method, curves[0].steps, mean, std, sum(c.n for c in curves))

    def steps_to_reach(self, threshold: float) -> int | None:
        """Environment steps until the mean return first reaches ``threshold``; None if it never does."""
        reached = np.flatnonzero(self.mean >= threshold)
        return int(self.steps[reached[0]]) if len(reached) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n": self.n,
            "steps": self.steps.tolist(),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
        }


def efficiency_table(curves: list[Curve], optimal: float, fractions: tuple[float, ...] = (0.8, 0.9)) -> dict:
    """For each method, environment steps until its mean return first reaches each fraction of ``optimal``."""
    return {
        curve.method: {f"{round(100 * f)}%": curve.steps_to_reach(f * optimal) for f in fractions} for curve in curves
    }


def plot_curves(
    curves: list[Curve],
    optimal: float,
    random: float,
    title: str,
    path: Path,
    xlabel: str = "environment steps",
    xscale: str = "linear",
    ylabel: str = "return per episode",
    legend_columns: int = 4,
) -> Path:
    """Every method's mean return (+- std band) on one set of axes, between random and optimal.

    ``xscale="log"`` puts an in-context learner's few hundred steps and an in-weights learner's
    tens of thousands on one readable axis; fewer ``legend_columns`` fit long method names.
    """
    fig, ax = pyplot().subplots(figsize=(7, 4.2), dpi=120)
    for curve in curves:
        (line,) = ax.plot(curve.steps, curve.mean, label=curve.method)
        ax.fill_between(curve.steps, curve.mean - curve.std, curve.mean + curve.std, color=line.get_color(), alpha=0.15)
    ax.axhline(optimal, color="black", linestyle="--", linewidth=1, label="optimal")
    ax.axhline(random, color="gray", linestyle=":", linewidth=1, label="random")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xscale=xscale)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=legend_columns, frameon=False, fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def finding(claim: str, reproduced: bool | None, evidence: str) -> dict[str, Any]:
    """One paper claim checked by an experiment: ``reproduced`` is None when it could not be tested."""
    return {"claim": claim, "reproduced": reproduced, "evidence": evidence}


def speedup_finding(
    claim: str, fast: Curve, slow: Curve, level: float, factor: float, level_name: str
) -> dict[str, Any]:
    """Whether ``fast`` first reaches ``level`` in at least ``factor`` times fewer env steps than ``slow``.

    A ``slow`` curve that never gets there is taken to reach it just after its last step, which makes
    the ratio a lower bound: it can still pass, but only if even that bound does. ``level_name`` says
    the level in the evidence (e.g. "80% of optimal").
    """
    fast_steps, slow_steps = fast.steps_to_reach(level), slow.steps_to_reach(level)
    if fast_steps is None:
        return finding(claim, False, f"{fast.method} never reaches {level_name}")
    if slow_steps is None:
        bound = int(slow.steps[-1]) / fast_steps
        return finding(
            claim,
            bound >= factor,
            f"{fast.method} {fast_steps} steps; {slow.method} never reached {level_name} within "
            f"{int(slow.steps[-1])} steps (ratio > {bound:.1f})",
        )
    ratio = slow_steps / fast_steps
    return finding(
        claim, ratio >= factor, f"{fast.method} {fast_steps} steps, {slow.method} {slow_steps} steps: {ratio:.1f}x"
    )


def save_experiment(name: str, args: argparse.Namespace, figures: dict[str, Any], curves: list[Curve]) -> Path:
    """Write ``<name>[_quick].json`` (figures, curves, seed, mode) beside the benchmarks' other results."""
    label = f"{name}_quick" if args.quick else name
    record = {"seed": args.seed, "mode": "quick" if args.quick else "full", **figures}
    record["curves"] = [curve.to_dict() for curve in curves]
    return write_result(label, record, args.results)
