"""Expose a Gymnasium environment through DeepMind's ``dm_env`` interface.

Agents written against ``dm_env`` (Acme, the bsuite tooling, dm_control-style loops) expect typed specs and
``TimeStep`` objects whose ``discount`` says whether bootstrapping is allowed. Gymnasium says the same thing with the
``terminated`` / ``truncated`` flags, so the adapter maps:

* ``reset()`` -> ``dm_env.restart`` (``FIRST``; reward and discount are ``None``);
* ``terminated`` -> ``dm_env.termination`` (``LAST``, discount 0.0: the episode truly ended, do not bootstrap);
* ``truncated`` and not ``terminated`` -> ``dm_env.truncation`` (``LAST``, discount 1.0: cut off by a time limit,
  the next state still has value);
* anything else -> ``dm_env.transition`` (``MID``, discount 1.0).

``dm_env`` has no auto-reset flag, so the contract is explicit: ``step()`` on a fresh adapter or after a ``LAST``
step ignores the action and starts a new episode. Later resets are plain ``reset()`` calls, so per-env task state
that Gymnasium keeps across resets (e.g. the Dark Room goal) is kept too. ``TimeStep`` has no ``info`` field; the
last Gymnasium ``info`` dict is kept on :attr:`DmEnvAdapter.last_info`.
"""

from __future__ import annotations

from typing import Any

import dm_env
import gymnasium as gym
import numpy as np
from dm_env import specs
from gymnasium import spaces

from envs.core import compact_bound

__all__ = ["DmEnvAdapter", "as_dm_env", "space_to_spec"]


def space_to_spec(space: gym.Space, name: str) -> specs.Array:
    """The ``dm_env`` spec describing the same values as a Gymnasium ``space``.

    ``Discrete`` starting at 0 becomes a ``DiscreteArray`` (what ``dm_env`` agents use to size policy heads); every
    other supported space becomes a ``BoundedArray`` with the space's shape, dtype and inclusive bounds.

    Raises:
        TypeError: for spaces with no array spec (``Dict``, ``Tuple``, ``Text``, ...).
    """
    if isinstance(space, spaces.Discrete):
        start, n = int(space.start), int(space.n)
        if start == 0:
            return specs.DiscreteArray(num_values=n, dtype=space.dtype, name=name)
        return specs.BoundedArray((), space.dtype, minimum=start, maximum=start + n - 1, name=name)
    if isinstance(space, spaces.MultiDiscrete):
        low, high = space.start, space.start + space.nvec - 1
        return specs.BoundedArray(space.shape, space.dtype, compact_bound(low), compact_bound(high), name=name)
    if isinstance(space, spaces.MultiBinary):
        return specs.BoundedArray(space.shape, space.dtype, minimum=0, maximum=1, name=name)
    if isinstance(space, spaces.Box):
        return specs.BoundedArray(
            space.shape, space.dtype, compact_bound(space.low), compact_bound(space.high), name=name
        )
    raise TypeError(
        f"cannot express the {name} space {space!r} as a dm_env spec: supported spaces are Discrete, "
        f"MultiDiscrete, MultiBinary and Box (flatten composite spaces first, e.g. with "
        f"gymnasium.wrappers.FlattenObservation)"
    )


class DmEnvAdapter(dm_env.Environment):
    """A ``dm_env.Environment`` view of one Gymnasium env; see the module docstring for the semantics.

    Reward and discount specs are ``dm_env``'s defaults (float64 scalar; discount bounded to [0, 1]).
    """

    def __init__(self, env: gym.Env, seed: int | None = None) -> None:
        self.gym_env = env
        self._observation_spec = space_to_spec(env.observation_space, "observation")
        self._action_spec = space_to_spec(env.action_space, "action")
        self._seed = seed
        self._needs_reset = True
        self.last_info: dict[str, Any] = {}

    def reset(self) -> dm_env.TimeStep:
        """Start a new episode; ``seed`` is passed only to the first reset so later episodes continue its stream."""
        obs, self.last_info = self.gym_env.reset(seed=self._seed)
        self._seed = None
        self._needs_reset = False
        return dm_env.restart(self._observation(obs))

    def step(self, action: Any) -> dm_env.TimeStep:
        """Advance one step, or, on a fresh adapter or after a ``LAST`` step, ignore ``action`` and reset."""
        if self._needs_reset:
            return self.reset()
        # Cast to the space's dtype: dm_env agents may pass Python ints or 0-d arrays of another dtype.
        # ``[()]`` turns a 0-d array into a numpy scalar, which is what Gymnasium's Discrete.sample() returns.
        gym_action = np.asarray(action, dtype=self._action_spec.dtype)[()]
        obs, reward, terminated, truncated, self.last_info = self.gym_env.step(gym_action)
        observation, reward = self._observation(obs), float(reward)
        if terminated:
            self._needs_reset = True
            return dm_env.termination(reward, observation)
        if truncated:
            self._needs_reset = True
            return dm_env.truncation(reward, observation)
        return dm_env.transition(reward, observation)

    def observation_spec(self) -> specs.Array:
        return self._observation_spec

    def action_spec(self) -> specs.Array:
        return self._action_spec

    def close(self) -> None:
        self.gym_env.close()

    def _observation(self, obs: Any) -> np.ndarray:
        """A copy in the spec's dtype: agents may keep TimeSteps, and some gym envs reuse their observation buffer."""
        return np.array(obs, dtype=self._observation_spec.dtype)


def as_dm_env(env: gym.Env, seed: int | None = None) -> DmEnvAdapter:
    """Wrap ``env`` as a ``dm_env.Environment``; ``seed``, if given, seeds the first reset.

    Raises:
        TypeError: if the observation or action space has no ``dm_env`` array spec.
    """
    return DmEnvAdapter(env, seed=seed)
