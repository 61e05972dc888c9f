"""Pixel Watermaze: find an invisible platform in an arena seen only through egocentric RGB images.

Description
    Our stand-in for DMLab Watermaze (Laskin et al. 2022, Sec. 4.1), which cannot be installed here,
    built on ``minigrid``. The arena is an 11x11 minigrid ``Grid`` (coordinates ``(x, y)``, ``x`` to
    the east, ``y`` to the south): a ring of walls around 9x9 free floor cells ``1 <= x, y <= 9``.
    Each side of the ring has its own colour so that, as in Morris's water maze, the walls tell the
    agent where it is: north (``y = 0``) blue, east (``x = 10``) yellow, south (``y = 10``) purple,
    west (``x = 0``) green, the four corners grey (red is left to minigrid's agent triangle). The
    *platform* (the goal cell, the task) is invisible, so it must be found by exploring and
    remembered across episodes from reward alone.

    Nothing but the agent moves, so the observation depends only on its pose (cell and direction):
    the 324 poses' images are rendered once per process by minigrid (see :class:`WatermazeArena`)
    and cached in a table, and these envs are table lookups plus integer dynamics that are also
    minigrid's own (read off ``MiniGridEnv.step`` once). Neither env subclasses ``MiniGridEnv``:
    minigrid builds, moves and renders; :class:`~envs.core.TaskEnv` owns the task and the episode.

Action Space
    ``Discrete(3)``, minigrid's first three actions: 0 turn left, 1 turn right, 2 move forward.
    Moving into a wall leaves the agent where it is (it still costs a step).

Observation Space
    ``Box(0, 255, (55, 55, 3), uint8)``: exactly what minigrid's ``RGBImgPartialObsWrapper``
    (``tile_size=5``) shows an agent with an 11x11 view (``agent_view_size=11``): the square of cells
    ahead of the agent, itself at the bottom centre facing up, rotated into its frame; cells hidden
    behind walls are black. An 11-cell view reaches the wall ahead and at least one side wall from
    every pose, so every one of the 324 poses has its own image (the agent can locate itself).

Starting State
    The centre cell ``(5, 5)`` facing east (minigrid direction 0) at every reset.

Rewards
    As in DMLab-30's Watermaze, where finding the platform respawns the agent to search for it
    again: on a step that ends on the goal cell the reward is 1.0 and the agent is put back in the
    start pose (the paper resets Watermaze agents at the centre), so that step returns the start
    view; every other step pays 0.0. The return counts the finds, so it rewards going back to a
    remembered platform quickly; with Dark Room's pay-every-step-on-the-goal rule the best policy
    would find it once and then turn on the spot.

Episode End
    Truncation after ``episode_length`` steps (50 by default, the paper's Watermaze length). There
    is no termination. The best return ``episode_length // d`` (``d``: the fewest steps from the
    start pose to the goal, 1 to 10) ranges from 5 to 50.

Task / Reset Arguments
    The task is the goal cell ``(x, y)``: any floor cell but the start cell (80 goals). It is sticky
    as :mod:`envs.core` describes: set it with ``gym.make("PixelWatermaze-v0", goal=(x, y))`` (or
    ``task=``) or ``reset(options={"goal": (x, y)})`` (or ``"task"``); never set, it is drawn from
    the env's ``np_random`` at the first reset. ``info["task"]`` reports it.
    :data:`TRAIN_GOALS` / :data:`TEST_GOALS` split the goals (:func:`is_test_goal`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Goal as GoalTile
from minigrid.core.world_object import Wall
from minigrid.minigrid_env import MiniGridEnv

from envs.core import TaskEnv, TaskVectorEnv, int_pair, one_task_per_env

SIZE = 11  # the arena's side in cells, walls included
VIEW_SIZE = 11  # minigrid agent_view_size: odd, and large enough to see the wall ahead from anywhere
TILE_SIZE = 5  # pixels per cell in observations: 55x55 images, above SB3's 36x36 CnnPolicy minimum
RENDER_TILE_SIZE = 16  # pixels per cell in render()
EPISODE_LENGTH = 50
START_POS = (SIZE // 2, SIZE // 2)
START_DIR = 0  # minigrid directions: 0 east (+x), 1 south (+y), 2 west (-x), 3 north (-y)
NUM_ACTIONS = 3  # minigrid's left, right, forward
WALL_COLOURS = {"north": "blue", "east": "yellow", "south": "purple", "west": "green"}  # corners: grey

Cell = tuple[int, int]

_INTERIOR = SIZE - 2
OBS_SHAPE = (VIEW_SIZE * TILE_SIZE, VIEW_SIZE * TILE_SIZE, 3)
NUM_STATES = _INTERIOR * _INTERIOR * 4  # poses: state = cell_index * 4 + direction


def cell_index(cell: Cell) -> int:
    """Row-major index of a floor cell among the 81 floor cells."""
    return (cell[1] - 1) * _INTERIOR + (cell[0] - 1)


def state_index(cell: Cell, direction: int) -> int:
    """The pose ``(cell, direction)`` as one int, the row of the lookup tables."""
    return cell_index(cell) * 4 + direction


def pose(state: int) -> tuple[Cell, int]:
    """Inverse of :func:`state_index`."""
    index, direction = divmod(int(state), 4)
    y, x = divmod(index, _INTERIOR)
    return (x + 1, y + 1), direction


START_STATE = state_index(START_POS, START_DIR)


def build_grid() -> Grid:
    """The arena as a minigrid ``Grid``: coloured wall ring, empty floor, no goal object (it is invisible)."""
    grid = Grid(SIZE, SIZE)
    grid.wall_rect(0, 0, SIZE, SIZE)  # minigrid's grey walls; the four corners keep that colour
    for i in range(1, SIZE - 1):
        grid.set(i, 0, Wall(WALL_COLOURS["north"]))
        grid.set(SIZE - 1, i, Wall(WALL_COLOURS["east"]))
        grid.set(i, SIZE - 1, Wall(WALL_COLOURS["south"]))
        grid.set(0, i, Wall(WALL_COLOURS["west"]))
    return grid


class WatermazeArena(MiniGridEnv):
    """The arena as a plain ``MiniGridEnv`` (no goal, no reward): the source of the views and dynamics.

    Wrapped in ``minigrid.wrappers.RGBImgPartialObsWrapper(tile_size=TILE_SIZE)`` its ``"image"``
    observations are this module's observations, pose for pose.
    """

    def __init__(self) -> None:
        super().__init__(
            MissionSpace(mission_func=self._gen_mission),
            grid_size=SIZE,
            agent_view_size=VIEW_SIZE,
            max_steps=EPISODE_LENGTH,
        )

    @staticmethod
    def _gen_mission() -> str:
        return "find the hidden platform"

    def _gen_grid(self, width: int, height: int) -> None:
        self.grid = build_grid()
        self.agent_pos, self.agent_dir = START_POS, START_DIR

    def place(self, state: int) -> None:
        """Put the agent in pose ``state`` (minigrid has no setter; its own code assigns these)."""
        self.agent_pos, self.agent_dir = pose(state)


@dataclass(frozen=True)
class Tables:
    """Everything the envs need, per pose: its image, its successor under each action, its BFS distance."""

    images: np.ndarray  # (NUM_STATES, *OBS_SHAPE) uint8, read-only
    next_state: np.ndarray  # (NUM_STATES, NUM_ACTIONS) int64
    steps_from_start: np.ndarray  # (NUM_STATES,) int64: fewest actions from START_STATE


def _views(arena: WatermazeArena) -> np.ndarray:
    """Every pose's egocentric image, rendered as ``RGBImgPartialObsWrapper`` renders it."""
    images = np.empty((NUM_STATES, *OBS_SHAPE), dtype=np.uint8)
    for state in range(NUM_STATES):
        arena.place(state)
        images[state] = arena.get_frame(tile_size=TILE_SIZE, agent_pov=True)
    images.setflags(write=False)
    return images


def _dynamics(arena: WatermazeArena) -> np.ndarray:
    """Every pose's successor under each action, read off minigrid's own ``step``."""
    next_state = np.empty((NUM_STATES, NUM_ACTIONS), dtype=np.int64)
    for state in range(NUM_STATES):
        for action in range(NUM_ACTIONS):
            arena.place(state)
            arena.step(action)
            next_state[state, action] = state_index(cast(Cell, arena.agent_pos), arena.agent_dir)  # a cell pair
    next_state.setflags(write=False)
    return next_state


def _bfs(next_state: np.ndarray) -> np.ndarray:
    """Fewest actions from the start pose to every pose (all are reachable in the open arena)."""
    steps = np.full(NUM_STATES, -1, dtype=np.int64)
    steps[START_STATE] = 0
    frontier = deque([START_STATE])
    while frontier:
        state = frontier.popleft()
        for nxt in next_state[state]:
            if steps[nxt] < 0:
                steps[nxt] = steps[state] + 1
                frontier.append(int(nxt))
    steps.setflags(write=False)
    return steps


@lru_cache(maxsize=1)
def tables() -> Tables:
    """The lookup tables, built once per process (under half a second) and shared by every env."""
    arena = WatermazeArena()
    arena.reset(seed=0)
    next_state = _dynamics(arena)
    return Tables(_views(arena), next_state, _bfs(next_state))


def all_goals() -> list[Cell]:
    """Every valid goal: the floor cells but the start cell, in row-major ``(x, y)`` order."""
    cells = [(x, y) for y in range(1, SIZE - 1) for x in range(1, SIZE - 1)]
    return [c for c in cells if c != START_POS]


def is_test_goal(goal: Cell) -> bool:
    """The split rule: a goal is held out when its row-major floor index is a multiple of 5.

    As in Dark Room, a fixed arithmetic rule (not a seeded shuffle) keeps the split readable and
    spreads held-out goals over the whole arena, 3 to 10 steps from the start (of 1 to 10):
    16 test / 64 train goals (20% / 80%; the centre, index 40, is the start and no goal).
    """
    return cell_index(goal) % 5 == 0


TRAIN_GOALS: tuple[Cell, ...] = tuple(g for g in all_goals() if not is_test_goal(g))
TEST_GOALS: tuple[Cell, ...] = tuple(g for g in all_goals() if is_test_goal(g))


def check_goal(goal: Any) -> Cell:
    """Return ``goal`` as a tuple of two ints naming a floor cell other than the start, or say why not."""
    x, y = int_pair(goal, "goal")
    if not (0 <= x < SIZE and 0 <= y < SIZE):
        raise ValueError(f"goal {goal!r} is outside the {SIZE}x{SIZE} arena")
    if not (0 < x < SIZE - 1 and 0 < y < SIZE - 1):
        raise ValueError(f"goal {goal!r} is a wall cell; goals lie on the floor, 1 <= x, y <= {SIZE - 2}")
    if (x, y) == START_POS:
        raise ValueError(f"goal {goal!r} is the start cell, where the agent is put back after each find")
    return x, y


def _goal_states(goal: Cell) -> np.ndarray:
    return cell_index(goal) * 4 + np.arange(4)


def optimal_return(goal: Cell, episode_length: int = EPISODE_LENGTH) -> float:
    """Best return: ``episode_length // d``, ``d`` the fewest actions from the start pose to the goal.

    Each find puts the agent back in the start pose, so every find takes at least ``d`` steps and
    repeating a shortest path achieves that bound.
    """
    fewest = int(tables().steps_from_start[_goal_states(check_goal(goal))].min())
    return float(episode_length // fewest)


def random_return(goal: Cell, episode_length: int = EPISODE_LENGTH) -> float:
    """Exact expected return of the uniform random policy on ``goal`` (see ``_random_return``)."""
    return _random_return(check_goal(goal), episode_length)


@lru_cache(maxsize=256)
def _random_return(goal: Cell, episode_length: int) -> float:
    """Dynamic programming over poses, no sampling.

    Propagates the pose distribution one step at a time: the mass arriving on the goal cell is that
    step's expected reward, and it is moved back to the start pose, as the agent is.
    """
    next_state = tables().next_state
    goal_states = _goal_states(goal)
    dist: np.ndarray = np.zeros(NUM_STATES)
    dist[START_STATE] = 1.0
    total = 0.0
    for _ in range(episode_length):
        dist = np.bincount(next_state.ravel(), weights=np.repeat(dist / NUM_ACTIONS, NUM_ACTIONS), minlength=NUM_STATES)
        found = dist[goal_states].sum()
        dist[goal_states] = 0.0
        dist[START_STATE] += found
        total += found
    return float(total)


def _observation_space() -> spaces.Box:
    return spaces.Box(0, 255, OBS_SHAPE, dtype=np.uint8)


class PixelWatermazeEnv(TaskEnv[Cell]):
    """Single Pixel Watermaze; see the module docstring for the full definition."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    task_alias = "goal"

    def __init__(
        self,
        goal: Cell | None = None,
        episode_length: int = EPISODE_LENGTH,
        render_mode: str | None = None,
        task: Cell | None = None,
    ) -> None:
        if episode_length < 1:
            raise ValueError(f"need episode_length >= 1, got {episode_length}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.episode_length = episode_length
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(NUM_ACTIONS)
        self.observation_space = _observation_space()
        self._tables = tables()
        self._state = START_STATE
        self._goal_cell = -1
        self._t = 0
        super().__init__(task, alias=goal)

    @property
    def goal(self) -> Cell | None:
        return self.task

    @property
    def agent_pos(self) -> Cell:
        return pose(self._state)[0]

    @property
    def agent_dir(self) -> int:
        return pose(self._state)[1]

    def check_task(self, task: Any) -> Cell:
        return check_goal(task)

    def sample_task(self, rng: np.random.Generator) -> Cell:
        goals = all_goals()
        return goals[int(rng.integers(len(goals)))]

    def all_tasks(self) -> list[Cell]:
        return all_goals()

    def is_test_task(self, task: Cell) -> bool:
        return is_test_goal(task)

    def optimal_return(self, task: Cell) -> float:
        return optimal_return(task, self.episode_length)

    def random_return(self, task: Cell) -> float:
        return random_return(task, self.episode_length)

    def observation_table(self) -> np.ndarray:
        """The 324 poses' images (read-only), row :func:`state_index` for each pose."""
        return self._tables.images

    def _start_episode(self) -> np.ndarray:
        self._state = START_STATE
        assert self.task is not None  # reset() sets it before starting an episode
        self._goal_cell = cell_index(self.task)
        self._t = 0
        return self._tables.images[self._state].copy()

    def _transition(self, action: int) -> tuple[np.ndarray, float, bool, bool]:
        moved = int(self._tables.next_state[self._state, int(action)])
        found = moved // 4 == self._goal_cell
        self._state = START_STATE if found else moved
        self._t += 1
        return self._tables.images[self._state].copy(), float(found), False, self._t >= self.episode_length

    def render(self) -> np.ndarray | None:
        """``rgb_array``: the whole arena from above, with the agent and the goal (a green tile)."""
        if self.render_mode is None:
            return None
        grid = build_grid()
        if self.goal is not None:
            grid.set(*self.goal, GoalTile())
        return grid.render(RENDER_TILE_SIZE, self.agent_pos, self.agent_dir)


class PixelWatermazeVectorEnv(TaskVectorEnv):
    """``num_envs`` Pixel Watermazes stepped together in numpy, each with its own goal.

    Used through ``gym.make_vec("PixelWatermaze-v0", num_envs=N, vectorization_mode="vector_entry_point")``.
    ``tasks`` (one goal per env, or one for all) fixes the goals; otherwise each env draws its goal
    from ``np_random`` at the first reset. Reset option ``{"tasks": [...]}`` changes them.
    Autoreset as :class:`~envs.core.TaskVectorEnv`: ``NEXT_STEP`` (default) or ``SAME_STEP``.
    """

    def __init__(
        self,
        num_envs: int,
        tasks: list[Cell] | Cell | None = None,
        episode_length: int = EPISODE_LENGTH,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if episode_length < 1:
            raise ValueError(f"need episode_length >= 1, got {episode_length}")
        self.episode_length = episode_length
        super().__init__(num_envs, _observation_space(), NUM_ACTIONS, tasks, autoreset_mode)
        self._tables = tables()
        self._state = np.full(num_envs, START_STATE, dtype=np.int64)
        self._t = np.zeros(num_envs, dtype=np.int64)

    def _check_tasks(self, tasks: Any) -> np.ndarray:
        arr = one_task_per_env(np.asarray(tasks), self.num_envs, (2,))
        return np.array([check_goal(g) for g in arr], dtype=np.int64)

    def _use_tasks(self, tasks: np.ndarray) -> None:
        """Keep each goal's cell index too, so a step compares states without recomputing it."""
        super()._use_tasks(tasks)
        self._goal_cells = (tasks[:, 1] - 1) * _INTERIOR + (tasks[:, 0] - 1)  # cell_index, vectorised

    def _draw_tasks(self) -> np.ndarray:
        choices = np.array(all_goals(), dtype=np.int64)
        return choices[self.np_random.integers(len(choices), size=self.num_envs)]

    def _start_episodes(self, mask: np.ndarray) -> None:
        self._state[mask] = START_STATE
        self._t[mask] = 0

    def _advance(self, actions: np.ndarray, stepping: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Move by the precomputed transition table; finding the platform respawns at the start."""
        moved = self._tables.next_state[self._state, actions]
        found = stepping & (moved // 4 == self._goal_cells)
        self._state = np.where(stepping, np.where(found, START_STATE, moved), self._state)
        self._t += stepping
        truncated = stepping & (self._t >= self.episode_length)
        return found.astype(np.float64), np.zeros(self.num_envs, dtype=bool), truncated

    def observation_table(self) -> np.ndarray:
        """The 324 poses' images (read-only), row :func:`state_index` for each pose."""
        return self._tables.images

    def _observe(self) -> np.ndarray:
        return self._tables.images[self._state]
