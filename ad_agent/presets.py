"""Named, per-environment defaults for the whole pipeline: one place to read what ``run`` does."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import gymnasium as gym
from gymnasium import spaces

import envs
from ad_agent.model import ModelConfig
from ad_agent.model.encoders import obs_config_from_space
from ad_agent.sources import AnySourceConfig, UCBConfig, source_preset
from ad_agent.sources.sb3 import DARKROOM_PPO
from ad_agent.train import TRAIN_PRESETS, TrainConfig


@dataclass
class Preset:
    """Everything ``ad-agent run`` needs for one environment."""

    env_id: str
    source: AnySourceConfig
    runs_per_task: int
    model: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval_episodes: int = 50
    eval_trials_per_task: int = 4

    @cached_property
    def task_env(self) -> envs.TaskEnv:
        """The env itself, which knows its task split and score scales."""
        return cast(envs.TaskEnv, gym.make(self.env_id).unwrapped)  # every preset env is a TaskEnv

    @property
    def train_tasks(self) -> list[Any]:
        return self.task_env.tasks("train")

    @property
    def test_tasks(self) -> list[Any]:
        return self.task_env.tasks("test")

    def optimal_return(self, task: Any) -> float:
        return self.task_env.optimal_return(task)


PRESETS: dict[str, Preset] = {
    # The 'fast' shape at half its depth, trained twice as long: the same training compute as 4 layers x
    # 1,200 steps, and more in-context learning (benchmarks/results/depth_vs_steps.json).
    "DarkRoom-v0": Preset(
        env_id="DarkRoom-v0",
        source=DARKROOM_PPO,
        runs_per_task=2,
        model={**TRAIN_PRESETS["fast"].model, "n_layers": 2},
        train=dataclasses.replace(TRAIN_PRESETS["fast"].train, steps=2400),
    ),
    # UCB is the paper's bandit source (Sec. 5); one run gives 64 histories of 100 pulls, so one run per
    # train task already gives 6,400 streams. The paper's Table 1 has no bandit column: the 'fast'
    # shape with a context of one whole 100-pull history, and 100 pulls in evaluation as in training.
    "AdversarialBandit-v0": Preset(
        env_id="AdversarialBandit-v0",
        source=UCBConfig(n_actors=64, n_pulls=100),
        runs_per_task=1,
        model={**TRAIN_PRESETS["fast"].model, "context_len": 100},
        train=TRAIN_PRESETS["fast"].train,
        eval_episodes=100,
    ),
    # One PPO run per train goal with a count-based exploration bonus on the learner's side; the histories
    # hold the env's own rewards. The 'fast' shape without Table 1's input masking and label smoothing:
    # the goal pays once, so a window often holds a single reward, which masking would erase half the time.
    "DarkRoomHard-v0": Preset(
        env_id="DarkRoomHard-v0",
        source=source_preset("DarkRoomHard-v0", "PPO"),
        runs_per_task=1,
        model={**TRAIN_PRESETS["fast"].model, "attn_dropout": 0.0},
        train=dataclasses.replace(TRAIN_PRESETS["fast"].train, steps=3000, mask_prob=0.0, label_smoothing=0.0),
    ),
    # One PPO run per train task, its learner seeing the return so far in the episode (see
    # ad_agent.sources.presets); the histories hold positions only, as the env emits them. The train
    # split has 5,248 (key, door) tasks: pass --num-tasks for a smaller collection. The 'fast' shape and
    # optimisation, with the paper's Table 1 input masking (0.3) for Dark Key-to-Door.
    "DarkKeyToDoor-v0": Preset(
        env_id="DarkKeyToDoor-v0",
        source=source_preset("DarkKeyToDoor-v0", "PPO"),
        runs_per_task=1,
        model=TRAIN_PRESETS["fast"].model,
        train=dataclasses.replace(TRAIN_PRESETS["fast"].train, mask_prob=0.3),
    ),
    # One PPO run per train goal, learning from the pixels; the paper's conv blocks at a quarter of Table 3's
    # width and 8 windows of 2 episodes, what 24 GB of memory and 2 cores afford; Table 1's masking (0.3).
    "PixelWatermaze-v0": Preset(
        env_id="PixelWatermaze-v0",
        source=source_preset("PixelWatermaze-v0", "PPO"),
        runs_per_task=1,
        model={**TRAIN_PRESETS["fast"].model, "context_len": 100, "image_channels": 32},
        train=dataclasses.replace(TRAIN_PRESETS["fast"].train, batch_size=8, mask_prob=0.3),
    ),
}


def register_preset(preset: Preset, replace: bool = False) -> Preset:
    """Make ``preset`` what ``get_preset(preset.env_id)`` (and so the CLI and pipeline) use: the one call
    that, with ``gymnasium.register``, adds a task family of one's own. Refused, naming the problem,
    when the env is not registered, is not a :class:`envs.TaskEnv`, has an empty split, or already
    has a preset (unless ``replace``)."""
    if preset.env_id in PRESETS and not replace:
        raise ValueError(f"{preset.env_id} already has a preset; pass replace=True to change it")
    try:
        env = gym.make(preset.env_id).unwrapped
    except gym.error.Error as err:
        raise ValueError(f"{preset.env_id} is not a registered Gymnasium env; gymnasium.register it first") from err
    if not isinstance(env, envs.TaskEnv):
        raise ValueError(f"{preset.env_id} is a {type(env).__name__}, not an envs.TaskEnv: its task must be sticky")
    for split in ("train", "test"):
        if not env.tasks(split):
            raise ValueError(f"{preset.env_id} has no {split} tasks")
    PRESETS[preset.env_id] = preset
    return preset


def get_preset(env_id: str) -> Preset:
    if env_id not in PRESETS:
        raise ValueError(f"no preset for {env_id!r}; available: {sorted(PRESETS)}")
    return PRESETS[env_id]


def model_config_for(env_id: str, **overrides: Any) -> ModelConfig:
    """A model config whose input and output sizes come from the env's own spaces."""
    env = gym.make(env_id)
    obs_space, act_space = env.observation_space, env.action_space
    env.close()
    if not isinstance(act_space, spaces.Discrete):
        raise TypeError(f"{env_id}: action space {act_space} is not Discrete")
    return ModelConfig(**obs_config_from_space(obs_space), n_actions=int(act_space.n), **overrides)


def max_episode_steps(env_id: str) -> int | None:
    """The env's fixed horizon, from its spec or its own ``episode_length``, if it has one."""
    env = gym.make(env_id)
    horizon = env.spec.max_episode_steps if env.spec else None
    horizon = horizon or getattr(env.unwrapped, "episode_length", None)
    env.close()
    return horizon
