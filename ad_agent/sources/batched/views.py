"""The learner views of :mod:`ad_agent.sources.learner_view` for many learners' actors at once.

The same arithmetic as the VecEnv wrappers, on the flat array of every learner's actors, with the
count bonus counting each learner's own arrivals only: learners share nothing. A chain applies its
views innermost first, each seeing what the one inside it made of the step, as nested wrappers do:
rewards are changed first (``pay``), then the observation an episode ended on (``terminal``), then
the next observation (``observe``). The count bonus and the return so far count or extend discrete
observations; on an env with array (Box) observations they can follow ``image_index``, which decodes
each observation to its row in the env's observation table and so must come first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from ad_agent.sources.learner_view import ObservationIndex, check_views


class BatchedView:
    """A learner-side view over ``n_envs`` actors; ``learner_of[e]`` is the learner env ``e`` belongs to."""

    def __init__(self, nvec: np.ndarray, learner_of: np.ndarray) -> None:
        self.nvec = np.asarray(nvec, dtype=np.int64)
        self.learner_of = learner_of

    @property
    def out_nvec(self) -> np.ndarray:
        """The observation's values per component, as the learner sees it through this view."""
        return self.nvec

    def pay(self, rewards: np.ndarray, arrived: np.ndarray) -> np.ndarray:
        return rewards

    def terminal(self, terminal: np.ndarray) -> np.ndarray:
        return terminal

    def observe(self, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        return obs


class CountBonusView(BatchedView):
    """``beta / sqrt(N(s'))`` on top of the reward, ``N`` counting one learner's arrivals in ``s'``."""

    def __init__(self, nvec: np.ndarray, learner_of: np.ndarray, beta: float) -> None:
        super().__init__(nvec, learner_of)
        if beta < 0:
            raise ValueError(f"count_bonus beta must be >= 0, got {beta}")
        self.beta = beta
        self.n_cells = int(np.prod(self.nvec))
        self.counts = np.zeros(int(learner_of.max()) * self.n_cells + self.n_cells, dtype=np.int64)

    def pay(self, rewards: np.ndarray, arrived: np.ndarray) -> np.ndarray:
        cells = np.ravel_multi_index(arrived.T, self.nvec) + self.learner_of * self.n_cells
        self.counts += np.bincount(cells, minlength=len(self.counts))
        return (rewards + self.beta / np.sqrt(self.counts[cells])).astype(np.float32)


class ReturnSoFarView(BatchedView):
    """Appends the return earned so far in the episode (rounded, capped at ``max_return``)."""

    def __init__(self, nvec: np.ndarray, learner_of: np.ndarray, max_return: int) -> None:
        super().__init__(nvec, learner_of)
        if max_return < 1:
            raise ValueError(f"return_so_far max_return must be >= 1, got {max_return}")
        self.max_return = max_return
        self.returns = np.zeros(len(learner_of))

    @property
    def out_nvec(self) -> np.ndarray:
        return np.append(self.nvec, self.max_return + 1)

    def pay(self, rewards: np.ndarray, arrived: np.ndarray) -> np.ndarray:
        self.returns = self.returns + rewards
        return rewards

    def terminal(self, terminal: np.ndarray) -> np.ndarray:
        return self._append(terminal)

    def observe(self, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        self.returns[starts] = 0.0
        return self._append(obs)

    def _append(self, obs: np.ndarray) -> np.ndarray:
        held = np.clip(np.rint(self.returns), 0, self.max_return).astype(obs.dtype)
        return np.concatenate([obs, held[:, None]], axis=1)


class ImageIndexView(BatchedView):
    """The observation's row in the env's observation table (:class:`~ad_agent.sources.learner_view.ImageIndex`)."""

    def __init__(self, table: np.ndarray, learner_of: np.ndarray) -> None:
        self.index = ObservationIndex(table)
        super().__init__(np.array([len(self.index)]), learner_of)

    def terminal(self, terminal: np.ndarray) -> np.ndarray:
        return self.index(terminal)[:, None]

    def observe(self, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        return self.index(obs)[:, None]


_VIEWS: dict[str, type[BatchedView]] = {"count_bonus": CountBonusView, "return_so_far": ReturnSoFarView}
DECODER = "image_index"  # the view that turns an array observation into a discrete one


def check_batched_views(views: dict[str, dict[str, Any]], obs_space: spaces.Space | np.ndarray | None = None) -> None:
    """Refuse view names that do not exist, that the batched learners do not implement, or (given the
    env's observation space) that need discrete observations the env does not have."""
    check_views(views)
    unsupported = set(views) - {*_VIEWS, DECODER}
    if unsupported:
        raise ValueError(f"batched learners support the views {sorted({*_VIEWS, DECODER})}, not {sorted(unsupported)}")
    if DECODER in views and next(iter(views)) != DECODER:
        raise ValueError(f"{DECODER} decodes the env's own observations, so it must be the first learner view")
    if obs_space is None:
        return
    if DECODER in views and not isinstance(obs_space, spaces.Box):
        raise ValueError(f"{DECODER} decodes array observations; this env's are {obs_space}: collect without it")
    if views and DECODER not in views and isinstance(obs_space, spaces.Box):
        raise ValueError(
            f"the learner views {sorted(views)} count and extend discrete observations; "
            f"this env's are {obs_space}: collect without them, or decode them first with {DECODER}"
        )


class ViewChain:
    """The named views (innermost first) over every actor of a batch of learners.

    ``observation`` is the env's: a discrete observation's ``nvec``, or a Box; ``table`` is the env's
    observation table, which ``image_index`` needs. :attr:`observation` is what the learners see
    through the views.
    """

    def __init__(
        self,
        views: dict[str, dict[str, Any]],
        observation: np.ndarray | spaces.Box,
        learner_of: np.ndarray,
        table: np.ndarray | None = None,
    ) -> None:
        check_batched_views(views, observation)
        self.views: list[BatchedView] = []
        for name, kwargs in views.items():
            if name == DECODER:
                if table is None:
                    raise ValueError(f"{DECODER} needs an env whose observation_table() lists every observation")
                self.views.append(ImageIndexView(table, learner_of, **kwargs))
            else:
                assert not isinstance(observation, spaces.Box)  # refused by check_batched_views
                self.views.append(_VIEWS[name](observation, learner_of, **kwargs))
            observation = self.views[-1].out_nvec
        self.observation = observation

    def reset(self, obs: np.ndarray) -> np.ndarray:
        """The learners' first observations, from the envs' ``obs``."""
        starts = np.ones(len(obs), dtype=bool)
        for view in self.views:
            obs = view.observe(obs, starts)
        return obs

    def step(
        self, obs: np.ndarray, rewards: np.ndarray, dones: np.ndarray, terminal: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the learners get from one env step: next observations, rewards and (where ``dones``)
        the observations their episodes ended on; ``terminal`` holds the envs' own ones there."""
        for view in self.views:
            arrived = np.where(dones.reshape(-1, *[1] * (obs.ndim - 1)), terminal, obs)
            rewards = view.pay(rewards, arrived)
            terminal = view.terminal(terminal)
            obs = view.observe(obs, dones)
        return obs, rewards.astype(np.float32), terminal
