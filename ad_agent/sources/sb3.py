"""Stable-Baselines3 learners as AD sources: a recording callback and per-env presets.

The callback is the only bridge between SB3 and the rest of the package: it turns a learner's
``learn()`` into one ordered stream per VecEnv actor, the multi-stream learning histories of
Laskin et al. (2022, Sec. 3.2), without touching how the learner learns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import gymnasium as gym
import numpy as np
from sb3_contrib import QRDQN, TQC, TRPO, MaskablePPO, RecurrentPPO
from sb3_contrib.common.wrappers import ActionMasker
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from ad_agent.devices import torch_threads
from ad_agent.histories import Streams
from ad_agent.sources.base import Recorded, register_source
from ad_agent.sources.cnn import FEATURE_EXTRACTORS
from ad_agent.sources.learner_view import ChannelsFirst, check_views, wrap_views
from ad_agent.sources.wrapper import Capture

# The SB3 / sb3-contrib learners: for discrete actions, and (PPO, A2C, TRPO, RecurrentPPO, SAC, TD3, TQC)
# for continuous ones. Their rollout loops (on-policy, off-policy, recurrent, maskable) all call
# callbacks right after ``env.step`` with the same locals, so one recorder serves them all.
ALGORITHMS: dict[str, type[BaseAlgorithm]] = {
    "A2C": A2C,
    "DQN": DQN,
    "MaskablePPO": MaskablePPO,
    "PPO": PPO,
    "QRDQN": QRDQN,
    "RecurrentPPO": RecurrentPPO,
    "SAC": SAC,
    "TD3": TD3,
    "TQC": TQC,
    "TRPO": TRPO,
}
_POLICIES = {"RecurrentPPO": "MlpLstmPolicy"}
#: The learners that take one kind of action space only (SB3 asserts it deep inside their constructor).
CONTINUOUS_ONLY = ("SAC", "TD3", "TQC")
DISCRETE_ONLY = ("DQN", "QRDQN", "MaskablePPO")


def check_learner_fits(algo: str, env_id: str) -> None:
    """Refuse, before any work, a learner whose kind of actions ``env_id`` does not have."""
    space = gym.make(env_id).action_space
    continuous = isinstance(space, gym.spaces.Box)
    if (algo in CONTINUOUS_ONLY and not continuous) or (algo in DISCRETE_ONLY and continuous):
        kind = "continuous (Box)" if algo in CONTINUOUS_ONLY else "Discrete"
        raise ValueError(f"{algo} learns {kind} actions only; {env_id}'s action space is {space}")


class IntFlattenExtractor(FlattenExtractor):
    """SB3's flattening extractor with a Python ``int`` size.

    For ``MultiDiscrete`` observations (Dark Room's) SB3 computes the size as a numpy integer, which
    torch's LSTM rejects; every other learner accepts it, so only RecurrentPPO needs this one.
    """

    def __init__(self, observation_space: gym.Space) -> None:
        super().__init__(observation_space)
        self._features_dim = int(self._features_dim)


_POLICY_KWARGS: dict[str, dict[str, Any]] = {"RecurrentPPO": {"features_extractor_class": IntFlattenExtractor}}


def policy_name(algo: str) -> str:
    """The MLP policy of ``algo`` (a recurrent learner needs its LSTM one)."""
    return _POLICIES.get(algo, "MlpPolicy")


def build_learner(algo: str, vec_env: VecEnv, seed: int, **hyperparams: Any) -> BaseAlgorithm:
    """A CPU learner of kind ``algo`` on ``vec_env``, its policy's defaults filled in under ``hyperparams``.

    A ``policy_kwargs["features_extractor_class"]`` given by name is looked up in
    :data:`~ad_agent.sources.cnn.FEATURE_EXTRACTORS`, so configs can stay plain data.
    """
    policy_kwargs = {**_POLICY_KWARGS.get(algo, {}), **hyperparams.pop("policy_kwargs", {})}
    extractor = policy_kwargs.get("features_extractor_class")
    if isinstance(extractor, str):
        if extractor not in FEATURE_EXTRACTORS:
            raise ValueError(f"unknown features extractor {extractor!r}; choose from {sorted(FEATURE_EXTRACTORS)}")
        policy_kwargs["features_extractor_class"] = FEATURE_EXTRACTORS[extractor]
    cls = ALGORITHMS[algo]
    model = cls(
        policy_name(algo), vec_env, seed=seed, device="cpu", verbose=0, policy_kwargs=policy_kwargs, **hyperparams
    )
    model.set_logger(null_logger())
    return model


def null_logger() -> Logger:
    """An SB3 logger with no outputs and no folder: SB3's default makes an empty ``SB3-<date>``
    folder in the system temp folder for every ``learn()``, hundreds per collection."""
    return Logger(folder=None, output_formats=[])


def _allow_every_action(env: gym.Env) -> np.ndarray:
    space = env.action_space
    assert isinstance(space, gym.spaces.Discrete)  # every env here has discrete actions
    return np.ones(space.n, dtype=bool)


def original_view(vec_env: VecEnv) -> VecEnvWrapper | None:
    """The innermost wrapper of ``vec_env``'s chain that keeps what the envs emitted, if any.

    Wrappers that change what a learner sees (SB3's ``VecNormalize``, the views of
    :mod:`ad_agent.sources.learner_view`) answer ``get_original_obs()`` and ``get_original_reward()``.
    The innermost one has nothing below it that changes either, so its originals are the envs' own.
    """
    found = None
    while isinstance(vec_env, VecEnvWrapper):
        if hasattr(vec_env, "get_original_obs") and hasattr(vec_env, "get_original_reward"):
            found = vec_env
        vec_env = vec_env.venv
    return found


def original_terminal_obs(view: VecEnvWrapper, actor: int, terminal: np.ndarray) -> np.ndarray:
    """The env's own observation that ended ``actor``'s episode, from what the learner got (``terminal``).

    ``VecNormalize`` keeps no copy but can invert its normalisation, as SB3 itself does.
    """
    if isinstance(view, VecNormalize):
        return cast(np.ndarray, view.unnormalize_obs(terminal))  # an array, as the observation it was given
    return view.get_original_terminal_obs(actor)


def with_action_masks(env: gym.Env) -> gym.Env:
    """Give ``env`` an all-true ``action_masks()`` unless it has its own: MaskablePPO cannot run without."""
    if hasattr(env.unwrapped, "action_masks"):
        return env
    return ActionMasker(env, _allow_every_action)


class HistoryRecorder(BaseCallback):
    """Record every VecEnv actor's stream of (observation, action, reward, episode start).

    Row ``t`` of an actor's stream holds the observation the action was chosen from, the action,
    the reward it earned and whether that observation opened an episode. Whole arrays are stored
    per vector step (a per-actor Python loop made collection several times slower); they are split
    into actors only once, in :meth:`capture`.

    Every algorithm of :data:`ALGORITHMS` calls ``on_step`` right after ``env.step``, with the step's
    ``actions``, ``new_obs``, ``rewards``, ``dones`` and ``infos`` in its locals (SB3 2.x and
    sb3-contrib, on- and off-policy alike). The recorder follows the observations itself from those
    locals instead of reading the learner's ``_last_obs``/``_last_original_obs``, whose update
    timing differs between on- and off-policy learners. When the learner's VecEnv changes what it
    sees (:func:`original_view`), the streams hold what the envs emitted instead. Everything read is
    copied, never written, and no random number is drawn, so recording leaves learning bit-identical.
    """

    def __init__(self) -> None:
        super().__init__(verbose=0)
        self._obs: list[np.ndarray] = []
        self._actions: list[np.ndarray] = []
        self._learner_actions: list[np.ndarray] = []
        self._rewards: list[np.ndarray] = []
        self._starts: list[np.ndarray] = []
        self._learner_steps: list[int] = []
        self._ends: list[tuple[int, int, bool]] = []  # (actor, step, truncated) of every episode end
        self._terminal_obs: list[np.ndarray] = []
        self._next_obs: np.ndarray | None = None
        self._next_starts: np.ndarray | None = None
        self._view: VecEnvWrapper | None = None

    def _on_training_start(self) -> None:
        # learn() resets the env unless it continues (reset_num_timesteps=False): then the streams do too.
        if self._next_starts is None or self.model.num_timesteps == 0:
            self._next_starts = np.ones(self.training_env.num_envs, dtype=bool)
        self._view = original_view(self.training_env)
        obs = self.model._last_obs if self._view is None else self._view.get_original_obs()
        self._next_obs = np.array(obs, copy=True)

    def _on_step(self) -> bool:
        new_obs, rewards = self._emitted()
        dones = np.array(self.locals["dones"], dtype=bool, copy=True)
        for actor in np.flatnonzero(dones):  # rare: only at episode ends
            self._record_end(int(actor))
        assert self._next_obs is not None and self._next_starts is not None  # set in _on_training_start
        self._obs.append(self._next_obs)
        self._record_actions()
        self._rewards.append(np.array(rewards, dtype=np.float32, copy=True))
        self._starts.append(self._next_starts)
        self._learner_steps.append(self.model.num_timesteps)
        self._next_obs, self._next_starts = np.array(new_obs, copy=True), dones
        return True

    def _record_actions(self) -> None:
        """The actions the envs received, and a continuous on-policy learner's own before clipping.

        On-policy SB3 learners clip (or unscale) a ``Box`` action before stepping and keep the result
        as ``clipped_actions``; every other learner steps with ``actions`` itself.
        """
        shape = (self.training_env.num_envs, *(self.training_env.action_space.shape or ()))
        received = self.locals.get("clipped_actions", self.locals["actions"])
        self._actions.append(np.array(received, copy=True).reshape(shape))
        if "clipped_actions" in self.locals and isinstance(self.training_env.action_space, gym.spaces.Box):
            self._learner_actions.append(np.array(self.locals["actions"], dtype=np.float32, copy=True).reshape(shape))

    def _emitted(self) -> tuple[Any, Any]:
        """This step's new observations and rewards as the envs emitted them, before any wrapper changed them."""
        if self._view is None:
            return self.locals["new_obs"], self.locals["rewards"]
        return self._view.get_original_obs(), self._view.get_original_reward()

    def _record_end(self, actor: int) -> None:
        """Keep the observation that ended ``actor``'s episode: the VecEnv has already reset past it."""
        info = self.locals["infos"][actor]
        terminal = info["terminal_observation"]
        if self._view is not None:
            terminal = original_terminal_obs(self._view, actor, terminal)
        self._ends.append((actor, len(self._actions), bool(info.get("TimeLimit.truncated", False))))
        self._terminal_obs.append(np.array(terminal, copy=True))

    @property
    def learner_steps(self) -> np.ndarray:
        """``model.num_timesteps`` after each recorded vector step, shaped ``(n_steps,)``."""
        return np.asarray(self._learner_steps, dtype=np.int64)

    def streams(self) -> Streams:
        """The recorded steps so far, as arrays shaped ``(n_actors, n_steps, ...)``."""
        if not self._obs:
            raise RuntimeError("nothing recorded yet: pass the recorder to learn(callback=...)")
        return Streams(
            observations=np.stack(self._obs, axis=1),
            actions=np.stack(self._actions, axis=1),
            rewards=np.stack(self._rewards, axis=1),
            episode_starts=np.stack(self._starts, axis=1),
        )

    def capture(self) -> Capture:
        """The streams plus how each episode ended, its terminal observation and the learner's step counter."""
        streams = self.streams()
        terminated = np.zeros(streams.actions.shape[:2], dtype=bool)
        truncated = np.zeros_like(terminated)
        ends = np.asarray(self._ends, dtype=np.int64).reshape(-1, 3)
        actors, steps, cut = ends.T
        terminated[actors[cut == 0], steps[cut == 0]] = True
        truncated[actors[cut == 1], steps[cut == 1]] = True
        order = np.lexsort((steps, actors))  # actor-major, as np.flatnonzero orders the ends
        terminal = np.stack(self._terminal_obs)[order] if self._terminal_obs else streams.observations[0, :0]
        learner_actions = np.stack(self._learner_actions, axis=1) if self._learner_actions else None
        return Capture(streams, terminated, truncated, terminal, self.learner_steps, learner_actions)


@register_source
@dataclass
class SourceConfig:
    """One source learner run: which SB3 algorithm, how many actors, for how long.

    ``learner_views`` names the :data:`~ad_agent.sources.learner_view.LEARNER_VIEWS` (with their
    keyword arguments) that change what the learner sees, innermost first; the recorded histories
    stay what the envs emitted.
    """

    algo: str = "PPO"
    n_envs: int = 64
    total_timesteps: int = 60_000
    hyperparams: dict[str, Any] = field(default_factory=dict)
    learner_views: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_views(self.learner_views)
        if self.algo not in ALGORITHMS:
            raise ValueError(f"unknown source algorithm {self.algo!r}; choose from {sorted(ALGORITHMS)}")
        if self.n_envs < 1 or self.total_timesteps < self.n_envs:
            raise ValueError("need n_envs >= 1 and total_timesteps >= n_envs")

    def record(self, env_id: str, env_kwargs: dict[str, Any], seed: int) -> Recorded:
        """One SB3 run, recorded by :class:`HistoryRecorder` with its extras (how each episode really
        ended, its terminal observation, the learner's step counter)."""
        recorder = HistoryRecorder()
        # one learner per core beats one learner on all cores; the caller's count comes back after, so
        # collection in this process does not slow (or change) the training that follows
        with torch_threads(1):
            run_source(self, env_id, env_kwargs, seed, recorder=recorder)
        capture = recorder.capture()
        return capture.streams, capture.extras()


def single_stream(config: SourceConfig, total_timesteps: int) -> SourceConfig:
    """``config`` with one actor for ``total_timesteps`` steps, every other setting kept where it still means the same.

    ``n_steps`` is per actor in SB3, so each update still follows the same stretch of one actor's
    experience (one Dark Room episode for the PPO preset), and epochs, learning rate, entropy bonus
    and discount are kept. Only a minibatch larger than the now 1-actor rollout is shrunk to the
    rollout (PPO's 320 of 64 x 20 steps becomes 20): one minibatch per epoch, rather than the
    preset's four, which would be 5 transitions each and too noisy to learn from. A single stream
    so takes more gradient steps per env step than the preset does (which favours it as a baseline),
    and its history shows one actor's own learning, as the paper's single-stream source does (Fig. 6).
    """
    hyperparams = dict(config.hyperparams)
    if "n_steps" in hyperparams and "batch_size" in hyperparams:
        hyperparams["batch_size"] = min(hyperparams["batch_size"], hyperparams["n_steps"])
    return dataclasses.replace(config, n_envs=1, total_timesteps=total_timesteps, hyperparams=hyperparams)


def learner_env(
    config: SourceConfig,
    env_id: str,
    env_kwargs: dict[str, Any],
    seed: int,
    wrapper_class: Callable[[gym.Env], gym.Env] | None = None,
) -> VecEnv:
    """The VecEnv a learner of ``config`` trains on: ``n_envs`` copies of the task, through its views.

    ``wrapper_class`` wraps each env instance (below the VecEnv); MaskablePPO's action masks are added
    beneath it. Channels-last images get a :class:`~ad_agent.sources.learner_view.ChannelsFirst` view,
    since SB3 would otherwise add a ``VecTransposeImage`` whose originals are lost to the recorder.
    """

    def wrap(env: gym.Env) -> gym.Env:
        env = with_action_masks(env) if config.algo == "MaskablePPO" else env
        return env if wrapper_class is None else wrapper_class(env)

    vec_env = make_vec_env(env_id, n_envs=config.n_envs, seed=seed, env_kwargs=env_kwargs, wrapper_class=wrap)
    vec_env = wrap_views(vec_env, config.learner_views)
    space = vec_env.observation_space
    if isinstance(space, gym.spaces.Box) and is_image_space(space) and not is_image_space_channels_first(space):
        vec_env = ChannelsFirst(vec_env)
    return vec_env


def run_source(
    config: SourceConfig,
    env_id: str,
    env_kwargs: dict[str, Any],
    seed: int,
    recorder: HistoryRecorder | None = None,
) -> tuple[Streams, BaseAlgorithm]:
    """Train one learner on one task (``env_kwargs`` fixes it) and return what each actor lived.

    Pass your own ``recorder`` to read more than the streams afterwards (:meth:`HistoryRecorder.capture`).
    """
    vec_env = learner_env(config, env_id, env_kwargs, seed)
    model = build_learner(config.algo, vec_env, seed, **config.hyperparams)
    recorder = HistoryRecorder() if recorder is None else recorder
    model.learn(total_timesteps=config.total_timesteps, callback=recorder)
    vec_env.close()
    return recorder.streams(), model
