"""What the numpy-driven (scripted) sources share: a fixed-task vector env and the recording loop.

A scripted source (UCB, the noisy expert) is an :class:`Agent` that decides for every actor of
the env's own numpy vector env at once; :func:`rollout` plays it and records each actor's stream
exactly as :class:`~ad_agent.sources.sb3.HistoryRecorder` records an SB3 learner's.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from ad_agent.histories import Streams

#: The agent's generator is seeded ``(seed, AGENT_STREAM)``: Gymnasium seeds an env's ``np_random``
#: exactly as ``np.random.default_rng(seed)`` does, so sharing the seed would correlate their draws.
AGENT_STREAM = 1


class Agent(Protocol):
    """A vectorised scripted learner: one decision per actor per step, then the outcome."""

    def act(self, obs: np.ndarray, step: int) -> np.ndarray: ...

    def observe(self, actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray) -> None: ...


def split_task(env_kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The task ``env_kwargs`` fixes (as ``task=`` or Dark Room's ``goal=``) and the other kwargs."""
    kwargs = dict(env_kwargs)
    task = kwargs.pop("goal", kwargs.pop("task", None))
    if task is None:
        raise ValueError(f"a scripted source runs on one task: give env_kwargs task=..., got {env_kwargs}")
    return task, kwargs


def fixed_task_vector_env(env_id: str, env_kwargs: dict[str, Any], num_envs: int) -> gym.vector.VectorEnv:
    """The env's numpy vector env, every actor on the task ``env_kwargs`` fixes (``task=`` or ``goal=``).

    The other kwargs go to the vector env as they are. Same-step autoreset makes the observation
    returned with an episode's last reward the next episode's first, as the recorder stores it.
    """
    task, kwargs = split_task(env_kwargs)
    if gym.spec(env_id).vector_entry_point is None:
        raise ValueError(f"{env_id} has no numpy vector env (vector_entry_point) for a scripted source")
    return gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        tasks=task,
        autoreset_mode=AutoresetMode.SAME_STEP,
        **kwargs,
    )


def rollout(vec_env: gym.vector.VectorEnv, agent: Agent, n_steps: int, seed: int) -> Streams:
    """Play ``n_steps`` vector steps and record each actor's stream as the SB3 recorder does."""
    obs, _ = vec_env.reset(seed=seed)
    starts = np.ones(vec_env.num_envs, dtype=bool)
    rows: dict[str, list[np.ndarray]] = {"observations": [], "actions": [], "rewards": [], "episode_starts": []}
    for step in range(n_steps):
        actions = agent.act(obs, step).astype(np.int64)
        rows["observations"].append(np.array(obs, copy=True))
        rows["actions"].append(actions)
        rows["episode_starts"].append(starts)
        obs, rewards, terminated, truncated, _ = vec_env.step(actions)
        starts = terminated | truncated
        rows["rewards"].append(np.asarray(rewards, dtype=np.float32))
        agent.observe(actions, rewards, starts)
    vec_env.close()
    return Streams(**{name: np.stack(arrays, axis=1) for name, arrays in rows.items()})
