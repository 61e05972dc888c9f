"""Distillation: train the transformer to predict the source learner's next action.

Windows of ``context_len`` consecutive steps are drawn uniformly from the learning histories
(never crossing from one stream into another) and every position's action is a target, so one
window teaches the model at all context sizes from 1 to ``context_len`` (Algorithm 1, part 2).

Regularisers (label smoothing, input masking) act only on training batches; validation always
sees the plain inputs and scores the head's plain loss (cross-entropy for a categorical head), so its
numbers compare across settings.
Training can be checkpointed and resumed bit for bit (:mod:`ad_agent.training.checkpoint`).

Under ``torchrun`` (see :mod:`ad_agent.training.distributed`) every process draws the same global batch
from the same seeded stream and trains on its own equal slice of it; DistributedDataParallel
averages the slices' gradients, which is the whole batch's gradient, so without dropout the run
follows the single-process one up to float rounding. With dropout it does not: every process
seeds torch alike, so each draws the same masks for its own slice where one process would draw
one mask for the whole batch (same rate, less varied noise). Seeding the ranks apart would need
every rank's generator state in the checkpoints to keep resuming exact.

``TrainConfig.amp`` (mixed precision) and ``TrainConfig.compile`` (``torch.compile``) change how
fast the training step runs, not what it computes beyond float rounding; validation, probes and
checkpoints always see the plain float32 model.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ad_agent.devices import AMP_MODES, check_device, deterministic_kernels, process_group, resolve_amp
from ad_agent.histories import FlatHistories, LazyHistories, fingerprint
from ad_agent.model import ADModel, ModelConfig, build_model
from ad_agent.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    set_torch_rng_state,
)

VAL_SEED = 12345  # validation windows are the same for every run, seed and resumption


@dataclass
class TrainConfig:
    """Optimisation settings (paper Table 2 where it fits a 2-core budget); the defaults are the
    ``fast`` training preset's (:data:`ad_agent.presets.TRAIN_PRESETS`).

    ``mask_prob`` is the paper's random input masking (App. J): see :func:`mask_inputs`.
    ``eval_every`` / ``checkpoint_every`` are in steps; 0 means only after the last step.
    ``keep_checkpoints`` is how many of the latest checkpoints stay on disk (0: all), so that a long
    run checkpointed often does not fill the disk with folders only the latest of which resumes it.
    ``val_windows`` fixed windows are drawn once from the validation histories.
    """

    steps: int = 1200
    batch_size: int = 64
    peak_lr: float = 1e-3
    initial_lr: float = 2e-6
    warmup_steps: int = 200
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    label_smoothing: float = 0.0
    mask_prob: float = 0.0
    eval_every: int = 100
    val_windows: int = 256
    checkpoint_every: int = 0
    keep_checkpoints: int = 0
    in_context_every: int = 0  # 0: never; else every N steps and the last, when train() gets in_context_eval
    amp: str = "auto"  # mixed precision of the training step: see resolve_amp
    compile: bool = False  # torch.compile the training step's model; off: on CPU it did not pay (train_throughput)
    deterministic: bool = True  # CUDA's deterministic kernels: one seed, one model (see devices.deterministic_kernels)
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        self.betas = cast(tuple[float, float], tuple(self.betas))  # a JSON config gives a list
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if not 0.0 <= self.mask_prob <= 1.0:
            raise ValueError(f"mask_prob must be in [0, 1], got {self.mask_prob}")
        if not 0.0 <= self.label_smoothing < 1.0:  # 1 would spread every target evenly: nothing left to learn
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if min(self.eval_every, self.checkpoint_every, self.keep_checkpoints) < 0 or self.val_windows < 1:
            raise ValueError("eval_every, checkpoint_every and keep_checkpoints must be >= 0, val_windows >= 1")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples become lists), as stored in checkpoints."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def updated(self, changes: dict[str, Any]) -> TrainConfig:
        """This config with ``changes`` (e.g. a config file's ``train`` section) on top; unknown names refused."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown training settings {sorted(unknown)}")
        return TrainConfig(**{**self.to_dict(), **changes})


def check_fits(model_config: ModelConfig, config: TrainConfig) -> None:
    """Refuse training settings the model cannot take (label smoothing needs a categorical head)."""
    if config.label_smoothing and model_config.action_head != "categorical":
        raise ValueError(f"label smoothing is for a categorical action head, not a {model_config.action_head!r} one")


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up from ``initial_lr`` to ``peak_lr``, then cosine decay back to ``initial_lr``.

    The warm-up takes at most half the run, so that a run shorter than twice ``warmup_steps``
    (e.g. ``--train-steps 100`` against the default 200) still reaches its peak and decays."""
    warmup = min(config.warmup_steps, config.steps // 2)
    if step < warmup:
        return config.initial_lr + (config.peak_lr - config.initial_lr) * step / warmup
    progress = (step - warmup) / max(1, config.steps - warmup)
    return config.initial_lr + 0.5 * (config.peak_lr - config.initial_lr) * (1 + math.cos(math.pi * progress))


def mask_inputs(
    batch: dict[str, np.ndarray], rng: np.random.Generator, prob: float, null_action: int
) -> dict[str, np.ndarray]:
    """The paper's random input masking, on the input side of a training batch.

    Each step is masked with probability ``prob``: its previous action becomes ``null_action`` (in
    every component of a Box action) and its previous reward 0, i.e. what the first step of a stream sees. The
    observation and episode-start flag stay: the model's observation table has no null row, and
    the observation is what the step's own action is predicted from; hiding the (action, reward)
    feedback makes the model recover it from the other steps of its context instead of copying
    it. Targets are untouched. ``prob == 0`` draws nothing, so unmasked runs keep their streams.
    """
    if prob <= 0.0:
        return batch
    prev = batch["prev_actions"]
    masked = rng.random(prev.shape[:2]) < prob
    return {
        **batch,
        "prev_actions": np.where(masked.reshape(masked.shape + (1,) * (prev.ndim - 2)), null_action, prev),
        "prev_rewards": np.where(masked, 0.0, batch["prev_rewards"]).astype(np.float32),
    }


def batch_to_tensors(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    """Model inputs from a batch of windows. Observations keep their dtype (each encoder converts
    its own: ints, float vectors, uint8 images); a Discrete observation (one int per step) gets the
    trailing component axis that (Multi)Discrete ones have, ``(B, T) -> (B, T, 1)``."""
    observations = batch["observations"]
    if observations.ndim == 2:
        observations = observations[..., None]
    return {
        "observations": torch.as_tensor(observations, device=device),
        "prev_actions": torch.as_tensor(batch["prev_actions"], dtype=torch.long, device=device),
        "prev_rewards": torch.as_tensor(batch["prev_rewards"], dtype=torch.float32, device=device),
        "episode_starts": torch.as_tensor(batch["episode_starts"], dtype=torch.bool, device=device),
    }


def validation_windows(data: FlatHistories | LazyHistories, n_windows: int, length: int) -> dict[str, np.ndarray]:
    """Fixed held-out windows, drawn once from :data:`VAL_SEED` so every evaluation scores the same steps."""
    return data.sample_windows(np.random.default_rng(VAL_SEED), n_windows, length)


def validation_scores(
    model: ADModel, windows: dict[str, np.ndarray], batch_size: int, device: torch.device
) -> dict[str, float]:
    """Plain (unsmoothed, unmasked) loss of the action head and action accuracy on ``windows``, in eval mode.

    Chunks of ``batch_size`` bound memory; the model is put back in training mode if it was.
    """
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for start in range(0, len(windows["actions"]), batch_size):
            chunk = {k: v[start : start + batch_size] for k, v in windows.items()}
            targets = torch.as_tensor(chunk["actions"], dtype=torch.long, device=device)
            out = model(**batch_to_tensors(chunk, device))
            total_loss += model.action_head.loss(out, targets, reduction="sum").item()
            correct += int(model.action_head.hits(out, targets).sum())
            count += targets.numel()
    model.train(was_training)
    return {"val_loss": total_loss / count, "val_accuracy": correct / count}


@dataclass
class _Run:
    """The mutable state of one training run: everything a checkpoint must restore."""

    model: ADModel
    optimizer: torch.optim.Optimizer
    rng: np.random.Generator
    log: list[dict[str, float]]
    scaler: torch.amp.GradScaler  # float16 loss scaling; a pass-through unless amp is fp16

    @property
    def next_step(self) -> int:
        return len(self.log)


def _fresh_run(model_config: ModelConfig, config: TrainConfig, device: torch.device) -> _Run:
    torch.manual_seed(config.seed)
    model = build_model(model_config).to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.initial_lr, betas=config.betas, weight_decay=config.weight_decay
    )
    scaler = torch.amp.GradScaler(device.type, enabled=resolve_amp(config.amp, device) == torch.float16)
    return _Run(model, optimizer, np.random.default_rng(config.seed), [], scaler)


#: Settings that never change the weights (where to train, how often to save, validate or probe):
#: a run may resume with other values of them.
WEIGHT_NEUTRAL_SETTINGS = frozenset(
    {"device", "deterministic", "checkpoint_every", "keep_checkpoints", "eval_every", "val_windows", "in_context_every"}
)


def _resumed_run(
    folder: Path, model_config: ModelConfig, config: TrainConfig, device: torch.device, data_fingerprint: str
) -> _Run:
    """Restore a checkpoint; refuses one made with other settings or data, which could not continue exactly."""
    ckpt = load_checkpoint(folder)
    if ckpt.data_fingerprint is not None and ckpt.data_fingerprint != data_fingerprint:
        raise ValueError(f"checkpoint {folder} was trained on other histories; cannot resume on these")
    # Through TrainConfig, so that settings added since the checkpoint was written count as their defaults.
    saved = TrainConfig(**ckpt.train_config).to_dict()
    wanted = config.to_dict()
    differ = sorted(k for k in wanted if k not in WEIGHT_NEUTRAL_SETTINGS and saved.get(k) != wanted[k])
    saved_model = ModelConfig.from_dict(ckpt.model_config).to_dict()
    differ += [f"model.{k}" for k, v in model_config.to_dict().items() if saved_model.get(k) != v]
    if differ:
        raise ValueError(f"checkpoint {folder} was made with other settings ({', '.join(differ)}); cannot resume")
    run = _fresh_run(model_config, config, device)
    try:  # tensors of another shape or name than the settings describe: a tampered checkpoint
        run.model.load_state_dict(ckpt.model_state)
        run.optimizer.load_state_dict(ckpt.optimizer_state)
    except (RuntimeError, ValueError, KeyError) as err:
        raise ValueError(f"checkpoint {folder}: its weights do not fit the model it describes: {err}") from None
    run.rng.bit_generator.state = ckpt.rng_state
    if run.scaler.is_enabled():
        run.scaler.load_state_dict(ckpt.scaler_state)
    set_torch_rng_state(ckpt.torch_rng)
    run.log = ckpt.log
    return run


def _shard(batch: dict[str, np.ndarray], rank: int, world: int) -> dict[str, np.ndarray]:
    """This rank's contiguous, equal share of a global batch (the whole batch when ``world == 1``)."""
    size = len(batch["actions"]) // world
    return {k: v[rank * size : (rank + 1) * size] for k, v in batch.items()}


def _global_mean(values: torch.Tensor, world: int) -> list[float]:
    """Per-rank means averaged over ranks: the global batch's means, as the slices are equal."""
    if world > 1:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values = values / world
    return values.tolist()


def _train_step(
    run: _Run,
    net: torch.nn.Module,
    data: FlatHistories | LazyHistories,
    model_config: ModelConfig,
    config: TrainConfig,
    device: torch.device,
    amp: torch.dtype | None,
) -> dict[str, float]:
    """One optimiser step; ``net`` is ``run.model`` or its DistributedDataParallel / compiled wrapper.

    Only the forward runs under autocast (``amp``); the loss is taken in float32 from the head's outputs,
    and gradients are unscaled before clipping so that ``grad_clip`` means the same in every mode.
    """
    step, tick = run.next_step, time.perf_counter()
    rank, world = process_group()
    lr = learning_rate(step, config)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    # Every rank draws the global batch and its masks, so the rng stream is the single-process one.
    batch = data.sample_windows(run.rng, config.batch_size, model_config.context_len)
    batch = _shard(mask_inputs(batch, run.rng, config.mask_prob, model_config.action_coding.null), rank, world)
    targets = torch.as_tensor(batch["actions"], dtype=torch.long, device=device)
    with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
        out = net(**batch_to_tensors(batch, device))
    out = out.float()
    loss = run.model.action_head.loss(out, targets, label_smoothing=config.label_smoothing)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.unscale_(run.optimizer)
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), config.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    accuracy = run.model.action_head.hits(out, targets).float().mean()
    mean_loss, mean_accuracy = _global_mean(torch.stack([loss.detach(), accuracy]), world)
    elapsed = time.perf_counter() - tick
    return {
        "step": step + 1,
        "loss": mean_loss,
        "accuracy": mean_accuracy,
        "lr": lr,
        "tokens_per_s": world * targets.numel() / max(elapsed, 1e-9),
    }


def _data_parallel(model: ADModel, config: TrainConfig) -> torch.nn.Module:
    """The model wrapped for DistributedDataParallel inside a process group, else the model itself."""
    _, world = process_group()
    if world == 1:
        return model
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} must divide evenly among {world} processes")
    return DistributedDataParallel(model)


def _due(step: int, every: int, last: int) -> bool:
    return step == last or (every > 0 and step % every == 0)


def _in_context(model: ADModel, in_context_eval: Callable[[ADModel], dict[str, float]]) -> dict:
    model.eval()
    try:
        return {key: float(value) for key, value in in_context_eval(model).items()}
    finally:
        model.train()


def _summary_writer(log_dir: str | Path | None) -> Any:
    """A TensorBoard writer, or ``None`` without ``log_dir``; tensorboard is imported only when asked for."""
    if log_dir is None:
        return None
    from torch.utils.tensorboard import SummaryWriter  # needs the optional `tensorboard` package

    return SummaryWriter(str(log_dir))


def train(
    data: FlatHistories | LazyHistories,
    model_config: ModelConfig,
    config: TrainConfig,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    *,
    val_data: FlatHistories | LazyHistories | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    log_dir: str | Path | None = None,
    in_context_eval: Callable[[ADModel], dict[str, float]] | None = None,
) -> tuple[ADModel, list[dict[str, float]]]:
    """Train a model on ``data``; returns it (in eval mode) and a per-step log.

    ``in_context_eval(model)`` (e.g. the in-context protocol on held-out tasks) runs every
    ``in_context_every`` steps and after the last, in eval mode; its figures join that step's record.
    It must not draw from torch's global RNG, so that resuming stays exact.

    With ``val_data``, the steps due by ``eval_every`` (and the last) also carry ``val_loss`` /
    ``val_accuracy``. With ``checkpoint_dir``, checkpoints are written every ``checkpoint_every``
    steps and after the last; ``resume`` continues from the latest one there, exactly as if
    training had never stopped (the log's ``seconds`` and ``tokens_per_s`` are wall-clock). With
    ``log_dir``, the records also go to TensorBoard.

    Inside a ``torch.distributed`` process group the model trains data-parallel (``batch_size``
    is the global batch); losses and accuracies in the log are global means, and only rank 0
    validates, writes checkpoints and TensorBoard, and reports to ``on_progress``.
    """
    if resume and checkpoint_dir is None:
        raise ValueError("resume needs the checkpoint folder (checkpoint_dir / --checkpoint-dir) to resume from")
    check_fits(model_config, config)
    device = check_device(config.device)
    data_fingerprint = fingerprint(data)
    found = latest_checkpoint(checkpoint_dir) if resume and checkpoint_dir is not None else None
    run = (
        _resumed_run(found, model_config, config, device, data_fingerprint)
        if found
        else _fresh_run(model_config, config, device)
    )
    main = process_group()[0] == 0
    val = validation_windows(val_data, config.val_windows, model_config.context_len) if val_data and main else None
    writer = _summary_writer(log_dir) if main else None
    amp = resolve_amp(config.amp, device)
    net = _data_parallel(run.model, config)
    if config.compile:  # the training step only: validation and probes vary shapes and would recompile
        net = cast(torch.nn.Module, torch.compile(net))  # a compiled module is an OptimizedModule, a module
    with deterministic_kernels(device, config.deterministic):
        start = time.perf_counter() - (run.log[-1]["seconds"] if run.log else 0.0)
        run.model.train()
        while run.next_step < config.steps:
            record = _train_step(run, net, data, model_config, config, device, amp)
            step = int(record["step"])  # an int, in a record of floats
            if val is not None and _due(step, config.eval_every, config.steps):
                record.update(validation_scores(run.model, val, config.batch_size, device))
            probing = main and config.in_context_every > 0
            if probing and in_context_eval is not None and _due(step, config.in_context_every, config.steps):
                record.update(_in_context(run.model, in_context_eval))
            record["seconds"] = time.perf_counter() - start
            run.log.append(record)
            if writer is not None:
                for key, value in record.items():
                    if key != "step":
                        writer.add_scalar(f"train/{key}", value, step)
            if main and checkpoint_dir is not None and _due(step, config.checkpoint_every, config.steps):
                save_checkpoint(
                    checkpoint_dir,
                    step,
                    run.model,
                    run.optimizer,
                    run.rng,
                    config.to_dict(),
                    model_config.to_dict(),
                    run.log,
                    run.scaler.state_dict(),
                    data_fingerprint,
                )
                prune_checkpoints(checkpoint_dir, config.keep_checkpoints)
            if main and on_progress:
                on_progress(record)
    if writer is not None:
        writer.close()
    run.model.eval()
    return run.model, run.log
