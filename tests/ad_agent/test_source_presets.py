"""The tuned source presets: valid, runnable, looked up clearly, and one of them really learns."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

from ad_agent.histories import Streams
from ad_agent.presets import DARKROOM_PPO, SOURCE_PRESETS, source_preset
from ad_agent.sources.sb3 import ALGORITHMS, SourceConfig, run_source
from ad_agent.sources.yardstick import spread_tasks


@pytest.mark.parametrize("key", sorted(SOURCE_PRESETS), ids="/".join)
def test_every_preset_runs_on_its_env(key: tuple[str, str]) -> None:
    """Two episodes' worth of steps per actor is enough to show the config builds and records."""
    env_id, algo = key
    config = SOURCE_PRESETS[key]
    assert isinstance(config, SourceConfig) and config.algo == algo and algo in ALGORITHMS
    tiny = dataclasses.replace(config, total_timesteps=config.n_envs * 40)
    task = gym.make(env_id).unwrapped.tasks("train")[0]
    streams, _ = run_source(tiny, env_id, {"task": task}, seed=0)
    assert streams.n_actors == config.n_envs and streams.n_steps >= 40
    assert streams.episode_starts[:, 0].all()


def test_darkroom_ppo_is_the_collection_default() -> None:
    assert source_preset("DarkRoom-v0", "PPO") == DARKROOM_PPO


@pytest.mark.parametrize(("env_id", "algo"), [("DarkRoom-v0", "SAC"), ("NoSuchRoom-v0", "PPO")])
def test_unknown_preset_lists_the_known_ones(env_id: str, algo: str) -> None:
    with pytest.raises(ValueError, match=r"no source preset .*available: .*DarkRoom-v0/PPO"):
        source_preset(env_id, algo)


def test_source_preset_is_a_copy() -> None:
    """Changing what a caller got must not change the table every later caller reads."""
    source_preset("DarkRoom-v0", "DQN").hyperparams["policy_kwargs"]["net_arch"].append(1)
    assert source_preset("DarkRoom-v0", "DQN").hyperparams["policy_kwargs"]["net_arch"] == [64, 64]


def test_spread_tasks_cover_the_split() -> None:
    train = gym.make("DarkRoom-v0").unwrapped.tasks("train")
    tasks = spread_tasks("DarkRoom-v0", 16)
    assert len(set(tasks)) == 16 and set(tasks) <= set(train)
    assert tasks[0] == train[0] and tasks[-1] == train[-1]
    with pytest.raises(ValueError, match="64 train tasks"):
        spread_tasks("DarkRoom-v0", 65)


def test_final_return_averages_the_last_complete_episodes() -> None:
    """Episodes of 2 steps; each actor's last episode is cut, so the two before it count."""
    rewards = np.array([[0, 0, 1, 0, 1, 1, 1, 1, 0], [0, 0, 0, 0, 1, 0, 1, 1, 0]], dtype=np.float32)
    starts = np.zeros_like(rewards, dtype=bool)
    starts[:, ::2] = True
    streams = Streams(rewards[..., None], np.zeros(rewards.shape, dtype=np.int64), rewards, starts)
    assert streams.final_return() == pytest.approx(np.mean([(2 + 1) / 2, (2 + 2) / 2]))


def test_darkroom_a2c_learns_a_near_goal() -> None:
    """The whole A2C preset (~2-4 s) on a goal 2 steps above the centre ends near its optimum."""
    goal = (4, 2)
    streams, _ = run_source(source_preset("DarkRoom-v0", "A2C"), "DarkRoom-v0", {"task": goal}, seed=0)
    optimal = gym.make("DarkRoom-v0").unwrapped.optimal_return(goal)
    assert streams.final_return() >= 0.9 * optimal
