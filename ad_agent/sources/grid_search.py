"""A tabular searcher of the Dark rooms: a learner whose every stream finds its goal by itself.

The batched PPO learner's actors share one policy, so most of its streams first reach their goal
after a sibling actor found it: what a stream learns is not explained by its own history, and
that history is all AD sees. Here each actor learns alone. It knows how the room moves (its size
and :data:`~envs.darkroom.MOVES`) and learns where it is paid: it remembers every cell it has
visited and every cell that paid it, across the episodes of its stream. At each step it heads for a
cell that paid it (while one can still pay this episode), or else for the nearest cell it has not
visited that it can reach in the steps left; ties are broken at random, and an ``epsilon`` share of
its actions is random. In RL terms: model-based, with a known transition model, a learned reward
map and optimism about unvisited cells (as R-max is optimistic about untried actions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from ad_agent.histories import Streams
from ad_agent.sources.base import Recorded, register_source
from ad_agent.sources.noisy_expert import step_toward
from ad_agent.sources.scripted import AGENT_STREAM, fixed_task_vector_env, rollout
from envs.darkroom import MOVES

ENVS = ("DarkRoom-v0", "DarkRoomHard-v0")
_NEARER = 1e-2  # score lost per step of distance: the nearest target wins
_TIE = 1e-3  # random score added to break ties between equally near targets


@register_source
@dataclass
class GridSearchConfig:
    """One run: ``n_actors`` independent searchers (one stream each) of ``episodes`` episodes."""

    n_actors: int = 64
    episodes: int = 40
    epsilon: float = 0.1

    def __post_init__(self) -> None:
        if self.n_actors < 1 or self.episodes < 1 or not 0 <= self.epsilon <= 1:
            raise ValueError(f"need n_actors >= 1, episodes >= 1 and 0 <= epsilon <= 1, got {self}")

    def record(self, env_id: str, env_kwargs: dict[str, Any], seed: int) -> Recorded:
        return run_grid_search(self, env_id, env_kwargs, seed), {}


class GridSearcher:
    """``n_actors`` searchers of a ``size`` x ``size`` room, each with its own memory."""

    def __init__(
        self, size: int, episode_length: int, reward_once: bool, n_actors: int, epsilon: float, rng: np.random.Generator
    ) -> None:
        self.size, self.episode_length, self.reward_once = size, episode_length, reward_once
        self.epsilon, self.rng = epsilon, rng
        self.visited = np.zeros((n_actors, size, size), dtype=bool)  # [actor, x, y]
        self.paid = np.zeros((n_actors, size, size), dtype=bool)
        self.paid_this_episode = np.zeros(n_actors, dtype=bool)
        self.steps_taken = np.zeros(n_actors, dtype=np.int64)
        self.positions = np.zeros((n_actors, 2), dtype=np.int64)
        self.cells = np.indices((size, size)).reshape(2, -1).T  # (size * size, 2) as (x, y), as visited flattens

    def targets(self) -> np.ndarray:
        """Each actor's target cell ``(x, y)``, or -1 where nothing is left to seek this episode."""
        n = len(self.positions)
        distance = np.abs(self.cells[None] - self.positions[:, None]).sum(axis=2)  # (actors, cells)
        reachable = distance <= (self.episode_length - self.steps_taken)[:, None]
        paying = self.paid.reshape(n, -1) & ~(self.reward_once & self.paid_this_episode)[:, None]
        unvisited = ~self.visited.reshape(n, -1)
        value = np.where(paying, 2.0, np.where(unvisited, 1.0, 0.0))
        score = value - _NEARER * distance + _TIE * self.rng.random(distance.shape)
        score = np.where(reachable & (value > 0), score, -np.inf)
        best = score.argmax(axis=1)
        return np.where(np.isfinite(score[np.arange(n), best])[:, None], self.cells[best], -1)

    def act(self, obs: np.ndarray, step: int) -> np.ndarray:
        self.positions = np.asarray(obs, dtype=np.int64)
        n = len(self.positions)
        self.visited[np.arange(n), self.positions[:, 0], self.positions[:, 1]] = True
        targets = self.targets()
        seeking = targets[:, 0] >= 0
        random_actions = self.rng.integers(len(MOVES), size=n)
        actions = np.where(seeking, step_toward(self.positions, np.where(seeking[:, None], targets, 0)), random_actions)
        return np.where(self.rng.random(n) < self.epsilon, random_actions, actions)

    def observe(self, actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray) -> None:
        arrived = np.clip(self.positions + MOVES[actions], 0, self.size - 1)  # the cell this step paid on
        n = len(arrived)
        self.visited[np.arange(n), arrived[:, 0], arrived[:, 1]] = True
        paid = np.asarray(rewards) > 0
        self.paid[np.arange(n)[paid], arrived[paid, 0], arrived[paid, 1]] = True
        self.paid_this_episode = np.where(dones, False, self.paid_this_episode | paid)
        self.steps_taken = np.where(dones, 0, self.steps_taken + 1)


def run_grid_search(config: GridSearchConfig, env_id: str, env_kwargs: dict[str, Any], seed: int) -> Streams:
    """Run ``config.n_actors`` searchers on the room and goal ``env_kwargs`` fix; one stream each."""
    if env_id not in ENVS:
        raise ValueError(f"the grid searcher plays {ENVS}, not {env_id!r}")
    room: Any = gym.make(env_id, **env_kwargs).unwrapped
    size, episode_length, reward_once = room.size, room.episode_length, room.reward_once
    room.close()
    agent = GridSearcher(
        size,
        episode_length,
        reward_once,
        config.n_actors,
        config.epsilon,
        np.random.default_rng([seed, AGENT_STREAM]),
    )
    vec_env = fixed_task_vector_env(env_id, env_kwargs, config.n_actors)
    return rollout(vec_env, agent, config.episodes * episode_length, seed)
