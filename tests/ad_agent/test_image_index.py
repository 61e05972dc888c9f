"""The ``image_index`` learner view: a pixel env's learner sees each image's row in the env's table of them.

Pixel Watermaze emits one of 324 images (one per pose), so the view decodes without loss; the
histories must still hold the images, and the batched recorder keeps rows and lays images out per run.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env

import envs  # noqa: F401  (registers the ids)
from ad_agent.sources.batched import BatchedSourceConfig, run_batched
from ad_agent.sources.batched.learners import batch_bytes, check_env_fits
from ad_agent.sources.learner_view import ObservationIndex, wrap_views
from envs.watermaze import START_STATE, state_index, tables

TINY = BatchedSourceConfig(
    "PPO",
    n_envs=2,
    total_timesteps=400,
    hyperparams=dict(n_steps=50, batch_size=50, n_epochs=1),
    learner_views={"image_index": {}, "count_bonus": {"beta": 0.1}},
    learners_per_batch=2,
)
GOALS = [(2, 1), (8, 9)]


def test_observation_index_finds_every_row_and_refuses_strangers():
    images = tables().images
    index = ObservationIndex(images)
    rows = np.array([START_STATE, 0, 323, state_index((9, 9), 2)])
    np.testing.assert_array_equal(index(images[rows]), rows)
    stranger = images[:1].copy()
    stranger[0, 0, 0, 0] ^= 1
    with pytest.raises(ValueError, match="not in the env's observation table"):
        index(stranger)
    with pytest.raises(ValueError, match="do not match"):
        index(images[:2, :5])
    with pytest.raises(ValueError, match="repeated rows"):
        ObservationIndex(np.concatenate([images[:3], images[1:2]]))


def test_sb3_view_hands_the_learner_the_pose_and_keeps_the_images():
    venv = wrap_views(make_vec_env("PixelWatermaze-v0", n_envs=2, env_kwargs={"goal": (2, 1)}), {"image_index": {}})
    assert venv.observation_space == gym.spaces.Discrete(324)
    np.testing.assert_array_equal(venv.reset(), [START_STATE, START_STATE])
    obs, *_ = venv.step(np.array([2, 1]))  # forward (east), turn right (to face south)
    np.testing.assert_array_equal(obs, [state_index((6, 5), 0), state_index((5, 5), 1)])
    np.testing.assert_array_equal(venv.get_original_obs(), tables().images[obs])


def test_batched_pixel_histories_hold_the_images_and_replay_through_a_fresh_env():
    captures = run_batched(TINY, "PixelWatermaze-v0", GOALS, seeds=[1, 2])
    assert len(captures) == 2 and len(captures[0:2]) == 2
    with pytest.raises(IndexError):
        captures[2]
    for goal, capture in zip(GOALS, captures, strict=True):
        s = capture.streams
        assert s.observations.shape == (2, 200, 55, 55, 3) and s.observations.dtype == np.uint8
        ends = iter(capture.terminal_observations)
        for actor in range(s.n_actors):
            env, obs = gym.make("PixelWatermaze-v0", goal=goal), None
            for t in range(s.n_steps):
                if s.episode_starts[actor, t]:
                    obs, _ = env.reset()
                np.testing.assert_array_equal(s.observations[actor, t], obs)
                obs, reward, terminated, truncated, _ = env.step(int(s.actions[actor, t]))
                assert reward == s.rewards[actor, t]
                if terminated or truncated:
                    np.testing.assert_array_equal(next(ends), obs)
        assert next(ends, None) is None


def test_decoding_lets_a_batch_hold_hundreds_of_pixel_learners():
    images = dataclasses.replace(TINY, learner_views={})
    per_learner = batch_bytes(TINY, "PixelWatermaze-v0", 2) - batch_bytes(TINY, "PixelWatermaze-v0", 1)
    assert per_learner * 100 < batch_bytes(images, "PixelWatermaze-v0", 2) - batch_bytes(images, "PixelWatermaze-v0", 1)


@pytest.mark.parametrize(
    "env_id, views, match",
    [
        ("PixelWatermaze-v0", {"count_bonus": {"beta": 0.1}, "image_index": {}}, "must be the first"),
        ("DarkRoom-v0", {"image_index": {}}, "decodes array observations"),
        ("PointRobot-v0", {"image_index": {}}, "observation_table"),
        ("PixelWatermaze-v0", {"count_bonus": {"beta": 0.1}}, "decode them first with image_index"),
    ],
)
def test_what_cannot_decode_is_refused_before_any_work(env_id, views, match):
    with pytest.raises(ValueError, match=match):
        check_env_fits(env_id, views)


def test_batched_collection_of_the_maze_runs_its_decoded_learner():
    from ad_agent.collection.runner import source_for
    from ad_agent.presets import get_preset

    preset = get_preset("PixelWatermaze-v0")
    assert "features_extractor_class" in preset.source.hyperparams["policy_kwargs"]  # SB3 learns from pixels
    batched = source_for(preset.env_id, preset.source, learners_per_batch=4)
    assert isinstance(batched, BatchedSourceConfig) and next(iter(batched.learner_views)) == "image_index"
    assert "policy_kwargs" not in batched.hyperparams and batched.learners_per_batch == 4
