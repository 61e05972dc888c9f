"""Cost of the pixel maze's image encoder in a training step of its preset: the paper's conv width
(Table 3: 128 channels) against the preset's 32, and encoding every image of a batch against
encoding each distinct image once (what :class:`ad_agent.model.encoders.ImageEncoder` does).

The windows hold PixelWatermaze-v0 views from a random walk: the maze's views repeat, which the
second comparison depends on. Variants alternate within each round, in one process; the figure is
the median of the timed steps after one warm-up step each time a variant trains.

    python -m benchmarks.image_encoder --steps 2 --rounds 3 --seed 0
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from unittest import mock

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401  (registers the environments)
from ad_agent.histories import FlatHistories, Streams
from ad_agent.model import encoders
from ad_agent.presets import PRESETS, model_config_for
from benchmarks.common import write_result
from benchmarks.train_throughput import Variant, alternate_rounds, timed_training

ENV_ID = "PixelWatermaze-v0"


def random_walk_histories(seed: int, n_streams: int = 4, n_steps: int = 1000) -> FlatHistories:
    """``n_streams`` random-action streams of the maze's views, episodes ending as the env ends them."""
    env = gym.make(ENV_ID)
    rng = np.random.default_rng(seed)
    fields: dict[str, list] = {"observations": [], "actions": [], "rewards": [], "episode_starts": []}
    for stream in range(n_streams):
        obs, _ = env.reset(seed=seed + stream)
        rows: dict[str, list] = {name: [] for name in fields}
        start = True
        for _ in range(n_steps):
            action = int(rng.integers(env.action_space.n))
            rows["observations"].append(obs)
            rows["actions"].append(action)
            rows["episode_starts"].append(start)
            obs, reward, terminated, truncated, _ = env.step(action)
            rows["rewards"].append(reward)
            start = terminated or truncated
            if start:
                obs, _ = env.reset()
        for name in fields:
            fields[name].append(np.asarray(rows[name]))
    env.close()
    streams = Streams(**{name: np.stack(values) for name, values in fields.items()})
    return FlatHistories.from_streams([streams], n_actions=int(env.action_space.n), metadata=[{}])


def _every_image(rows: torch.Tensor) -> None:
    """:func:`encoders.distinct_rows` as when every image differs: the encoder then encodes them all."""
    return None


def variants() -> dict[str, Variant]:
    preset = PRESETS[ENV_ID]
    steps_per_window = preset.train.batch_size * preset.model.value("context_len")

    def run(image_channels: int, every_image: bool = False) -> Variant:
        shape = preset.model.updated({"image_channels": image_channels})

        def timed(data: FlatHistories, steps: int, seed: int) -> tuple[list[float], int]:
            config = model_config_for(ENV_ID, **shape.choices())
            with mock.patch.object(encoders, "distinct_rows", _every_image) if every_image else nullcontext():
                return timed_training(data, config, preset.train, steps, seed)[1], steps_per_window

        return timed

    return {"preset (32 channels)": run(32), "Table 3's 128 channels": run(128), "every image encoded": run(32, True)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = random_walk_histories(args.seed)
    chosen = variants()
    timed = alternate_rounds(chosen, data, args.steps, args.seed, args.rounds)
    median, loads = timed.median, timed.loads
    relative = {name: median[name] / median["preset (32 channels)"] for name in chosen}
    for name in chosen:
        print(f"{name:24s} {median[name]:6.2f} s per step  x{relative[name]:.1f} the preset's")
    figures = {
        "seed": args.seed,
        "threads": args.threads,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "batch": f"{PRESETS[ENV_ID].train.batch_size} windows of {PRESETS[ENV_ID].model.value('context_len')} steps",
        "median_step_seconds": median,
        "relative_to_preset": relative,
        "load_average_1min": {"min": min(loads), "max": max(loads)},
    }
    print(f"wrote {write_result('image_encoder', figures)}")


if __name__ == "__main__":
    main()
