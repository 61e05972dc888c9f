"""RecordingWrapper stores what a hand-driven env emitted, in the recorder's format."""

import gymnasium as gym
import numpy as np
import pytest

from ad_agent.sources.wrapper import Capture, RecordingWrapper, stack_captures

UP, RIGHT = 1, 4


def darkroom(episode_length: int = 3) -> RecordingWrapper:
    return RecordingWrapper(gym.make("DarkRoom-v0", goal=(5, 4), episode_length=episode_length))


def test_rows_hold_the_observation_acted_on_and_episode_ends_keep_the_true_last_one():
    env = darkroom()
    obs, _ = env.reset(seed=0)
    seen = []
    for action in (RIGHT, RIGHT, UP, RIGHT):
        seen.append(obs)
        obs, *_, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()
    capture = env.capture()
    streams = capture.streams
    np.testing.assert_array_equal(streams.observations[0], seen)
    np.testing.assert_array_equal(streams.actions, [[RIGHT, RIGHT, UP, RIGHT]])
    np.testing.assert_array_equal(streams.rewards, [[1.0, 0.0, 0.0, 1.0]])  # (5, 4) reached at steps 0 and 3
    np.testing.assert_array_equal(streams.episode_starts, [[True, False, False, True]])
    np.testing.assert_array_equal(capture.truncated, [[False, False, True, False]])
    assert not capture.terminated.any() and capture.learner_steps is None
    np.testing.assert_array_equal(capture.terminal_observations, [[6, 3]])  # not the reset centre (4, 4)
    assert streams.observations.dtype == np.int64 and streams.rewards.dtype == np.float32


def test_a_reset_mid_episode_starts_an_episode_without_ending_one():
    env = darkroom(episode_length=20)
    env.reset(seed=0)
    env.step(RIGHT)
    env.reset()
    env.step(RIGHT)
    capture = env.capture()
    np.testing.assert_array_equal(capture.streams.episode_starts, [[True, True]])
    assert not capture.episode_ends.any() and capture.terminal_observations.shape == (0, 2)


def test_stack_captures_keeps_env_order_and_actor_major_terminal_observations():
    envs = [darkroom(), darkroom()]
    for env, action in zip(envs, (RIGHT, UP), strict=True):
        env.reset(seed=0)
        for _ in range(3):
            env.step(action)
    stacked = stack_captures([env.capture() for env in envs])
    assert stacked.streams.n_actors == 2 and stacked.streams.n_steps == 3
    np.testing.assert_array_equal(stacked.streams.actions[:, 0], [RIGHT, UP])
    np.testing.assert_array_equal(stacked.terminal_observations, [[7, 4], [4, 1]])


def test_stack_captures_rejects_unequal_lengths():
    short, long = darkroom(), darkroom()
    for env, steps in ((short, 1), (long, 2)):
        env.reset(seed=0)
        for _ in range(steps):
            env.step(RIGHT)
    with pytest.raises(ValueError, match="equal lengths"):
        stack_captures([short.capture(), long.capture()])


def test_capture_needs_one_terminal_observation_per_episode_end():
    env = darkroom(episode_length=1)
    env.reset(seed=0)
    env.step(RIGHT)
    good = env.capture()
    with pytest.raises(ValueError, match="one terminal observation"):
        Capture(good.streams, good.terminated, good.truncated, good.terminal_observations[:0])


def test_capture_before_any_step_is_an_error():
    with pytest.raises(RuntimeError, match="nothing recorded"):
        darkroom().capture()
