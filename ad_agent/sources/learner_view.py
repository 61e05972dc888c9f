"""What a source learner sees, changed on its side only: exploration bonuses and extra observation inputs.

A history is what the environment emitted, since that is all AD sees when it later acts in context.
Some tasks still need the *source* to see more than that to learn at all: Dark Room Hard pays once,
so far goals are practically never found by undirected exploration, and a memoryless learner on Dark
Key-to-Door cannot tell whether it holds the key. The VecEnv wrappers here change what the learner
receives and keep what the environment emitted; like SB3's ``VecNormalize`` they answer
``get_original_obs()`` and ``get_original_reward()``, and also :meth:`LearnerView.get_original_terminal_obs`,
which :class:`~ad_agent.sources.sb3.HistoryRecorder` reads so that the streams hold the env's own
observations and (extrinsic) rewards.

A source config names its views declaratively (:data:`LEARNER_VIEWS` names and keyword arguments), so
a run's metadata says exactly how its learner was helped.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn


def _cell_counts(space: spaces.Space) -> np.ndarray:
    """The discrete observation space's shape as mixed-radix digits, for flat indices into a count table."""
    if isinstance(space, spaces.Discrete):
        return np.array([space.n])
    if isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
        return space.nvec.astype(np.int64)
    raise TypeError(f"needs a Discrete or 1-D MultiDiscrete observation space, got {space}")


class LearnerView(VecEnvWrapper):
    """Base of the learner-side wrappers: it remembers the env's own observations and rewards of the last step.

    ``get_original_obs()`` is the observation each actor acts from next (after an auto-reset, the new
    episode's first), ``get_original_reward()`` the rewards the envs paid, and
    ``get_original_terminal_obs(actor)`` the observation that ended ``actor``'s episode on that step.
    Subclasses change the learner's side in :meth:`view_obs` and :meth:`view_reward`.
    """

    def __init__(self, venv: VecEnv, observation_space: spaces.Space | None = None) -> None:
        super().__init__(venv, observation_space=observation_space)
        self._obs: np.ndarray | None = None
        self._rewards = np.zeros(self.num_envs, dtype=np.float32)
        self._terminal: dict[int, np.ndarray] = {}

    def reset(self) -> VecEnvObs:
        obs = cast(np.ndarray, self.venv.reset())  # the views are for array observations
        self._obs, self._terminal = np.array(obs, copy=True), {}
        return self.view_obs(obs, np.ones(self.num_envs, dtype=bool))

    def step_wait(self) -> VecEnvStepReturn:
        step_obs, rewards, dones, infos = self.venv.step_wait()
        obs = cast(np.ndarray, step_obs)  # the views are for array observations
        self._obs, self._rewards = np.array(obs, copy=True), np.array(rewards, copy=True)
        arrived = np.array(obs, copy=True)  # the state each step led to, before any auto-reset
        self._terminal = {int(a): np.array(infos[a]["terminal_observation"], copy=True) for a in np.flatnonzero(dones)}
        for actor, terminal in self._terminal.items():  # rare: only at episode ends
            arrived[actor] = terminal
        learner_rewards = self.view_reward(rewards, arrived)
        for actor, terminal in self._terminal.items():
            infos[actor]["terminal_observation"] = self.view_terminal_obs(terminal, actor)
        return self.view_obs(obs, dones), learner_rewards, dones, infos

    def view_obs(self, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """What the learner observes; ``starts`` marks actors whose ``obs`` opens an episode (called last)."""
        return obs

    def view_terminal_obs(self, terminal: np.ndarray, actor: int) -> np.ndarray:
        """What the learner bootstraps from at ``actor``'s episode end."""
        return terminal

    def view_reward(self, rewards: np.ndarray, arrived: np.ndarray) -> np.ndarray:
        """What the learner is paid for stepping into ``arrived`` (called first)."""
        return rewards

    def get_original_obs(self) -> np.ndarray | None:
        """``None`` before the first reset."""
        return self._obs

    def get_original_reward(self) -> np.ndarray:
        return self._rewards

    def get_original_terminal_obs(self, actor: int) -> np.ndarray:
        return self._terminal[actor]


class CountBonus(LearnerView):
    """Pays the learner ``beta / sqrt(N(s'))`` on top of the env's reward for stepping into state ``s'``.

    The count-based bonus of MBIE-EB (Strehl & Littman 2008) and Bellemare et al. (2016): ``N`` counts
    every arrival of any of the learner's actors in each cell over the whole run (all its episodes),
    so rarely seen cells stay attractive until visited and the bonus fades as the room is covered,
    leaving the env's reward to decide the final policy. A vector step's arrivals are all counted
    before any bonus is paid, so a first visit pays ``beta`` (or less, if other actors arrive with it).
    """

    def __init__(self, venv: VecEnv, beta: float) -> None:
        super().__init__(venv)
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.beta = beta
        self._radix = _cell_counts(venv.observation_space)
        self.counts = np.zeros(int(np.prod(self._radix)), dtype=np.int64)

    def view_reward(self, rewards: np.ndarray, arrived: np.ndarray) -> np.ndarray:
        cells = np.ravel_multi_index(arrived.reshape(self.num_envs, -1).T, self._radix)
        np.add.at(self.counts, cells, 1)
        return (rewards + self.beta / np.sqrt(self.counts[cells])).astype(np.float32)


class ReturnSoFarObservation(LearnerView):
    """Appends the return earned so far in the episode (rounded, capped at ``max_return``) to the observation.

    The learner has seen those rewards itself, so this hands it no information about the task, only
    a memory a feed-forward policy lacks: on Dark Key-to-Door the return so far says whether the key
    is held. Needs a Discrete or 1-D MultiDiscrete observation space; the view is MultiDiscrete.
    """

    def __init__(self, venv: VecEnv, max_return: int) -> None:
        radix = _cell_counts(venv.observation_space)
        if max_return < 1:
            raise ValueError(f"max_return must be >= 1, got {max_return}")
        super().__init__(venv, observation_space=spaces.MultiDiscrete([*radix, max_return + 1]))
        self.max_return = max_return
        self._returns = np.zeros(self.num_envs)

    def view_reward(self, rewards: np.ndarray, arrived: np.ndarray) -> np.ndarray:
        self._returns = self._returns + rewards
        return rewards

    def view_terminal_obs(self, terminal: np.ndarray, actor: int) -> np.ndarray:
        return self._append(terminal[None], self._returns[[actor]])[0]

    def view_obs(self, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        self._returns[starts] = 0.0
        return self._append(obs, self._returns)

    def _append(self, obs: np.ndarray, returns: np.ndarray) -> np.ndarray:
        held = np.clip(np.rint(returns), 0, self.max_return).astype(np.asarray(obs).dtype)
        return np.concatenate([np.asarray(obs).reshape(len(held), -1), held[:, None]], axis=1)


class ObservationIndex:
    """Each observation's row in a table of distinct observations: an exact lookup by the bytes.

    A dictionary over the rows' bytes finds one observation in the time of hashing it once, and
    compares it whole, so an observation outside the table is refused rather than mistaken.
    """

    def __init__(self, table: np.ndarray) -> None:
        table = np.asarray(table)
        self.shape, self.dtype = table.shape[1:], table.dtype
        self._rows = {np.ascontiguousarray(row).tobytes(): i for i, row in enumerate(table)}
        if len(self._rows) != len(table):
            raise ValueError(f"the observation table has {len(table) - len(self._rows)} repeated rows")

    def __len__(self) -> int:
        return len(self._rows)

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        """The rows of ``observations`` ``(n, *shape)``, as int64 ``(n,)``."""
        obs = np.ascontiguousarray(observations, dtype=self.dtype)
        if obs.shape[1:] != self.shape:
            raise ValueError(f"observations of shape {obs.shape[1:]} do not match the table's {self.shape}")
        try:
            return np.fromiter((self._rows[o.tobytes()] for o in obs), dtype=np.int64, count=len(obs))
        except KeyError:
            raise ValueError("an observation is not in the env's observation table") from None


def observation_index_of(venv: VecEnv) -> ObservationIndex:
    """The lookup for ``venv``'s envs' :meth:`~envs.core.TaskEnv.observation_table`, or why there is none."""
    (table,) = venv.env_method("observation_table", indices=[0])
    if table is None:
        raise ValueError("image_index needs an env whose observation_table() lists every observation it emits")
    return ObservationIndex(table)


class ImageIndex(LearnerView):
    """Hands the learner its observation's row in the env's table of distinct observations (``Discrete``).

    On Pixel Watermaze every pose has its own image, so the row is the same information as the
    pixels, decoded: the learner gets the small networks and speed of a tabular env while the
    histories keep the images the env emitted, which is all AD sees. Comes first among the views.
    """

    def __init__(self, venv: VecEnv) -> None:
        self.index = observation_index_of(venv)
        super().__init__(venv, observation_space=spaces.Discrete(len(self.index)))

    def view_obs(self, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        return self.index(obs)

    def view_terminal_obs(self, terminal: np.ndarray, actor: int) -> np.ndarray:
        return self.index(terminal[None])[0]


class ChannelsFirst(LearnerView):
    """Hands the learner ``(C, H, W)`` images for an env that emits ``(H, W, C)`` ones.

    SB3's CNNs want channels first and would otherwise add their own ``VecTransposeImage``, which
    keeps no original for the recorder; :func:`~ad_agent.sources.sb3.run_source` adds this one instead.
    """

    def __init__(self, venv: VecEnv) -> None:
        space = venv.observation_space
        if not (isinstance(space, spaces.Box) and len(space.shape) == 3):
            raise TypeError(f"needs (H, W, C) image observations, got {space}")
        transposed = spaces.Box(low=space.low.transpose(2, 0, 1), high=space.high.transpose(2, 0, 1), dtype=space.dtype)
        super().__init__(venv, observation_space=transposed)

    def view_obs(self, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(obs).transpose(0, 3, 1, 2))

    def view_terminal_obs(self, terminal: np.ndarray, actor: int) -> np.ndarray:
        return np.ascontiguousarray(terminal.transpose(2, 0, 1))


#: Learner views a source config may name, by the name it uses.
LEARNER_VIEWS: dict[str, type[LearnerView]] = {
    "channels_first": ChannelsFirst,
    "count_bonus": CountBonus,
    "image_index": ImageIndex,
    "return_so_far": ReturnSoFarObservation,
}


def check_views(views: dict[str, dict[str, Any]]) -> None:
    """Fail early on a view name that does not exist."""
    unknown = set(views) - set(LEARNER_VIEWS)
    if unknown:
        raise ValueError(f"unknown learner views {sorted(unknown)}; choose from {sorted(LEARNER_VIEWS)}")


def wrap_views(vec_env: VecEnv, views: dict[str, dict[str, Any]]) -> VecEnv:
    """``vec_env`` wrapped in each named view in order (the first is innermost)."""
    check_views(views)
    for name, kwargs in views.items():
        vec_env = LEARNER_VIEWS[name](vec_env, **kwargs)
    return vec_env
