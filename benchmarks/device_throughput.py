"""Batched source learners and AD training on each device this machine has: one CPU thread, and CUDA.

The same code runs on both (``device="auto"`` picks CUDA when present); this measures what the GPU
buys at each stage, as ratios against one CPU thread in the same process, and checks that a fixed
seed still gives the same data and the same model on the GPU.

- **Batched learners** (:func:`~ad_agent.sources.batched.run_batched`): the env's PPO preset, its
  learners cut to ``--rollouts`` rollouts each (the full run's rate is the same per rollout: every
  rollout does the same work), one untimed rollout first. Env steps per second, and the source runs
  per hour that rate means for the preset's full budget. The envs are numpy on the CPU on both
  devices; only the networks and their updates move.
- **Full batch** (``--stages full``): one batch of ``--full-learners`` at the preset's whole budget on
  the best device, with the share of its runs that end at >= 90% of their task's optimum.
- **AD training** (:func:`~ad_agent.training.loop.train`): the env's preset model and batch, and the
  paper's Tables 1-2 shape, on synthetic histories (speed does not depend on what they say), after
  one untimed step; history steps per second. On CUDA ``amp="auto"`` trains in bfloat16.
- **Reproducible**: the first configuration of each stage runs twice with one seed on each device;
  the record says whether the two runs gave identical histories / weights.

    python -m benchmarks.device_throughput --seed 0
    python -m benchmarks.device_throughput --seed 0 --stages full --full-learners 512

Measuring some stages keeps the record's others, each with its own arguments, date and load.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from typing import Any

import numpy as np
import torch

from ad_agent.presets import PRESETS, TRAIN_PRESETS, model_config_for, source_preset
from ad_agent.sources.batched import BatchedSourceConfig, run_batched
from benchmarks.batched_sources import batch_tasks, batch_throughput
from benchmarks.common import RESULTS_DIR, write_result
from benchmarks.train_throughput import WINDOW, synthetic_histories, timed_training

SOURCE_ENVS = ("DarkKeyToDoor-v0", "DarkRoomHard-v0")
TRAIN_SHAPES = ("DarkRoom-v0", "paper")
STAGES = ("sources", "full", "training")  # "full": one batch at the preset's whole budget, on the best device


def devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def _cut(env_id: str, learners: int, rollouts: int) -> tuple[BatchedSourceConfig, int]:
    """The env's batched PPO learners cut to ``rollouts`` rollouts, and a full run's env steps."""
    full = BatchedSourceConfig.like(source_preset(env_id, "PPO"), learners_per_batch=learners)
    per_rollout = full.n_envs * full.settings().n_steps
    cut = dataclasses.replace(full, total_timesteps=rollouts * per_rollout)
    return cut, full.iterations * per_rollout


def _histories(env_id: str, learners: int, rollouts: int, device: str, seed: int) -> tuple[list, float]:
    config, _ = _cut(env_id, learners, rollouts)
    tasks = batch_tasks(env_id, learners)
    start = time.perf_counter()
    captures = list(run_batched(config, env_id, tasks, [seed + i for i in range(learners)], device))
    return captures, time.perf_counter() - start  # the captures are numpy: the device's work is done


def source_rate(env_id: str, learners: int, rollouts: int, device: str, seed: int) -> dict[str, Any]:
    """Env steps per second of one batch of ``learners`` cut to ``rollouts`` rollouts (after one untimed)."""
    _histories(env_id, learners, 1, device, seed)  # warm-up: CUDA context, allocator, env tables
    captures, seconds = _histories(env_id, learners, rollouts, device, seed)
    steps = sum(c.streams.n_actors * c.streams.n_steps for c in captures)
    _, full_steps = _cut(env_id, learners, rollouts)
    rate = steps / seconds
    return {
        "learners": learners,
        "seconds": seconds,
        "env_steps_per_s": rate,
        "runs_per_hour": rate * 3600 / full_steps,
    }


def full_batch(env_id: str, learners: int, device: str, seed: int) -> dict[str, Any]:
    """:func:`~benchmarks.batched_sources.batch_throughput` on ``device`` after a small untimed batch:
    one batch at the preset's full budget, its rate and the share of its runs solved."""
    _histories(env_id, 8, 1, device, seed)  # warm-up: CUDA context, allocator, env tables
    batch = batch_throughput(env_id, "PPO", learners, seed, device)
    print(
        f"{env_id} {device} full batch of {learners}: {batch['seconds']:.0f} s, "
        f"{batch['env_steps_per_second']:,.0f} env steps/s, solved {batch['solved_fraction']:.1%}"
    )
    return {**batch, "device": device, "runs_per_hour": 3600 / batch["seconds_per_run"]}


def same_histories(env_id: str, learners: int, device: str, seed: int) -> bool:
    """Whether two runs with one seed record identical streams on ``device``."""
    first, _ = _histories(env_id, learners, 2, device, seed)
    second, _ = _histories(env_id, learners, 2, device, seed)
    return all(
        np.array_equal(a.streams.actions, b.streams.actions) and np.array_equal(a.streams.rewards, b.streams.rewards)
        for a, b in zip(first, second, strict=True)
    )


def _train(
    shape: str, device: str, steps: int, seed: int, deterministic: bool = True
) -> tuple[torch.nn.Module, list[float], int]:
    if shape in PRESETS:
        preset = PRESETS[shape]
        model_shape, config = preset.model.updated({"context_len": WINDOW}), preset.train
    else:
        model_shape = TRAIN_PRESETS[shape].model.updated({"context_len": WINDOW})
        config = TRAIN_PRESETS[shape].train
    model_config = model_config_for("DarkRoom-v0", **model_shape.choices())
    model, seconds = timed_training(
        synthetic_histories(seed),
        model_config,
        config,
        steps,
        seed,
        device=device,
        eval_every=0,
        deterministic=deterministic,
    )
    return model, seconds[1:], config.batch_size * WINDOW


# training variants: (device, deterministic CUDA kernels)
TRAIN_VARIANTS = {"cpu": ("cpu", True), "cuda": ("cuda", True), "cuda_nondeterministic": ("cuda", False)}


def train_rate(shape: str, device: str, deterministic: bool, steps: int, seed: int) -> dict[str, Any]:
    _, seconds, per_step = _train(shape, device, steps, seed, deterministic)
    return {
        "history_steps_per_s": per_step / float(np.median(seconds)),
        "median_step_seconds": float(np.median(seconds)),
    }


def same_model(shape: str, device: str, deterministic: bool, seed: int) -> bool:
    """Whether two trainings with one seed end with identical weights on ``device``."""
    first, _, _ = _train(shape, device, 3, seed, deterministic)
    second, _, _ = _train(shape, device, 3, seed, deterministic)
    return all(
        torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )


def measure_sources(found: list[str], learners: list[int], rollouts: int, seed: int) -> dict[str, Any]:
    sources: dict[str, Any] = {}
    for env_id in SOURCE_ENVS:
        rates = {
            d: [source_rate(env_id, n, rollouts, d, seed) for n in learners[: 1 if d == "cpu" else None]] for d in found
        }
        for device, entries in rates.items():
            for entry in entries:
                entry["x_one_cpu_thread"] = entry["env_steps_per_s"] / rates["cpu"][0]["env_steps_per_s"]
                print(
                    f"{env_id} {device} {entry['learners']:5d} learners: {entry['env_steps_per_s']:>10,.0f} env "
                    f"steps/s, {entry['runs_per_hour']:>8,.0f} runs/h  x{entry['x_one_cpu_thread']:.1f}",
                    flush=True,
                )
        sources[env_id] = {"rollouts": rollouts, **rates}
    sources["same_histories"] = {d: same_histories(SOURCE_ENVS[0], 8, d, seed) for d in found}
    print(f"same seed, same histories: {sources['same_histories']}")
    return sources


def measure_training(found: list[str], steps: int, seed: int) -> dict[str, Any]:
    variants = {name: v for name, v in TRAIN_VARIANTS.items() if v[0] in found}
    training: dict[str, Any] = {"timed_steps": steps}
    for shape in TRAIN_SHAPES:
        rates = {name: train_rate(shape, device, det, steps, seed) for name, (device, det) in variants.items()}
        for name, entry in rates.items():
            entry["x_one_cpu_thread"] = entry["history_steps_per_s"] / rates["cpu"]["history_steps_per_s"]
            print(
                f"train {shape} {name}: {entry['history_steps_per_s']:>10,.0f} history steps/s "
                f"x{entry['x_one_cpu_thread']:.1f}",
                flush=True,
            )
        training[shape] = rates
    training["same_model"] = {name: same_model(TRAIN_SHAPES[0], d, det, seed) for name, (d, det) in variants.items()}
    print(f"same seed, same model: {training['same_model']}")
    return training


def _when() -> dict[str, Any]:
    """A stage's own date and load (measuring one stage keeps the record's other)."""
    when = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_average_1min": os.getloadavg()[0]}
    return {"arguments": " ".join(sys.argv[1:]), **when}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, nargs="+", default=[128, 1024], help="batch sizes; CPU times the first")
    parser.add_argument("--rollouts", type=int, default=2, help="timed rollouts per learner")
    parser.add_argument("--train-steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=["sources", "training"])
    parser.add_argument(
        "--full-learners", type=int, default=1024, help="learners in the full-budget batch (stage full)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    found = devices()
    record: dict[str, Any] = {"seed": args.seed, "devices": found}
    record["gpu"] = torch.cuda.get_device_name() if "cuda" in found else None
    name = "device_throughput" if "cuda" in found else "device_throughput_cpu"
    path = RESULTS_DIR / f"{name}.json"
    kept = json.loads(path.read_text()) if path.exists() else {}
    if "sources" in args.stages:
        record["batched_sources"] = {**measure_sources(found, args.learners, args.rollouts, args.seed), **_when()}
    if "full" in args.stages:
        runs = {env_id: full_batch(env_id, args.full_learners, found[-1], args.seed) for env_id in SOURCE_ENVS}
        record["full_batch"] = {**runs, **_when()}
    if "training" in args.stages:
        record["training"] = {**measure_training(found, args.train_steps, args.seed), **_when()}
    print(f"wrote {write_result(name, {**kept, **record})}")


if __name__ == "__main__":
    main()
