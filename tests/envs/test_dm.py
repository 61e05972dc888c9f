"""The dm_env adapter: dm_env's own contract tests, spec mapping, step types and discounts."""

from __future__ import annotations

from typing import Any

import dm_env
import gymnasium as gym
import numpy as np
import pytest
from absl.testing import absltest
from dm_env import specs, test_utils
from gymnasium import spaces

import envs  # noqa: F401  (registers the env ids)
from envs.dm import as_dm_env, space_to_spec


def make_darkroom(seed: int | None = None) -> dm_env.Environment:
    return as_dm_env(gym.make("DarkRoom-v0", goal=(2, 3)), seed=seed)


class TestDarkRoomDmEnvContract(test_utils.EnvironmentTestMixin, absltest.TestCase):
    """dm_env's reusable checks, over enough steps to cross two episode ends (FIRST must follow LAST)."""

    def make_object_under_test(self) -> dm_env.Environment:
        return make_darkroom(seed=0)

    def make_action_sequence(self):
        rng = np.random.default_rng(0)
        for _ in range(45):
            yield np.int64(rng.integers(5))


class TestDarkRoomHardDmEnvContract(TestDarkRoomDmEnvContract):
    """The same conformance checks on Dark Room Hard (17x17, reward once)."""

    def make_object_under_test(self) -> dm_env.Environment:
        return as_dm_env(gym.make("DarkRoomHard-v0", goal=(8, 6)), seed=0)


class TestPointRobotDmEnvContract(test_utils.EnvironmentTestMixin, absltest.TestCase):
    """The same conformance checks with continuous (Box) actions."""

    def make_object_under_test(self) -> dm_env.Environment:
        return as_dm_env(gym.make("PointRobot-v0", goal=(0.0, 1.0)), seed=0)

    def make_action_sequence(self):
        rng = np.random.default_rng(0)
        for _ in range(45):
            yield rng.uniform(-1, 1, size=2).astype(np.float32)


class CountdownEnv(gym.Env[np.ndarray, np.int64]):
    """Terminates after 3 steps; random float64 starts in a float32 Box, to exercise casting and seeding."""

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._t = 0
        return self.np_random.uniform(-1, 1, size=2), {"t": 0}  # float64 on purpose: the adapter must cast

    def step(self, action):
        self._t += 1
        return np.full(2, self._t / 10), 0.5, self._t >= 3, False, {"t": self._t}


def test_specs_match_gym_spaces():
    env = make_darkroom()
    obs_spec, action_spec = env.observation_spec(), env.action_spec()
    assert isinstance(action_spec, specs.DiscreteArray)
    assert action_spec.num_values == 5 and action_spec.dtype == np.int64
    assert isinstance(obs_spec, specs.BoundedArray)
    assert obs_spec.shape == (2,) and obs_spec.dtype == np.int64
    assert obs_spec.minimum.tolist() == 0 and obs_spec.maximum.tolist() == 8
    assert env.reward_spec() == specs.Array((), float, name="reward")
    discount = env.discount_spec()
    assert (discount.minimum, discount.maximum) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("space", "shape", "dtype", "low", "high"),
    [
        (spaces.Discrete(3, start=-1), (), np.int64, -1, 1),
        (spaces.MultiDiscrete([3, 5]), (2,), np.int64, 0, [2, 4]),
        (spaces.MultiBinary(4), (4,), np.int8, 0, 1),
        (spaces.Box(0, 255, shape=(8, 8, 3), dtype=np.uint8), (8, 8, 3), np.uint8, 0, 255),
        (spaces.Box(np.float32([-1, 0]), np.float32([1, np.inf]), dtype=np.float32), (2,), np.float32, [-1, 0], None),
    ],
)
def test_space_to_spec(space, shape, dtype, low, high):
    spec = space_to_spec(space, "x")
    assert type(spec) is specs.BoundedArray and spec.name == "x"
    assert spec.shape == shape and spec.dtype == dtype
    np.testing.assert_array_equal(spec.minimum, low)
    np.testing.assert_array_equal(spec.maximum, space.high if high is None else high)
    spec.validate(space.sample())


def test_unsupported_space_raises_type_error():
    env = gym.make("DarkRoom-v0", goal=(2, 3))
    env.observation_space = spaces.Dict({"pos": spaces.Discrete(9)})
    with pytest.raises(TypeError, match=r"observation space Dict.*Discrete, MultiDiscrete, MultiBinary and Box"):
        as_dm_env(env)


def test_truncation_after_20_steps_keeps_discount_one():
    env = make_darkroom(seed=0)
    first = env.reset()
    assert first.first() and first.reward is None and first.discount is None
    steps = [env.step(4) for _ in range(20)]
    assert all(s.mid() and s.discount == 1.0 for s in steps[:-1])
    assert steps[-1].step_type is dm_env.StepType.LAST and steps[-1].discount == 1.0


def test_termination_gives_discount_zero_and_cast_observations():
    env = as_dm_env(CountdownEnv())
    assert env.reset().observation.dtype == np.float32
    steps = [env.step(0) for _ in range(3)]
    assert [s.step_type for s in steps] == [dm_env.StepType.MID, dm_env.StepType.MID, dm_env.StepType.LAST]
    assert [s.discount for s in steps] == [1.0, 1.0, 0.0] and steps[-1].reward == 0.5
    assert steps[-1].observation.dtype == np.float32 and env.last_info == {"t": 3}  # the gym info of the last step


def test_step_after_last_restarts_and_task_stays_fixed():
    env = make_darkroom(seed=0)
    for _episode in range(3):
        step = env.step(0)  # fresh adapter, or the previous episode ended: this is a restart
        assert step.first() and step.observation.tolist() == [4, 4]
        returns = 0.0
        for action in [3, 3, 1] + [0] * 17:  # (4, 4) -> (2, 3), then stay on the goal
            step = env.step(action)
            returns += step.reward
        assert step.last() and returns == 18.0  # the goal is still (2, 3)


def test_seed_draws_the_goal_once_and_it_sticks():
    goals = []
    for _ in range(2):
        env = as_dm_env(gym.make("DarkRoom-v0"), seed=123)
        for _episode in range(3):
            step = env.reset()
            goals.append(env.gym_env.unwrapped.goal)
            while not step.last():
                step = env.step(0)
    assert len(set(goals)) == 1  # the same across episodes and across adapters with the same seed


def test_seed_applies_to_the_first_reset_only():
    first_starts = []
    for _ in range(2):
        env = as_dm_env(CountdownEnv(), seed=7)
        first_starts.append(env.reset().observation)
        assert not np.array_equal(env.reset().observation, first_starts[-1])  # later resets continue the stream
    np.testing.assert_array_equal(*first_starts)


def test_close_closes_gym_env():
    gym_env = CountdownEnv()
    closed = []
    gym_env.close = lambda: closed.append(True)
    with as_dm_env(gym_env):
        pass
    assert closed == [True]
