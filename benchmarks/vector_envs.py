"""Steps per second of each env's numpy vector version against Gymnasium's ``SyncVectorEnv``.

Both step ``--num-envs`` copies (each with its own task) on the same pre-drawn random actions, in
the same process, so the ratio is a fair measure of what vectorising in numpy buys for evaluation.

    python -m benchmarks.vector_envs --num-envs 256 --steps 2000 --seed 0
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

from benchmarks.common import write_result
from envs import ENV_IDS  # importing envs registers the ids


def steps_per_second(vec: gym.vector.VectorEnv, actions: np.ndarray, seed: int) -> float:
    """Env steps (summed over the batch) per second of wall time for the whole action sequence."""
    vec.reset(seed=seed)
    start = time.perf_counter()
    for batch in actions:
        vec.step(batch)
    elapsed = time.perf_counter() - start
    return actions.shape[0] * actions.shape[1] / elapsed


def measure(env_id: str, num_envs: int, steps: int, seed: int) -> dict[str, float]:
    """Time both vector forms of ``env_id`` on the same actions; numpy first, then ``SyncVectorEnv``."""
    numpy_vec = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    sync_vec = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
    space, rng = numpy_vec.single_action_space, np.random.default_rng(seed)
    if isinstance(space, gym.spaces.Box):
        actions = rng.uniform(space.low, space.high, size=(steps, num_envs, *space.shape)).astype(space.dtype)
    else:
        actions = rng.integers(0, int(space.n), size=(steps, num_envs))
    fast = steps_per_second(numpy_vec, actions, seed)
    slow = steps_per_second(sync_vec, actions[: max(1, steps // 10)], seed)  # 10x fewer: it is that slow
    return {"numpy_steps_per_s": fast, "sync_steps_per_s": slow, "speedup": fast / slow}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2000, help="vector steps for the numpy version")
    parser.add_argument("--envs", nargs="+", default=list(ENV_IDS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = {}
    for env_id in args.envs:
        results[env_id] = measure(env_id, args.num_envs, args.steps, args.seed)
        r = results[env_id]
        print(
            f"{env_id:22s} numpy {r['numpy_steps_per_s']:>12,.0f} steps/s   "
            f"SyncVectorEnv {r['sync_steps_per_s']:>10,.0f} steps/s   x{r['speedup']:.1f}"
        )
    path = write_result("vector_envs", {"num_envs": args.num_envs, "seed": args.seed, "envs": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
