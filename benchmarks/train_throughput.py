"""Training throughput (tokens/s): today's training step against the first implementation, in one process.

Every variant trains a fresh Dark Room model with its ``train()`` on the same synthetic histories
(throughput does not depend on what the data says) for a few steps after one untimed step; rounds
alternate between variants so that all see the same machine state (the CPU is shared). Speed is
in history steps per second (batch_size x 200 steps per window / s), which is tokens/s for the
one-token-per-step layout.

Variants:

- ``first``: the first implementation, commit 1720399 ("model + train: one-token-per-step causal
  transformer and its distillation loop"), its model and training loop read from git history
  into a throw-away package at run time, untouched. Its defaults are the ``fast`` shape (context
  200, 4 layers of width 64, 4 heads, feed-forward 256, dropout 0.1, batch 64), so it is the
  plain baseline of the same model and batch.
- ``fast``: the ``fast`` preset as it trains by default here (``amp="auto"``: off on CPU).
- ``fast_bf16`` / ``fast_compile``: the same with bfloat16 autocast / ``torch.compile``; the
  compile variant's first step (compilation) is reported apart from its steady steps. Compile
  time depends on torch's on-disk inductor cache: a cold cache costs several times a warm one.
- ``paper``: the paper preset (Tables 1-2 shapes), for scale.
- ``fast_2_layers``: the fast preset at half its depth: what halving the model buys, for scale.
- ``fast_attn_dropout``: the fast preset with attention dropout 0.1, which sends PyTorch's
  ``scaled_dot_product_attention`` to its unfused path: why the presets keep it at 0.
- ``fast_3x_tokens`` (``--layout``): the fast model over 3x longer windows of the same steps, the
  sequence length of the paper's separate (o, a, r) tokens; reported per history step.

    python -m benchmarks.train_throughput --steps 5 --rounds 6 --layout --seed 0
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from ad_agent.histories import FlatHistories, LazyHistories, Streams
from ad_agent.model import ModelConfig
from ad_agent.presets import TRAIN_PRESETS, model_config_for
from ad_agent.training.loop import TrainConfig, train
from benchmarks.common import write_result

FIRST_COMMIT = "1720399"
FIRST_FILES = ("ad_agent/model/__init__.py", "ad_agent/model/config.py", "ad_agent/model/transformer.py")
FIRST_FILES += ("ad_agent/train.py",)
REPO = Path(__file__).resolve().parents[1]
WINDOW = 200  # history steps per training window, as in the fast preset


def synthetic_histories(seed: int, n_streams: int = 64, n_steps: int = 1000) -> FlatHistories:
    rng = np.random.default_rng(seed)
    streams = Streams(
        observations=rng.integers(0, 9, size=(n_streams, n_steps, 2)),
        actions=rng.integers(0, 5, size=(n_streams, n_steps)),
        rewards=(rng.random((n_streams, n_steps)) < 0.1).astype(np.float32),
        episode_starts=np.broadcast_to(np.arange(n_steps) % 20 == 0, (n_streams, n_steps)).copy(),
    )
    return FlatHistories.from_streams([streams], n_actions=5, metadata=[{}])


def first_implementation(package: str = "ad_first") -> ModuleType:
    """The first implementation's ``train`` module, from git history, importable beside today's code.

    Its files are copied as they were into a temporary package; the only change is the package
    name in their own imports (``ad_agent.model`` -> ``<package>.model``), so that today's model
    cannot stand in for the old one. The histories module is today's: sampling is the same call.
    """
    root = Path(tempfile.mkdtemp(prefix="ad_first_"))
    for path in FIRST_FILES:
        text = subprocess.run(
            ["git", "show", f"{FIRST_COMMIT}:{path}"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
        target = root / package / Path(path).relative_to("ad_agent")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("ad_agent.model", f"{package}.model"))
    (root / package / "__init__.py").write_text("")
    sys.path.insert(0, str(root))
    return importlib.import_module(f"{package}.train")


def step_seconds(log: list[dict[str, float]]) -> list[float]:
    """Wall time of each logged step, from the cumulative ``seconds`` of the log."""
    seconds = [record["seconds"] for record in log]
    return [seconds[0], *np.diff(seconds).tolist()]


def timed_training(
    data: FlatHistories | LazyHistories,
    model_config: ModelConfig,
    config: TrainConfig,
    steps: int,
    seed: int,
    **overrides: Any,
) -> tuple[torch.nn.Module, list[float]]:
    """Train ``steps`` timed steps after one warm-up step; return the model and every step's seconds.

    The first entry is the warm-up step, which also builds the model (and compiles it, if asked):
    callers timing steady steps drop it. The learning rate is at its peak from the first step
    (``warmup_steps=1``) so that a few timed steps are valid schedules on any preset.
    """
    config = dataclasses.replace(config, steps=steps + 1, seed=seed, warmup_steps=1, **{"device": "cpu", **overrides})
    model, log = train(data, model_config, config)
    return model, step_seconds(log)


# (data, timed steps, seed) -> (seconds of each step, history steps per training step)
Variant = Callable[[FlatHistories, int, int], tuple[list[float], int]]


def _today(preset: str, tokens_per_step: int = 1, model: dict | None = None, **train_options) -> Variant:
    chosen = TRAIN_PRESETS[preset]
    shape = chosen.model.updated({**(model or {}), "context_len": WINDOW * tokens_per_step})

    def run(data: FlatHistories, steps: int, seed: int) -> tuple[list[float], int]:
        model_config = model_config_for("DarkRoom-v0", **shape.choices())
        _, seconds = timed_training(data, model_config, chosen.train, steps, seed, **train_options)
        return seconds, chosen.train.batch_size * WINDOW

    return run


def _first(module: ModuleType) -> Variant:
    def run(data: FlatHistories, steps: int, seed: int) -> tuple[list[float], int]:
        model_config = module.ModelConfig(obs_nvec=(9, 9), n_actions=5)
        config = module.TrainConfig(steps=steps + 1, seed=seed, device="cpu", warmup_steps=1)
        _, log = module.train(data, model_config, config)
        return step_seconds(log), config.batch_size * model_config.context_len

    return run


@dataclasses.dataclass
class Rounds:
    """What :func:`alternate_rounds` measured: per variant, the median of its timed steps, each warm-up
    step and its history steps per training step; and the load average after each variant trained."""

    median: dict[str, float]
    first_step: dict[str, list[float]]
    steps_per_window: dict[str, int]
    loads: list[float]


def alternate_rounds(chosen: dict[str, Variant], data: FlatHistories, steps: int, seed: int, rounds: int) -> Rounds:
    """Train every variant ``steps`` timed steps in each of ``rounds`` rounds, alternating within a round
    so that all see the same machine state (the CPU is shared)."""
    steady: dict[str, list[float]] = {name: [] for name in chosen}  # seconds per step, all rounds
    first_step: dict[str, list[float]] = {name: [] for name in chosen}
    steps_per_window: dict[str, int] = {}
    loads = []
    for _ in range(rounds):
        for name, run in chosen.items():
            seconds, steps_per_window[name] = run(data, steps, seed)
            first_step[name].append(seconds[0])
            steady[name] += seconds[1:]
            loads.append(os.getloadavg()[0])  # say how busy the shared CPU was
    median = {name: float(np.median(values)) for name, values in steady.items()}
    return Rounds(median, first_step, steps_per_window, loads)


def variants(layout: bool) -> dict[str, Variant]:
    chosen = {
        "first": _first(first_implementation()),
        "fast": _today("fast"),
        "fast_bf16": _today("fast", amp="bf16"),
        "fast_compile": _today("fast", compile=True),
        "paper": _today("paper"),
        "fast_2_layers": _today("fast", model={"n_layers": 2}),
        "fast_attn_dropout": _today("fast", model={"attn_dropout": 0.1}),
    }
    if layout:
        chosen["fast_3x_tokens"] = _today("fast", tokens_per_step=3)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--layout", action="store_true", help="also time 3x longer windows (separate-token layout)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = synthetic_histories(args.seed)
    chosen = variants(args.layout)
    timed = alternate_rounds(chosen, data, args.steps, args.seed, args.rounds)
    median, first_step, steps_per_window, loads = timed.median, timed.first_step, timed.steps_per_window, timed.loads
    steps_per_s = {name: steps_per_window[name] / median[name] for name in chosen}
    speedup = {name: steps_per_s[name] / steps_per_s["first"] for name in chosen}
    for name in chosen:
        print(f"{name:15s} {steps_per_s[name]:>9,.0f} history steps/s  x{speedup[name]:.2f} vs first")
    compile_s = first_step["fast_compile"][0] - median["fast_compile"]
    print(f"torch.compile: first step {first_step['fast_compile'][0]:.1f} s, of which ~{compile_s:.1f} s compiling")
    figures = {
        "seed": args.seed,
        "threads": args.threads,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "first_commit": FIRST_COMMIT,
        "history_steps_per_s": steps_per_s,
        "speedup_vs_first": speedup,
        "median_step_seconds": median,
        "first_step_seconds": first_step,
        "compile_seconds": compile_s,
        "load_average_1min": {"min": min(loads), "max": max(loads)},
    }
    print(f"wrote {write_result('train_throughput', figures)}")


if __name__ == "__main__":
    main()
