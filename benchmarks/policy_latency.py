"""How fast ``InContextPolicy.act`` is: cached decoding against full recomputation, and batched evaluation.

For each context length ``c`` an (untrained: latency does not depend on the weights) model of the
Dark Room preset's shape is filled with ``c`` steps, then timed per step at batch 1:

- cached: ``policy.act`` (one new step through the model against the attention cache);
- full recomputation: one forward pass over the whole ``c``-step window, as a policy without a
  cache must do every step;
- reference: Stable-Baselines3 ``PPO.predict`` on the same observation, in the same process.

Then the throughput of :func:`ad_agent.evaluate` over 256 parallel DarkRoom tasks.

Thread contention (also alone, with ``--contention-only``, into ``policy_latency_contention.json``):
cached ``act`` at batch 1 and context 200 with the policy's default of one thread and with one
thread per core, back to back and paced (2 ms apart, as an agent stepping an env calls it), first
as the machine is, then while another process keeps every core busy with matrix products on as
many threads; the load average is recorded beside each figure.

    python -m benchmarks.policy_latency --seed 0
    python -m benchmarks.policy_latency --seed 0 --contention-only
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import envs
from ad_agent import evaluate
from ad_agent.deployment.policy import InContextPolicy, PolicySpec
from ad_agent.model import ADTransformer
from ad_agent.presets import get_preset
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


def paced_seconds_per_call(fn: Callable[[], object], calls: int, gap_s: float = 0.002) -> float:
    """Median time of one call when calls come ``gap_s`` apart, as an agent stepping an env makes
    them (back-to-back calls measure throughput: under load they only get the scheduler's share)."""
    fn()
    times = []
    for _ in range(calls):
        time.sleep(gap_s)
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def darkroom_policy(context_len: int, seed: int) -> InContextPolicy:
    """An untrained policy of the Dark Room preset's model shape, its window ``context_len`` steps."""
    torch.manual_seed(seed)
    preset = get_preset("DarkRoom-v0")
    config = preset.customised(model={"context_len": context_len}).model_config()
    return InContextPolicy(ADTransformer(config), PolicySpec(config, "DarkRoom-v0", 20), device="cpu")


def primed_policy(context_len: int, seed: int) -> tuple[InContextPolicy, np.ndarray, np.ndarray, np.ndarray]:
    """A policy whose context holds ``context_len`` random steps, and those steps."""
    policy = darkroom_policy(context_len, seed)
    rng = np.random.default_rng(seed)
    obs, actions = rng.integers(0, 9, size=(context_len, 2)), rng.integers(0, 5, size=context_len)
    rewards = (rng.random(context_len) < 0.2).astype(float)
    policy.reset(seed=seed)
    policy.prime(obs, actions, rewards)
    return policy, obs, actions, rewards


def act_latency(context_len: int, seed: int, calls: int) -> dict[str, float]:
    """Per-step seconds, cached and full, with the context already holding ``context_len`` steps."""
    policy, obs, actions, rewards = primed_policy(context_len, seed)
    steps = context_len
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


BUSY_LOOP = (
    "import sys, torch\ntorch.set_num_threads(int(sys.argv[1]))\na = torch.randn(512, 512)\nwhile True:\n    a @ a\n"
)


def contention(seed: int, calls: int, context_len: int = 200, warmup_s: float = 2.0) -> dict[str, Any]:
    """Cached ``act`` seconds at batch 1 with the policy's default thread choice (one) and with one
    thread per core, as the machine is and while a process keeps every core busy."""
    policy, obs, _, _ = primed_policy(context_len, seed)
    cores = os.cpu_count() or 1
    settings = {"default (1 thread)": None, f"{cores} threads": cores}

    def measure() -> dict[str, float]:
        figures = {}
        for label, threads in settings.items():
            policy.num_threads = threads
            figures[label] = seconds_per_call(lambda: policy.act(obs[0], 0.0), calls)
            figures[f"{label}, paced"] = paced_seconds_per_call(lambda: policy.act(obs[0], 0.0), calls)
        figures["load_average_1min"] = os.getloadavg()[0]
        return figures

    as_is = measure()
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(cores)])
    try:
        time.sleep(warmup_s)  # let the load start
        loaded = measure()
    finally:
        busy.kill()
        busy.wait()
    return {"as_is": as_is, "busy": loaded, "busy_process_threads": cores, "context_len": context_len}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, nargs="+", default=list(CONTEXTS))
    parser.add_argument("--calls", type=int, default=200, help="timed act calls per round")
    parser.add_argument("--eval-tasks", type=int, default=256)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--contention-only", action="store_true", help="only the thread-contention rows")
    args = parser.parse_args()
    threads = contention(args.seed, args.calls)
    for case in ("as_is", "busy"):
        shown = {k: f"{v * 1e3:.2f} ms" for k, v in threads[case].items() if k != "load_average_1min"}
        print(f"act, batch 1, machine {case}: {shown} (load {threads[case]['load_average_1min']:.1f})")
    if args.contention_only:
        print(f"wrote {write_result('policy_latency_contention', {'seed': args.seed, **threads})}")
        return
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
        "thread_contention_s": threads,
    }
    print(f"wrote {write_result('policy_latency', figures)}")


if __name__ == "__main__":
    main()
