"""What every task environment shares: a sticky hidden task, its train/test split and score scales.

A *task* (a goal cell, a key/door pair, a bandit's arm means...) is what a policy must infer from
reward. Subclasses say what a task is (:meth:`TaskEnv.check_task`, :meth:`TaskEnv.sample_task`),
which tasks exist and which are held out, and how well an optimal and a uniform random policy
score on one; this base makes every env treat the task the same way:

- a plain ``reset()`` keeps the task (SB3 and Gymnasium auto-resets pass no options);
- the constructor's ``task=`` or ``reset(options={"task": ...})`` sets it, checked and refused
  with a ``ValueError`` that says why when it is not a task of this env;
- when never set, the first reset draws it from ``self.np_random`` (so a seed fixes it);
- ``info["task"]`` reports it after every reset and step.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Generic, Literal, TypeVar

import gymnasium as gym
import numpy as np

TaskT = TypeVar("TaskT")
Split = Literal["train", "test", "all"]


class TaskEnv(gym.Env, Generic[TaskT]):
    """Base class: subclasses implement the task hooks and ``_start_episode`` / ``_transition``."""

    #: Another name accepted for the ``task`` reset option and constructor argument (e.g. "goal").
    task_alias: str | None = None

    def __init__(self, task: TaskT | None = None) -> None:
        self.task: TaskT | None = None if task is None else self.check_task(task)

    # --- what a task is -------------------------------------------------------------------
    @abstractmethod
    def check_task(self, task: Any) -> TaskT:
        """Return ``task`` in canonical form, or raise ``ValueError`` saying why it is not one."""

    @abstractmethod
    def sample_task(self, rng: np.random.Generator) -> TaskT:
        """Draw a task from the full task distribution."""

    def all_tasks(self) -> list[TaskT]:
        """Every task, in a fixed order. Envs with finitely many tasks implement this and
        :meth:`is_test_task`; envs with a continuous task space override :meth:`tasks` instead."""
        raise NotImplementedError(f"{type(self).__name__} has no finite task list; use tasks(split)")

    def is_test_task(self, task: TaskT) -> bool:
        """The deterministic split rule: held-out tasks are never used for training."""
        raise NotImplementedError(f"{type(self).__name__} defines its split in tasks(split)")

    @abstractmethod
    def optimal_return(self, task: TaskT) -> float:
        """Best expected episode return on ``task`` (exact, or a documented upper bound)."""

    @abstractmethod
    def random_return(self, task: TaskT) -> float:
        """Expected episode return of the uniform random policy on ``task``."""

    def tasks(self, split: Split = "all") -> list[TaskT]:
        """The tasks of a split: ``"train"``, ``"test"`` (held out) or ``"all"``."""
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        everything = self.all_tasks()
        if split == "all":
            return everything
        return [t for t in everything if self.is_test_task(t) == (split == "test")]

    # --- the episode ----------------------------------------------------------------------
    @abstractmethod
    def _start_episode(self) -> Any:
        """Put the env in its start state for ``self.task``; return the first observation."""

    @abstractmethod
    def _transition(self, action: Any) -> tuple[Any, float, bool, bool]:
        """Apply a valid action: ``(observation, reward, terminated, truncated)``."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        new_task = options.pop("task", None)
        if self.task_alias is not None and self.task_alias in options:
            if new_task is not None:
                raise ValueError(f"give either 'task' or '{self.task_alias}', not both")
            new_task = options.pop(self.task_alias)
        if options:
            accepted = ["task"] + ([self.task_alias] if self.task_alias else [])
            raise ValueError(f"unknown reset options {sorted(options)}; {type(self).__name__} accepts {accepted}")
        if new_task is not None:
            self.task = self.check_task(new_task)
        elif self.task is None:
            self.task = self.sample_task(self.np_random)
        return self._start_episode(), {"task": self.task}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self.task is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        obs, reward, terminated, truncated = self._transition(action)
        return obs, reward, terminated, truncated, {"task": self.task}


def one_task_per_env(tasks: np.ndarray, num_envs: int, task_shape: tuple[int, ...]) -> np.ndarray:
    """``tasks`` as ``(num_envs, *task_shape)``: one task for every env, or one given per env.

    The vector envs share this rule so that ``tasks=`` means the same everywhere.
    """
    if tasks.shape == task_shape:
        tasks = np.tile(tasks, (num_envs,) + (1,) * len(task_shape))
    if tasks.shape != (num_envs, *task_shape):
        raise ValueError(
            f"tasks must have shape ({num_envs}, {', '.join(map(str, task_shape))}) or {task_shape}, got {tasks.shape}"
        )
    return tasks


def pop_tasks_option(options: dict[str, Any] | None) -> Any:
    """The ``"tasks"`` reset option of a vector env (``None`` if absent); any other option is refused."""
    options = dict(options or {})
    tasks = options.pop("tasks", None)
    if options:
        raise ValueError(f"unknown reset options {sorted(options)}; accepts 'tasks'")
    return tasks
