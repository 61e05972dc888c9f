"""sources.record: any source config in, streams and the extras it can see out."""

import numpy as np
import pytest

from ad_agent.sources import NoisyExpertConfig, SourceConfig, UCBConfig, record


def test_sb3_source_records_episode_ends_terminal_observations_and_learner_steps():
    config = SourceConfig(algo="PPO", n_envs=4, total_timesteps=160, hyperparams={"n_steps": 20, "batch_size": 40})
    streams, extras = record(config, "DarkRoom-v0", {"task": (2, 2)}, seed=0)
    assert streams.actions.shape == (4, 40)
    assert extras["truncated"].sum() == 8 and not extras["terminated"].any()  # 20-step episodes, twice
    np.testing.assert_array_equal(extras["truncated"][:, 19], True)
    np.testing.assert_array_equal(np.flatnonzero(extras["truncated"][0]) + 1, [20, 40])
    assert extras["terminal_observations"].shape == (8, 2)
    np.testing.assert_array_equal(extras["learner_steps"], np.arange(1, 41) * 4)


def test_sb3_source_leaves_the_callers_torch_threads_as_they_were():
    """Collection in the training process (``--workers 1``) must not change training's threads: the
    thread count changes float rounding, so the same seed would give another model."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        config = SourceConfig(algo="PPO", n_envs=2, total_timesteps=40, hyperparams={"n_steps": 20, "batch_size": 20})
        record(config, "DarkRoom-v0", {"task": (2, 2)}, seed=0)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    "config, env_id, task",
    [
        (UCBConfig(n_actors=3, n_pulls=12), "AdversarialBandit-v0", (0.2,) * 9 + (0.8,)),
        (NoisyExpertConfig(n_actors=3, episodes=2), "DarkRoom-v0", (1, 1)),
    ],
)
def test_scripted_sources_record_streams_without_extras(config, env_id, task):
    streams, extras = record(config, env_id, {"task": task}, seed=0)
    assert streams.n_actors == 3 and extras == {}


def test_record_refuses_what_is_not_a_source_config():
    with pytest.raises(TypeError, match="not a registered source"):
        record({"algo": "PPO"}, "DarkRoom-v0", {"task": (1, 1)}, seed=0)
