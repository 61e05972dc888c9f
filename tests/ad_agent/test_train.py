"""Distillation loop: learns, is reproducible under a seed, follows its schedule."""

import numpy as np
import pytest
import torch

from ad_agent.histories import FlatHistories, Streams, write_run
from ad_agent.model import ModelConfig
from ad_agent.train import TrainConfig, learning_rate, train


@pytest.fixture
def tiny_data(tmp_path) -> FlatHistories:
    """A 'learner' that always takes action (x + y) % 5: learnable from the observation alone."""
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 9, size=(4, 60, 2))
    streams = Streams(
        observations=obs,
        actions=obs.sum(-1) % 5,
        rewards=np.zeros((4, 60), np.float32),
        episode_starts=np.broadcast_to(np.arange(60) % 20 == 0, (4, 60)).copy(),
    )
    write_run(tmp_path / "run.h5", streams, {"env_id": "DarkRoom-v0"})
    return FlatHistories.load(tmp_path, n_actions=5)


CONFIG = ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=16, d_model=32, n_layers=1, n_heads=2, d_ff=64)


def test_training_lowers_the_loss(tiny_data):
    _, log = train(tiny_data, CONFIG, TrainConfig(steps=150, batch_size=16, warmup_steps=10, peak_lr=3e-3))
    first, last = np.mean([r["loss"] for r in log[:10]]), np.mean([r["loss"] for r in log[-10:]])
    assert last < 0.5 * first and log[-1]["accuracy"] > 0.6


def test_same_seed_same_model_other_seed_other_model(tiny_data):
    config = TrainConfig(steps=5, batch_size=8, seed=3)
    a, _ = train(tiny_data, CONFIG, config)
    b, _ = train(tiny_data, CONFIG, config)
    c, _ = train(tiny_data, CONFIG, TrainConfig(steps=5, batch_size=8, seed=4))
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name])
    assert any(not torch.equal(t, c.state_dict()[n]) for n, t in a.state_dict().items())
    assert not a.training  # returned ready for inference


def test_schedule_warms_up_then_cosine_decays():
    config = TrainConfig(steps=100, warmup_steps=10, initial_lr=1e-6, peak_lr=1e-3)
    lrs = [learning_rate(s, config) for s in range(100)]
    assert lrs[0] == 1e-6 and max(lrs) == pytest.approx(1e-3)
    assert np.all(np.diff(lrs[:10]) > 0) and np.all(np.diff(lrs[10:]) <= 0)
    assert lrs[-1] < 1e-5


def test_bandit_histories_with_discrete_observations_train():
    """UCB streams carry one int per step (Discrete(1)); the model sees them as one component."""
    from ad_agent.sources import UCBConfig, run_ucb

    task = (0.1,) * 9 + (0.9,)
    streams = run_ucb(UCBConfig(n_actors=8, n_pulls=40), "AdversarialBandit-v0", {"task": task}, seed=0)
    assert streams.observations.shape == (8, 40)
    data = FlatHistories.from_streams([streams], n_actions=10, metadata=[{}])
    config = ModelConfig(obs_nvec=(1,), n_actions=10, context_len=20, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    model, log = train(data, config, TrainConfig(steps=30, batch_size=8, warmup_steps=5, device="cpu"))
    assert log[-1]["loss"] < log[0]["loss"]
