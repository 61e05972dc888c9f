"""Continuous (Box) actions from the learner to the run file: recorded as the env received them, stored as
float32 with their shape, and replayable."""

import gymnasium as gym
import numpy as np
import pytest

from ad_agent.collection import collect, make_jobs
from ad_agent.histories import Streams, read_extras, read_run, verify_run, write_run
from ad_agent.sources import SourceConfig

GOAL = (0.0, 0.75)
SAC_TINY = SourceConfig("SAC", n_envs=2, total_timesteps=120, hyperparams={"learning_starts": 40, "buffer_size": 500})
PPO_TINY = SourceConfig("PPO", n_envs=2, total_timesteps=80, hyperparams={"n_steps": 20, "batch_size": 20})


def test_streams_take_float_actions_with_a_shape_and_refuse_other_kinds():
    n, t = 2, 5
    box = Streams(np.zeros((n, t, 2)), np.zeros((n, t, 2), np.float32), np.zeros((n, t)), np.ones((n, t), bool))
    assert box.continuous and (box.n_actors, box.n_steps) == (n, t)
    with pytest.raises(ValueError, match="integers or floats"):
        Streams(np.zeros((n, t, 2)), np.zeros((n, t), bool), np.zeros((n, t)), np.ones((n, t), bool))


def test_a_run_file_keeps_float_actions_and_learner_actions_exactly(tmp_path):
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(2, 7, 2)).astype(np.float32)
    streams = Streams(rng.normal(size=(2, 7, 2)).astype(np.float32), actions, np.ones((2, 7)), np.eye(2, 7, dtype=bool))
    raw = actions * 1.5
    path = write_run(tmp_path / "r.h5", streams, {"env_id": "PointRobot-v0"}, {"learner_actions": raw})
    back, _ = read_run(path)
    assert back.actions.dtype == np.float32 and back.actions.shape == (2, 7, 2)
    np.testing.assert_array_equal(back.actions, actions)
    np.testing.assert_array_equal(read_extras(path)["learner_actions"], raw)
    verify_run(path)  # chunk by chunk, over the third axis too


@pytest.mark.parametrize("source", [SAC_TINY, PPO_TINY], ids=["SAC", "PPO"])
def test_collected_continuous_histories_replay_through_a_fresh_env(tmp_path, source):
    """Each stream's actions, replayed from the start, give back its observations and rewards."""
    (job,) = make_jobs("PointRobot-v0", [GOAL], runs_per_task=1, seed=0, split="train")
    collect([job], source, tmp_path, workers=1)
    streams, meta = read_run(tmp_path / job.filename)
    assert meta["source"]["algo"] == source.algo and streams.continuous
    assert streams.n_actors == 2 and streams.n_steps == source.total_timesteps // 2
    for actor in range(streams.n_actors):
        env = gym.make("PointRobot-v0", goal=GOAL).unwrapped
        for t in range(streams.n_steps):
            if streams.episode_starts[actor, t]:
                obs, _ = env.reset()
            np.testing.assert_array_equal(streams.observations[actor, t], obs)
            obs, reward, *_ = env.step(streams.actions[actor, t])
            assert reward == streams.rewards[actor, t]
    assert ("learner_actions" in read_extras(tmp_path / job.filename)) == (source.algo == "PPO")


def test_batched_learners_take_continuous_actions_but_not_off_policy_learners():
    from ad_agent.collection import source_for
    from ad_agent.sources.batched import BatchedSourceConfig

    config = source_for("PointRobot-v0", PPO_TINY, learners_per_batch=4)
    assert isinstance(config, BatchedSourceConfig) and (config.algo, config.n_envs) == ("PPO", 2)
    with pytest.raises(ValueError, match="batched learners implement"):
        source_for("PointRobot-v0", SourceConfig("SAC", n_envs=2, total_timesteps=80), learners_per_batch=4)
