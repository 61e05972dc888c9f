"""Adversarial Bandit: a 10-armed Bernoulli bandit whose best arm changes parity between train and test.

Description
    The bandit of Laskin et al. 2022 (Sec. 4.1, Fig. 3), after the RL^2 bandits of Duan et al. 2016:
    each arm pays 1 with a hidden probability (its *mean*), and the vector of means is the *task*.
    A learner must find the best arm by trial and error over many one-pull episodes (the paper's
    "100 trials" are 100 episodes on one sticky task). The twist is a distribution shift: training
    tasks hide the best arm among the odd arms 95% of the time, test tasks among the even arms, so a
    learner that memorised "pull odd arms" fails out of distribution while one that explores does not.

Action Space
    ``Discrete(10)``: the arm to pull.

Observation Space
    ``Discrete(1)``: always ``0``. A bandit has no state; a one-value ``Discrete`` space passes the
    Gymnasium and SB3 checkers cleanly, one-hot encodes to a constant in SB3's ``MlpPolicy`` and is
    embedded like any other (Multi)Discrete observation by the AD transformer.

Starting State
    Observation ``0`` at every reset.

Rewards
    Pulling arm ``a`` pays 1.0 with probability ``task[a]`` and 0.0 otherwise (drawn from the env's
    ``np_random``).

Episode End
    Every episode is one pull and then *terminates*: the episode genuinely ends (there is no later
    state whose value a learner should bootstrap from), so ``terminated=True``, ``truncated=False``.

Task
    A tuple of 10 floats in ``[0, 1]``, the arm means. :func:`sample_tasks` draws a task of a split
    with generator ``rng`` exactly as follows (vectorised over ``n`` tasks, in this order):

    1. ``favoured = rng.random(n) < 0.95``;
    2. ``slot = rng.integers(0, 5, size=n)``;
    3. ``means = rng.uniform(0.0, 0.5, size=(n, 10))``: every arm low, in ``[0, 0.5)``;
    4. best arm ``k = 2 * slot + (p if favoured else 1 - p)``, where ``p`` is the split's favoured
       parity: 1 (odd arms 1, 3, 5, 7, 9) for ``"train"``, 0 (even arms 0, 2, 4, 6, 8) for ``"test"``;
       so ``k`` is uniform over the favoured arms with probability 0.95, over the others with 0.05;
    5. ``means[k] = rng.uniform(0.5, 1.0, size=n)``: the best arm high, in ``[0.5, 1)``.

    The paper says only that reward "is more likely distributed under odd arms 95% of the time"; this
    rule reads it as "the one arm worth finding is odd 95% of the time". (RL^2 draws every mean i.i.d.
    U(0, 1), which leaves no arm singled out to bias.) Keeping the best arm's mean in
    ``[0.5, 1)`` and the others in ``[0, 0.5)`` makes that arm the strict, unique maximum and leaves it
    far enough above the rest (0.3 on average) for UCB to find within 100 pulls, so the split's parity
    is the only thing that differs between train and test.

    :meth:`AdversarialBanditEnv.tasks` gives fixed lists (100 per split by default) drawn with
    :data:`TASK_SEEDS`, so every benchmark uses the same train and test tasks.

Reset Arguments
    The task is sticky as :mod:`envs.core` describes: set it with
    ``gym.make("AdversarialBandit-v0", task=means)`` or ``reset(options={"task": means})``; never set,
    it is drawn from the ``split`` distribution (``"train"`` by default) with the env's ``np_random``
    at the first reset. ``info["task"]`` reports it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from envs.core import Split, TaskEnv, TaskVectorEnv, one_task_per_env

NUM_ARMS = 10
FAVOURED_PROB = 0.95
#: The parity of the arms that hide the best arm 95% of the time: odd for train, even for test.
FAVOURED_PARITY = {"train": 1, "test": 0}
#: Seeds of the fixed task lists returned by ``tasks(split)``: distinct, so the lists differ.
TASK_SEEDS = {"train": 20221025, "test": 20221026}
NUM_SPLIT_TASKS = 100

Means = tuple[float, ...]
SamplingSplit = Literal["train", "test"]


def _check_split(split: str) -> SamplingSplit:
    """Only train and test have a task distribution ("all" is a list of tasks, not a distribution)."""
    if split not in FAVOURED_PARITY:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split  # type: ignore[return-value]


def sample_tasks(rng: np.random.Generator, split: SamplingSplit, n: int) -> np.ndarray:
    """Draw ``n`` tasks of ``split``, shape ``(n, 10)``, by the exact rule in the module docstring."""
    parity = FAVOURED_PARITY[_check_split(split)]
    favoured = rng.random(n) < FAVOURED_PROB
    slot = rng.integers(0, NUM_ARMS // 2, size=n)
    means = rng.uniform(0.0, 0.5, size=(n, NUM_ARMS))
    best = 2 * slot + np.where(favoured, parity, 1 - parity)
    means[np.arange(n), best] = rng.uniform(0.5, 1.0, size=n)
    return means


@lru_cache(maxsize=16)
def split_tasks(split: SamplingSplit, n: int = NUM_SPLIT_TASKS) -> tuple[Means, ...]:
    """The fixed task list of ``split``: ``n`` tasks drawn with the split's seed in :data:`TASK_SEEDS`.

    Drawn one at a time from one stream, so a longer list extends a shorter one.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(TASK_SEEDS[_check_split(split)])
    return tuple(tuple(float(m) for m in sample_tasks(rng, split, 1)[0]) for _ in range(n))


def _as_means(means: Any, what: str) -> np.ndarray:
    """``means`` as a float64 array with every value in ``[0, 1]``, or a ``ValueError`` saying why not."""
    try:
        arr = np.asarray(means, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be arm means (numbers in [0, 1]), got {means!r}") from None
    if np.isnan(arr).any():
        raise ValueError(f"{what} contains NaN: {means!r}")
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(f"{what} must lie in [0, 1] (they are reward probabilities), got {means!r}")
    return arr


def check_task(task: Any) -> Means:
    """``task`` as a tuple of 10 floats in ``[0, 1]``: hashable, so tasks can key dicts and sets."""
    arr = _as_means(task, "task")
    if arr.shape != (NUM_ARMS,):
        raise ValueError(f"task must be {NUM_ARMS} arm means, got shape {arr.shape}: {task!r}")
    return tuple(float(m) for m in arr)


class AdversarialBanditEnv(TaskEnv[Means]):
    """Single Adversarial Bandit; see the module docstring for the full definition."""

    metadata = {"render_modes": []}
    #: One pull per episode; read by tools that need the env's horizon.
    episode_length = 1

    def __init__(self, task: Means | None = None, split: SamplingSplit = "train") -> None:
        self.split = _check_split(split)
        self.action_space = spaces.Discrete(NUM_ARMS)
        self.observation_space = spaces.Discrete(1)
        super().__init__(task)

    def check_task(self, task: Any) -> Means:
        return check_task(task)

    def sample_task(self, rng: np.random.Generator) -> Means:
        return tuple(float(m) for m in sample_tasks(rng, self.split, 1)[0])

    def tasks(self, split: Split = "all", n: int = NUM_SPLIT_TASKS) -> list[Means]:
        """``n`` fixed tasks of ``split`` (see :func:`split_tasks`); ``"all"`` is train's then test's."""
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        if split == "all":
            return list(split_tasks("train", n) + split_tasks("test", n))
        return list(split_tasks(split, n))

    def optimal_return(self, task: Means) -> float:
        """Always pulling the best arm: its mean (exact)."""
        return max(check_task(task))

    def random_return(self, task: Means) -> float:
        """A uniformly random pull: the mean of the means (exact)."""
        return float(np.mean(check_task(task)))

    def _start_episode(self) -> np.int64:
        return np.int64(0)

    def _transition(self, action: int) -> tuple[np.int64, float, bool, bool]:
        assert self.task is not None  # step() runs only once a reset has set it
        reward = float(self.np_random.random() < self.task[int(action)])
        return np.int64(0), reward, True, False


class AdversarialBanditVectorEnv(TaskVectorEnv):
    """``num_envs`` Adversarial Bandits pulled together in numpy, each with its own task.

    Used through ``gym.make_vec("AdversarialBandit-v0", num_envs=N, vectorization_mode="vector_entry_point")``.
    ``tasks`` (shape ``(num_envs, 10)``, or one task for all) fixes the tasks; otherwise each env
    draws one from the ``split`` distribution with ``np_random`` at the first reset. Reset option
    ``{"tasks": ...}`` changes them. Autoreset as :class:`~envs.core.TaskVectorEnv`: with
    ``NEXT_STEP`` (default) every step after a pull is a reset step (observation 0, reward 0, not
    done, action ignored); with ``SAME_STEP`` every step is a pull whose ``info["final_obs"]`` is 0.
    """

    def __init__(
        self,
        num_envs: int,
        tasks: Any = None,
        split: SamplingSplit = "train",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        self.split = _check_split(split)
        super().__init__(num_envs, spaces.Discrete(1), NUM_ARMS, tasks, autoreset_mode)

    def _check_tasks(self, tasks: Any) -> np.ndarray:
        """One task per env, shape ``(num_envs, 10)``; a single task is used for every env."""
        return one_task_per_env(_as_means(tasks, "tasks"), self.num_envs, (NUM_ARMS,))

    def _draw_tasks(self) -> np.ndarray:
        return sample_tasks(self.np_random, self.split, self.num_envs)

    def _start_episodes(self, mask: np.ndarray) -> None:
        """A bandit has no state between pulls."""

    def _advance(self, actions: np.ndarray, stepping: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self.tasks is not None  # step() runs only once tasks are set
        paid = self.np_random.random(self.num_envs) < self.tasks[np.arange(self.num_envs), actions]
        return (stepping & paid).astype(np.float64), stepping.copy(), np.zeros(self.num_envs, dtype=bool)

    def _observe(self) -> np.ndarray:
        return np.zeros(self.num_envs, dtype=np.int64)
