"""InContextPolicy: a trained AD model behind a plain ``reset()`` / ``act(obs, reward)`` interface.

The policy keeps a context of its own experience and never changes its weights: whatever it
learns about a new task, it learns in context. A transformer's context is a rolling window of the
last ``context_len`` steps (an attention cache); an LSTM's is its recurrent state, carried over
the whole trial (see :mod:`ad_agent.model.lstm` for why). Either way one ``act`` runs one new step.

Every argument of :meth:`InContextPolicy.act`, :meth:`~InContextPolicy.prime` and
:meth:`~InContextPolicy.reset` is checked, and a bad one is a ``ValueError`` that names it.
Rewards must lie in ``[-MAX_ABS_REWARD, MAX_ABS_REWARD]``: the reward enters the model through a
linear embedding, and a reward of 1e30 overflowed the next layer norm, after which every action
probability was NaN until ``reset()``. Should the model still produce a non-finite score (weights
that overflow on some input), ``act`` raises ``FloatingPointError`` rather than sample from NaN.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ad_agent.deployment import policy_file
from ad_agent.deployment.policy_file import PolicySpec
from ad_agent.devices import check_device, torch_threads
from ad_agent.model import ADModel
from ad_agent.model.heads import CategoricalHead

__all__ = ["MAX_ABS_REWARD", "SMALL_BATCH", "InContextPolicy", "PolicySpec"]

#: Largest reward magnitude ``act`` and ``prime`` accept; AD's envs pay 0 or 1. Up to here the
#: embedding's activations stay far inside float32 (tested, and fuzzed for NaN).
MAX_ABS_REWARD = 1e6
#: Batches up to this size run on one CPU thread unless ``num_threads`` says otherwise: one step
#: of a small batch is tiny kernels, which lose more to thread hand-offs than they gain
#: (``benchmarks/policy_latency.py``: 21 ms with 2 threads against 2.8 ms with 1 on a busy machine).
SMALL_BATCH = 16
#: Caps the context a ``reset(batch_size=...)`` may allocate (the attention cache or LSTM state).
MAX_CONTEXT_BYTES = 16 * 2**30
_short = reprlib.Repr()
_short.maxstring, _short.maxother = 40, 40


def check_temperature(temperature: Any) -> None:
    """Refuse a sampling temperature that is not a finite number above 0."""
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, numbers.Real):
        raise ValueError(f"temperature must be a number above 0, got {_short.repr(temperature)}")
    if not (math.isfinite(temperature) and float(temperature) > 0):
        raise ValueError(f"temperature must be a finite number above 0, got {temperature}")


class InContextPolicy:
    """Drive a trained AD model in any Gymnasium loop.

    Contract of :meth:`act`: pass the observation to act on and the reward the *previous* action
    earned (ignored on the first call after :meth:`reset`). ``episode_start`` marks the first
    observation of an episode; when left ``None`` it is inferred: true on the first call after
    ``reset`` and every ``max_episode_steps`` steps for fixed-horizon envs such as Dark Room.
    The context carries over episode boundaries; only :meth:`reset` clears it (a new task).

    ``deterministic=True`` takes the most likely action. On a task the model has not solved yet it
    repeats the same choice (on Dark Room it walks into a wall for good): in-context exploration
    comes from sampling, so keep the default ``False`` to learn a new task.

    ``num_threads``: torch threads while the model runs on a CPU. ``None`` (default) uses one
    thread for batches up to :data:`SMALL_BATCH` and torch's setting above; the caller's thread
    count is restored after each call. Set an int to choose (for instance on an idle many-core
    machine at a large batch).
    """

    def __init__(self, model: ADModel, spec: PolicySpec, device: str = "auto", num_threads: int | None = None) -> None:
        self.device = check_device(device)
        self.num_threads = num_threads
        self.model = model.to(self.device).eval()
        self.spec = spec
        self._coding = spec.model.action_coding
        self._kind = spec.model.obs_kind
        self._obs_shape = spec.model.obs_input_shape
        self._nvec = np.asarray(spec.model.obs_nvec)
        self.reset()

    @property
    def context_len(self) -> int:
        return self.spec.model.context_len

    def reset(self, batch_size: int = 1, seed: int | None = None) -> None:
        """Forget the context: ``batch_size`` new tasks begin. ``seed`` fixes action sampling."""
        batch_size = _count(batch_size, "batch_size")
        if seed is not None:
            seed = _count(seed, "seed", minimum=0)
        if batch_size * self._context_bytes_per_task() > MAX_CONTEXT_BYTES:
            gib = batch_size * self._context_bytes_per_task() / 2**30
            raise ValueError(
                f"batch_size {batch_size} needs a {gib:.0f} GiB context; at most {MAX_CONTEXT_BYTES >> 30}"
            )
        self.batch_size = batch_size
        self._rng = np.random.default_rng(seed)
        self._cache = self.model.new_cache(batch_size)
        # the model's classes of each task's previous action: "none yet" after a reset
        self._last_actions = np.full((batch_size, *self._coding.shape), self._coding.null, dtype=np.int64)
        self._steps_in_episode = np.zeros(batch_size, dtype=np.int64)
        self._carried_rewards = np.zeros(batch_size, dtype=np.float32)  # used instead of act's reward
        self._fresh = True

    def _context_bytes_per_task(self) -> int:
        """float32 bytes of one task's context: keys and values per layer, or the LSTM's (h, c)."""
        m = self.spec.model
        width = m.lstm_hidden if m.arch == "lstm" else m.context_len * m.d_model
        return 2 * m.n_layers * width * 4

    @property
    def context_steps(self) -> int:
        """How many past steps the context holds now: at most ``context_len`` in a transformer's
        window, every step since :meth:`reset` in an LSTM's carried state."""
        seen = self._cache.next_position
        return seen if self.spec.model.arch == "lstm" else min(seen, self.context_len)

    def act(
        self,
        obs: Any,
        reward: Any = 0.0,
        *,
        episode_start: Any = None,
        deterministic: bool = False,
        temperature: float = 1.0,
    ) -> int | np.ndarray:
        """Choose the next action(s) in the env's action space.

        A Discrete space: a single observation gives an int, a batch an int array ``(batch,)``. A Box
        space: a float32 array ``(d,)``, or ``(batch, d)``. A categorical head gives each dimension one of
        its evenly spaced bin values (:mod:`ad_agent.actions`), sampled, or the most likely with
        ``deterministic``; a Gaussian head a sample, or ``tanh`` of its mean (:mod:`ad_agent.model.heads`).
        ``temperature`` scales the sampled distribution: a categorical's scores are divided by it, a
        Gaussian's spread multiplied (1, the default, samples the model's own distribution, as the
        paper does).
        Only the new step goes through the model: earlier steps are read from the attention cache
        (transformer) or summarised by the carried recurrent state (LSTM).
        """
        if not isinstance(deterministic, (bool, np.bool_)):
            raise ValueError(f"deterministic must be True or False, got {_short.repr(deterministic)}")
        check_temperature(temperature)
        obs_arr, single = self._check_obs(obs)
        rewards = self._check_rewards(reward)
        starts = self._episode_starts(episode_start)
        if self._fresh:
            rewards = self._carried_rewards
        out = self._forward(obs_arr[:, None], self._last_actions[:, None], rewards[:, None], starts[:, None])
        if not torch.isfinite(out).all():  # never sample from NaN: say so instead
            raise FloatingPointError("the model's action scores are not finite; call reset() to start over")
        actions, classes = self.model.action_head.choose(out, self._rng, bool(deterministic), float(temperature))
        self._last_actions = classes.astype(np.int64)
        self._fresh = False
        if not single:
            return actions
        return actions[0] if self._coding.continuous else int(actions[0])

    def action_probabilities(self) -> np.ndarray:
        """The action distribution of the last :meth:`act` call: ``(batch, n_actions)``, or for a Box
        action ``(batch, d, bins)``, each dimension's distribution over its bin values. A Gaussian
        head's are in :meth:`action_distribution`."""
        head = self.model.action_head
        if not isinstance(head, CategoricalHead):
            raise ValueError("this policy's action head is a Gaussian: read action_distribution() instead")
        return head.probabilities(self._last_output)

    def action_distribution(self) -> np.ndarray:
        """The raw distribution of the last :meth:`act` call, as the head arranges it: scores
        ``(batch, n_actions)`` or ``(batch, d, bins)`` for a categorical head, each dimension's
        (mean, log-std) before ``tanh`` ``(batch, d, 2)`` for a Gaussian one."""
        return self._last_output.float().cpu().numpy()

    def prime(self, observations: Any, actions: Any, rewards: Any, episode_starts: Any = None) -> None:
        """Pre-fill the context with a given history (a demonstration, part of a learning history).

        ``observations`` ``(T, n_obs)``, ``actions`` ``(T,)`` (a Box space's ``(T, d)``, as the env
        received them), ``rewards`` ``(T,)``, each step an
        (o, a, r) triple; the same history is given to every task of the batch (or pass a leading
        batch axis). The history must end with a whole episode: the next :meth:`act` starts a new
        one. ``episode_starts`` defaults to every ``max_episode_steps`` steps from the first.
        """
        if self._cache.next_position:
            raise ValueError("prime() must come right after reset(), before the first act()")
        obs, acts, rews, starts = self._check_history(observations, actions, rewards, episode_starts)
        prev_actions = np.concatenate([self._last_actions[:, None], acts[:, :-1]], axis=1)
        prev_rewards = np.concatenate([self._carried_rewards[:, None], rews[:, :-1]], axis=1)
        for chunk in range(0, obs.shape[1], self.context_len):  # bounded memory per forward pass
            part = slice(chunk, chunk + self.context_len)
            self._forward(obs[:, part], prev_actions[:, part], prev_rewards[:, part], starts[:, part])
        self._last_actions = acts[:, -1].astype(np.int64)
        self._carried_rewards = rews[:, -1].copy()

    def _forward(self, obs: np.ndarray, prev_actions: np.ndarray, prev_rewards: np.ndarray, starts: np.ndarray):
        """Run new steps ``(B, T, ...)`` through the model against the cache; the head's output for the last one."""
        device = self.device
        with torch.inference_mode(), self._threads(obs.shape[0]):
            out = self.model(
                torch.as_tensor(obs, device=device),  # the encoder converts its own dtype
                torch.as_tensor(prev_actions, dtype=torch.long, device=device),
                torch.as_tensor(prev_rewards, dtype=torch.float32, device=device),
                torch.as_tensor(starts, dtype=torch.bool, device=device),
                cache=self._cache,
            )[:, -1]
        self._last_output = out
        return out

    @contextmanager
    def _threads(self, batch: int) -> Iterator[None]:
        """Run with the thread count chosen for ``batch`` (see the class docstring), then restore the caller's."""
        wanted = self.num_threads if self.num_threads is not None else (1 if batch <= SMALL_BATCH else None)
        if self.device.type != "cpu" or wanted is None or wanted == torch.get_num_threads():
            yield
            return
        with torch_threads(_count(wanted, "num_threads")):
            yield

    def _episode_starts(self, episode_start: Any) -> np.ndarray:
        if episode_start is None:
            starts = np.full(self.batch_size, self._fresh)
            if self.spec.max_episode_steps:
                starts |= self._steps_in_episode >= self.spec.max_episode_steps
        else:
            flags = _flags(episode_start, "episode_start")
            if flags.shape not in ((), (self.batch_size,)):
                raise ValueError(f"episode_start has shape {flags.shape}, expected a scalar or ({self.batch_size},)")
            starts = np.broadcast_to(flags, (self.batch_size,)).copy()
            starts |= self._fresh
        self._steps_in_episode = np.where(starts, 1, self._steps_in_episode + 1)
        return starts

    def _check_obs(self, obs: Any) -> tuple[np.ndarray, bool]:
        arr = _array(obs, "observation")
        shape = self._obs_shape
        one_int = self._kind == "discrete" and shape == (1,)  # a Discrete space: each observation is a scalar
        single = arr.shape == shape or (one_int and arr.ndim == 0)
        arr = arr.reshape(1, *shape) if single else arr
        arr = arr.reshape(-1, 1) if one_int and arr.ndim == 1 else arr  # a batch of scalars
        if arr.shape != (self.batch_size, *shape):
            expected = shape if self.batch_size == 1 else (self.batch_size, *shape)
            raise ValueError(f"observation has shape {np.shape(obs)}, expected {expected}")
        return self._check_obs_values(arr, obs), single

    def _check_obs_values(self, arr: np.ndarray, given: Any) -> np.ndarray:
        """``arr`` in the model's dtype if every entry is valid for the observation space."""
        if self._kind == "vector":
            if arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)):
                raise ValueError("observation must hold finite numbers")
            return arr.astype(np.float32)
        if self._kind == "image":
            if arr.dtype != np.uint8:
                raise ValueError(f"image observation must be uint8 pixels, got dtype {arr.dtype}")
            return arr
        whole = arr.dtype.kind in "iu" or (
            arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
        )
        if not whole:
            raise ValueError(f"observation must hold integers, got {_short.repr(given)}")
        if (arr < 0).any() or (arr >= self._nvec).any():
            given = _short.repr(given)
            raise ValueError(f"observation {given} is outside the observation space (sizes {self._nvec.tolist()})")
        arr = arr.astype(np.int64)
        return arr

    def _check_history(
        self, observations: Any, actions: Any, rewards: Any, episode_starts: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A history for :meth:`prime` as ``(B, T, ...)`` arrays, or a ``ValueError`` naming the problem."""
        shape, b = self._obs_shape, self.batch_size
        obs = _array(observations, "history observations")
        if obs.ndim == 1 + len(shape):
            obs = np.broadcast_to(obs, (b, *obs.shape))
        if obs.ndim != 2 + len(shape) or obs.shape[0] != b or obs.shape[2:] != shape or obs.shape[1] == 0:
            expected = ", ".join(["T", *map(str, shape)])
            raise ValueError(f"history observations have shape {np.shape(observations)}, expected ({expected})")
        steps = obs.shape[1]

        def per_step(name: str, value: Any, trailing: tuple[int, ...] = ()) -> np.ndarray:
            arr = _array(value, f"history {name}")
            if arr.shape not in ((steps, *trailing), (b, steps, *trailing)):
                expected = ", ".join(map(str, (steps, *trailing)))
                raise ValueError(f"history {name} have shape {arr.shape}, expected ({expected}) like the observations")
            return np.broadcast_to(arr, (b, steps, *trailing))

        acts = self._check_history_actions(per_step("actions", actions, self._coding.shape))
        rews = _rewards(per_step("rewards", rewards), "history rewards").astype(np.float32)
        if episode_starts is None:
            if not self.spec.max_episode_steps:
                raise ValueError(f"{self.spec.env_id} has no fixed episode length: give episode_starts")
            episode_starts = np.arange(steps) % self.spec.max_episode_steps == 0
        starts = _flags(per_step("episode_starts", episode_starts), "history episode_starts")
        return self._check_obs_values(obs, "history observations"), acts, rews, starts

    def _check_history_actions(self, acts: np.ndarray) -> np.ndarray:
        """History actions as the model's classes, if every one is in the action space."""
        coding = self._coding
        if not coding.continuous:
            if acts.dtype.kind not in "iu" or (acts < 0).any() or (acts >= coding.classes).any():
                raise ValueError(f"history actions must be ints in [0, {coding.classes})")
            return acts.astype(np.int64)
        inside = (acts >= np.asarray(coding.low)) & (acts <= np.asarray(coding.high))
        if acts.dtype.kind not in "iuf" or not inside.all():
            raise ValueError(f"history actions must be finite floats in [{coding.low}, {coding.high}]")
        return coding.encode(acts)

    def _check_rewards(self, reward: Any) -> np.ndarray:
        arr = _rewards(_array(reward, "reward"), "reward")
        if arr.ndim == 0:
            arr = np.full(self.batch_size, float(arr))
        if arr.shape != (self.batch_size,):
            raise ValueError(f"reward has shape {arr.shape}, expected a scalar or ({self.batch_size},)")
        return arr.astype(np.float32)

    def save(self, path: str | Path) -> Path:
        """Write the policy folder (safetensors weights + JSON description; see :mod:`.policy_file`)."""
        return policy_file.save(self.model, self.spec, path)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", num_threads: int | None = None) -> InContextPolicy:
        """Restore a saved policy, or a shipped one as ``"pretrained:<env id>"``; never unpickles."""
        check_device(device)  # before reading anything
        model, spec = policy_file.load(path)
        return cls(model, spec, device=device, num_threads=num_threads)


def _array(value: Any, name: str) -> np.ndarray:
    """``np.asarray(value)``, with a ragged or otherwise unconvertible value named as ``name``."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError):
        raise ValueError(f"{name} must be an array of numbers, got {_short.repr(value)}") from None


def _rewards(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` as float64 if it holds finite numbers within ``MAX_ABS_REWARD``, else a ``ValueError``."""
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be numbers, got {_short.repr(arr.tolist())} (dtype {arr.dtype})")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {_short.repr(arr.tolist())}")
    if arr.size and np.abs(arr).max() > MAX_ABS_REWARD:
        raise ValueError(f"{name} must lie in [-{MAX_ABS_REWARD:g}, {MAX_ABS_REWARD:g}], got {np.abs(arr).max():g}")
    return arr


def _flags(value: Any, name: str) -> np.ndarray:
    """Booleans (or 0/1) as a bool array; a string such as ``"False"`` is refused, not read as true."""
    arr = _array(value, name)
    zero_one = arr.dtype.kind in "iu" and np.isin(arr, (0, 1)).all()
    if arr.dtype != bool and not zero_one:
        raise ValueError(f"{name} must be True/False (or 0/1), got {_short.repr(value)}")
    return arr.astype(bool)  # a copy: the caller's array may be a read-only broadcast


def _count(value: Any, name: str, minimum: int = 1) -> int:
    """An integer (not a bool) of at least ``minimum``, as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {_short.repr(value)}")
    return int(value)
