"""Point Robot: continuous actions, sticky hidden goal, split, score scales, vector and dm_env forms."""

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st

import envs
from envs.pointrobot import (
    ARENA,
    GOAL_RADIUS,
    SPEED,
    PointRobotEnv,
    all_goals,
    is_test_goal,
    optimal_return,
    random_return,
    steps_to_reach,
)

GOALS = all_goals()
actions_st = st.lists(st.tuples(st.floats(-1, 1, width=32), st.floats(-1, 1, width=32)), min_size=1, max_size=45)


def greedy(position: np.ndarray, goal: tuple[float, float]) -> np.ndarray:
    """Each coordinate as far towards the goal as a step allows: the optimal policy."""
    return np.clip((np.asarray(goal) - position) / SPEED, -1, 1).astype(np.float32)


def test_registered_and_defined_as_documented():
    env = gym.make("PointRobot-v0", goal=GOALS[3])
    obs, info = env.reset(seed=0)
    assert env.action_space == gym.spaces.Box(-1, 1, (2,), np.float32)
    assert env.observation_space == gym.spaces.Box(-2, 2, (2,), np.float32)
    assert obs.tolist() == [0, 0] and info["task"] == GOALS[3]


def test_passes_gymnasium_and_sb3_env_checkers_without_warnings():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("PointRobot-v0", goal=GOALS[0], render_mode="rgb_array").unwrapped, skip_render_check=False)
        sb3_check_env(gym.make("PointRobot-v0", goal=GOALS[0]).unwrapped)


@settings(max_examples=60, deadline=None)
@given(goal_index=st.integers(0, len(GOALS) - 1), actions=actions_st)
def test_dynamics_reward_rule_and_truncation(goal_index, actions):
    goal = GOALS[goal_index]
    env = gym.make("PointRobot-v0", goal=goal).unwrapped
    env.reset(seed=0)
    position = np.zeros(2)
    for t, action in enumerate(actions, start=1):
        obs, reward, terminated, truncated, info = env.step(np.array(action, np.float32))
        position = np.clip(position + SPEED * np.array(action, np.float32), -ARENA, ARENA)
        np.testing.assert_allclose(obs, position, atol=1e-6)
        assert env.observation_space.contains(obs) and info["task"] == goal
        assert reward == float(np.hypot(*(position - goal)) <= GOAL_RADIUS)
        assert not terminated and truncated == (t % 20 == 0)
        if truncated:
            env.reset()
            position = np.zeros(2)


def test_render_shows_the_goal_and_the_point():
    env = gym.make("PointRobot-v0", goal=(0.0, 1.0), render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    green, red = (image == (40, 200, 40)).all(-1), (image == (220, 60, 60)).all(-1)
    assert green[:64].any() and not green[64:].any()  # the goal is above the centre
    assert red[60:68, 60:68].any()  # the point starts at the centre


def test_split_is_deterministic_disjoint_and_spread():
    train = envs.PointRobotEnv().tasks("train")
    test = envs.PointRobotEnv().tasks("test")
    assert (len(train), len(test)) == (128, 32) and not set(train) & set(test)
    assert all(math.isclose(math.hypot(*g), 1.0) and g[1] > 0 for g in GOALS)
    angles = [math.atan2(y, x) for x, y in test]
    assert min(angles) < 0.1 and max(angles) > math.pi - 0.2  # held-out goals span the half circle
    assert not is_test_goal(GOALS[1]) and is_test_goal(GOALS[0]) and is_test_goal(GOALS[5])


@settings(max_examples=40, deadline=None)
@given(goal=st.tuples(st.floats(-ARENA, ARENA), st.floats(-ARENA, ARENA)))
def test_the_greedy_policy_attains_the_optimal_return_anywhere(goal):
    env = PointRobotEnv(goal=goal)
    obs, _ = env.reset(seed=0)
    total, truncated = 0.0, False
    while not truncated:
        obs, reward, _, truncated, _ = env.step(greedy(obs.astype(np.float64), goal))
        total += reward
    # float32 observations can cost the last sliver of a step: at most the arrival step's reward
    assert optimal_return(goal) - 1 <= total <= optimal_return(goal)
    assert 0 <= steps_to_reach(goal) <= math.ceil(2 * ARENA / SPEED)


def test_optimal_return_on_the_listed_goals():
    assert {optimal_return(g) for g in GOALS} <= {17.0, 18.0}  # arrival after 4 (axis) or 3 (diagonal) steps
    assert optimal_return((0.0, 0.1)) == 20.0  # the goal covers the start: every step pays


@pytest.mark.parametrize("goal", [GOALS[0], GOALS[80]])
def test_random_return_matches_an_independent_monte_carlo(goal):
    rng = np.random.default_rng(123)
    env = gym.make_vec("PointRobot-v0", num_envs=4096, vectorization_mode="vector_entry_point", tasks=goal)
    env.reset(seed=1)
    total = np.zeros(4096)
    for _ in range(20):
        total += env.step(rng.uniform(-1, 1, size=(4096, 2)).astype(np.float32))[1]
    assert random_return(goal) == random_return(goal)  # cached, the same every time
    assert abs(total.mean() - random_return(goal)) < 5 * total.std() / math.sqrt(4096) + 1e-3
    assert 0 < random_return(goal) < 0.1 * optimal_return(goal)


@pytest.mark.parametrize(
    "goal, message",
    [((0.0, float("nan")), "finite point"), ((3.0, 0.0), "arena"), ((True, 0.0), "pair of numbers"), ("ab", "pair")],
)
def test_bad_goals_are_refused_by_the_env_and_its_vector_form(goal, message):
    with pytest.raises(ValueError, match=message):
        gym.make("PointRobot-v0", goal=goal)
    with pytest.raises(ValueError, match=message):
        gym.make_vec("PointRobot-v0", num_envs=2, vectorization_mode="vector_entry_point", tasks=[goal, GOALS[0]])


def test_actions_outside_the_box_are_refused():
    env = gym.make("PointRobot-v0", goal=GOALS[0]).unwrapped
    env.reset(seed=0)
    for bad in (np.array([1.5, 0], np.float32), np.array([np.nan, 0], np.float32), np.zeros(3, np.float32)):
        with pytest.raises(ValueError, match="not in Box"):
            env.step(bad)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@settings(max_examples=15, deadline=None)
@given(actions=st.lists(st.lists(st.floats(-1, 1, width=32), min_size=6, max_size=6), min_size=25, max_size=45))
def test_vector_env_matches_single_envs(mode, actions):
    goals = [GOALS[0], GOALS[77], GOALS[159]]
    vec = gym.make_vec(
        "PointRobot-v0", num_envs=3, vectorization_mode="vector_entry_point", tasks=goals, autoreset_mode=mode
    )
    singles = [PointRobotEnv(goal=g) for g in goals]
    vec_obs, _ = vec.reset(seed=0)
    single_obs = [env.reset(seed=0)[0] for env in singles]
    np.testing.assert_array_equal(vec_obs, single_obs)
    pending = [False] * 3
    for row in actions:
        step = np.array(row, np.float32).reshape(3, 2)
        obs, rewards, _, truncated, _ = vec.step(step)
        for i, env in enumerate(singles):
            if pending[i]:  # NEXT_STEP: this step only reset the env
                single_obs[i], pending[i] = env.reset()[0], False
                assert rewards[i] == 0
            else:
                single_obs[i], reward, _, done, _ = env.step(step[i])
                assert rewards[i] == reward and truncated[i] == done
                if done:
                    if mode == AutoresetMode.SAME_STEP:
                        single_obs[i] = env.reset()[0]
                    else:
                        pending[i] = True
            np.testing.assert_array_equal(obs[i], single_obs[i])


def test_dm_env_form_has_bounded_continuous_specs():
    from dm_env import StepType, specs

    dm = envs.as_dm_env(gym.make("PointRobot-v0", goal=GOALS[10]), seed=0)
    assert isinstance(dm.action_spec(), specs.BoundedArray) and dm.action_spec().shape == (2,)
    assert dm.reset().step_type == StepType.FIRST
    steps = [dm.step(np.zeros(2, np.float32)) for _ in range(20)]
    assert steps[-1].step_type == StepType.LAST and steps[-1].discount == 1.0  # a time limit, not an end


def test_an_sb3_sac_learner_trains_on_it_without_wrappers():
    from stable_baselines3 import SAC

    SAC("MlpPolicy", gym.make("PointRobot-v0", goal=GOALS[40]), learning_starts=10, seed=0).learn(60)
