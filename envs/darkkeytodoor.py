"""Dark Key-to-Door: find an invisible key, then an invisible door, from reward alone.

Description
    The agent walks a ``size x size`` room (9x9 by default, as in Laskin et al. 2022, Sec. 4.1).
    It sees only its own ``(x, y)`` position; the key cell and the door cell together are the
    *task*, hidden from the observation. A policy must find the key, then the door, and remember
    both across episodes. With 81 key cells x 81 door cells the task space is combinatorial.

Action Space
    ``Discrete(5)``: 0 no-op, 1 up (y - 1), 2 down (y + 1), 3 left (x - 1), 4 right (x + 1)
    (:data:`envs.darkroom.MOVES`). Moves into a wall leave the agent where it is.

Observation Space
    ``MultiDiscrete([size, size])``: the agent's ``(x, y)``.

Starting State
    A cell drawn uniformly from the env's ``np_random`` at every reset ("the agent is randomly
    reset", paper Sec. 4.1), so a seed fixes the sequence of starts. The agent never holds the
    key at the start of an episode.

Rewards
    A step pays 1.0 when it ends on the key and the key was not held before that step (from then
    on the agent holds it), or when it ends on the door and the key was held before that step;
    every other step pays 0.0. So the key pays at most once, the door only after the key, and an
    episode returns at most 2. Rewards come from steps: starting on the key does not collect it, a
    step ending there (a no-op included) does. When key and door are the same cell, the step that
    collects the key does not also open the door; one more step ending on that cell does.

Episode End
    Termination on the step that pays for the door. Truncation after ``episode_length`` steps (50
    by default, paper Sec. 4.1), as Gymnasium's ``TimeLimit`` does: on step 50 both flags can be set.

Task
    ``((key_x, key_y), (door_x, door_y))``, ints inside the room; key == door is allowed, so the
    9x9 room has 81^2 = 6561 tasks. :func:`is_test_task` holds out about 20% of them.

Reset Arguments
    The task is sticky as :mod:`envs.core` describes: set it with
    ``gym.make("DarkKeyToDoor-v0", task=((kx, ky), (dx, dy)))`` or
    ``reset(options={"task": ((kx, ky), (dx, dy))})``; never set, it is drawn from the env's
    ``np_random`` at the first reset. ``info["task"]`` reports it. No other reset option exists.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from numpy.typing import ArrayLike

from envs.core import TaskEnv, TaskVectorEnv, one_task_per_env
from envs.darkroom import MOVES

SIZE = 9
EPISODE_LENGTH = 50

Cell = tuple[int, int]
Task = tuple[Cell, Cell]  # ((key_x, key_y), (door_x, door_y))

_TASK_FORM = "((key_x, key_y), (door_x, door_y)) of ints"


def all_cells(size: int = SIZE) -> list[Cell]:
    """Every cell of the room, in row-major ``(x, y)`` order."""
    return [(x, y) for y in range(size) for x in range(size)]


def all_tasks(size: int = SIZE) -> list[Task]:
    """Every (key, door) pair, key-major, both in row-major order: ``size**4`` tasks."""
    cells = all_cells(size)
    return [(key, door) for key in cells for door in cells]


def is_test_task(task: Task, size: int = SIZE) -> bool:
    """The split rule: a task is held out when its key's and door's row-major indices sum to a multiple of 5.

    Every key cell and every door cell then appears in both splits (16 or 17 held-out doors per
    key on the 9x9 room), so a test task is an unseen *combination* of key and door positions
    seen in training: the combinatorial generalisation Key-to-Door is about (paper Sec. 5),
    rather than unseen cells. On 9x9 the rule is also "task index ``key * 81 + door`` is a
    multiple of 5" (81 = 1 mod 5), Dark Room's rule applied to the pair. A fixed arithmetic rule,
    not a seeded shuffle, keeps it readable; it holds out 1313 of 6561 tasks (20.0%), 17 of them
    with key == door. The train split is a pool: the paper's best models saw 1212-2424 tasks (App. H).
    """
    (kx, ky), (dx, dy) = task
    return ((ky * size + kx) + (dy * size + dx)) % 5 == 0


def check_task(task: Any, size: int = SIZE) -> Task:
    """Turn ``task`` into ``((kx, ky), (dx, dy))`` of Python ints inside the room, or say why it is not one."""
    cells = _int_array(task, "task")
    if cells.shape != (2, 2):
        raise ValueError(f"task must be {_TASK_FORM}, got {task!r} (shape {cells.shape})")
    (kx, ky), (dx, dy) = cells.tolist()
    for name, x, y in (("key", kx, ky), ("door", dx, dy)):
        if not (0 <= x < size and 0 <= y < size):
            raise ValueError(f"{name} ({x}, {y}) of task {task!r} is outside the {size}x{size} room")
    return (kx, ky), (dx, dy)


def _int_array(value: Any, name: str) -> np.ndarray:
    """``value`` as an integer array (shape not checked), refusing ragged nesting, floats, bools and strings."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # ragged nesting such as ((1, 2), (3,))
        raise ValueError(f"{name} must be {_TASK_FORM}, got {value!r}") from None
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be {_TASK_FORM}, got {value!r} (dtype {arr.dtype})")
    return arr.astype(np.int64)


def _steps_to(start: Cell, target: Cell) -> int:
    """Fewest steps that *end* on ``target``: the Manhattan distance, but 1 (a no-op) when already there."""
    return max(abs(start[0] - target[0]) + abs(start[1] - target[1]), 1)


def optimal_return(task: Task, size: int = SIZE, episode_length: int = EPISODE_LENGTH) -> float:
    """Best expected return knowing the task: the mean over the uniform start of the best return from each start.

    From start ``s`` no policy collects the key before step ``_steps_to(s, key)`` nor opens the
    door less than ``_steps_to(key, door)`` steps later, and walking straight (a no-op when on
    the target) achieves both: the return is 2 when both fit in the episode, 1 when only the key
    does, else 0. On the default 9x9 room with 50 steps every task scores 2 (at most 16 + 16
    steps); shorter episodes or larger rooms make it smaller.
    """
    key, door = task
    to_door = _steps_to(key, door)
    returns = [
        float(_steps_to(start, key) <= episode_length) + float(_steps_to(start, key) + to_door <= episode_length)
        for start in all_cells(size)
    ]
    return float(np.mean(returns))


@lru_cache(maxsize=8)
def _step_matrix(size: int) -> np.ndarray:
    """``P[i, j]``: probability that a uniformly random action moves the agent from cell ``i`` to ``j`` (row-major)."""
    n = size * size
    cells = np.array(all_cells(size))
    step = np.zeros((n, n))
    for move in MOVES:
        nxt = np.clip(cells + move, 0, size - 1)
        step[np.arange(n), nxt[:, 1] * size + nxt[:, 0]] += 1 / len(MOVES)
    return step


def random_return(task: Task, size: int = SIZE, episode_length: int = EPISODE_LENGTH) -> float:
    """Expected return of the uniform random policy, exact (no sampling).

    Dynamic programming over the probability of each ``(cell, key held)`` among the episodes
    still running, from the uniform start without the key: each step moves both halves, then the
    mass on the door *with* the key pays and terminates (it leaves the distribution), and the mass
    on the key *without* it pays and moves to the key-held half, too late for this step's door.
    """
    step = _step_matrix(size)
    (kx, ky), (dx, dy) = task
    key, door = ky * size + kx, dy * size + dx
    without_key = np.full(size * size, 1.0 / (size * size))
    with_key = np.zeros(size * size)
    expected = 0.0
    for _ in range(episode_length):
        without_key, with_key = without_key @ step, with_key @ step
        opened, found = with_key[door], without_key[key]
        with_key[door] = 0.0
        without_key[key] = 0.0
        with_key[key] += found
        expected += opened + found
    return float(expected)


def _check_sizes(size: int, episode_length: int) -> None:
    if size < 2 or episode_length < 1:
        raise ValueError(f"need size >= 2 and episode_length >= 1, got {size}, {episode_length}")


class DarkKeyToDoorEnv(TaskEnv[Task]):
    """Single Dark Key-to-Door; see the module docstring for the full definition."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        task: Task | None = None,
        size: int = SIZE,
        episode_length: int = EPISODE_LENGTH,
        render_mode: str | None = None,
    ) -> None:
        _check_sizes(size, episode_length)
        self.size = size
        self.episode_length = episode_length
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(len(MOVES))
        self.observation_space = spaces.MultiDiscrete([size, size])
        self._pos = np.zeros(2, dtype=np.int64)
        self._t = 0
        self._has_key = False
        super().__init__(task)

    def check_task(self, task: Any) -> Task:
        return check_task(task, self.size)

    def sample_task(self, rng: np.random.Generator) -> Task:
        (kx, ky), (dx, dy) = rng.integers(0, self.size, size=(2, 2)).tolist()
        return (kx, ky), (dx, dy)

    def all_tasks(self) -> list[Task]:
        return all_tasks(self.size)

    def is_test_task(self, task: Task) -> bool:
        return is_test_task(task, self.size)

    def optimal_return(self, task: Task) -> float:
        return optimal_return(task, self.size, self.episode_length)

    def random_return(self, task: Task) -> float:
        return random_return(task, self.size, self.episode_length)

    def _start_episode(self) -> np.ndarray:
        self._pos = self.np_random.integers(0, self.size, size=2).astype(np.int64)
        self._t = 0
        self._has_key = False
        return self._pos.copy()

    def _transition(self, action: int) -> tuple[np.ndarray, float, bool, bool]:
        self._pos = np.clip(self._pos + MOVES[int(action)], 0, self.size - 1)
        self._t += 1
        assert self.task is not None  # step() runs only once a reset has set it
        key, door = self.task
        here = (int(self._pos[0]), int(self._pos[1]))
        opened = self._has_key and here == door
        found = not self._has_key and here == key
        self._has_key = self._has_key or found
        return self._pos.copy(), float(opened or found), opened, self._t >= self.episode_length

    def render(self) -> str | np.ndarray | None:
        """``ansi``: the room as text (K key until collected, D door, A agent, later letters on top); ``rgb_array``:
        the same as an image."""
        if self.render_mode is None:
            return None
        grid = np.zeros((self.size, self.size), dtype=np.uint8)  # indexed [y, x]
        if self.task is not None:
            (kx, ky), (dx, dy) = self.task
            if not self._has_key:
                grid[ky, kx] = 1
            grid[dy, dx] = 2
        grid[self._pos[1], self._pos[0]] = 3
        if self.render_mode == "ansi":
            return "\n".join("".join(".KDA"[c] for c in row) for row in grid)
        colours = np.array([[30, 30, 30], [230, 200, 40], [60, 120, 230], [220, 60, 60]], dtype=np.uint8)
        return np.kron(colours[grid], np.ones((16, 16, 1), dtype=np.uint8))


class DarkKeyToDoorVectorEnv(TaskVectorEnv):
    """``num_envs`` Dark Key-to-Door rooms stepped together in numpy, each with its own task and starts.

    Used through ``gym.make_vec("DarkKeyToDoor-v0", num_envs=N, vectorization_mode="vector_entry_point")``.
    ``tasks`` (shape ``(num_envs, 2, 2)``, or one task for all) fixes the tasks; reset option
    ``{"tasks": ...}`` changes them; ``info["task"]`` reports them. Autoreset as
    :class:`~envs.core.TaskVectorEnv`: ``NEXT_STEP`` (default) or ``SAME_STEP``.

    Randomness is per env, as in ``SyncVectorEnv``: ``reset(seed=s)`` gives env ``i`` its own
    generator seeded ``s + i``, from which it draws its task (when none is given) and every start
    cell, in the order a single env does. So this env equals ``SyncVectorEnv`` over
    :class:`DarkKeyToDoorEnv` step for step, random starts included, with no test-only hook.
    Only those draws loop over envs, once per episode; the dynamics are vectorised.
    """

    def __init__(
        self,
        num_envs: int,
        tasks: ArrayLike | None = None,
        size: int = SIZE,
        episode_length: int = EPISODE_LENGTH,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        _check_sizes(size, episode_length)
        self.size = size
        self.episode_length = episode_length
        super().__init__(num_envs, spaces.MultiDiscrete([size, size]), len(MOVES), tasks, autoreset_mode)
        self._rngs: list[np.random.Generator] | None = None
        self._pos = np.zeros((num_envs, 2), dtype=np.int64)
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._has_key = np.zeros(num_envs, dtype=bool)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None or self._rngs is None:
            self._rngs = [seeding.np_random(None if seed is None else seed + i)[0] for i in range(self.num_envs)]
        return super().reset(seed=seed, options=options)

    def _check_tasks(self, tasks: ArrayLike) -> np.ndarray:
        """One task per env (a single task goes to every env), each checked as the single env checks it."""
        arr = one_task_per_env(_int_array(tasks, "each task"), self.num_envs, (2, 2))
        for task in arr:
            check_task(task, self.size)
        return arr

    def _draw_tasks(self) -> np.ndarray:
        assert self._rngs is not None  # reset() makes the generators before it draws
        return np.array([rng.integers(0, self.size, size=(2, 2)) for rng in self._rngs], dtype=np.int64)

    def _start_episodes(self, mask: np.ndarray) -> None:
        """Begin new episodes in the masked envs, each drawing its start cell from its own generator."""
        rngs = self._rngs
        for i in np.flatnonzero(mask):
            assert rngs is not None  # made by reset(); an episode cannot start without a generator to draw from
            self._pos[i] = rngs[i].integers(0, self.size, size=2)
        self._t[mask] = 0
        self._has_key[mask] = False

    def _advance(self, actions: np.ndarray, stepping: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        moved = np.clip(self._pos + MOVES[actions], 0, self.size - 1)
        self._pos = np.where(stepping[:, None], moved, self._pos)
        self._t += stepping
        assert self.tasks is not None  # step() runs only once tasks are set
        opened = stepping & self._has_key & (self._pos == self.tasks[:, 1]).all(axis=1)
        found = stepping & ~self._has_key & (self._pos == self.tasks[:, 0]).all(axis=1)
        self._has_key |= found
        truncated = stepping & (self._t >= self.episode_length)
        return (opened | found).astype(np.float64), opened, truncated

    def _observe(self) -> np.ndarray:
        return self._pos.copy()
