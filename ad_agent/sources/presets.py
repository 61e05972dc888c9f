"""Tuned SB3 source learners per (environment, algorithm), and the yardstick they were tuned against.

Algorithm Distillation can only distil improvement that its source histories contain, so a source must
actually learn each task within its history: a preset here is kept only if, at the end of its history,
it earns at least 90% of the optimal return on at least 90% of the tasks it was measured on
(:func:`final_return` over :func:`spread_tasks`). A2C stands in for the paper's A3C (Laskin et al. 2022,
Sec. 4): the same synchronous advantage actor-critic with many actors, without the asynchrony.

Each preset's measurement is ``python -m benchmarks.source_presets`` (``benchmarks/results/source_presets.json``);
how the presets were found is in ``benchmarks/REPORT.md``.

Dark Room Hard (17x17, 20 steps, the goal pays once) and Dark Key-to-Door needed more than tuning,
and get it on the learner's side only (:mod:`ad_agent.sources.learner_view`); their histories still
hold what the env emitted, so AD distils the same task it is later tested on:

- Dark Room Hard: plain PPO (100k steps, ``gamma=0.99``) learned 8 of 16 goals and never found the
  other 8, since a random walk from the centre reaches each of those within 20 steps with
  probability 0.007 to 6e-6, too rarely for undirected exploration to see the one reward. A
  count-based bonus ``0.1 / sqrt(N(s))`` for entering a cell the run's actors have entered ``N``
  times (MBIE-EB, Strehl & Littman 2008; Bellemare et al. 2016) drives the actors over the whole
  room until one finds the goal, then fades.
- Dark Key-to-Door: plain PPO (64 actors, 100k steps) reached 90% of the optimum on 5 of 8 tasks
  and only the key on the rest: observing its position alone, a feed-forward policy cannot tell
  whether it already holds the key. Appending the return earned so far in the episode (rewards the
  learner was paid itself, so nothing about the task) gives it that memory; Dark Room Hard's count
  bonus, over (position, return so far), then finds doors far from their keys.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the ids)
from ad_agent.histories import Streams, learning_curve
from ad_agent.sources.sb3 import DARKROOM_PPO, SourceConfig
from envs.core import Split, TaskEnv, evenly_spaced

# One episode per rollout, as for PPO; A2C's single gradient step per rollout needs a larger step size.
DARKROOM_A2C = SourceConfig(
    algo="A2C",
    n_envs=64,
    total_timesteps=60_000,
    hyperparams=dict(n_steps=20, learning_rate=3e-3, ent_coef=0.01, gamma=0.95),
)

# Fewer actors, so each stream is long; epsilon decays over the first 40% of the run, then stays at 2%.
DARKROOM_DQN = SourceConfig(
    algo="DQN",
    n_envs=16,
    total_timesteps=40_000,
    hyperparams=dict(
        learning_starts=1_000,
        buffer_size=40_000,
        batch_size=64,
        train_freq=1,
        gradient_steps=1,
        target_update_interval=500,
        exploration_fraction=0.4,
        exploration_final_eps=0.02,
        learning_rate=1e-3,
        gamma=0.95,
        policy_kwargs=dict(net_arch=[64, 64]),
    ),
)

# Dark Room's PPO at Hard's scale (gamma 0.99, Table 4) with a count bonus on the learner's side
# (learner_view.CountBonus): the actors spread over the room until one finds the goal, then the bonus fades.
DARKROOMHARD_PPO = SourceConfig(
    algo="PPO",
    n_envs=64,
    total_timesteps=100_000,
    hyperparams=dict(n_steps=20, batch_size=320, n_epochs=4, learning_rate=1e-3, ent_coef=0.01, gamma=0.99),
    learner_views={"count_bonus": {"beta": 0.1}},
)

# Dark Room's A2C at Hard's scale (gamma 0.99) with the same exploration bonus as PPO.
DARKROOMHARD_A2C = SourceConfig(
    algo="A2C",
    n_envs=64,
    total_timesteps=100_000,
    hyperparams=dict(n_steps=20, learning_rate=3e-3, ent_coef=0.01, gamma=0.99),
    learner_views={"count_bonus": {"beta": 0.1}},
)

# One whole 50-step episode per rollout; the learner sees the return so far (is the key held?) and a count
# bonus over (position, return so far), which sends it on to the door once it holds the key.
DARKKEYTODOOR_PPO = SourceConfig(
    algo="PPO",
    n_envs=64,
    total_timesteps=60_000,
    hyperparams=dict(n_steps=50, batch_size=800, n_epochs=4, learning_rate=1e-3, ent_coef=0.01, gamma=0.95),
    learner_views={"return_so_far": {"max_return": 2}, "count_bonus": {"beta": 0.1}},
)

# PPO on the pixels through a small two-convolution extractor (cnn.SmallCNN), one episode per rollout.
WATERMAZE_PPO = SourceConfig(
    algo="PPO",
    n_envs=32,
    total_timesteps=40_000,
    hyperparams=dict(
        n_steps=50,
        batch_size=400,
        n_epochs=4,
        learning_rate=5e-4,
        ent_coef=0.01,
        gamma=0.95,
        policy_kwargs=dict(features_extractor_class="SmallCNN", net_arch=[64]),
    ),
)

SOURCE_PRESETS: dict[tuple[str, str], SourceConfig] = {
    # Measured: 16/16 goals >= 90% of optimal (mean 1.000, worst 0.998 of optimal), 4.3 s per run.
    ("DarkRoom-v0", "PPO"): DARKROOM_PPO,
    ("DarkRoom-v0", "A2C"): DARKROOM_A2C,
    ("DarkRoom-v0", "DQN"): DARKROOM_DQN,
    ("DarkRoomHard-v0", "PPO"): DARKROOMHARD_PPO,
    ("DarkRoomHard-v0", "A2C"): DARKROOMHARD_A2C,
    ("DarkKeyToDoor-v0", "PPO"): DARKKEYTODOOR_PPO,
    ("PixelWatermaze-v0", "PPO"): WATERMAZE_PPO,
}


def source_preset(env_id: str, algo: str) -> SourceConfig:
    """The tuned source for ``algo`` on ``env_id``, as a copy the caller may change freely."""
    key = (env_id, algo)
    if key not in SOURCE_PRESETS:
        known = ", ".join(f"{e}/{a}" for e, a in sorted(SOURCE_PRESETS))
        raise ValueError(f"no source preset for {algo!r} on {env_id!r}; available: {known}")
    return copy.deepcopy(SOURCE_PRESETS[key])


def final_return(streams: Streams, last_episodes: int = 2) -> float:
    """What a run has learned by the end of its history: its last complete episodes, averaged over actors.

    Two episodes rather than one smooth out a single unlucky exploratory episode without reaching
    back into the learning phase; :func:`learning_curve` already leaves out each stream's last,
    possibly cut, episode.
    """
    curve = learning_curve(streams.rewards, streams.episode_starts)
    if len(curve) == 0:
        raise ValueError("the streams hold no complete episode")
    return float(np.mean(curve[-last_episodes:]))


def spread_tasks(env_id: str, n: int, split: Split = "train") -> list[Any]:
    """``n`` tasks of ``split`` evenly spaced through its list, so a sample covers the whole room."""
    env = cast(TaskEnv, gym.make(env_id).unwrapped)  # every env this package registers is one
    tasks = env.tasks(split)
    if not 1 <= n <= len(tasks):
        raise ValueError(f"{env_id} has {len(tasks)} {split} tasks, asked for {n}")
    return evenly_spaced(tasks, n)
