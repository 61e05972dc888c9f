"""Wall time of a source learner's ``learn()`` with the HistoryRecorder against without it.

Same seed, same process, alternating which goes first, so both runs do bit-identical learning and share
whatever else the CPU is doing; the median of the per-pair ratios is the overhead of recording.

    python -m benchmarks.recording_overhead --repeats 5 --seed 0 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import envs  # noqa: F401  (registers the ids)
from ad_agent.presets import DARKROOM_PPO
from ad_agent.sources.sb3 import HistoryRecorder, SourceConfig, build_learner
from benchmarks.common import write_result

MAX_RATIO = 1.10
ENV_ID, ENV_KWARGS = "DarkRoom-v0", {"goal": (5, 4)}
# A DQN run of similar length: 8 actors, one gradient step every 4 vector steps.
DARKROOM_DQN = SourceConfig(
    algo="DQN",
    n_envs=8,
    total_timesteps=30_000,
    hyperparams=dict(learning_starts=1_000, buffer_size=30_000, target_update_interval=500, exploration_fraction=0.3),
)
CONFIGS = {"PPO": DARKROOM_PPO, "DQN": DARKROOM_DQN}


def learn_seconds(config: SourceConfig, seed: int, callback: BaseCallback | None) -> float:
    """Wall time of ``learn()`` alone: building the envs and the learner is not recording's cost."""
    vec_env = make_vec_env(ENV_ID, n_envs=config.n_envs, seed=seed, env_kwargs=ENV_KWARGS)
    model = build_learner(config.algo, vec_env, seed, **config.hyperparams)
    start = time.perf_counter()
    model.learn(total_timesteps=config.total_timesteps, callback=callback)
    elapsed = time.perf_counter() - start
    vec_env.close()
    return elapsed


def measure(config: SourceConfig, repeats: int, seed: int) -> dict[str, float | list[float]]:
    """``repeats`` pairs of runs, the recorder first in every other pair."""
    with_rec, without = [], []
    for i in range(repeats):
        for record in (True, False) if i % 2 == 0 else (False, True):
            seconds = learn_seconds(config, seed, HistoryRecorder() if record else None)
            (with_rec if record else without).append(seconds)
    ratios = [a / b for a, b in zip(with_rec, without, strict=True)]
    return {
        "total_timesteps": config.total_timesteps,
        "n_envs": config.n_envs,
        "with_recorder_s": with_rec,
        "without_recorder_s": without,
        "ratios": ratios,
        "median_ratio": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="pairs of runs per algorithm")
    parser.add_argument("--algos", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: spinning threads on a shared CPU swamp the timing)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for algo in args.algos:
        r = results[algo] = measure(CONFIGS[algo], args.repeats, args.seed)
        print(
            f"{algo:4s} learn() with recorder {statistics.median(r['with_recorder_s']):6.2f} s, "
            f"without {statistics.median(r['without_recorder_s']):6.2f} s (medians); "
            f"median ratio {r['median_ratio']:.3f} (limit {MAX_RATIO})"
        )
    ok = all(r["median_ratio"] <= MAX_RATIO for r in results.values())
    path = write_result(
        "recording_overhead",
        {
            "env_id": ENV_ID,
            "seed": args.seed,
            "repeats": args.repeats,
            "torch_threads": args.threads,
            "max_ratio": MAX_RATIO,
            "ok": ok,
            **results,
        },
    )
    print(f"wrote {path}")
    if not ok:
        raise SystemExit(f"recording overhead above {MAX_RATIO}")


if __name__ == "__main__":
    main()
