"""Dark Room dynamics, task stickiness, splits and the vector version."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import envs
from envs.darkroom import MOVES, DarkRoomEnv, all_goals, optimal_return

goals = st.tuples(st.integers(0, 8), st.integers(0, 8))
action_seqs = st.lists(st.integers(0, 4), min_size=20, max_size=60)


def test_registered_and_defined_as_documented():
    env = gym.make("DarkRoom-v0", goal=(2, 3))
    obs, info = env.reset(seed=0)
    assert env.action_space == gym.spaces.Discrete(5)
    assert env.observation_space == gym.spaces.MultiDiscrete([9, 9])
    assert obs.tolist() == [4, 4] and info["goal"] == (2, 3)


def test_passes_gymnasium_and_sb3_env_checkers():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("DarkRoom-v0", goal=(1, 1)).unwrapped, skip_render_check=False)
        sb3_check_env(DarkRoomEnv(goal=(1, 1)))


@settings(max_examples=60, deadline=None)
@given(goal=goals, actions=action_seqs, seed=st.integers(0, 2**16))
def test_dynamics_reward_and_truncation(goal, actions, seed):
    env = DarkRoomEnv(goal=goal)
    obs, _ = env.reset(seed=seed)
    pos, t = np.array([4, 4]), 0
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        pos, t = np.clip(pos + MOVES[action], 0, 8), t + 1
        assert obs.tolist() == pos.tolist() and env.observation_space.contains(obs)
        assert reward == float(tuple(pos) == goal)
        assert not terminated and truncated == (t == 20)
        assert info["goal"] == goal
        if truncated:
            obs, info = env.reset()
            pos, t = np.array([4, 4]), 0
            assert obs.tolist() == [4, 4] and info["goal"] == goal  # sticky task


def test_goal_drawn_from_np_random_once_and_kept():
    env = DarkRoomEnv()
    _, info = env.reset(seed=123)
    first = info["goal"]
    for _ in range(5):
        assert env.reset()[1]["goal"] == first
    assert DarkRoomEnv().reset(seed=123)[1]["goal"] == first  # same seed, same task
    assert env.reset(options={"goal": (0, 8)})[1]["goal"] == (0, 8)
    assert env.reset()[1]["goal"] == (0, 8)


def test_split_is_deterministic_disjoint_and_about_80_20():
    train, test = set(envs.TRAIN_GOALS), set(envs.TEST_GOALS)
    assert train | test == set(all_goals()) and not train & test
    assert len(test) == 17 and (4, 4) in test


@pytest.mark.parametrize("goal", all_goals())
def test_scripted_optimal_policy_attains_optimal_return(goal):
    env = DarkRoomEnv(goal=goal)
    obs, _ = env.reset()
    total, done = 0.0, False
    while not done:
        dx, dy = goal[0] - obs[0], goal[1] - obs[1]
        action = 4 if dx > 0 else 3 if dx < 0 else 2 if dy > 0 else 1 if dy < 0 else 0
        obs, reward, terminated, truncated, _ = env.step(action)
        total, done = total + reward, terminated or truncated
    assert total == optimal_return(goal)
    assert optimal_return((4, 4)) == 20 and optimal_return((0, 0)) == 13


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: DarkRoomEnv(goal=(9, 0)), "outside"),
        (lambda: DarkRoomEnv(goal="ab"), "pair of ints"),
        (lambda: DarkRoomEnv().reset(options={"gaol": (1, 1)}), "unknown reset options"),
        (lambda: DarkRoomEnv().reset(options={"goal": (-1, 2)}), "outside"),
    ],
)
def test_bad_task_or_option_is_refused_clearly(make, error):
    with pytest.raises(ValueError, match=error):
        make()


@pytest.mark.parametrize("action", [7, -1, 2.5, "up"])
def test_action_outside_space_is_refused(action):
    env = DarkRoomEnv(goal=(1, 1))
    env.reset()
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(action)


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_vector_env_matches_single_envs(mode):
    goal_list = [(0, 0), (4, 3), (8, 8), (2, 6)]
    vec = gym.make_vec(
        "DarkRoom-v0", num_envs=4, vectorization_mode="vector_entry_point", goals=goal_list, autoreset_mode=mode
    )
    ref = gym.vector.SyncVectorEnv([lambda g=g: DarkRoomEnv(goal=g) for g in goal_list], autoreset_mode=mode)
    rng = np.random.default_rng(0)
    obs_v, _ = vec.reset(seed=0)
    obs_r, _ = ref.reset(seed=0)
    for _ in range(70):
        actions = rng.integers(0, 5, size=4)
        out_v, out_r = vec.step(actions), ref.step(actions)
        for a, b in zip(out_v[:4], out_r[:4], strict=True):
            np.testing.assert_array_equal(a, b)
        if mode == "SameStep" and "final_obs" in out_r[4]:
            mask = out_r[4]["_final_obs"]
            np.testing.assert_array_equal(out_v[4]["final_obs"][mask], np.stack(out_r[4]["final_obs"][mask]))
