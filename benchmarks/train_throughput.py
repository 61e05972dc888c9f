"""Training throughput (tokens/s) of the ``fast`` and ``paper`` presets, in the same process.

Each preset trains a fresh Dark Room model with :func:`ad_agent.train.train` on the same synthetic
histories (throughput does not depend on what the data says) for a few steps after a warm-up;
rounds alternate between presets so both see the same machine state. A token is one step of one
window (one token per step), so tokens/s = batch_size x context_len x steps / s.

    python -m benchmarks.train_throughput --steps 8 --rounds 3 --seed 0
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from ad_agent.histories import FlatHistories, Streams
from ad_agent.presets import model_config_for
from ad_agent.train import TRAIN_PRESETS, train
from benchmarks.common import write_result


def synthetic_histories(seed: int, n_streams: int = 64, n_steps: int = 1000) -> FlatHistories:
    rng = np.random.default_rng(seed)
    streams = Streams(
        observations=rng.integers(0, 9, size=(n_streams, n_steps, 2)),
        actions=rng.integers(0, 5, size=(n_streams, n_steps)),
        rewards=(rng.random((n_streams, n_steps)) < 0.1).astype(np.float32),
        episode_starts=np.broadcast_to(np.arange(n_steps) % 20 == 0, (n_streams, n_steps)).copy(),
    )
    return FlatHistories.from_streams([streams], n_actions=5, metadata=[{}])


def tokens_per_second(preset: str, data: FlatHistories, steps: int, seed: int) -> float:
    """Tokens/s over ``steps`` training steps, after one untimed step (allocations, kernel choice)."""
    chosen = TRAIN_PRESETS[preset]
    model_config = model_config_for("DarkRoom-v0", **{"context_len": 200, **chosen.model})
    config = dataclasses.replace(chosen.train, steps=steps + 1, seed=seed, device="cpu", warmup_steps=1)
    _, log = train(data, model_config, config)
    seconds = log[-1]["seconds"] - log[0]["seconds"]
    return config.batch_size * model_config.context_len * steps / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = synthetic_histories(args.seed)
    measured: dict[str, list[float]] = {"fast": [], "paper": []}
    for _ in range(args.rounds):
        for preset in measured:
            measured[preset].append(tokens_per_second(preset, data, args.steps, args.seed))
    medians = {preset: float(np.median(values)) for preset, values in measured.items()}
    for preset, value in medians.items():
        print(f"{preset:6s} {value:>10,.0f} tokens/s (median of {args.rounds})")
    print(f"fast / paper: x{medians['fast'] / medians['paper']:.1f}")
    figures = {
        "seed": args.seed,
        "steps_per_round": args.steps,
        "tokens_per_s": medians,
        "all_rounds": measured,
        "speedup_fast_vs_paper": medians["fast"] / medians["paper"],
    }
    print(f"wrote {write_result('train_throughput', figures)}")


if __name__ == "__main__":
    main()
