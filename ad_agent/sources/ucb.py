"""UCB1 on a bandit task as an AD source: the paper's bandit learner (Laskin et al. 2022, Sec. 5).

Many independent UCB1 learners (Auer et al. 2002, after Lai & Robbins 1985) play the same task
side by side, one per vector-env actor, so one run gives ``n_actors`` learning histories, like
the SB3 sources' actors. Rewards come from the env's own numpy vector env (never re-sampled here)
and the streams are written exactly as :class:`~ad_agent.sources.sb3.HistoryRecorder` writes them.

The rollout loop is shared with the other scripted source (:mod:`ad_agent.sources.scripted`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from ad_agent.histories import Streams
from ad_agent.sources.base import Recorded, register_source
from ad_agent.sources.scripted import AGENT_STREAM, fixed_task_vector_env, rollout


@register_source
@dataclass
class UCBConfig:
    """One UCB run: ``n_actors`` independent learners, ``n_pulls`` one-pull episodes each.

    The index of arm ``a`` after ``t`` pulls is ``mean_a + c * sqrt(ln t / n_a)``; ``c = sqrt(2)``
    is textbook UCB1. Every arm is pulled once first (its index is infinite until then); ties go
    to a uniformly random arm, so the actors' opening rounds differ.

    The paper does not give ``c``. Measured on 30 train tasks x 100 actors, 100 pulls: ``c = 0.3``
    earns the most (83% of the optimal return over the history, 93% in its last 20 pulls, best arm
    81% of them), while UCB1's ``sqrt(2)`` still explores at the end (63%, best arm 35%), so it
    would hand AD a learner that barely improves within its history.
    """

    n_actors: int = 64
    n_pulls: int = 100
    c: float = 0.3

    def __post_init__(self) -> None:
        if self.n_actors < 1 or self.n_pulls < 1 or self.c < 0:
            raise ValueError(f"need n_actors >= 1, n_pulls >= 1 and c >= 0, got {self}")

    def record(self, env_id: str, env_kwargs: dict[str, Any], seed: int) -> Recorded:
        return run_ucb(self, env_id, env_kwargs, seed), {}


def random_argmax(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise argmax, ties broken uniformly at random (``np.argmax`` always takes the first)."""
    tied = values == values.max(axis=1, keepdims=True)
    return np.argmax(np.where(tied, rng.random(values.shape), -1.0), axis=1)


class UCB1:
    """Per-actor pull counts and reward sums for ``n_actors`` learners of ``n_arms`` arms."""

    def __init__(self, n_actors: int, n_arms: int, c: float, rng: np.random.Generator) -> None:
        self.counts = np.zeros((n_actors, n_arms))
        self.sums = np.zeros((n_actors, n_arms))
        self.c = c
        self.rng = rng

    def act(self, obs: np.ndarray, step: int) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = self.c * np.sqrt(math.log(max(step, 1)) / self.counts)
            index = np.where(self.counts > 0, self.sums / self.counts + bonus, np.inf)
        return random_argmax(index, self.rng)

    def observe(self, actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray) -> None:
        actors = np.arange(len(actions))
        self.counts[actors, actions] += 1
        self.sums[actors, actions] += rewards


def run_ucb(config: UCBConfig, env_id: str, env_kwargs: dict[str, Any], seed: int) -> Streams:
    """Run ``config.n_actors`` UCB1 learners on the bandit task ``env_kwargs`` fixes; one stream each."""
    vec_env = fixed_task_vector_env(env_id, env_kwargs, config.n_actors)
    obs_space, act_space = vec_env.single_observation_space, vec_env.single_action_space
    if not (isinstance(obs_space, spaces.Discrete) and obs_space.n == 1 and isinstance(act_space, spaces.Discrete)):
        vec_env.close()
        raise ValueError(f"UCB needs a bandit (one observation, discrete arms); {env_id} has {obs_space}, {act_space}")
    agent = UCB1(config.n_actors, int(act_space.n), config.c, np.random.default_rng([seed, AGENT_STREAM]))
    return rollout(vec_env, agent, config.n_pulls, seed)
