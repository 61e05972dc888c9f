"""Point Robot: a 2-D point that must find a hidden goal from reward alone, with continuous actions.

Description
    The meta-RL navigation task of MAML and PEARL (a point robot, goals on a half circle, sparse
    reward), sized for in-context RL: the agent starts at the origin of a plane and sees only its own
    position; the goal, a point on the upper half of the unit circle, is the *task* and is hidden.
    Reward comes only within :data:`GOAL_RADIUS` of it, so a policy must search the half circle and,
    once it has found the goal, go straight back in the following episodes.

Action Space
    ``Box(-1, 1, (2,), float32)``: a velocity. Each step moves the point by
    ``SPEED * action`` (:data:`SPEED` = 0.2 per coordinate), so a full-speed diagonal step covers
    ``0.2 * sqrt(2)``. Actions outside the box are refused, as for every env here (SB3 clips its
    Gaussian policies' actions to the box before stepping; a squashed policy stays inside).

Observation Space
    ``Box(-2, 2, (2,), float32)``: the point's ``(x, y)``; the point stays inside that square.

Starting State
    The origin ``(0, 0)`` at every reset.

Rewards
    1.0 on every step that ends within :data:`GOAL_RADIUS` (0.25) of the goal, else 0.0: Dark Room's
    reward in a continuous plane.

Episode End
    Truncation after ``episode_length`` steps (20). There is no termination.

Task / Reset Arguments
    The goal ``(x, y)``, sticky as :mod:`envs.core` describes: ``gym.make("PointRobot-v0",
    goal=(x, y))`` (or ``task=``), ``reset(options={"goal": ...})``; never set, it is drawn from the
    listed goals with the env's ``np_random`` at the first reset. Any point of the square is a valid
    goal; the listed ones (:func:`all_goals`) are :data:`N_GOALS` points evenly spread over the upper
    half circle, every fifth held out (:func:`is_test_goal`: 32 test, 128 train goals).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from envs.core import TaskEnv, TaskVectorEnv, one_task_per_env

SPEED = 0.2
GOAL_RADIUS = 0.25
ARENA = 2.0
EPISODE_LENGTH = 20
N_GOALS = 160
#: Rollouts behind each Monte-Carlo :func:`random_return` (standard error below 0.02 for every goal).
RANDOM_ROLLOUTS = 16_384

Goal = tuple[float, float]

ACTION_SPACE = spaces.Box(-1.0, 1.0, (2,), np.float32)
OBSERVATION_SPACE = spaces.Box(-ARENA, ARENA, (2,), np.float32)


def _angle_index(goal: Goal) -> int:
    """Which of the :data:`N_GOALS` equal sectors of the upper half plane ``goal``'s angle falls in."""
    angle = math.atan2(goal[1], goal[0]) % (2 * math.pi)
    return min(int(angle / math.pi * N_GOALS), N_GOALS - 1)


def all_goals() -> list[Goal]:
    """The listed goals: the middle of each sector of the upper unit half circle, by angle."""
    angles = [math.pi * (i + 0.5) / N_GOALS for i in range(N_GOALS)]
    return [(math.cos(a), math.sin(a)) for a in angles]


def is_test_goal(goal: Goal) -> bool:
    """The split rule: a goal is held out when its sector index is a multiple of 5, so the held-out
    goals are spread over the whole half circle, each between train goals on both sides."""
    return _angle_index(goal) % 5 == 0


def steps_to_reach(goal: Goal) -> int:
    """The fewest steps after which the point can be within :data:`GOAL_RADIUS` of ``goal``.

    After ``k`` steps the reachable positions are the square ``[-SPEED k, SPEED k]^2``, so ``k`` is the
    first whose square comes within the radius. Moving each coordinate by up to ``SPEED`` towards the
    goal reaches that closest point, which is what an optimal policy does.
    """
    for k in range(int(math.ceil(2 * ARENA / SPEED)) + 1):
        half = SPEED * k
        gap = [max(abs(c) - half, 0.0) for c in goal]
        if math.hypot(*gap) <= GOAL_RADIUS:
            return k
    raise ValueError(f"goal {goal!r} cannot be reached")  # unreachable for goals inside the arena


def optimal_return(goal: Goal, episode_length: int = EPISODE_LENGTH) -> float:
    """Best return: reach the goal in :func:`steps_to_reach` steps, then stay; every step from the
    arrival on pays (all of them when the goal covers the start)."""
    return float(max(0, episode_length + 1 - max(steps_to_reach(goal), 1)))


def _move(position: np.ndarray, action: np.ndarray) -> np.ndarray:
    return np.clip(position + SPEED * action, -ARENA, ARENA)


def _on_goal(position: np.ndarray, goal: np.ndarray) -> np.ndarray:
    return np.linalg.norm(position - goal, axis=-1) <= GOAL_RADIUS


@lru_cache(maxsize=512)
def random_return(goal: Goal, episode_length: int = EPISODE_LENGTH) -> float:
    """Expected return of the uniform random policy on ``goal``: a Monte-Carlo estimate over
    :data:`RANDOM_ROLLOUTS` rollouts from a fixed seed, so it is the same number every time."""
    rng = np.random.default_rng(0)
    position, target, total = np.zeros((RANDOM_ROLLOUTS, 2)), np.asarray(goal), 0.0
    for _ in range(episode_length):
        position = _move(position, rng.uniform(-1.0, 1.0, size=(RANDOM_ROLLOUTS, 2)))
        total += float(_on_goal(position, target).sum())
    return total / RANDOM_ROLLOUTS


def _check_goal(goal: Any) -> Goal:
    """``goal`` as two finite Python floats inside the arena, or a ``ValueError`` saying why not."""
    try:
        x, y = (float(v) for v in goal)
    except (TypeError, ValueError):
        raise ValueError(f"goal must be a pair of numbers (x, y), got {goal!r}") from None
    if any(isinstance(v, (bool, np.bool_, str)) for v in goal):
        raise ValueError(f"goal must be a pair of numbers (x, y), got {goal!r}")
    if not (math.isfinite(x) and math.isfinite(y) and abs(x) <= ARENA and abs(y) <= ARENA):
        raise ValueError(f"goal {goal!r} is not a finite point of the [-{ARENA}, {ARENA}]^2 arena")
    return x, y


class PointRobotEnv(TaskEnv[Goal]):
    """Single Point Robot; see the module docstring for the full definition."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    task_alias = "goal"

    def __init__(
        self,
        goal: Goal | None = None,
        episode_length: int = EPISODE_LENGTH,
        render_mode: str | None = None,
        task: Goal | None = None,
    ) -> None:
        if episode_length < 1:
            raise ValueError(f"need episode_length >= 1, got {episode_length}")
        self.episode_length = episode_length
        self.render_mode = render_mode
        self.action_space = ACTION_SPACE
        self.observation_space = OBSERVATION_SPACE
        self._position = np.zeros(2)
        self._t = 0
        super().__init__(task, alias=goal)

    def check_task(self, task: Any) -> Goal:
        return _check_goal(task)

    def sample_task(self, rng: np.random.Generator) -> Goal:
        goals = all_goals()
        return goals[int(rng.integers(len(goals)))]

    def all_tasks(self) -> list[Goal]:
        return all_goals()

    def is_test_task(self, task: Goal) -> bool:
        return is_test_goal(task)

    def optimal_return(self, task: Goal) -> float:
        return optimal_return(self.check_task(task), self.episode_length)

    def random_return(self, task: Goal) -> float:
        return random_return(self.check_task(task), self.episode_length)  # a list (from JSON) made hashable

    def _start_episode(self) -> np.ndarray:
        self._position = np.zeros(2)
        self._t = 0
        return self._position.astype(np.float32)

    def _transition(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        self._position = _move(self._position, np.asarray(action, dtype=np.float64))
        self._t += 1
        assert self.task is not None  # step() runs only once a reset has set it
        reward = float(_on_goal(self._position, np.asarray(self.task)))
        return self._position.astype(np.float32), reward, False, self._t >= self.episode_length

    def render(self) -> np.ndarray | None:
        """``rgb_array``: the arena from above, the goal's rewarding disc green, the point red."""
        if self.render_mode is None:
            return None
        pixels = 128
        centres = (np.arange(pixels) + 0.5) / pixels * 2 * ARENA - ARENA
        x, y = np.meshgrid(centres, -centres)  # image rows go down, y goes up
        image = np.full((pixels, pixels, 3), 30, dtype=np.uint8)
        if self.task is not None:
            image[np.hypot(x - self.task[0], y - self.task[1]) <= GOAL_RADIUS] = (40, 200, 40)
        image[np.hypot(x - self._position[0], y - self._position[1]) <= 0.06] = (220, 60, 60)
        return image


class PointRobotVectorEnv(TaskVectorEnv):
    """``num_envs`` Point Robots stepped together in numpy, each with its own goal; as the other
    vector forms (``gym.make_vec("PointRobot-v0", num_envs=N, vectorization_mode="vector_entry_point")``)."""

    def __init__(
        self,
        num_envs: int,
        tasks: list[Goal] | Goal | None = None,
        episode_length: int = EPISODE_LENGTH,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        self.episode_length = episode_length
        super().__init__(num_envs, OBSERVATION_SPACE, ACTION_SPACE, tasks, autoreset_mode)
        self._position = np.zeros((num_envs, 2))
        self._t = np.zeros(num_envs, dtype=np.int64)

    def _check_tasks(self, tasks: Any) -> np.ndarray:
        arr = np.asarray(tasks, dtype=object)
        if arr.ndim == 2:  # one goal per env
            return one_task_per_env(np.array([_check_goal(goal) for goal in arr]), self.num_envs, (2,))
        return one_task_per_env(np.array(_check_goal(tasks)), self.num_envs, (2,))  # one goal for all

    def _draw_tasks(self) -> np.ndarray:
        return np.array(all_goals())[self.np_random.integers(N_GOALS, size=self.num_envs)]

    def _start_episodes(self, mask: np.ndarray) -> None:
        self._position[mask] = 0.0
        self._t[mask] = 0

    def _advance(self, actions: np.ndarray, stepping: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self.tasks is not None  # step() checks that a reset set them
        moved = _move(self._position, actions.astype(np.float64))
        self._position = np.where(stepping[:, None], moved, self._position)
        self._t += stepping
        rewards = (stepping & _on_goal(self._position, self.tasks)).astype(np.float64)
        truncated = stepping & (self._t >= self.episode_length)
        return rewards, np.zeros(self.num_envs, dtype=bool), truncated

    def _observe(self) -> np.ndarray:
        return self._position.astype(np.float32)
