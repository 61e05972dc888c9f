import pytest

from ad_agent.deployment.policy import InContextPolicy, PolicySpec
from ad_agent.histories import FlatHistories
from ad_agent.model import ADTransformer, ModelConfig
from tests.ad_agent.synthetic import write_learnable_histories


@pytest.fixture
def policy() -> InContextPolicy:
    """An untrained but valid DarkRoom policy with a short context (weights seeded)."""
    import torch

    torch.manual_seed(0)
    config = ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=12, d_model=32, n_layers=2, d_ff=64)
    return InContextPolicy(ADTransformer(config), PolicySpec(config, "DarkRoom-v0", max_episode_steps=20), "cpu")


@pytest.fixture
def tiny_data(tmp_path) -> FlatHistories:
    write_learnable_histories(tmp_path)
    return FlatHistories.load(tmp_path, n_actions=5)
