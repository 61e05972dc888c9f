"""The three steps of Algorithm Distillation on one environment, as library calls.

collect (source learners on train tasks) -> distill (train the transformer) -> evaluate (frozen
policy on held-out tasks). The CLI wraps each step; ``ad-agent run`` chains them.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from ad_agent.actions import ActionCoding
from ad_agent.deployment.evaluation import evaluate
from ad_agent.deployment.policy import InContextPolicy, PolicySpec
from ad_agent.histories import FlatHistories, LazyHistories, fingerprint, in_memory_bytes
from ad_agent.model import ADModel, ModelConfig
from ad_agent.presets import Preset, max_episode_steps
from ad_agent.training.loop import train
from envs.core import observation_table

Progress = Callable[[dict[str, Any]], None]

IN_CONTEXT_EPISODES = 10  # per probe during training: enough to see the curve rise, cheap
#: Datasets that would take more memory than this are read from disk window by window
#: (:class:`LazyHistories`): 32 Pixel Watermaze runs take 12 GB as images, and loading them as
#: images ran a 24 GB machine out of memory. Loading holds images as rows of a table of the distinct
#: ones, so an env whose observation table bounds them (the maze's 324 views) fits far more runs.
LAZY_ABOVE_BYTES = 2 * 2**30

# Episode blocks of the summary table: (first, last) episode, 1-based and inclusive.
DEFAULT_BLOCKS = ((1, 5), (6, 10), (11, 20), (21, 30), (31, 40), (41, 50))


def distill(
    preset: Preset,
    data_dir: str | Path,
    seed: int,
    steps: int | None = None,
    device: str = "auto",
    on_progress: Progress | None = None,
    *,
    val_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    log_dir: str | Path | None = None,
    in_context_episodes: int = IN_CONTEXT_EPISODES,
    every_kth_episode: int = 1,
    last_episodes: int | None = None,
) -> tuple[InContextPolicy, list[dict[str, float]]]:
    """Train the preset's model (``preset.model``, ``preset.train``) on the histories in ``data_dir``.

    Other settings come in through the preset (:meth:`Preset.customised`: a training preset, a config
    file, flags); ``seed``, ``device`` and (when given) ``steps`` win over them. ``val_dir`` holds
    held-out tasks' histories for validation loss and accuracy; checkpoints, resume and TensorBoard as
    in :func:`train`. ``preset.train.in_context_every`` > 0 plays the in-context protocol on the
    held-out tasks (one trial each, ``in_context_episodes`` episodes) every that many steps: the log
    gets the mean return of the first and the last episode, so one can watch in-context learning
    emerge during training. ``every_kth_episode`` / ``last_episodes`` train on a view of each stream
    (:meth:`FlatHistories.load`).
    """
    model_config = preset.model_config()
    train_config = dataclasses.replace(
        preset.train, seed=seed, device=device, steps=preset.train.steps if steps is None else steps
    )
    horizon = max_episode_steps(preset.env_id)
    views = {"every_kth_episode": every_kth_episode, "last_episodes": last_episodes}
    probe = _in_context_probe(preset, model_config, horizon, seed, device, in_context_episodes)
    with ExitStack() as opened:  # disk-backed datasets close even when loading or training fails
        data = _load_histories(
            data_dir,
            preset.env_id,
            model_config.action_coding,
            opened,
            every_kth_episode=every_kth_episode,
            last_episodes=last_episodes,
        )
        _warn_if_held_out(data, data_dir)
        val_data = _load_histories(val_dir, preset.env_id, model_config.action_coding, opened) if val_dir else None
        model, log = train(
            data,
            model_config,
            train_config,
            on_progress=on_progress,
            val_data=val_data,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            log_dir=log_dir,
            in_context_eval=probe if train_config.in_context_every else None,
        )
    provenance = {  # the folder's name, not its path: that is the build machine's (often a temporary folder)
        "data_dir": Path(data_dir).name,
        "data_fingerprint": fingerprint(data),
        "n_runs": len(data.metadata),
        "n_streams": int(len(data.stream_lengths)),
        "n_steps": int(data.stream_lengths.sum()),
        "views": views,
        "source": data.metadata[0].get("source"),
        "train": dataclasses.asdict(train_config),
        "final_loss": log[-1]["loss"],
    }
    spec = PolicySpec(model_config, preset.env_id, horizon, provenance)
    return InContextPolicy(model, spec, device=device), log


def _in_context_probe(
    preset: Preset, model_config: ModelConfig, horizon: int | None, seed: int, device: str, episodes: int
) -> Callable[[ADModel], dict[str, float]]:
    """The in-context protocol on the held-out tasks, as a function of the model being trained."""
    spec = PolicySpec(model_config, preset.env_id, horizon)

    def probe(model: ADModel) -> dict[str, float]:
        policy = InContextPolicy(model, spec, device=device)
        per_episode = evaluate(policy, preset.env_id, preset.test_tasks, episodes, seed).mean(axis=0)
        return {"in_context_first": per_episode[0], "in_context_last": per_episode[-1]}

    return probe


def _load_histories(
    data_dir: str | Path,
    env_id: str,
    coding: ActionCoding,
    closes: ExitStack,
    every_kth_episode: int = 1,
    last_episodes: int | None = None,
) -> FlatHistories | LazyHistories:
    """The dataset in memory, or read from disk when it is too large (:data:`LAZY_ABOVE_BYTES`) and
    whole: the episode views shrink each run as it loads, so a viewed dataset stays in memory. Both
    draw the same windows from the same generator, so the choice never changes a trained model.
    A disk-backed dataset is handed to ``closes``, which closes its files when the caller is done."""
    whole = every_kth_episode == 1 and last_episodes is None
    data: FlatHistories | LazyHistories
    if whole and _bytes_in_memory(data_dir, env_id, coding) > LAZY_ABOVE_BYTES:
        data = closes.enter_context(LazyHistories.open(data_dir, coding))
    else:
        data = FlatHistories.load(
            data_dir, n_actions=coding, every_kth_episode=every_kth_episode, last_episodes=last_episodes
        )
    env_ids = {meta["env_id"] for meta in data.metadata}
    if env_ids != {env_id}:
        raise ValueError(f"{data_dir} holds histories of {sorted(env_ids)}, not {env_id}")
    return data


def _bytes_in_memory(data_dir: str | Path, env_id: str, coding: ActionCoding) -> int:
    """:func:`in_memory_bytes` of the dataset, its images counted as rows of the env's observation
    table where it has one: the env emits no other image, so loading can hold no more."""
    env = gym.make(env_id)
    table = observation_table(env)
    env.close()
    return in_memory_bytes(data_dir, coding, image_rows=None if table is None else len(table))


class HeldOutTasksWarning(UserWarning):
    """Training histories include runs on held-out tasks, so evaluation on them is not held out."""


def _warn_if_held_out(data: FlatHistories | LazyHistories, data_dir: str | Path) -> None:
    """Warn when ``collect --tasks test|all`` wrote into the training data: the test split is what
    the in-context evaluation plays, and training on it silently inflates every held-out figure."""
    held_out = sorted({meta.get("split", "train") for meta in data.metadata} - {"train"})
    if held_out:
        warnings.warn(
            f"{data_dir} holds runs on {'/'.join(held_out)} tasks: a policy trained on them is not evaluated "
            "on held-out tasks; collect training data with --tasks train",
            HeldOutTasksWarning,
            stacklevel=3,
        )


def evaluate_held_out(
    policy: InContextPolicy,
    preset: Preset,
    seed: int,
    episodes: int | None = None,
    trials_per_task: int | None = None,
    on_step: Callable[[int], None] | None = None,
    temperature: float = 1.0,
) -> np.ndarray:
    """Returns ``(n_test_tasks * trials, episodes)`` of the frozen policy on held-out tasks, actions
    sampled at ``temperature`` (1: the paper's protocol)."""
    trials = preset.eval_trials_per_task if trials_per_task is None else trials_per_task
    if trials < 1:
        raise ValueError(f"trials per task must be >= 1, got {trials}")
    tasks = list(preset.test_tasks) * trials
    episodes = preset.eval_episodes if episodes is None else episodes
    return evaluate(policy, preset.env_id, tasks, episodes, seed, on_step, temperature)


def optimal_mean_return(preset: Preset, tasks: Sequence[Any] | None = None) -> float:
    """Mean optimal return over ``tasks`` (default: the held-out tasks), the scale for '% of optimal'."""
    tasks = preset.test_tasks if tasks is None else tasks
    return float(np.mean([preset.optimal_return(task) for task in tasks]))


def random_mean_return(preset: Preset, tasks: Sequence[Any] | None = None) -> float:
    """Mean return of the uniform random policy over ``tasks`` (default: the held-out tasks), the floor
    of the scale."""
    tasks = preset.test_tasks if tasks is None else tasks
    return float(np.mean([preset.task_env.random_return(task) for task in tasks]))


def block_means(returns: np.ndarray, blocks: tuple[tuple[int, int], ...] = DEFAULT_BLOCKS) -> dict[str, float]:
    """Mean return over trials and over each block of episodes, clipped to the episodes played."""
    per_episode = returns.mean(axis=0)
    n = len(per_episode)
    return {
        f"{first}-{min(last, n)}": float(per_episode[first - 1 : last].mean()) for first, last in blocks if first <= n
    }
