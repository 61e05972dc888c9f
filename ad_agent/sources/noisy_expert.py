"""A scripted expert with annealed noise as a cheap AD source (AD-epsilon, Zisman et al. 2023).

Noise distillation (arXiv 2312.12275) shows that AD does not need a real learner's histories:
an expert that acts uniformly at random with probability ``epsilon``, annealed linearly from 1
to 0 along the history, produces histories that improve from random to optimal, and AD distils
in-context learning from them. No training is involved, so a run costs only env steps.

Each actor of the env's numpy vector env is one noisy expert (one stream), all on the task
``env_kwargs`` fixes; the streams are written exactly as the SB3 recorder writes them. The
expert knows the task: it is a small function of (task, observation, rewards so far in the
episode), one per env id in :data:`EXPERTS`. On Pixel Watermaze the expert reads the agent's
pose out of the image (each pose has its own, :class:`~ad_agent.sources.learner_view.ObservationIndex`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np

from ad_agent.histories import Streams
from ad_agent.sources.base import Recorded, register_source
from ad_agent.sources.learner_view import ObservationIndex
from ad_agent.sources.scripted import AGENT_STREAM, fixed_task_vector_env, rollout, split_task
from envs import watermaze
from envs.darkroom import MOVES

#: ``expert(task, observations, progress) -> actions``: ``progress`` counts each actor's rewarded
#: steps in its current episode, which is all Key-to-Door's expert needs to know it holds the key.
Expert = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@register_source
@dataclass
class NoisyExpertConfig:
    """One noisy-expert run: ``n_actors`` streams of ``episodes`` full-length episodes each.

    ``epsilon`` falls linearly from 1 at the first step to 0 at ``anneal_fraction`` of the
    history and stays 0 after, so the history ends with the expert's own episodes. An env whose
    episodes can end early (Key-to-Door's door) fits more than ``episodes`` of them.
    """

    n_actors: int = 64
    episodes: int = 40
    anneal_fraction: float = 0.8

    def __post_init__(self) -> None:
        if self.n_actors < 1 or self.episodes < 1 or not 0 < self.anneal_fraction <= 1:
            raise ValueError(f"need n_actors >= 1, episodes >= 1 and 0 < anneal_fraction <= 1, got {self}")

    def record(self, env_id: str, env_kwargs: dict[str, Any], seed: int) -> Recorded:
        return run_noisy_expert(self, env_id, env_kwargs, seed), {}


def step_toward(positions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The grid action (:data:`~envs.darkroom.MOVES`) one step closer to ``targets``: x first, then y,
    no-op when there (staying on a goal keeps paying, and a no-op collects a key under the agent)."""
    delta = np.sign(targets - positions)
    move = np.where(delta[:, :1] != 0, delta * (1, 0), delta * (0, 1))
    return np.argmax((MOVES[None] == move[:, None]).all(axis=2), axis=1)


def walk_to_goal(task: np.ndarray, obs: np.ndarray, progress: np.ndarray) -> np.ndarray:
    """Dark Room (Hard): head for the goal cell and stay there."""
    return step_toward(obs, task)


def key_then_door(task: np.ndarray, obs: np.ndarray, progress: np.ndarray) -> np.ndarray:
    """Dark Key-to-Door: the first reward of an episode is the key, so then head for the door."""
    return step_toward(obs, task[np.minimum(progress, 1)])


@lru_cache(maxsize=1)
def _maze_poses() -> ObservationIndex:
    return ObservationIndex(watermaze.tables().images)


@lru_cache(maxsize=128)
def _steps_to_platform(goal: tuple[int, int]) -> np.ndarray:
    """Fewest actions from every pose of the maze to the goal cell (Bellman-Ford over the pose graph)."""
    next_state = watermaze.tables().next_state
    steps = np.full(watermaze.NUM_STATES, watermaze.NUM_STATES, dtype=np.int64)
    steps[watermaze.state_index(goal, 0) + np.arange(4)] = 0  # any direction on the goal cell
    while True:
        relaxed = np.minimum(steps, steps[next_state].min(axis=1) + 1)
        if np.array_equal(relaxed, steps):
            return steps
        steps = relaxed


def swim_to_platform(task: np.ndarray, obs: np.ndarray, progress: np.ndarray) -> np.ndarray:
    """Pixel Watermaze: the action that shortens the way to the platform most (finding it respawns the
    agent at the start, so this repeats a shortest path)."""
    states = _maze_poses()(obs)
    steps = _steps_to_platform((int(task[0]), int(task[1])))
    return np.argmin(steps[watermaze.tables().next_state[states]], axis=1)


def best_arm(task: np.ndarray, obs: np.ndarray, progress: np.ndarray) -> np.ndarray:
    """Adversarial Bandit: the arm with the highest mean."""
    return np.full(len(obs), np.argmax(task))


EXPERTS: dict[str, Expert] = {
    "DarkRoom-v0": walk_to_goal,
    "DarkRoomHard-v0": walk_to_goal,
    "DarkKeyToDoor-v0": key_then_door,
    "AdversarialBandit-v0": best_arm,
    "PixelWatermaze-v0": swim_to_platform,
}


class NoisyExpert:
    """``n_actors`` copies of ``expert`` on one task, each action replaced by a random one w.p. epsilon."""

    def __init__(
        self,
        expert: Expert,
        task: np.ndarray,
        space: gym.spaces.Discrete,
        epsilons: np.ndarray,
        n_actors: int,
        rng: np.random.Generator,
    ) -> None:
        self.expert = expert
        self.task = task
        self.n_actions = int(space.n)
        self.epsilons = epsilons
        self.rng = rng
        self.progress = np.zeros(n_actors, dtype=np.int64)

    def act(self, obs: np.ndarray, step: int) -> np.ndarray:
        n = len(obs)
        explore = self.rng.random(n) < self.epsilons[step]
        random_actions = self.rng.integers(self.n_actions, size=n)
        return np.where(explore, random_actions, self.expert(self.task, obs, self.progress))

    def observe(self, actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray) -> None:
        self.progress = np.where(dones, 0, self.progress + (rewards > 0))


def epsilon_schedule(n_steps: int, anneal_fraction: float) -> np.ndarray:
    """Epsilon at every step: linear from 1 to 0 over ``anneal_fraction`` of the steps, then 0."""
    return np.clip(1.0 - np.arange(n_steps) / (anneal_fraction * n_steps), 0.0, 1.0)


def run_noisy_expert(config: NoisyExpertConfig, env_id: str, env_kwargs: dict[str, Any], seed: int) -> Streams:
    """Run ``config.n_actors`` noisy experts on the task ``env_kwargs`` fixes; one stream each."""
    if env_id not in EXPERTS:
        raise ValueError(f"no scripted expert for {env_id!r}; available: {sorted(EXPERTS)}")
    single: Any = gym.make(env_id, **env_kwargs).unwrapped  # every env with an expert has an episode_length
    n_steps = config.episodes * single.episode_length
    single.close()
    vec_env = fixed_task_vector_env(env_id, env_kwargs, config.n_actors)
    space = vec_env.single_action_space
    assert isinstance(space, gym.spaces.Discrete)  # every env with an expert has discrete actions
    agent = NoisyExpert(
        EXPERTS[env_id],
        np.asarray(split_task(env_kwargs)[0]),
        space,
        epsilon_schedule(n_steps, config.anneal_fraction),
        config.n_actors,
        np.random.default_rng([seed, AGENT_STREAM]),
    )
    return rollout(vec_env, agent, n_steps, seed)
