"""Record learning histories at the environment, for learners whose callbacks carry no step data.

:class:`~ad_agent.sources.sb3.HistoryRecorder` reads SB3's rollout loop; any other learner can be
recorded by wrapping each of its envs in :class:`RecordingWrapper`, which sees exactly what the env
emitted. Both produce a :class:`Capture`, so the rest of the package cannot tell them apart.

What the :class:`~ad_agent.histories.Streams` format leaves out: a row holds the observation its action
was chosen from, so the observation that *ended* an episode is never a row (a vector env has already
replaced it by the next episode's first one). It is kept here, once per episode rather than once per
step, with whether the episode terminated or was cut by a time limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from ad_agent.histories import Streams


@dataclass
class Capture:
    """One recording: the AD streams plus what really ended each episode.

    ``terminated`` / ``truncated`` are ``(n_actors, n_steps)`` bools: the row's action ended the episode.
    ``terminal_observations[k]`` is the observation that ended the ``k``-th episode end, counting the
    ends of actor 0 in time order, then actor 1, and so on (``np.flatnonzero(terminated | truncated)``).
    ``learner_steps`` is ``(n_steps,)``: the learner's own step counter after each vector step, or
    ``None`` when the recording cannot see the learner (a wrapper). ``learner_actions`` is, for a
    continuous learner that clips its actions to the space before stepping, its own actions before
    that, shaped as ``streams.actions``; ``None`` otherwise.
    """

    streams: Streams
    terminated: np.ndarray
    truncated: np.ndarray
    terminal_observations: np.ndarray
    learner_steps: np.ndarray | None = None
    learner_actions: np.ndarray | None = None

    def __post_init__(self) -> None:
        lead = self.streams.actions.shape[:2]
        if self.terminated.shape != lead or self.truncated.shape != lead:
            raise ValueError(f"terminated/truncated must be shaped {lead}")
        if self.learner_actions is not None and self.learner_actions.shape != self.streams.actions.shape:
            raise ValueError(f"learner_actions must be shaped as the actions, {self.streams.actions.shape}")
        if len(self.terminal_observations) != int(self.episode_ends.sum()):
            raise ValueError("need one terminal observation per episode end")

    @property
    def episode_ends(self) -> np.ndarray:
        return self.terminated | self.truncated

    def extras(self) -> dict[str, np.ndarray]:
        """What a run file stores beside the streams (:data:`ad_agent.histories.EXTRA_FIELDS`)."""
        extras = {
            "terminated": self.terminated,
            "truncated": self.truncated,
            "terminal_observations": self.terminal_observations,
        }
        if self.learner_steps is not None:
            extras["learner_steps"] = self.learner_steps
        if self.learner_actions is not None:
            extras["learner_actions"] = self.learner_actions
        return extras


def stack_captures(captures: Sequence[Capture]) -> Capture:
    """Join the one-actor captures of a vector env's wrappers, in env order, into one capture."""
    if not captures:
        raise ValueError("no captures to stack")
    lengths = {c.streams.n_steps for c in captures}
    if len(lengths) != 1:
        raise ValueError(f"captures of one vector env must have equal lengths, got {sorted(lengths)}")

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(c.streams, name) for c in captures])

    streams = Streams(cat("observations"), cat("actions"), cat("rewards"), cat("episode_starts"))
    return Capture(
        streams=streams,
        terminated=np.concatenate([c.terminated for c in captures]),
        truncated=np.concatenate([c.truncated for c in captures]),
        terminal_observations=np.concatenate([c.terminal_observations for c in captures]),
    )


class RecordingWrapper(gym.Wrapper):
    """Record one env's stream of (observation, action, reward, episode start) as it happens.

    Put it outermost (e.g. ``make_vec_env(..., wrapper_class=RecordingWrapper)``) so that every reset
    the learner asks for, including a vector env's automatic ones, passes through it. In a subprocess
    vector env, fetch the recordings with ``vec_env.env_method("capture")``.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._rows: dict[str, list[Any]] = {k: [] for k in ("obs", "act", "rew", "start", "term", "trunc")}
        self._terminal_obs: list[np.ndarray] = []
        self._obs: np.ndarray | None = None
        self._start = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs, self._start = np.array(obs, copy=True), True  # copies: the env may reuse its arrays
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        row = (self._obs, np.array(action, copy=True), float(reward), self._start, bool(terminated), bool(truncated))
        for values, value in zip(self._rows.values(), row, strict=True):
            values.append(value)
        if terminated or truncated:
            self._terminal_obs.append(np.array(obs, copy=True))
        self._obs, self._start = np.array(obs, copy=True), False
        return obs, reward, terminated, truncated, info

    def _action_dtype(self) -> type:
        """As the run files store actions: float32 for a continuous (``Box``) space, int64 otherwise."""
        return np.float32 if isinstance(self.action_space, gym.spaces.Box) else np.int64

    def capture(self) -> Capture:
        """The steps recorded so far as a one-actor :class:`Capture`."""
        rows = self._rows
        if not rows["act"]:
            raise RuntimeError("nothing recorded yet: step the wrapped env first")
        streams = Streams(
            observations=np.stack(rows["obs"])[None],
            actions=np.asarray(rows["act"], dtype=self._action_dtype())[None],
            rewards=np.asarray(rows["rew"], dtype=np.float32)[None],
            episode_starts=np.asarray(rows["start"], dtype=bool)[None],
        )
        if self._terminal_obs:
            terminal = np.stack(self._terminal_obs)
        else:
            space = self.observation_space
            assert space.shape is not None  # the recorded observations are arrays, so the space is shaped
            terminal = np.empty((0, *space.shape), space.dtype)
        return Capture(
            streams=streams,
            terminated=np.asarray(rows["term"], dtype=bool)[None],
            truncated=np.asarray(rows["trunc"], dtype=bool)[None],
            terminal_observations=terminal,
        )
