"""Dark Room: a 2D grid where the goal is invisible and can only be inferred from reward.

Description
    The agent walks a ``size x size`` room (9x9 by default, as in Laskin et al. 2022, Sec. 4.1).
    It sees only its own ``(x, y)`` position; the goal cell is the *task*, hidden from the
    observation, so a policy must find it by exploring and remember it across episodes.

Action Space
    ``Discrete(5)``: 0 no-op, 1 up (y - 1), 2 down (y + 1), 3 left (x - 1), 4 right (x + 1).
    Moves into a wall leave the agent where it is.

Observation Space
    ``MultiDiscrete([size, size])``: the agent's ``(x, y)``.

Starting State
    The centre cell ``(size // 2, size // 2)`` at every reset.

Rewards
    1.0 on every step that ends with the agent on the goal, else 0.0. In Dark Room Hard
    (``DarkRoomHard-v0``: 17x17, ``reward_once=True``) only the first such step of an episode pays.

Episode End
    Truncation after ``episode_length`` steps (20 by default). There is no termination.

Task / Reset Arguments
    The task is the goal cell ``(x, y)``, sticky as :mod:`envs.core` describes: set it with
    ``gym.make("DarkRoom-v0", goal=(x, y))`` (or ``task=``) or ``reset(options={"goal": (x, y)})``
    (or ``"task"``); never set, it is drawn from the env's ``np_random`` at the first reset.
    ``info["task"]`` reports it. :data:`TRAIN_GOALS` / :data:`TEST_GOALS` split the 81 goals.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from envs.core import TaskEnv, TaskVectorEnv, int_cells, int_pair, one_task_per_env

SIZE = 9
HARD_SIZE = 17
EPISODE_LENGTH = 20

Goal = tuple[int, int]

# Row i is the (dx, dy) of action i: no-op, up, down, left, right.
MOVES = np.array([[0, 0], [0, -1], [0, 1], [-1, 0], [1, 0]], dtype=np.int64)


def all_goals(size: int = SIZE) -> list[Goal]:
    """Every cell of the room, in row-major ``(x, y)`` order."""
    return [(x, y) for y in range(size) for x in range(size)]


def is_test_goal(goal: Goal, size: int = SIZE) -> bool:
    """The split rule: a goal is held out when its row-major index is a multiple of 5.

    A fixed arithmetic rule (rather than a seeded shuffle) keeps the split readable, spreads the
    held-out goals over the whole room and at every distance from the start, and gives
    17 test / 64 train goals on the 9x9 room (21% / 79%).
    """
    x, y = goal
    return (y * size + x) % 5 == 0


TRAIN_GOALS: tuple[Goal, ...] = tuple(g for g in all_goals() if not is_test_goal(g))
TEST_GOALS: tuple[Goal, ...] = tuple(g for g in all_goals() if is_test_goal(g))


def optimal_return(
    goal: Goal, size: int = SIZE, episode_length: int = EPISODE_LENGTH, reward_once: bool = False
) -> float:
    """Best achievable return: walk the Manhattan distance ``d``, then stay on the goal.

    Rewards come on steps ``d .. episode_length``, i.e. ``episode_length + 1 - d`` of them, except
    at the start cell itself where all ``episode_length`` steps pay. With ``reward_once`` it is 1
    when the goal can be reached in time, else 0.
    """
    centre = size // 2
    distance = abs(goal[0] - centre) + abs(goal[1] - centre)
    if reward_once:
        return float(max(distance, 1) <= episode_length)
    return float(max(0, min(episode_length, episode_length + 1 - distance)))


@lru_cache(maxsize=8)
def _random_returns(size: int, episode_length: int, reward_once: bool) -> np.ndarray:
    """Exact expected return of the uniform random policy for every goal, indexed ``[y, x]``.

    Dynamic programming over the walker's position distribution (no sampling): with reward on
    every step it is the expected number of visits; with ``reward_once``, the probability of a
    first visit, tracked per goal by removing the mass that has already reached it.
    """
    n = size * size
    cells = np.array([(x, y) for y in range(size) for x in range(size)])
    step = np.zeros((n, n))
    for move in MOVES:
        nxt = np.clip(cells + move, 0, size - 1)
        step[np.arange(n), nxt[:, 1] * size + nxt[:, 0]] += 1 / len(MOVES)
    start = np.zeros(n)
    start[(size // 2) * size + size // 2] = 1.0
    if not reward_once:
        dist, visits = start, np.zeros(n)
        for _ in range(episode_length):
            dist = dist @ step
            visits += dist
        return visits.reshape(size, size)
    not_yet = np.tile(start, (n, 1))  # row g: mass that has not reached goal g
    hits = np.zeros(n)
    for _ in range(episode_length):
        not_yet = not_yet @ step
        hits += not_yet[np.arange(n), np.arange(n)]
        not_yet[np.arange(n), np.arange(n)] = 0.0
    return hits.reshape(size, size)


def random_return(
    goal: Goal, size: int = SIZE, episode_length: int = EPISODE_LENGTH, reward_once: bool = False
) -> float:
    """Expected return of the uniform random policy on ``goal`` (exact, see ``_random_returns``)."""
    return float(_random_returns(size, episode_length, reward_once)[goal[1], goal[0]])


def _check_goal(goal: Any, size: int) -> Goal:
    """Turn ``goal`` into a tuple of two ints inside the room, or say why it is not one."""
    x, y = int_pair(goal, "goal")
    if not (0 <= x < size and 0 <= y < size):
        raise ValueError(f"goal {goal!r} is outside the {size}x{size} room")
    return x, y


class DarkRoomEnv(TaskEnv[Goal]):
    """Single Dark Room; see the module docstring for the full definition."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    task_alias = "goal"

    def __init__(
        self,
        goal: Goal | None = None,
        size: int = SIZE,
        episode_length: int = EPISODE_LENGTH,
        reward_once: bool = False,
        render_mode: str | None = None,
        task: Goal | None = None,
    ) -> None:
        if size < 2 or episode_length < 1:
            raise ValueError(f"need size >= 2 and episode_length >= 1, got {size}, {episode_length}")
        self.size = size
        self.episode_length = episode_length
        self.reward_once = reward_once
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(5)
        self.observation_space = spaces.MultiDiscrete([size, size])
        self._pos = np.array([size // 2, size // 2], dtype=np.int64)
        self._t = 0
        self._reached = False
        super().__init__(task, alias=goal)

    @property
    def goal(self) -> Goal | None:
        return self.task

    def check_task(self, task: Any) -> Goal:
        return _check_goal(task, self.size)

    def sample_task(self, rng: np.random.Generator) -> Goal:
        x, y = rng.integers(0, self.size, size=2)
        return int(x), int(y)

    def all_tasks(self) -> list[Goal]:
        return all_goals(self.size)

    def is_test_task(self, task: Goal) -> bool:
        return is_test_goal(task, self.size)

    def optimal_return(self, task: Goal) -> float:
        return optimal_return(task, self.size, self.episode_length, self.reward_once)

    def random_return(self, task: Goal) -> float:
        return random_return(task, self.size, self.episode_length, self.reward_once)

    def _start_episode(self) -> np.ndarray:
        self._pos = np.array([self.size // 2, self.size // 2], dtype=np.int64)
        self._t = 0
        self._reached = False
        return self._pos.copy()

    def _transition(self, action: int) -> tuple[np.ndarray, float, bool, bool]:
        self._pos = np.clip(self._pos + MOVES[int(action)], 0, self.size - 1)
        self._t += 1
        assert self.task is not None  # step() runs only once a reset has set it
        on_goal = bool(self._pos[0] == self.task[0] and self._pos[1] == self.task[1])
        reward = float(on_goal and not (self.reward_once and self._reached))
        self._reached |= on_goal
        return self._pos.copy(), reward, False, self._t >= self.episode_length

    def render(self) -> str | np.ndarray | None:
        """``ansi``: the room as text (A agent, G goal); ``rgb_array``: the same as an image."""
        if self.render_mode is None:
            return None
        grid = np.zeros((self.size, self.size), dtype=np.uint8)  # indexed [y, x]
        if self.goal is not None:
            grid[self.goal[1], self.goal[0]] = 1
        grid[self._pos[1], self._pos[0]] = 2
        if self.render_mode == "ansi":
            return "\n".join("".join(".GA"[c] for c in row) for row in grid)
        colours = np.array([[30, 30, 30], [40, 200, 40], [220, 60, 60]], dtype=np.uint8)
        return np.kron(colours[grid], np.ones((16, 16, 1), dtype=np.uint8))


class DarkRoomVectorEnv(TaskVectorEnv):
    """``num_envs`` Dark Rooms stepped together in numpy, each with its own goal.

    Used through ``gym.make_vec("DarkRoom-v0", num_envs=N, vectorization_mode="vector_entry_point")``.
    ``tasks`` (one goal per env, or one for all) fixes the goals; otherwise each env draws its goal
    from ``np_random`` at the first reset. Reset option ``{"tasks": [...]}`` changes them.
    Autoreset as :class:`~envs.core.TaskVectorEnv`: ``NEXT_STEP`` (default) or ``SAME_STEP``.
    """

    def __init__(
        self,
        num_envs: int,
        tasks: list[Goal] | Goal | None = None,
        size: int = SIZE,
        episode_length: int = EPISODE_LENGTH,
        reward_once: bool = False,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        self.size = size
        self.episode_length = episode_length
        self.reward_once = reward_once
        super().__init__(num_envs, spaces.MultiDiscrete([size, size]), len(MOVES), tasks, autoreset_mode)
        self._pos = np.full((num_envs, 2), size // 2, dtype=np.int64)
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._reached = np.zeros(num_envs, dtype=bool)

    def _check_tasks(self, tasks: Any) -> np.ndarray:
        arr = one_task_per_env(int_cells(tasks, "goals"), self.num_envs, (2,))
        if arr.min() < 0 or arr.max() >= self.size:
            raise ValueError(f"goals must lie inside the {self.size}x{self.size} room")
        return arr

    def _draw_tasks(self) -> np.ndarray:
        return self.np_random.integers(0, self.size, size=(self.num_envs, 2))

    def _start_episodes(self, mask: np.ndarray) -> None:
        self._pos[mask] = self.size // 2
        self._t[mask] = 0
        self._reached[mask] = False

    def _advance(self, actions: np.ndarray, stepping: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        moved = np.clip(self._pos + MOVES[actions], 0, self.size - 1)
        self._pos = np.where(stepping[:, None], moved, self._pos)
        self._t += stepping
        on_goal = stepping & (self._pos == self.tasks).all(axis=1)
        rewards = (on_goal & ~(self.reward_once & self._reached)).astype(np.float64)
        self._reached |= on_goal
        truncated = stepping & (self._t >= self.episode_length)
        return rewards, np.zeros(self.num_envs, dtype=bool), truncated

    def _observe(self) -> np.ndarray:
        return self._pos.copy()


class DarkRoomHardEnv(DarkRoomEnv):
    """Dark Room Hard (paper Sec. 4.1): 17x17, 20 steps, reward 1 only on first reaching the goal.

    A hard-exploration variant: the return is at most 1 and a random walk from the centre rarely
    reaches a far goal in 20 steps. Everything else is as in :class:`DarkRoomEnv`.
    """

    def __init__(self, goal: Goal | None = None, render_mode: str | None = None, task: Goal | None = None) -> None:
        super().__init__(goal, HARD_SIZE, EPISODE_LENGTH, reward_once=True, render_mode=render_mode, task=task)


class DarkRoomHardVectorEnv(DarkRoomVectorEnv):
    """:class:`DarkRoomHardEnv` x ``num_envs`` in numpy, as :class:`DarkRoomVectorEnv`."""

    def __init__(
        self,
        num_envs: int,
        tasks: list[Goal] | Goal | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        super().__init__(num_envs, tasks, HARD_SIZE, EPISODE_LENGTH, reward_once=True, autoreset_mode=autoreset_mode)
