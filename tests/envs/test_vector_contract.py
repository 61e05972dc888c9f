"""The contract every numpy vector env shares through envs.core.TaskVectorEnv, checked on all of them."""

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from envs import ENV_IDS  # importing envs registers the ids


def make(env_id: str, num_envs: int = 3, **kwargs) -> gym.vector.VectorEnv:
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)


def random_actions(vec: gym.vector.VectorEnv, rng: np.random.Generator) -> np.ndarray:
    space = vec.single_action_space
    if isinstance(space, gym.spaces.Box):
        return rng.uniform(space.low, space.high, size=(vec.num_envs, *space.shape)).astype(space.dtype)
    return rng.integers(0, space.n, size=vec.num_envs)


def play_until_an_episode_ends(vec: gym.vector.VectorEnv, rng: np.random.Generator) -> tuple:
    for _ in range(200):
        out = vec.step(random_actions(vec, rng))
        if (out[2] | out[3]).any():
            return out
    raise AssertionError("no episode ended in 200 steps")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_step_reports_final_obs_and_info_of_the_ended_envs_only(env_id):
    vec = make(env_id, autoreset_mode=AutoresetMode.SAME_STEP)
    _, info = vec.reset(seed=1)
    obs, _, terminated, truncated, info = play_until_an_episode_ends(vec, np.random.default_rng(0))
    done = terminated | truncated
    np.testing.assert_array_equal(info["_final_obs"], done)
    np.testing.assert_array_equal(info["_final_info"], done)
    np.testing.assert_array_equal(info["final_info"]["_task"], done)
    np.testing.assert_array_equal(info["final_info"]["task"], info["task"])
    assert info["final_obs"].shape == obs.shape and info["final_obs"].dtype == obs.dtype
    assert not info["final_obs"][~done].any()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_next_step_spends_one_step_resetting_the_ended_envs(env_id):
    vec = make(env_id)
    first, _ = vec.reset(seed=1)
    rng = np.random.default_rng(0)
    _, _, terminated, truncated, _ = play_until_an_episode_ends(vec, rng)
    done = terminated | truncated
    obs, reward, terminated, truncated, _ = vec.step(random_actions(vec, rng))
    assert not reward[done].any() and not (terminated | truncated)[done].any()
    if env_id != "DarkKeyToDoor-v0":  # its start cell is drawn anew each episode
        np.testing.assert_array_equal(obs[done], first[done])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_construction_and_actions_are_refused_clearly(env_id):
    with pytest.raises(ValueError, match="num_envs >= 1"):
        make(env_id, num_envs=0)
    with pytest.raises(ValueError, match="NEXT_STEP and SAME_STEP"):
        make(env_id, autoreset_mode=AutoresetMode.DISABLED)
    vec = make(env_id)
    with pytest.raises(gym.error.ResetNeeded):
        vec.step(np.zeros(3, dtype=np.int64))
    vec.reset(seed=0)
    space = vec.single_action_space
    if isinstance(space, gym.spaces.Box):
        shape = (3, *space.shape)
        bad_actions: tuple = (np.zeros((2, *space.shape)), np.full(shape, space.high + 1), np.full(shape, np.nan))
        message = re.escape(f"actions must be {shape} floats")
    else:
        bad_actions = (np.zeros(2, dtype=np.int64), np.full(3, space.n), np.zeros(3) + 0.5)
        message = f"actions must be 3 ints in \\[0, {space.n}\\)"
    for bad in bad_actions:
        with pytest.raises(ValueError, match=message):
            vec.step(bad)
    with pytest.raises(ValueError, match="unknown reset options"):
        vec.reset(options={"task": 1})
