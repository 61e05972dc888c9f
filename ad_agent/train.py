"""Distillation: train the transformer to predict the source learner's next action.

Windows of ``context_len`` consecutive steps are drawn uniformly from the learning histories
(never crossing from one stream into another) and every position's action is a target, so one
window teaches the model at all context sizes from 1 to ``context_len`` (Algorithm 1, part 2).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ad_agent.histories import FlatHistories
from ad_agent.model import ADTransformer, ModelConfig


@dataclass
class TrainConfig:
    """Optimisation settings (paper Table 2 where it fits a 2-core budget)."""

    steps: int = 3000
    batch_size: int = 64
    peak_lr: float = 1e-3
    initial_lr: float = 2e-6
    warmup_steps: int = 200
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    label_smoothing: float = 0.0
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")


def resolve_device(device: str) -> torch.device:
    """``"auto"`` means CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up from ``initial_lr`` to ``peak_lr``, then cosine decay back to ``initial_lr``."""
    if step < config.warmup_steps:
        return config.initial_lr + (config.peak_lr - config.initial_lr) * step / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.initial_lr + 0.5 * (config.peak_lr - config.initial_lr) * (1 + math.cos(math.pi * progress))


def batch_to_tensors(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    """Model inputs from a batch of windows; a Discrete observation (one int per step) gets the
    trailing component axis that (Multi)Discrete ones have, ``(B, T) -> (B, T, 1)``."""
    observations = batch["observations"]
    if observations.ndim == 2:
        observations = observations[..., None]
    return {
        "observations": torch.as_tensor(observations, dtype=torch.long, device=device),
        "prev_actions": torch.as_tensor(batch["prev_actions"], dtype=torch.long, device=device),
        "prev_rewards": torch.as_tensor(batch["prev_rewards"], dtype=torch.float32, device=device),
        "episode_starts": torch.as_tensor(batch["episode_starts"], dtype=torch.bool, device=device),
    }


def train(
    data: FlatHistories,
    model_config: ModelConfig,
    config: TrainConfig,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[ADTransformer, list[dict[str, float]]]:
    """Train a fresh model on ``data``; returns it (in eval mode) and a per-step log."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = resolve_device(config.device)
    model = ADTransformer(model_config).to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.initial_lr, betas=config.betas, weight_decay=config.weight_decay
    )
    log: list[dict[str, float]] = []
    model.train()
    start = time.perf_counter()
    for step in range(config.steps):
        lr = learning_rate(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = data.sample_windows(rng, config.batch_size, model_config.context_len)
        targets = torch.as_tensor(batch["actions"], dtype=torch.long, device=device)
        logits = model(**batch_to_tensors(batch, device))
        loss = F.cross_entropy(
            logits.reshape(-1, model_config.n_actions), targets.reshape(-1), label_smoothing=config.label_smoothing
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        accuracy = (logits.argmax(-1) == targets).float().mean().item()
        record = {
            "step": step + 1,
            "loss": loss.item(),
            "accuracy": accuracy,
            "lr": lr,
            "seconds": time.perf_counter() - start,
        }
        log.append(record)
        if on_progress:
            on_progress(record)
    model.eval()
    return model, log
