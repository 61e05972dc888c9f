"""Pixel Watermaze: minigrid views and moves, teleport-on-find reward, sticky task, splits, score scales, vector env."""

from __future__ import annotations

import warnings
from collections import deque
from functools import cache

import dm_env
import gymnasium as gym
import numpy as np
import pytest
from absl.testing import absltest
from dm_env import test_utils
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Wall
from minigrid.minigrid_env import MiniGridEnv
from minigrid.wrappers import RGBImgPartialObsWrapper

import envs
from envs.watermaze import (
    NUM_STATES,
    PixelWatermazeEnv,
    PixelWatermazeVectorEnv,
    optimal_return,
    pose,
    tables,
)

ENV_ID = "PixelWatermaze-v0"
START = ((5, 5), 0)  # centre, facing east
LENGTH = 50
DIR_TO_VEC = [(1, 0), (0, 1), (-1, 0), (0, -1)]  # minigrid: east, south, west, north
FLOOR = [(x, y) for y in range(1, 10) for x in range(1, 10)]
GOALS = [c for c in FLOOR if c != START[0]]

Pose = tuple[tuple[int, int], int]


class ReferenceArena(MiniGridEnv):
    """The documented layout, built independently of envs.watermaze: 9x9 floor, one wall colour per side."""

    def __init__(self) -> None:
        super().__init__(
            MissionSpace(mission_func=lambda: "reference"), grid_size=11, agent_view_size=11, max_steps=10**6
        )

    def _gen_grid(self, width: int, height: int) -> None:
        self.grid = Grid(width, height)
        self.grid.wall_rect(0, 0, width, height)
        for i in range(1, 10):
            for cell, colour in [((i, 0), "blue"), ((10, i), "yellow"), ((i, 10), "purple"), ((0, i), "green")]:
                self.grid.set(*cell, Wall(colour))
        self.agent_pos, self.agent_dir = START


def make_reference() -> RGBImgPartialObsWrapper:
    ref = RGBImgPartialObsWrapper(ReferenceArena(), tile_size=5)
    ref.reset(seed=0)
    return ref


@cache
def reference_view(cell: tuple[int, int], direction: int) -> np.ndarray:
    """What minigrid's RGBImgPartialObsWrapper shows in this pose."""
    ref = _shared_reference()
    ref.unwrapped.agent_pos, ref.unwrapped.agent_dir = cell, direction
    return ref.observation({})["image"]


@cache
def _shared_reference() -> RGBImgPartialObsWrapper:
    return make_reference()


def reference_step(state: Pose, action: int) -> Pose:
    """Minigrid's moves, written out: 0 turn left, 1 turn right, 2 forward unless a wall is ahead."""
    (x, y), d = state
    if action < 2:
        return (x, y), (d + (1 if action else -1)) % 4
    nx, ny = x + DIR_TO_VEC[d][0], y + DIR_TO_VEC[d][1]
    return ((nx, ny) if (nx, ny) in FLOOR else (x, y)), d


def shortest_path(goal: tuple[int, int]) -> list[int]:
    """Fewest actions from the start pose to any pose on ``goal``, by BFS over the reference moves."""
    parents: dict[Pose, tuple[Pose, int] | None] = {START: None}
    frontier = deque([START])
    while frontier:
        state = frontier.popleft()
        if state[0] == goal:
            path = []
            while parents[state] is not None:
                state, action = parents[state]
                path.append(action)
            return path[::-1]
        for action in range(3):
            nxt = reference_step(state, action)
            if nxt not in parents:
                parents[nxt] = (state, action)
                frontier.append(nxt)
    raise AssertionError(f"{goal} unreachable")


def test_registered_and_defined_as_documented():
    env = gym.make(ENV_ID, goal=(2, 3))
    obs, info = env.reset(seed=0)
    assert env.action_space == gym.spaces.Discrete(3)
    assert env.observation_space == gym.spaces.Box(0, 255, (55, 55, 3), np.uint8)
    assert obs.dtype == np.uint8 and obs.shape == (55, 55, 3) and env.observation_space.contains(obs)
    assert (env.unwrapped.agent_pos, env.unwrapped.agent_dir) == START and info["task"] == (2, 3)
    np.testing.assert_array_equal(obs, reference_view(*START))
    assert env.spec.max_episode_steps is None  # the env truncates itself, no TimeLimit needed


def test_every_pose_has_its_own_view_exactly_as_minigrid_renders_it():
    images = tables().images
    assert images.shape == (NUM_STATES, 55, 55, 3) == (81 * 4, 55, 55, 3)
    for state in range(NUM_STATES):
        np.testing.assert_array_equal(images[state], reference_view(*pose(state)))
    assert len({image.tobytes() for image in images}) == NUM_STATES  # the agent can always locate itself
    assert not images.flags.writeable


def test_views_and_moves_match_minigrid_rgb_partial_obs_wrapper_along_a_trajectory():
    env, ref = PixelWatermazeEnv(goal=(5, 4)), make_reference()
    obs, ref_obs = env.reset(seed=0)[0], ref.reset()[0]
    finds = 0
    for action in np.random.default_rng(0).integers(0, 3, size=300):
        obs, reward, _, truncated, _ = env.step(action)
        ref_obs = ref.step(action)[0]
        if reward or truncated:  # a find teleports to the start pose, as a minigrid reset does
            ref_obs, finds = ref.reset()[0], finds + reward
        if truncated:
            obs = env.reset()[0]
        np.testing.assert_array_equal(obs, ref_obs["image"])
    assert finds > 0


def test_passes_gymnasium_and_sb3_env_checkers_without_warnings():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(ENV_ID, goal=(1, 1)).unwrapped, skip_render_check=False)
        sb3_check_env(gym.make(ENV_ID, goal=(1, 1)).unwrapped)


@settings(max_examples=40, deadline=None)
@given(
    goal=st.sampled_from(GOALS),
    actions=st.lists(st.integers(0, 2), min_size=50, max_size=120),
    seed=st.integers(0, 2**16),
)
def test_dynamics_reward_rule_and_truncation(goal, actions, seed):
    env = gym.make(ENV_ID, goal=goal).unwrapped
    env.reset(seed=seed)
    state, t = START, 0
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        state, t = reference_step(state, action), t + 1
        found = state[0] == goal
        state = START if found else state  # teleport back on a find
        assert reward == float(found)
        assert (env.agent_pos, env.agent_dir) == state and env.observation_space.contains(obs)
        np.testing.assert_array_equal(obs, reference_view(*state))
        assert not terminated and truncated == (t == LENGTH) and info["task"] == goal
        if truncated:
            obs, info = env.reset()
            state, t = START, 0
            assert info["task"] == goal  # sticky task
            np.testing.assert_array_equal(obs, reference_view(*START))


def test_same_seed_same_task_and_trajectory():
    def rollout(seed):
        env = gym.make(ENV_ID)
        _, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        steps = [env.step(env.action_space.sample())[:2] for _ in range(60)]
        return info["task"], [(o.tobytes(), r) for o, r in steps]

    assert rollout(5) == rollout(5)
    assert rollout(5) != rollout(6)


def test_goal_drawn_from_np_random_once_and_kept_until_asked():
    env = PixelWatermazeEnv()
    first = env.reset(seed=123)[1]["task"]
    assert first in GOALS
    for _ in range(5):
        assert env.reset()[1]["task"] == first
    assert PixelWatermazeEnv().reset(seed=123)[1]["task"] == first
    assert env.reset(options={"goal": (9, 1)})[1]["task"] == (9, 1)
    assert env.reset()[1]["task"] == (9, 1) and env.goal == (9, 1)
    assert env.reset(options={"task": (3, 1)})[1]["task"] == (3, 1)
    assert PixelWatermazeEnv(task=(2, 2)).reset()[1]["task"] == (2, 2)
    assert {PixelWatermazeEnv().reset(seed=s)[1]["task"] for s in range(40)} <= set(GOALS)


def test_split_is_deterministic_disjoint_and_about_80_20():
    env = gym.make(ENV_ID).unwrapped
    train, test = set(env.tasks("train")), set(env.tasks("test"))
    assert train | test == set(GOALS) and not train & test
    assert len(test) == 16 and len(train) == 64
    assert env.tasks("test") == gym.make(ENV_ID).unwrapped.tasks("test")
    assert {optimal_return(g) for g in test} >= {5.0, 16.0}  # held-out goals both near and far
    with pytest.raises(ValueError, match="split must be"):
        env.tasks("validation")
    assert set(envs.watermaze.TEST_GOALS) == test and set(envs.watermaze.TRAIN_GOALS) == train


def test_scripted_optimal_policy_attains_optimal_return():
    for goal in GOALS:
        path = shortest_path(goal)
        env = PixelWatermazeEnv(goal=goal)
        env.reset()
        total, i, done = 0.0, 0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(path[i])
            i = 0 if reward else i + 1  # each find puts the agent back at the start: replay the path
            total, done = total + reward, terminated or truncated
        assert total == env.optimal_return(goal) == LENGTH // len(path)
    assert optimal_return((6, 5)) == 50 and optimal_return((1, 1)) == 5 and optimal_return((4, 5)) == 16


@pytest.mark.parametrize("goal", [(6, 5), (5, 4), (2, 8)])
def test_random_return_matches_monte_carlo(goal):
    n = 2_000
    vec = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", tasks=goal)
    vec.reset(seed=0)
    rng = np.random.default_rng(0)
    total = np.zeros(n)
    for _ in range(LENGTH):
        total += vec.step(rng.integers(0, 3, size=n))[1]
    exact = gym.make(ENV_ID).unwrapped.random_return(goal)
    assert abs(total.mean() - exact) < 4 * total.std() / np.sqrt(n) + 1e-9
    assert 0 < exact < optimal_return(goal)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: PixelWatermazeEnv(goal=(0, 3)), "is a wall cell"),
        (lambda: PixelWatermazeEnv(goal=(10, 10)), "is a wall cell"),
        (lambda: PixelWatermazeEnv(goal=(11, 2)), "outside the 11x11"),
        (lambda: PixelWatermazeEnv(goal=(5, 5)), "is the start cell"),
        (lambda: PixelWatermazeEnv(goal=(2.5, 3)), "pair of ints"),
        (lambda: PixelWatermazeEnv(goal="ab"), "pair of ints"),
        (lambda: PixelWatermazeEnv(goal=(1, 1), task=(2, 2)), "either goal= or task="),
        (lambda: PixelWatermazeEnv(episode_length=0), "episode_length"),
        (lambda: PixelWatermazeEnv(render_mode="human"), "render_mode"),
        (lambda: PixelWatermazeEnv().reset(options={"gaol": (1, 1)}), "unknown reset options"),
        (lambda: PixelWatermazeEnv().reset(options={"goal": (-1, 2)}), "outside"),
        (lambda: PixelWatermazeEnv().reset(options={"goal": (1, 2), "task": (1, 2)}), "not both"),
        (lambda: PixelWatermazeVectorEnv(3, tasks=[(1, 1), (2, 2)]), r"shape \(3, 2\)"),
        (lambda: PixelWatermazeVectorEnv(2, tasks=[(1, 1), (0, 4)]), "is a wall cell"),
        (lambda: PixelWatermazeVectorEnv(2, autoreset_mode="Disabled"), "NEXT_STEP and SAME_STEP"),
        (lambda: PixelWatermazeVectorEnv(2).reset(options={"goal": (1, 1)}), "unknown reset options"),
    ],
)
def test_bad_task_or_option_is_refused_clearly(make, error):
    with pytest.raises(ValueError, match=error):
        make()


@pytest.mark.parametrize("action", [3, -1, 2.5, "forward"])
def test_action_outside_space_is_refused(action):
    env = PixelWatermazeEnv(goal=(1, 1))
    env.reset()
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(action)
    vec = PixelWatermazeVectorEnv(2, tasks=(1, 1))
    vec.reset()
    with pytest.raises(ValueError, match="actions must be"):
        vec.step(np.array([0, action]))


def test_render_shows_the_arena_goal_and_agent_from_above():
    env = gym.make(ENV_ID, goal=(2, 3), render_mode="rgb_array")
    env.reset()
    frame = env.render()
    assert frame.shape == (11 * 16, 11 * 16, 3) and frame.dtype == np.uint8
    assert frame[3 * 16 + 8, 2 * 16 + 8].tolist() == [0, 255, 0]  # the goal tile, at row y, column x
    assert frame[8, 5 * 16 + 8].tolist() == [0, 0, 255]  # north wall
    assert (frame[5 * 16 : 6 * 16, 5 * 16 : 6 * 16] == [255, 0, 0]).all(axis=-1).any()  # the agent
    assert gym.make(ENV_ID, goal=(2, 3)).unwrapped.render() is None


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_vector_env_matches_single_envs(mode):
    goal_list = [(6, 5), (5, 4), (1, 1), (9, 9)]
    vec = gym.make_vec(
        ENV_ID, num_envs=4, vectorization_mode="vector_entry_point", tasks=goal_list, autoreset_mode=mode
    )
    ref = gym.vector.SyncVectorEnv([lambda g=g: gym.make(ENV_ID, goal=g) for g in goal_list], autoreset_mode=mode)
    rng = np.random.default_rng(0)
    for a, b in zip(vec.reset(seed=0)[0], ref.reset(seed=0)[0], strict=True):
        np.testing.assert_array_equal(a, b)
    rewards = 0.0
    for _ in range(130):
        actions = rng.integers(0, 3, size=4)
        out_v, out_r = vec.step(actions), ref.step(actions)
        for a, b in zip(out_v[:4], out_r[:4], strict=True):
            np.testing.assert_array_equal(a, b)
        assert out_v[4]["task"].tolist() == [list(g) for g in goal_list]
        rewards += out_v[1].sum()
        if mode == "SameStep" and "final_obs" in out_r[4]:
            mask = out_r[4]["_final_obs"]
            np.testing.assert_array_equal(out_v[4]["_final_obs"], mask)
            np.testing.assert_array_equal(out_v[4]["final_obs"][mask], np.stack(out_r[4]["final_obs"][mask]))
    assert rewards > 0


def test_vector_env_draws_goals_from_np_random_and_takes_new_ones():
    vec = PixelWatermazeVectorEnv(8)
    goals = vec.reset(seed=3)[1]["task"]
    assert goals.shape == (8, 2) and {tuple(g) for g in goals.tolist()} <= set(GOALS)
    np.testing.assert_array_equal(vec.reset()[1]["task"], goals)
    np.testing.assert_array_equal(PixelWatermazeVectorEnv(8).reset(seed=3)[1]["task"], goals)
    assert vec.reset(options={"tasks": (1, 2)})[1]["task"].tolist() == [[1, 2]] * 8


def test_sb3_learner_trains_on_it_without_wrappers():
    from stable_baselines3 import PPO

    model = PPO("CnnPolicy", gym.make(ENV_ID, goal=(3, 3)), n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=64)
    assert model.num_timesteps == 64


class TestPixelWatermazeDmEnvContract(test_utils.EnvironmentTestMixin, absltest.TestCase):
    """dm_env's reusable checks, over enough steps to cross two episode ends (FIRST must follow LAST)."""

    def make_object_under_test(self) -> dm_env.Environment:
        return envs.as_dm_env(gym.make(ENV_ID, goal=(6, 5)), seed=0)

    def make_action_sequence(self):
        rng = np.random.default_rng(0)
        for _ in range(110):
            yield np.int64(rng.integers(3))
