"""The in-context evaluation protocol (paper Sec. 4.3), batched over tasks.

Each task is fixed for a whole trial; the policy starts with an empty context and plays
``episodes`` consecutive episodes, with frozen weights. All trials run at once: one vector env
step and one batched ``act`` per time step. Envs with a numpy vector form (every env of
:mod:`envs`) are stepped through it; any other Gymnasium env through ``SyncVectorEnv``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from ad_agent.deployment.policy import InContextPolicy, check_temperature


def make_task_vector_env(env_id: str, tasks: Sequence[Any]) -> gym.vector.VectorEnv:
    """One env per task, auto-resetting in the same step (so an episode's first observation is
    the one returned with the last reward, as the policy's ``episode_start`` expects)."""
    if gym.spec(env_id).vector_entry_point is not None:
        return gym.make_vec(
            env_id,
            num_envs=len(tasks),
            vectorization_mode="vector_entry_point",
            tasks=list(tasks),
            autoreset_mode=AutoresetMode.SAME_STEP,
        )
    makers = [partial(gym.make, env_id, task=task) for task in tasks]
    return SyncVectorEnv(makers, autoreset_mode=AutoresetMode.SAME_STEP)


def evaluate(
    policy: InContextPolicy,
    env_id: str,
    tasks: Sequence[Any],
    episodes: int,
    seed: int = 0,
    on_step: Callable[[int], None] | None = None,
    temperature: float = 1.0,
) -> np.ndarray:
    """Per-episode returns, shaped ``(len(tasks), episodes)``; repeat a task to get more trials.
    Actions are sampled at ``temperature`` (:meth:`InContextPolicy.act`; 1 is the paper's protocol)."""
    if episodes < 1 or len(tasks) == 0:  # len: a numpy array of tasks has no truth value
        raise ValueError(f"need at least one task and one episode, got {len(tasks)} tasks, {episodes} episodes")
    check_temperature(temperature)  # before the envs are built
    vec_env = make_task_vector_env(env_id, tasks)
    n = len(tasks)
    obs, _ = vec_env.reset(seed=seed)
    policy.reset(batch_size=n, seed=seed)
    returns = np.zeros((n, episodes))
    episode = np.zeros(n, dtype=np.int64)
    reward = np.zeros(n)
    start = np.ones(n, dtype=bool)
    while (episode < episodes).any():
        actions = policy.act(obs, reward, episode_start=start, temperature=temperature)
        obs, reward, terminated, truncated, _ = vec_env.step(actions)
        playing = np.flatnonzero(episode < episodes)
        returns[playing, episode[playing]] += reward[playing]
        start = terminated | truncated
        episode += start
        if on_step:
            on_step(1)
    vec_env.close()
    return returns
