"""Every environment's pipeline preset builds, and its in-context policy plays the env's held-out tasks."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ad_agent import evaluate
from ad_agent.model import ADTransformer
from ad_agent.policy import InContextPolicy, PolicySpec
from ad_agent.presets import PRESETS, get_preset, max_episode_steps, model_config_for
from ad_agent.sources import AnySourceConfig

SMALL = dict(d_model=16, n_layers=1, n_heads=2, d_ff=16)


@pytest.mark.parametrize("env_id", sorted(PRESETS))
def test_preset_builds_a_model_and_valid_source(env_id: str) -> None:
    preset = PRESETS[env_id]
    assert preset.env_id == env_id and preset.runs_per_task >= 1
    assert isinstance(preset.source, AnySourceConfig)
    type(preset.source)(**dataclasses.asdict(preset.source))  # a declarative config, rebuilt from its fields
    config = model_config_for(env_id, **preset.model)
    assert config.context_len == preset.model.get("context_len", config.context_len)
    assert preset.train_tasks and preset.test_tasks and preset.eval_episodes >= 1


@pytest.mark.parametrize("env_id", sorted(PRESETS))
def test_untrained_policy_of_the_preset_plays_held_out_tasks(env_id: str) -> None:
    """A batch of tasks through the numpy vector env, whatever the observation space (a bandit's is a scalar)."""
    preset = PRESETS[env_id]
    torch.manual_seed(0)
    config = model_config_for(env_id, **{**preset.model, **SMALL, "context_len": 8})
    policy = InContextPolicy(ADTransformer(config), PolicySpec(config, env_id, max_episode_steps(env_id)), "cpu")
    returns = evaluate(policy, env_id, preset.test_tasks[:3], episodes=2, seed=0)
    assert returns.shape == (3, 2)


@pytest.mark.parametrize("train_preset", ["fast", "paper", "lstm"])
def test_a_training_preset_keeps_the_envs_context_length(train_preset) -> None:
    from ad_agent.pipeline import train_settings
    from ad_agent.train import TRAIN_PRESETS

    bandit = get_preset("AdversarialBandit-v0")  # its context is one 100-pull history, not the fast shape's 200
    model, train = train_settings(bandit, train_preset)
    assert model.context_len == 100 and train.steps == TRAIN_PRESETS[train_preset].train.steps
