"""Dark Room and Dark Room Hard: dynamics, sticky task, splits, score scales, vector versions."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import envs
from envs.darkroom import MOVES, DarkRoomEnv, DarkRoomHardEnv, all_goals, optimal_return

VARIANTS = [("DarkRoom-v0", 9, False), ("DarkRoomHard-v0", 17, True)]


def scripted_optimal(obs: np.ndarray, goal: tuple[int, int]) -> int:
    dx, dy = goal[0] - obs[0], goal[1] - obs[1]
    return 4 if dx > 0 else 3 if dx < 0 else 2 if dy > 0 else 1 if dy < 0 else 0


def test_registered_and_defined_as_documented():
    env = gym.make("DarkRoom-v0", goal=(2, 3))
    obs, info = env.reset(seed=0)
    assert env.action_space == gym.spaces.Discrete(5)
    assert env.observation_space == gym.spaces.MultiDiscrete([9, 9])
    assert obs.tolist() == [4, 4] and info["task"] == (2, 3)
    hard = gym.make("DarkRoomHard-v0", goal=(0, 16))
    assert hard.observation_space == gym.spaces.MultiDiscrete([17, 17])
    assert hard.reset()[0].tolist() == [8, 8]


@pytest.mark.parametrize("env_id, size, once", VARIANTS)
def test_passes_gymnasium_and_sb3_env_checkers_without_warnings(env_id, size, once):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(env_id, goal=(1, 1)).unwrapped, skip_render_check=False)
        sb3_check_env(gym.make(env_id, goal=(1, 1)).unwrapped)


@pytest.mark.parametrize("env_id, size, once", VARIANTS)
@settings(max_examples=40, deadline=None)
@given(data=st.data(), actions=st.lists(st.integers(0, 4), min_size=20, max_size=60), seed=st.integers(0, 2**16))
def test_dynamics_reward_rule_and_truncation(env_id, size, once, data, actions, seed):
    goal = data.draw(st.tuples(st.integers(0, size - 1), st.integers(0, size - 1)))
    env = gym.make(env_id, goal=goal).unwrapped
    centre = np.array([size // 2, size // 2])
    obs, _ = env.reset(seed=seed)
    pos, t, reached = centre, 0, False
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        pos, t = np.clip(pos + MOVES[action], 0, size - 1), t + 1
        on_goal = tuple(pos) == goal
        assert obs.tolist() == pos.tolist() and env.observation_space.contains(obs)
        assert reward == float(on_goal and not (once and reached))
        reached |= on_goal
        assert not terminated and truncated == (t == 20)
        assert info["task"] == goal
        if truncated:
            obs, info = env.reset()
            pos, t, reached = centre, 0, False
            assert obs.tolist() == centre.tolist() and info["task"] == goal  # sticky task


@pytest.mark.parametrize("env_id", ["DarkRoom-v0", "DarkRoomHard-v0"])
def test_same_seed_same_task_and_trajectory(env_id):
    def rollout(seed):
        env = gym.make(env_id)
        _, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        steps = [env.step(env.action_space.sample())[:2] for _ in range(25)]
        return info["task"], [(o.tolist(), r) for o, r in steps]

    assert rollout(5) == rollout(5)
    assert rollout(5)[0] != rollout(6)[0] or rollout(5)[1] != rollout(6)[1]


def test_goal_drawn_from_np_random_once_and_kept_until_asked():
    env = DarkRoomEnv()
    first = env.reset(seed=123)[1]["task"]
    for _ in range(5):
        assert env.reset()[1]["task"] == first
    assert DarkRoomEnv().reset(seed=123)[1]["task"] == first
    assert env.reset(options={"goal": (0, 8)})[1]["task"] == (0, 8)
    assert env.reset()[1]["task"] == (0, 8) and env.goal == (0, 8)
    assert env.reset(options={"task": (3, 1)})[1]["task"] == (3, 1)
    assert DarkRoomEnv(task=(2, 2)).reset()[1]["task"] == (2, 2)


@pytest.mark.parametrize("env_id, size, once", VARIANTS)
def test_split_is_deterministic_disjoint_and_about_80_20(env_id, size, once):
    env = gym.make(env_id).unwrapped
    train, test = set(env.tasks("train")), set(env.tasks("test"))
    assert train | test == set(all_goals(size)) and not train & test
    assert 0.18 < len(test) / size**2 < 0.22
    assert env.tasks("test") == gym.make(env_id).unwrapped.tasks("test")
    with pytest.raises(ValueError, match="split must be"):
        env.tasks("validation")
    assert set(envs.TEST_GOALS) == set(gym.make("DarkRoom-v0").unwrapped.tasks("test"))


@pytest.mark.parametrize("env_id, size, once", VARIANTS)
def test_scripted_optimal_policy_attains_optimal_return(env_id, size, once):
    for goal in all_goals(size):
        env = gym.make(env_id, goal=goal).unwrapped
        obs, _ = env.reset()
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(scripted_optimal(obs, goal))
            total, done = total + reward, terminated or truncated
        assert total == env.optimal_return(goal)
    assert optimal_return((4, 4)) == 20 and optimal_return((0, 0)) == 13


@pytest.mark.parametrize(
    "env_id, goal", [("DarkRoom-v0", (4, 4)), ("DarkRoom-v0", (1, 6)), ("DarkRoomHard-v0", (8, 5))]
)
def test_random_return_matches_monte_carlo(env_id, goal):
    n = 20_000
    vec = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", tasks=goal)
    vec.reset(seed=0)
    rng = np.random.default_rng(0)
    total = np.zeros(n)
    for _ in range(20):
        total += vec.step(rng.integers(0, 5, size=n))[1]
    exact = gym.make(env_id).unwrapped.random_return(goal)
    assert abs(total.mean() - exact) < 4 * total.std() / np.sqrt(n) + 1e-9
    assert 0 < exact < gym.make(env_id).unwrapped.optimal_return(goal)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: DarkRoomEnv(goal=(9, 0)), "outside"),
        (lambda: DarkRoomHardEnv(goal=(17, 0)), "outside the 17x17"),
        (lambda: DarkRoomEnv(goal="ab"), "pair of ints"),
        (lambda: DarkRoomEnv(goal=(1, 1), task=(2, 2)), "either goal= or task="),
        (lambda: DarkRoomEnv().reset(options={"gaol": (1, 1)}), "unknown reset options"),
        (lambda: DarkRoomEnv().reset(options={"goal": (-1, 2)}), "outside"),
        (lambda: DarkRoomEnv().reset(options={"goal": (1, 2), "task": (1, 2)}), "not both"),
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


@pytest.mark.parametrize("env_id, size, once", VARIANTS)
@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_vector_env_matches_single_envs(env_id, size, once, mode):
    goal_list = [(0, 0), (size // 2, size // 2 - 1), (size - 1, size - 1), (2, 6)]
    vec = gym.make_vec(
        env_id, num_envs=4, vectorization_mode="vector_entry_point", tasks=goal_list, autoreset_mode=mode
    )
    ref = gym.vector.SyncVectorEnv([lambda g=g: gym.make(env_id, goal=g) for g in goal_list], autoreset_mode=mode)
    rng = np.random.default_rng(0)
    vec.reset(seed=0)
    ref.reset(seed=0)
    for _ in range(70):
        actions = rng.integers(0, 5, size=4)
        out_v, out_r = vec.step(actions), ref.step(actions)
        for a, b in zip(out_v[:4], out_r[:4], strict=True):
            np.testing.assert_array_equal(a, b)
        if mode == "SameStep" and "final_obs" in out_r[4]:
            mask = out_r[4]["_final_obs"]
            np.testing.assert_array_equal(out_v[4]["final_obs"][mask], np.stack(out_r[4]["final_obs"][mask]))


@pytest.mark.parametrize("env_id", ["DarkRoom-v0", "DarkRoomHard-v0"])
def test_sb3_learner_trains_on_it_without_wrappers(env_id):
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", gym.make(env_id, goal=(3, 3)), n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=128)
    assert model.num_timesteps == 128


@pytest.mark.parametrize("actions", [np.array([1.0, 2.0]), np.array([1, 5]), np.array([1, 2, 3])])
def test_vector_env_refuses_bad_actions(actions):
    vec = gym.make_vec("DarkRoom-v0", num_envs=2, vectorization_mode="vector_entry_point", tasks=(1, 1))
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="actions must be 2 ints"):
        vec.step(actions)
    with pytest.raises(ValueError, match="unknown reset options"):
        vec.reset(options={"goals": (1, 1)})
