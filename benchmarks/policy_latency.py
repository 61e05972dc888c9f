"""How fast ``InContextPolicy.act`` is: cached decoding against full recomputation, and batched evaluation.

For each context length ``c`` an (untrained: latency does not depend on the weights) model of the
default DarkRoom shape is filled with ``c`` steps, then timed per step at batch 1:

- cached: ``policy.act`` (one new step through the model against the attention cache);
- full recomputation: one forward pass over the whole ``c``-step window, as a policy without a
  cache must do every step;
- reference: Stable-Baselines3 ``PPO.predict`` on the same observation, in the same process.

Then the throughput of :func:`ad_agent.evaluate` over 256 parallel DarkRoom tasks.

    python -m benchmarks.policy_latency --seed 0
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

import envs
from ad_agent import evaluate
from ad_agent.model import ADTransformer, ModelConfig
from ad_agent.policy import InContextPolicy, PolicySpec
from benchmarks.common import write_result

CONTEXTS = (50, 100, 200, 400, 800)


def seconds_per_call(fn: Callable[[], object], calls: int) -> float:
    """Median over 5 rounds of the mean time of ``calls`` calls (after one warm-up call)."""
    fn()
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - start) / calls)
    return float(np.median(rounds))


def darkroom_policy(context_len: int, seed: int) -> InContextPolicy:
    torch.manual_seed(seed)
    config = ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=context_len)
    return InContextPolicy(ADTransformer(config), PolicySpec(config, "DarkRoom-v0", 20), device="cpu")


def act_latency(context_len: int, seed: int, calls: int) -> dict[str, float]:
    """Per-step seconds, cached and full, with the context already holding ``context_len`` steps."""
    policy = darkroom_policy(context_len, seed)
    rng = np.random.default_rng(seed)
    steps = context_len
    obs, actions = rng.integers(0, 9, size=(steps, 2)), rng.integers(0, 5, size=steps)
    rewards = (rng.random(steps) < 0.2).astype(float)
    policy.reset(seed=seed)
    policy.prime(obs, actions, rewards)
    cached = seconds_per_call(lambda: policy.act(obs[0], 0.0), calls)

    window = {
        "observations": torch.as_tensor(obs)[None],
        "prev_actions": torch.as_tensor(actions)[None],
        "prev_rewards": torch.as_tensor(rewards, dtype=torch.float32)[None],
        "episode_starts": torch.zeros(1, steps, dtype=torch.bool),
    }

    def full() -> torch.Tensor:
        with torch.inference_mode():
            return policy.model(**window)[:, -1]

    return {"cached_s": cached, "full_s": seconds_per_call(full, max(1, calls // 10))}


def ppo_predict_latency(seed: int, calls: int) -> float:
    from stable_baselines3 import PPO

    env = gym.make("DarkRoom-v0", goal=(1, 1))
    model = PPO("MlpPolicy", env, seed=seed, device="cpu")
    obs, _ = env.reset(seed=seed)
    return seconds_per_call(lambda: model.predict(obs), calls)


def evaluation_throughput(num_tasks: int, episodes: int, seed: int) -> float:
    """Env steps per second of the in-context protocol over ``num_tasks`` parallel tasks."""
    policy = darkroom_policy(200, seed)
    tasks = [envs.TEST_GOALS[i % len(envs.TEST_GOALS)] for i in range(num_tasks)]
    start = time.perf_counter()
    evaluate(policy, "DarkRoom-v0", tasks, episodes, seed=seed)
    return num_tasks * episodes * 20 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, nargs="+", default=list(CONTEXTS))
    parser.add_argument("--calls", type=int, default=200, help="timed act calls per round")
    parser.add_argument("--eval-tasks", type=int, default=256)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    latency = {}
    for c in args.contexts:
        latency[c] = act_latency(c, args.seed, args.calls)
        r = latency[c]
        print(
            f"context {c:4d}: cached {r['cached_s'] * 1e3:7.3f} ms   full {r['full_s'] * 1e3:8.3f} ms   "
            f"x{r['full_s'] / r['cached_s']:.1f}"
        )
    ppo = ppo_predict_latency(args.seed, args.calls)
    print(f"SB3 PPO.predict: {ppo * 1e3:.3f} ms")
    throughput = evaluation_throughput(args.eval_tasks, args.eval_episodes, args.seed)
    print(f"evaluate, {args.eval_tasks} DarkRoom tasks in parallel: {throughput:,.0f} env steps/s")
    figures = {
        "seed": args.seed,
        "batch_size": 1,
        "act_latency_s": {str(c): v for c, v in latency.items()},
        "speedup_cached_vs_full": {str(c): v["full_s"] / v["cached_s"] for c, v in latency.items()},
        "sb3_ppo_predict_s": ppo,
        "evaluate_env_steps_per_s": {"num_tasks": args.eval_tasks, "steps_per_s": throughput},
    }
    print(f"wrote {write_result('policy_latency', figures)}")


if __name__ == "__main__":
    main()
