"""Many independent PPO or A2C learners in lockstep, one per (task, seed), recorded as SB3 runs are.

One SB3 run per task spends nearly all its time in Python overhead around tiny tensors, so a Dark
Key-to-Door run takes about a minute on a core. Here the learners' actors all live in one numpy
vector env (:class:`envs.core.TaskVectorEnv`, one task per actor), their networks are stacked
(:mod:`~ad_agent.sources.batched.networks`) and their updates are SB3's, per learner
(:mod:`~ad_agent.sources.batched.updates`): the same rollout loop (``n_steps`` per actor, a value
bootstrap where an episode is cut by its time limit), the same advantage estimation, losses and
optimiser. Learners share nothing but the tensor operations: no weights, no optimiser state, no
samples, no exploration counts. What each actor lived is recorded exactly as
:class:`~ad_agent.sources.sb3.HistoryRecorder` records an SB3 actor, as a
:class:`~ad_agent.sources.wrapper.Capture`, so batched and SB3 run files mix in one dataset.

The envs may have Discrete or bounded 1-D Box actions, and Discrete, MultiDiscrete or 1-D Box (float
vector) observations, as SB3's ``MlpPolicy`` takes them; image observations only through the
``image_index`` learner view, which hands the learner each image's row in the env's table of them.
For Box actions the policy is SB3's Gaussian, whose samples the envs get clipped to the box: the
histories hold the actions the envs received, and the samples themselves as ``learner_actions``, as
for an SB3 learner.

Randomness (initial weights, action sampling, minibatch order, the envs' start states) comes from
one seed per batch made from the batch's job seeds, so the same jobs in the same batches give the
same histories.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast, overload

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

import envs  # noqa: F401  (registers the ids)
from ad_agent.histories import Streams
from ad_agent.sources.base import Recorded, register_source
from ad_agent.sources.batched.networks import BatchedActorCritic
from ad_agent.sources.batched.updates import (
    A2CSettings,
    PPOSettings,
    Rollout,
    check_policy_kwargs,
    gae,
    make_optimizer,
    settings_for,
    train_on,
)
from ad_agent.sources.batched.views import DECODER, ViewChain, check_batched_views
from ad_agent.sources.learner_view import ObservationIndex
from ad_agent.sources.wrapper import Capture
from envs.core import observation_table

#: One batch's recorded histories may take at most this much memory (a worker holds one batch at a
#: time, so two workers stay well inside a 24 GiB machine).
MAX_BATCH_BYTES = 6 * 2**30

ProgressFn = Callable[[int], None]


@register_source
@dataclass
class BatchedSourceConfig:
    """Independent SB3-style learners run ``learners_per_batch`` at a time in one process.

    ``algo``, ``n_envs`` (actors per learner), ``total_timesteps`` (per learner), ``hyperparams``
    (SB3's names and defaults for ``algo``) and ``learner_views`` mean what they mean in
    :class:`~ad_agent.sources.sb3.SourceConfig`; :meth:`like` makes the batched twin of one.
    """

    algo: str = "PPO"
    n_envs: int = 64
    total_timesteps: int = 60_000
    hyperparams: dict[str, Any] = field(default_factory=dict)
    learner_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    learners_per_batch: int = 256

    def __post_init__(self) -> None:
        check_batched_views(self.learner_views)
        if self.n_envs < 1 or self.total_timesteps < self.n_envs:
            raise ValueError(
                f"need n_envs >= 1 and total_timesteps >= n_envs, got {self.n_envs}, {self.total_timesteps}"
            )
        if self.learners_per_batch < 1:
            raise ValueError(f"learners_per_batch must be >= 1, got {self.learners_per_batch}")
        self.settings()  # refuse bad hyper-parameters before any work
        check_policy_kwargs(self.hyperparams.get("policy_kwargs", {}))

    @classmethod
    def like(cls, source: Any, learners_per_batch: int = 256) -> BatchedSourceConfig:
        """The batched twin of an SB3 :class:`~ad_agent.sources.sb3.SourceConfig` (same learner, same budget)."""
        return cls(
            source.algo,
            source.n_envs,
            source.total_timesteps,
            dict(source.hyperparams),
            dict(source.learner_views),
            learners_per_batch,
        )

    def settings(self) -> PPOSettings | A2CSettings:
        return settings_for(self.algo, self.hyperparams, self.n_envs)

    @property
    def iterations(self) -> int:
        """Rollouts per learner: as SB3's ``learn()``, until at least ``total_timesteps`` steps."""
        return math.ceil(self.total_timesteps / (self.n_envs * self.settings().n_steps))

    @property
    def steps_per_actor(self) -> int:
        return self.iterations * self.settings().n_steps

    def record(self, env_id: str, env_kwargs: dict[str, Any], seed: int) -> Recorded:
        """A batch of one learner; collection batches many (:func:`ad_agent.collection.runner.run_batch`)."""
        (capture,) = run_batched(self, env_id, [env_kwargs["task"]], [seed])
        return capture.streams, capture.extras()


def _observation_input(space: spaces.Space, decoded: bool = False) -> np.ndarray | spaces.Box:
    """What the learner views read of ``space``: a discrete observation's values per component, or a
    1-D Box (any Box when ``decoded``: the ``image_index`` view turns it into a row index)."""
    if decoded and isinstance(space, spaces.Box):
        return space
    if isinstance(space, spaces.Discrete):
        return np.array([space.n])
    if isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
        return space.nvec.astype(np.int64)
    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        return space
    raise TypeError(
        f"batched learners take Discrete, 1-D MultiDiscrete or 1-D Box observations, not {space}; "
        "decode image observations with the image_index learner view, or collect them with the SB3 source"
    )


def _action_head(space: spaces.Space) -> int | spaces.Box:
    """What the networks' action head is for: a Discrete space's number of actions, or a Box (a Gaussian)."""
    return space if isinstance(space, spaces.Box) else int(cast(spaces.Discrete, space).n)


def _action_buffer(space: spaces.Space, *lead: int) -> np.ndarray:
    """Zero actions shaped ``lead`` (+ a Box's own shape), as SB3's buffer and the run files hold them:
    float32 for a Box, int64 for Discrete."""
    if isinstance(space, spaces.Box):
        return np.zeros((*lead, *space.shape), dtype=np.float32)
    return np.zeros(lead, dtype=np.int64)


def check_env_fits(env_id: str, learner_views: dict[str, dict[str, Any]] | None = None) -> None:
    """Refuse, before any work, an env the batched learners cannot run, or ``learner_views`` on it that
    they cannot apply: its actions must be Discrete or a bounded 1-D Box (SB3's categorical or clipped
    Gaussian policy) and its observations Discrete, 1-D MultiDiscrete or a 1-D Box, or any array the
    ``image_index`` view decodes through the env's observation table."""
    env = gym.make(env_id)
    obs_space, space, table = env.observation_space, env.action_space, observation_table(env)
    env.close()
    views = learner_views or {}
    check_batched_views(views, obs_space)
    _observation_input(obs_space, decoded=DECODER in views)
    if DECODER in views and table is None:
        raise ValueError(f"{DECODER} needs an env whose observation_table() lists every observation; {env_id} has none")
    bounded = isinstance(space, spaces.Box) and len(space.shape) == 1 and np.isfinite([space.low, space.high]).all()
    if not (isinstance(space, spaces.Discrete) or bounded):
        raise ValueError(
            f"batched learners take Discrete or bounded 1-D Box actions; {env_id}'s action space is {space}: "
            "collect it with the SB3 source (without --batched)"
        )


def batch_bytes(config: BatchedSourceConfig, env_id: str, n_learners: int) -> int:
    """Memory the recorded histories of ``n_learners`` learners take (the networks are small beside them):
    every learner's steps as the recorder holds them, and one run at a time laid out and written."""
    env = gym.make(env_id)
    table = observation_table(env) if DECODER in config.learner_views else None
    held = _Recorder(1, 1, env.observation_space, env.action_space, table).nbytes  # one actor-step, every field
    written = _Recorder(1, 1, env.observation_space, env.action_space).nbytes
    env.close()
    steps = config.n_envs * config.steps_per_actor  # per learner
    return n_learners * steps * held + 2 * steps * written  # x2: a run's streams and the copy write_run makes


def check_batch_fits(config: BatchedSourceConfig, env_id: str, n_learners: int) -> None:
    """Refuse a batch whose histories would not fit :data:`MAX_BATCH_BYTES`, naming the setting to lower."""
    need = batch_bytes(config, env_id, n_learners)
    if need > MAX_BATCH_BYTES:
        fits = max(1, n_learners * MAX_BATCH_BYTES // need)
        raise ValueError(
            f"learners_per_batch (--learners-per-batch) {n_learners} would hold {need / 2**30:.1f} GiB "
            f"of histories in memory (limit {MAX_BATCH_BYTES / 2**30:.0f} GiB); use at most {fits}"
        )


def batch_seed(seeds: Sequence[int]) -> int:
    """One seed for a batch, from its learners' seeds in order."""
    return int(np.random.SeedSequence(list(seeds)).generate_state(1)[0])


class EnvStep(NamedTuple):
    """What the envs emitted on one step, as the histories record it (``final_obs``: where an episode
    ended, the observation it ended on; elsewhere the next one)."""

    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: np.ndarray


class _Recorder:
    """Every actor's stream as the envs emitted it, preallocated for the whole run; for Box actions also
    the learners' own (unclipped) samples, which an SB3 recorder keeps as ``learner_actions``.

    Given the env's observation ``table``, it keeps each observation's row in it and lays the images
    out one run at a time in :meth:`captures`: a Pixel Watermaze run is 360 MB of images but 160 KB
    of rows, so a batch holds hundreds of learners instead of eight.
    """

    def __init__(
        self,
        n_steps: int,
        n_envs: int,
        obs_space: spaces.Space,
        action_space: spaces.Space,
        table: np.ndarray | None = None,
    ) -> None:
        assert obs_space.shape is not None  # an array space, as _observation_input checked
        self.table, self.index = table, None if table is None else ObservationIndex(table)
        if self.index is None:
            self.obs = np.zeros((n_steps, n_envs, *obs_space.shape), dtype=obs_space.dtype)
        else:
            self.obs = np.zeros((n_steps, n_envs), dtype=np.int32)
        self.actions = _action_buffer(action_space, n_steps, n_envs)
        self.learner_actions = np.zeros_like(self.actions) if isinstance(action_space, spaces.Box) else None
        self.rewards = np.zeros((n_steps, n_envs), dtype=np.float32)
        self.starts = np.zeros((n_steps, n_envs), dtype=bool)
        self.terminated = np.zeros((n_steps, n_envs), dtype=bool)
        self.truncated = np.zeros((n_steps, n_envs), dtype=bool)
        self._ends: list[tuple[int, np.ndarray, np.ndarray]] = []  # (step, envs that ended, their last obs)

    @property
    def nbytes(self) -> int:
        """Memory the per-step arrays take (the episodes' last observations come on top, one per episode)."""
        arrays = (*self._fields(), self.learner_actions, self.terminated, self.truncated)
        return sum(x.nbytes for x in arrays if x is not None)

    def add(
        self,
        t: int,
        obs: np.ndarray,
        starts: np.ndarray,
        actions: np.ndarray,
        learner_actions: np.ndarray,
        step: EnvStep,
    ) -> None:
        """Row ``t``: the observations acted from, whether they opened episodes, the actions the envs got
        (and the learners' own), what followed."""
        self.obs[t], self.starts[t], self.actions[t], self.rewards[t] = self._kept(obs), starts, actions, step.rewards
        if self.learner_actions is not None:
            self.learner_actions[t] = learner_actions
        self.terminated[t], self.truncated[t] = step.terminated, step.truncated
        ended = np.flatnonzero(step.terminated | step.truncated)
        if len(ended):
            self._ends.append((t, ended, self._kept(step.final_obs[ended])))

    def _kept(self, obs: np.ndarray) -> np.ndarray:
        """``obs`` as held: itself, or its rows in the table."""
        return obs if self.index is None else self.index(obs)

    def _emitted(self, kept: np.ndarray) -> np.ndarray:
        """Held observations as the env emitted them."""
        return kept if self.table is None else self.table[kept]

    def captures(self, n_actors: int) -> Captures:
        """One capture per learner (consecutive blocks of ``n_actors`` envs), each made when it is read."""
        steps = np.concatenate([np.full(len(e), t) for t, e, _ in self._ends]) if self._ends else np.zeros(0, int)
        ended = np.concatenate([e for _, e, _ in self._ends]) if self._ends else np.zeros(0, int)
        final = np.concatenate([o for *_, o in self._ends]) if self._ends else self.obs[:0, 0]
        learner_steps = n_actors * np.arange(1, len(self.actions) + 1, dtype=np.int64)

        def capture(learner: int) -> Capture:
            first = learner * n_actors
            block = slice(first, first + n_actors)
            mine = np.flatnonzero((ended >= first) & (ended < first + n_actors))
            order = mine[np.lexsort((steps[mine], ended[mine]))]  # actor-major, then time
            obs = self._emitted(_actor_major(self.obs, block))
            streams = Streams(obs, *(_actor_major(x, block) for x in (self.actions, self.rewards, self.starts)))
            terminated, truncated = _actor_major(self.terminated, block), _actor_major(self.truncated, block)
            learner_actions = None if self.learner_actions is None else _actor_major(self.learner_actions, block)
            terminal = self._emitted(final[order])
            return Capture(streams, terminated, truncated, terminal, learner_steps, learner_actions)

        return Captures(capture, self.actions.shape[1] // n_actors)

    def _fields(self) -> tuple[np.ndarray, ...]:
        return self.obs, self.actions, self.rewards, self.starts


class Captures(Sequence[Capture]):
    """A batch's captures, one per learner, each laid out only when read: a caller that writes each
    run and lets it go holds one run's streams at a time."""

    def __init__(self, capture: Callable[[int], Capture], n_learners: int) -> None:
        self._capture, self._n = capture, n_learners

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> Capture: ...

    @overload
    def __getitem__(self, index: slice) -> list[Capture]: ...

    def __getitem__(self, index: int | slice) -> Capture | list[Capture]:
        if isinstance(index, slice):
            return [self[i] for i in range(self._n)[index]]
        if not -self._n <= index < self._n:
            raise IndexError(f"learner {index} of a batch of {self._n}")
        return self._capture(index % self._n)


def _actor_major(x: np.ndarray, block: slice) -> np.ndarray:
    """The envs ``block`` of time-major ``x`` ``(n_steps, n_envs, ...)`` as streams ``(n_actors, n_steps, ...)``."""
    return np.ascontiguousarray(x[:, block].swapaxes(0, 1))


class _Batch:
    """The running state of one batch: envs, views, networks, optimiser and the current observations."""

    def __init__(self, config: BatchedSourceConfig, env_id: str, tasks: np.ndarray, seed: int, device: str) -> None:
        self.config, self.settings = config, config.settings()
        self.n_learners, self.n_actors = len(tasks), config.n_envs
        self.device = torch.device(device)
        self.rng = np.random.default_rng(seed)
        n_envs = self.n_learners * self.n_actors
        self.env = gym.make_vec(
            env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", autoreset_mode=AutoresetMode.SAME_STEP
        )
        self.action_space = self.env.single_action_space
        observation = _observation_input(self.env.single_observation_space, DECODER in config.learner_views)
        learner_of = np.repeat(np.arange(self.n_learners), self.n_actors)
        # the env's table of observations where a view decodes them (the recorder then keeps rows too)
        self.table = observation_table(self.env) if DECODER in config.learner_views else None
        self.views = ViewChain(config.learner_views, observation, learner_of, self.table)
        policy_kwargs = config.hyperparams.get("policy_kwargs", {})
        head = _action_head(self.action_space)
        self.policy = BatchedActorCritic(self.n_learners, self.views.observation, head, **policy_kwargs)
        generator = torch.Generator().manual_seed(int(self.rng.integers(2**63)))
        self.policy.reset_parameters(generator)
        self.policy.to(self.device)
        self.optimizer = make_optimizer(self.policy.parameters(), self.settings)
        env_seed = int(self.rng.integers(2**31))
        self.env_obs, _ = self.env.reset(seed=env_seed, options={"tasks": np.repeat(tasks, self.n_actors, axis=0)})
        self.obs = self.views.reset(self.env_obs)
        self.starts = np.ones(n_envs, dtype=bool)

    def _tensor(self, obs: np.ndarray) -> torch.Tensor:
        obs = np.asarray(obs, dtype=self.policy.obs_dtype)
        return torch.as_tensor(obs, device=self.device).view(self.n_learners, self.n_actors, -1)

    def act(self) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        """Sampled actions ``(n_envs, *action_shape)``, their log-probabilities and the values, from the
        current policy; Box actions as sampled, before any clipping."""
        with torch.no_grad():
            action_params, values = self.policy(self._tensor(self.obs))
            distribution = self.policy.distribution(action_params)
            actions = distribution.sample(self.rng)
            log_probs = distribution.log_prob(torch.as_tensor(actions, device=self.device))
        return actions.reshape(-1, *actions.shape[2:]), log_probs.reshape(-1), values.reshape(-1)

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """What the envs get: Box actions clipped to the box, as SB3's ``collect_rollouts`` does."""
        if isinstance(self.action_space, spaces.Box):
            return np.clip(actions, self.action_space.low, self.action_space.high)
        return actions

    def step(self, actions: np.ndarray) -> tuple[EnvStep, np.ndarray, np.ndarray]:
        """Step the envs; returns what to record, the learners' rewards (bootstrapped at time limits) and dones."""
        env_obs, rewards, terminated, truncated, info = self.env.step(actions)
        dones = terminated | truncated
        final_obs = info["final_obs"] if dones.any() else env_obs
        self.obs, learner_rewards, learner_final = self.views.step(env_obs, rewards, dones, final_obs)
        cut = truncated & ~terminated
        if cut.any():  # SB3: a time limit is not a terminal state, so bootstrap from where it stopped
            with torch.no_grad():
                final_values = self.policy.values(self._tensor(learner_final)).reshape(-1).cpu().numpy()
            learner_rewards = learner_rewards + np.where(cut, self.settings.gamma * final_values, 0.0)
        self.env_obs = env_obs
        return EnvStep(rewards, terminated, truncated, final_obs), learner_rewards.astype(np.float32), dones

    def last_values(self) -> torch.Tensor:
        with torch.no_grad():
            return self.policy.values(self._tensor(self.obs)).reshape(-1)


def _per_learner(x: torch.Tensor, n_learners: int) -> torch.Tensor:
    """Time-major ``(n_steps, n_envs, ...)`` to SB3's flat learner order ``(N, n_actors * n_steps, ...)``."""
    n_steps, n_envs = x.shape[:2]
    x = x.reshape(n_steps, n_learners, n_envs // n_learners, *x.shape[2:]).movedim(0, 2)
    return x.reshape(n_learners, -1, *x.shape[3:])


def _rollout(batch: _Batch, recorder: _Recorder, first_step: int) -> Rollout:
    """``n_steps`` steps of every actor, recorded, as SB3's ``collect_rollouts``; then advantages."""
    n_steps, n_envs = batch.settings.n_steps, batch.n_learners * batch.n_actors
    obs = np.zeros((n_steps, *batch.obs.shape), dtype=batch.policy.obs_dtype)
    actions = _action_buffer(batch.action_space, n_steps, n_envs)
    rewards, starts = np.zeros((n_steps, n_envs), dtype=np.float32), np.zeros((n_steps, n_envs), dtype=bool)
    values = torch.zeros(n_steps, n_envs, device=batch.device)
    log_probs = torch.zeros_like(values)
    dones = np.zeros(n_envs, dtype=bool)
    for t in range(n_steps):  # each step is one batched forward pass over every actor of every learner
        obs[t], starts[t] = batch.obs, batch.starts
        actions[t], log_probs[t], values[t] = batch.act()
        env_obs, env_actions = batch.env_obs, batch.env_actions(actions[t])
        recorded, rewards[t], dones = batch.step(env_actions)
        recorder.add(first_step + t, env_obs, starts[t], env_actions, actions[t], recorded)
        batch.starts = dones
    as_tensor = lambda x: torch.as_tensor(x, device=batch.device)  # noqa: E731
    advantages, returns = gae(
        as_tensor(rewards), values, as_tensor(starts), batch.last_values(), as_tensor(dones),
        batch.settings.gamma, batch.settings.gae_lambda,
    )  # fmt: skip
    n = batch.n_learners
    return Rollout(
        _per_learner(as_tensor(obs), n),
        _per_learner(as_tensor(actions), n),
        _per_learner(log_probs, n),
        _per_learner(advantages, n),
        _per_learner(returns, n),
    )


def run_batched(
    config: BatchedSourceConfig,
    env_id: str,
    tasks: Sequence[Any],
    seeds: Sequence[int],
    device: str = "cpu",
    on_rollout: ProgressFn | None = None,
) -> Captures:
    """Train one learner per ``(tasks[i], seeds[i])`` from scratch, all at once; each one's capture
    (made when read, so that writing them one by one holds one run's streams at a time).

    ``on_rollout`` gets the env steps every rollout took (all learners together), for progress bars.
    """
    if len(tasks) != len(seeds) or not tasks:
        raise ValueError(f"need one seed per task and at least one task, got {len(tasks)} tasks, {len(seeds)} seeds")
    check_env_fits(env_id, config.learner_views)
    check_batch_fits(config, env_id, len(tasks))
    batch = _Batch(config, env_id, np.asarray(tasks), batch_seed(seeds), device)
    n_envs = batch.n_learners * batch.n_actors
    obs_space = batch.env.single_observation_space
    recorder = _Recorder(config.steps_per_actor, n_envs, obs_space, batch.action_space, batch.table)
    for iteration in range(config.iterations):
        rollout = _rollout(batch, recorder, iteration * batch.settings.n_steps)
        train_on(batch.policy, batch.optimizer, rollout, batch.settings, batch.rng)
        if on_rollout:
            on_rollout(batch.settings.n_steps * batch.n_learners * batch.n_actors)
    batch.env.close()
    return recorder.captures(batch.n_actors)
