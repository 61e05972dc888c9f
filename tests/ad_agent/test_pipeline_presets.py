"""Every environment's pipeline preset builds, and its in-context policy plays the env's held-out tasks."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ad_agent import evaluate
from ad_agent.deployment.policy import InContextPolicy, PolicySpec
from ad_agent.model import ADTransformer
from ad_agent.presets import PRESETS, get_preset, max_episode_steps, model_config_for
from ad_agent.sources import AnySourceConfig

SMALL = dict(d_model=16, n_layers=1, n_heads=2, d_ff=16)


@pytest.mark.parametrize("env_id", sorted(PRESETS))
def test_preset_builds_a_model_and_valid_source(env_id: str) -> None:
    preset = PRESETS[env_id]
    assert preset.env_id == env_id and preset.runs_per_task >= 1
    assert isinstance(preset.source, AnySourceConfig)
    type(preset.source)(**dataclasses.asdict(preset.source))  # a declarative config, rebuilt from its fields
    config = preset.model_config()
    assert config.to_dict().items() >= preset.model.resolved().items()  # the shape, with the env's spaces
    assert preset.train_tasks and preset.test_tasks and preset.eval_episodes >= 1


@pytest.mark.parametrize("env_id", sorted(PRESETS))
def test_untrained_policy_of_the_preset_plays_held_out_tasks(env_id: str) -> None:
    """A batch of tasks through the numpy vector env, whatever the observation space (a bandit's is a scalar)."""
    preset = PRESETS[env_id]
    torch.manual_seed(0)
    config = model_config_for(env_id, **{**preset.model.choices(), **SMALL, "context_len": 8})
    policy = InContextPolicy(ADTransformer(config), PolicySpec(config, env_id, max_episode_steps(env_id)), "cpu")
    returns = evaluate(policy, env_id, preset.test_tasks[:3], episodes=2, seed=0)
    assert returns.shape == (3, 2)


@pytest.mark.parametrize("train_preset", ["fast", "paper", "lstm"])
def test_a_training_preset_keeps_the_envs_context_length(train_preset) -> None:
    from ad_agent.presets import TRAIN_PRESETS

    bandit = get_preset("AdversarialBandit-v0")  # its context is one 100-pull history, not the fast shape's 200
    chosen = bandit.customised(train_preset)
    assert chosen.model_config().context_len == 100 and chosen.train == TRAIN_PRESETS[train_preset].train
    assert chosen.model.arch == TRAIN_PRESETS[train_preset].model.arch


def test_a_model_shape_is_a_model_config_without_the_spaces() -> None:
    """ModelShape and ModelConfig cannot drift apart: every config field is a shape field or a space."""
    from dataclasses import fields

    from ad_agent.model import ModelConfig, ModelShape
    from ad_agent.model.config import SPACE_FIELDS

    assert {f.name for f in fields(ModelShape)} | set(SPACE_FIELDS) == {f.name for f in fields(ModelConfig)}
    assert ModelShape().resolved() == {k: v for k, v in ModelConfig((9,), 5).to_dict().items() if k not in SPACE_FIELDS}
    shape = ModelShape(n_layers=2)
    assert shape.choices() == {"n_layers": 2} and shape.value("n_layers") == 2 and shape.value("d_model") == 64
    assert shape.updated({"d_model": 32}).choices() == {"n_layers": 2, "d_model": 32}
    with pytest.raises(ValueError, match="unknown model settings.*'d_modle'"):
        shape.updated({"d_modle": 32})


def test_customised_applies_training_preset_then_settings_and_refuses_unknown_names() -> None:
    from ad_agent.presets import TRAIN_PRESETS

    darkroom = get_preset("DarkRoom-v0")
    paper = darkroom.customised("paper", model={"n_heads": 2}, train={"steps": 7})
    assert paper.model.d_ff == TRAIN_PRESETS["paper"].model.d_ff and paper.model.n_heads == 2  # settings win
    assert paper.train.batch_size == TRAIN_PRESETS["paper"].train.batch_size and paper.train.steps == 7
    assert darkroom.customised().model == darkroom.model and darkroom.customised().train == darkroom.train
    assert darkroom.model.n_heads is None  # the preset itself is untouched
    with pytest.raises(ValueError, match="unknown training settings.*'stepz'"):
        darkroom.customised(train={"stepz": 7})
    with pytest.raises(ValueError, match="unknown training preset 'tiny'"):
        darkroom.customised("tiny")


def test_a_preset_refuses_an_untyped_model() -> None:
    from ad_agent.presets import Preset

    with pytest.raises(TypeError, match="a preset's model is a ModelShape"):
        Preset("DarkRoom-v0", get_preset("DarkRoom-v0").source, 1, model={"n_layers": 2})  # type: ignore[arg-type]
