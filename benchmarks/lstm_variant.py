"""Cost of the LSTM variant (paper App. K) against the fast transformer, in the same process.

- Training tokens/s of the ``lstm`` and ``fast`` presets on the same synthetic Dark Room
  histories (see :mod:`benchmarks.train_throughput`), rounds alternating between presets.
- Per-step ``act`` latency at batch 1 and at batch 256 (as :func:`ad_agent.evaluate` runs it),
  with the context already holding ``context_len`` steps: one cached step for the transformer,
  one carried-state step for the LSTM. For the LSTM also the deployment it does not use:
  re-reading the last ``context_len`` steps from a zero state every step.

Models are untrained: speed does not depend on the weights. One torch thread by default: on a
shared CPU, threads that wait on each other make both figures noisier than the ratio between them.

    python -m benchmarks.lstm_variant --seed 0
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ad_agent.deployment.policy import InContextPolicy, PolicySpec
from ad_agent.histories import FlatHistories
from ad_agent.model import ModelConfig, build_model
from ad_agent.presets import TRAIN_PRESETS, model_config_for
from benchmarks.common import write_result
from benchmarks.policy_latency import seconds_per_call
from benchmarks.train_throughput import synthetic_histories, timed_training

PRESETS = ("fast", "lstm")
CONTEXT_LEN = 200


def preset_config(preset: str) -> ModelConfig:
    """The Dark Room model of ``preset``, windows of ``CONTEXT_LEN`` steps for both."""
    return model_config_for("DarkRoom-v0", **{**TRAIN_PRESETS[preset].model.choices(), "context_len": CONTEXT_LEN})


def tokens_per_second(preset: str, data: FlatHistories, steps: int, seed: int) -> float:
    """Training tokens (window steps) per second over ``steps`` steps, after one untimed step."""
    train_config = TRAIN_PRESETS[preset].train
    _, seconds = timed_training(data, preset_config(preset), train_config, steps, seed)
    return train_config.batch_size * CONTEXT_LEN * steps / sum(seconds[1:])


def preset_policy(preset: str, seed: int) -> InContextPolicy:
    torch.manual_seed(seed)
    config = preset_config(preset)
    return InContextPolicy(build_model(config), PolicySpec(config, "DarkRoom-v0", 20), device="cpu")


def act_latency(preset: str, batch: int, seed: int, calls: int) -> dict[str, float]:
    """Seconds per ``act`` at ``batch`` after priming ``CONTEXT_LEN`` steps, and per full re-read of them.

    Large batches get a tenth of the calls: one batched call does the work of many.
    """
    calls = calls if batch == 1 else max(1, calls // 10)
    policy = preset_policy(preset, seed)
    rng = np.random.default_rng(seed)
    obs, actions = rng.integers(0, 9, size=(CONTEXT_LEN, 2)), rng.integers(0, 5, size=CONTEXT_LEN)
    rewards = (rng.random(CONTEXT_LEN) < 0.2).astype(float)
    policy.reset(batch_size=batch, seed=seed)
    policy.prime(obs, actions, rewards)
    step_obs = np.broadcast_to(obs[0], (batch, 2))
    act = seconds_per_call(lambda: policy.act(step_obs, np.zeros(batch)), calls)
    window = {
        "observations": torch.as_tensor(obs)[None].expand(batch, -1, -1),
        "prev_actions": torch.as_tensor(actions)[None].expand(batch, -1),
        "prev_rewards": torch.as_tensor(rewards, dtype=torch.float32)[None].expand(batch, -1),
        "episode_starts": torch.zeros(batch, CONTEXT_LEN, dtype=torch.bool),
    }

    def reread() -> torch.Tensor:
        with torch.inference_mode():
            return policy.model(**window)[:, -1]

    return {"act_s": act, "reread_context_s": seconds_per_call(reread, max(1, calls // 10))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="timed training steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200, help="timed act calls per round")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared CPU)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = synthetic_histories(args.seed)
    rounds: dict[str, list[float]] = {preset: [] for preset in PRESETS}
    for _ in range(args.rounds):
        for preset in PRESETS:
            rounds[preset].append(tokens_per_second(preset, data, args.steps, args.seed))
    tokens = {preset: float(np.median(values)) for preset, values in rounds.items()}
    latency = {preset: {str(b): act_latency(preset, b, args.seed, args.calls) for b in (1, 256)} for preset in PRESETS}
    parameters = {preset: sum(p.numel() for p in preset_policy(preset, 0).model.parameters()) for preset in PRESETS}
    for preset in PRESETS:
        one, many = latency[preset]["1"], latency[preset]["256"]
        print(
            f"{preset:5s} {parameters[preset]:>8,d} params  train {tokens[preset]:>9,.0f} tokens/s  "
            f"act {one['act_s'] * 1e3:6.3f} ms (batch 1)  {many['act_s'] * 1e3:7.3f} ms (batch 256)  "
            f"re-read {CONTEXT_LEN} steps {one['reread_context_s'] * 1e3:7.3f} ms (batch 1)"
        )
    print(f"training tokens/s lstm / fast: x{tokens['lstm'] / tokens['fast']:.2f}")
    figures = {
        "seed": args.seed,
        "torch_threads": args.threads,
        "context_len": CONTEXT_LEN,
        "steps_per_round": args.steps,
        "model_parameters": parameters,
        "train_tokens_per_s": tokens,
        "train_all_rounds": rounds,
        "train_speed_lstm_vs_fast": tokens["lstm"] / tokens["fast"],
        "act_latency_s": latency,
    }
    print(f"wrote {write_result('lstm_variant', figures)}")


if __name__ == "__main__":
    main()
