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

:class:`TaskVectorEnv` does the same for the numpy vector forms, one task per env, and carries
their shared step loop (spaces, action checks, both autoreset modes) so that each env only says
how its state starts, moves and looks.
"""

from __future__ import annotations

import operator
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, Generic, Literal, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

TaskT = TypeVar("TaskT")
Split = Literal["train", "test", "all"]


class TaskEnv(gym.Env, Generic[TaskT]):
    """Base class: subclasses implement the task hooks and ``_start_episode`` / ``_transition``."""

    #: Another name accepted for the ``task`` reset option and constructor argument (e.g. "goal").
    task_alias: str | None = None

    def __init__(self, task: TaskT | None = None, alias: TaskT | None = None) -> None:
        """``alias``: the task as given under :attr:`task_alias` (e.g. ``goal=``); at most one of the two."""
        if task is not None and alias is not None:
            raise ValueError(f"give either {self.task_alias}= or task=, not both")
        task = alias if task is None else task
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

    def observation_table(self) -> np.ndarray | None:
        """Every observation the env can emit, each once, where that is a small fixed set; else ``None``.

        A learner may then be handed an observation's row in this table instead of the observation
        (``ad_agent.sources.learner_view.ImageIndex``): the same information, decoded, so a
        pixel env can be learned by the small networks of a tabular one.
        """
        return None

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


class TaskVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of a task env stepped together in numpy, each env with its own task.

    Actions are ``Discrete`` (pass their count) or a continuous ``Box`` (pass the space).

    What is the same for every env's vector form lives here: the spaces, the ``tasks=`` argument
    and ``"tasks"`` reset option (:func:`one_task_per_env`, :func:`pop_tasks_option`), action
    checks, ``info["task"]``, and Gymnasium's two documented autoreset modes. With ``NEXT_STEP``
    (default) the step after an episode's last one only resets that env (reward 0, not done, action
    ignored), as ``SyncVectorEnv`` does; with ``SAME_STEP`` the ending step reports
    ``final_obs`` / ``final_info`` (masked by ``_final_obs`` / ``_final_info``) and returns the
    next episode's first observation. Subclasses keep their per-env state in arrays and implement
    the five hooks below; set what :meth:`_check_tasks` needs before calling this constructor.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}
    single_action_space: spaces.Discrete | spaces.Box

    def __init__(
        self,
        num_envs: int,
        observation_space: gym.Space,
        action_space: int | spaces.Box,
        tasks: Any = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"need num_envs >= 1, got {num_envs}")
        self.num_envs = num_envs
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        if self.autoreset_mode == AutoresetMode.DISABLED:
            raise ValueError(f"{type(self).__name__} supports NEXT_STEP and SAME_STEP autoreset")
        self.metadata = {"autoreset_mode": self.autoreset_mode}
        # an int n is Discrete(n); a Box is a continuous action space
        self.single_action_space = spaces.Discrete(action_space) if isinstance(action_space, int) else action_space
        self.single_observation_space = observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.tasks: np.ndarray | None = None
        if tasks is not None:
            self._use_tasks(self._check_tasks(tasks))
        self._needs_reset = np.zeros(num_envs, dtype=bool)

    # --- the hooks ------------------------------------------------------------------------
    @abstractmethod
    def _check_tasks(self, tasks: Any) -> np.ndarray:
        """``tasks`` as one checked task per env (via :func:`one_task_per_env`), or a ``ValueError``."""

    @abstractmethod
    def _draw_tasks(self) -> np.ndarray:
        """One task per env from the task distribution, for a first reset that was given none."""

    @abstractmethod
    def _start_episodes(self, mask: np.ndarray) -> None:
        """Put the masked envs in their start state."""

    @abstractmethod
    def _advance(self, actions: np.ndarray, stepping: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Step the envs in ``stepping`` (the others stand still, earn 0 and do not end): rewards,
        terminated, truncated."""

    @abstractmethod
    def _observe(self) -> np.ndarray:
        """Every env's current observation, as a new array."""

    def observation_table(self) -> np.ndarray | None:
        """As :meth:`TaskEnv.observation_table`: every single observation the envs can emit, or ``None``."""
        return None

    def _use_tasks(self, tasks: np.ndarray) -> None:
        """Make ``tasks`` (checked or drawn) the envs' tasks; override to precompute what steps look up."""
        self.tasks = tasks

    # --- the shared loop ------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        new_tasks = pop_tasks_option(options)
        if new_tasks is not None:
            self._use_tasks(self._check_tasks(new_tasks))
        elif self.tasks is None:
            self._use_tasks(self._draw_tasks())
        assert self.tasks is not None  # set by _use_tasks just now or at an earlier reset
        self._start_episodes(np.ones(self.num_envs, dtype=bool))
        self._needs_reset[:] = False
        return self._observe(), {"task": self.tasks.copy()}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self.tasks is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        resetting = self._needs_reset.copy()
        self._start_episodes(resetting)
        rewards, terminated, truncated = self._advance(self._check_actions(actions), ~resetting)
        done = terminated | truncated
        info: dict[str, Any] = {"task": self.tasks.copy()}
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._needs_reset = done
        elif done.any():
            obs = self._observe()
            info["final_obs"] = np.where(done.reshape(-1, *[1] * (obs.ndim - 1)), obs, np.zeros_like(obs))
            info["_final_obs"] = done
            info["final_info"] = {"task": self.tasks.copy(), "_task": done.copy()}
            info["_final_info"] = done.copy()
            self._start_episodes(done)
        return self._observe(), rewards, terminated, truncated, info

    def _check_actions(self, actions: Any) -> np.ndarray:
        """Discrete: ``actions`` as int64, refusing a wrong shape, out-of-range values and floats
        (``contains`` takes 2.5). Box: as the space's float dtype, refusing a wrong shape, NaN and
        values outside the box."""
        actions = np.asarray(actions)
        space = self.single_action_space
        if isinstance(space, spaces.Box):
            shape = (self.num_envs, *space.shape)
            as_float = actions.astype(space.dtype) if actions.dtype.kind in "fiu" else None
            if actions.shape != shape or as_float is None or not self.action_space.contains(as_float):
                low, high = compact_bound(space.low), compact_bound(space.high)
                raise ValueError(f"actions must be {shape} floats in [{low}, {high}], got {actions!r}")
            return as_float
        valid = actions.shape == (self.num_envs,) and np.issubdtype(actions.dtype, np.integer)
        if not (valid and self.action_space.contains(actions.astype(np.int64))):
            raise ValueError(f"actions must be {self.num_envs} ints in [0, {space.n}), got {actions!r}")
        return actions.astype(np.int64)


def observation_table(env: gym.Env | gym.vector.VectorEnv) -> np.ndarray | None:
    """``env``'s :meth:`TaskEnv.observation_table` through any wrappers, or ``None`` for an env without one
    (any other Gymnasium env)."""
    table = getattr(env.unwrapped, "observation_table", None)
    return None if table is None else table()


def compact_bound(bound: np.ndarray) -> np.ndarray | np.generic:
    """A uniform bound as one scalar, so specs and messages about large spaces stay readable; else the array."""
    if bound.size and np.all(bound == bound.flat[0]):
        return bound.flat[0]
    return bound


def int_pair(value: Any, what: str) -> tuple[int, int]:
    """``value`` as two Python ints (a cell), or a ``ValueError``: floats are refused, not truncated
    (``(1.5, 2)`` silently became ``(1, 2)``), and so are bools and strings."""
    try:
        x, y = (operator.index(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a pair of ints (x, y), got {value!r}") from None
    if any(isinstance(v, (bool, np.bool_)) for v in value):
        raise ValueError(f"{what} must be a pair of ints (x, y), got {value!r}")
    return x, y


def int_cells(tasks: Any, what: str) -> np.ndarray:
    """``tasks`` as an int64 array of cells, refusing floats, bools and strings as :func:`int_pair` does."""
    try:
        arr = np.asarray(tasks)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be pairs of ints (x, y), got {tasks!r}") from None
    # numpy turns (True, 2) into ints: look for bools among the values as they were given
    given_bools = not isinstance(tasks, np.ndarray) and any(
        isinstance(v, (bool, np.bool_)) for v in np.asarray(tasks, dtype=object).ravel()
    )
    if arr.dtype.kind not in "iu" or given_bools:
        raise ValueError(f"{what} must be pairs of ints (x, y), got {tasks!r} (dtype {arr.dtype})")
    return arr.astype(np.int64)


def evenly_spaced(tasks: Sequence[TaskT], n: int | None) -> list[TaskT]:
    """``n`` tasks spread evenly over the list (all of them when ``n`` is None or covers it).

    A split lists its tasks in order (row-major goals, keys before doors), so its first ``n`` would
    crowd into one corner of the task space; an even spread keeps a subset as varied as the split.
    """
    if n is not None and n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if n is None or n >= len(tasks):
        return list(tasks)
    return [tasks[int(i)] for i in np.linspace(0, len(tasks) - 1, n).round()]


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
