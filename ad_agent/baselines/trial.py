"""RL^2's view of a task environment: a trial of K episodes on one task, presented as one episode.

RL^2 (Duan et al., 2016) meta-learns a recurrent policy online. The recurrent state must survive
episode boundaries inside a trial (that is where it stores what it learned about the task) and be
cleared between trials (a new task). A recurrent SB3 learner clears its state when the Gymnasium
episode ends, so :class:`TrialWrapper` hides the inner episode boundaries: it resets the inner env
itself and ends its own episode only after K inner episodes. The policy still needs to know what
happened, so every observation carries the previous action, the previous reward and whether the
observation opens an inner episode, as in RL^2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class TrialWrapper(gym.Wrapper):
    """Trials of ``episodes_per_trial`` episodes on one task each, a new task drawn for every trial.

    Observation layout (a flat ``float32`` vector), in this order:

    - ``spaces.flatten`` of the inner observation (one-hot per component for discrete spaces);
    - the previous action, one-hot over ``Discrete(n)``, or a 1-D ``Box`` action itself (all zeros at
      the start of a trial);
    - the previous reward (0 at the start of a trial);
    - an episode-start flag: 1 on the first observation of every inner episode, else 0.

    ``reset(options={"task": t})`` pins the trial's task (evaluation on a held-out task); a plain
    ``reset()`` draws one of ``tasks`` uniformly from the wrapper's ``np_random``. The trial ends
    with ``terminated=True`` after the last inner episode ends (however that episode ended), since
    nothing follows a trial. ``info`` carries ``trial_episode`` (the inner episode the step belongs to)
    and, on the step that ends an inner episode, ``episode_return`` (that episode's return).
    """

    def __init__(self, env: gym.Env, tasks: Sequence[Any], episodes_per_trial: int) -> None:
        super().__init__(env)
        if episodes_per_trial < 1 or not tasks:
            raise ValueError(
                f"need at least one task and one episode per trial, got {len(tasks)}, {episodes_per_trial}"
            )
        space = env.action_space
        if isinstance(space, spaces.Discrete):
            self._action_size = int(space.n)
        elif isinstance(space, spaces.Box) and len(space.shape) == 1:
            self._action_size = int(space.shape[0])
        else:
            raise TypeError(f"RL^2 needs a Discrete or a 1-D Box action space, got {space}")
        self.tasks = list(tasks)
        self.episodes_per_trial = episodes_per_trial
        self._obs_size = spaces.flatdim(env.observation_space)
        size = self._obs_size + self._action_size + 2
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float32)
        self._episode = 0
        self._return = 0.0

    def _observe(self, obs: Any, action: Any, reward: float, episode_start: bool) -> np.ndarray:
        extra = np.zeros(self._action_size + 2, dtype=np.float32)
        if action is not None and isinstance(self.env.action_space, spaces.Box):
            extra[: self._action_size] = np.asarray(action, dtype=np.float32).reshape(-1)
        elif action is not None:
            extra[int(action)] = 1.0
        extra[-2] = reward
        extra[-1] = float(episode_start)
        flat = cast(np.ndarray, spaces.flatten(self.env.observation_space, obs))  # flatdim held: an array
        return np.concatenate([flat.astype(np.float32), extra])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)  # seeds self.np_random, which draws the tasks
        options = dict(options or {})
        task = options.pop("task", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; TrialWrapper accepts 'task'")
        if task is None:
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        obs, info = self.env.reset(seed=seed, options={"task": task})
        self._episode, self._return = 0, 0.0
        return self._observe(obs, None, 0.0, True), {**info, "trial_episode": 0}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "trial_episode": self._episode}
        self._return += float(reward)
        if not (terminated or truncated):
            return self._observe(obs, action, float(reward), False), float(reward), False, False, info
        info["episode_return"] = self._return
        self._episode, self._return = self._episode + 1, 0.0
        if self._episode == self.episodes_per_trial:
            return self._observe(obs, action, float(reward), False), float(reward), True, False, info
        obs, _ = self.env.reset()  # the task is sticky: a plain reset keeps it
        return self._observe(obs, action, float(reward), True), float(reward), False, False, info
