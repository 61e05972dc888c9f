"""RL^2 (Duan et al., 2016): an LSTM policy meta-trained online with PPO, across trials of train tasks.

The paper's online meta-RL reference (Laskin et al. 2022, Fig. 4, trained there for 1e9 steps).
Here sb3-contrib's RecurrentPPO learns on :class:`~ad_agent.baselines.trial.TrialWrapper` trials of
the train tasks; evaluation plays one trial per held-out task with the weights frozen, so whatever
it improves across the trial's episodes it does in its LSTM state, like AD in its context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv

from ad_agent.baselines.trial import TrialWrapper
from ad_agent.sources.sb3 import null_logger


@dataclass
class RL2Config:
    """RL^2's trial length and its RecurrentPPO learner.

    The defaults are for Dark Room-sized tasks on a CPU budget of about 1e5 steps: 16 trials run
    side by side (one task each, so an update sees several tasks), each rollout covers 128 steps
    per trial and the LSTM is carried across rollouts of the same trial; ``gamma`` 0.99 looks far
    enough ahead (about 100 steps, five 20-step episodes) for exploring now to pay in later episodes.
    """

    episodes_per_trial: int = 20
    total_timesteps: int = 150_000
    n_envs: int = 16
    hyperparams: dict[str, Any] = field(
        default_factory=lambda: dict(
            n_steps=128,
            batch_size=512,
            n_epochs=4,
            learning_rate=3e-4,
            gamma=0.99,
            gae_lambda=0.95,
            ent_coef=0.01,
            policy_kwargs=dict(lstm_hidden_size=128, net_arch=dict(pi=[64], vf=[64])),
        )
    )

    def __post_init__(self) -> None:
        if self.episodes_per_trial < 1 or self.n_envs < 1 or self.total_timesteps < 1:
            raise ValueError("need episodes_per_trial, n_envs and total_timesteps >= 1")


def _trial_env(env_id: str, tasks: Sequence[Any], episodes_per_trial: int) -> TrialWrapper:
    return TrialWrapper(gym.make(env_id), tasks, episodes_per_trial)


def trial_vec_env(
    env_id: str, tasks_per_env: Sequence[Sequence[Any]], episodes_per_trial: int, seed: int
) -> DummyVecEnv:
    """One trial env per entry of ``tasks_per_env``, each drawing its trials' tasks from that entry."""
    vec_env = DummyVecEnv([partial(_trial_env, env_id, list(tasks), episodes_per_trial) for tasks in tasks_per_env])
    vec_env.seed(seed)
    return vec_env


def train_rl2(
    config: RL2Config, env_id: str, train_tasks: Sequence[Any], seed: int, resume_from: str | Path | None = None
) -> RecurrentPPO:
    """Meta-train RecurrentPPO for ``config.total_timesteps`` env steps on trials of ``train_tasks``.

    ``resume_from`` (a file written by ``model.save``) continues that model instead of a new one: its
    weights, optimiser state and step count carry over, while the trial envs (seeded by ``seed``)
    and the LSTM states start afresh, so meta-training can go on in chunks across sessions."""
    vec_env = trial_vec_env(env_id, [train_tasks] * config.n_envs, config.episodes_per_trial, seed)
    if resume_from is None:
        model = RecurrentPPO("MlpLstmPolicy", vec_env, seed=seed, device="cpu", verbose=0, **config.hyperparams)
    else:
        model = RecurrentPPO.load(resume_from, env=vec_env, device="cpu")
        model.set_random_seed(seed)
    model.set_logger(null_logger())  # SB3's default logger leaves an empty folder in the temp folder
    model.learn(total_timesteps=config.total_timesteps, reset_num_timesteps=resume_from is None)
    vec_env.close()
    return model


def evaluate_rl2(
    model: RecurrentPPO,
    env_id: str,
    tasks: Sequence[Any],
    episodes: int,
    seed: int,
    deterministic: bool = False,
) -> np.ndarray:
    """Per-episode returns ``(len(tasks), episodes)``: one trial of ``episodes`` episodes per task, all at once.

    ``deterministic=False`` samples actions as in training: RL^2 explores by its policy's randomness
    as well as by its memory, and its greedy action can loop forever in an unexplored room.
    """
    vec_env = trial_vec_env(env_id, [[task] for task in tasks], episodes, seed)
    set_random_seed(seed)
    n = len(tasks)
    returns = np.zeros((n, episodes))
    playing = np.ones(n, dtype=bool)
    obs, state, starts = vec_env.reset(), None, np.ones(n, dtype=bool)
    while playing.any():
        obs = cast(np.ndarray, obs)  # a TrialWrapper's observations are flat arrays
        actions, state = model.predict(obs, state=state, episode_start=starts, deterministic=deterministic)
        obs, rewards, starts, infos = vec_env.step(actions)
        episode = np.array([info["trial_episode"] for info in infos])
        returns[playing, episode[playing]] += rewards[playing]
        playing &= ~starts  # a finished trial auto-resets: its next trial is not counted
    vec_env.close()
    return returns
