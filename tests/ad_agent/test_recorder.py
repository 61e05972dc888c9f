"""The recorder stores exactly what each actor's env emitted, for every learner, without changing learning.

The reference is :class:`RecordingWrapper` around each env instance: it sees the env's own ``step`` and
``reset`` (below the VecEnv and its auto-reset), while the recorder only sees the learner's rollout loop,
so the two reach the same streams by independent routes. In a ``SubprocVecEnv`` the wrappers live in
the workers and their captures are fetched with ``env_method``.
"""

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

from ad_agent import HistoryRecorder
from ad_agent.sources.sb3 import ALGORITHMS, build_learner, with_action_masks
from ad_agent.sources.wrapper import Capture, RecordingWrapper, stack_captures

N_ENVS, EPISODE = 3, 20
SMALL = {"policy_kwargs": {"net_arch": [16]}}
ON_POLICY = {"n_steps": 8, **SMALL}
OFF_POLICY = {"learning_starts": 30, "buffer_size": 500, "target_update_interval": 30, **SMALL}
HYPERPARAMS = {
    "A2C": ON_POLICY,
    "PPO": {**ON_POLICY, "batch_size": 24, "n_epochs": 2},
    "TRPO": {**ON_POLICY, "batch_size": 24},
    "MaskablePPO": {**ON_POLICY, "batch_size": 24, "n_epochs": 2},
    "RecurrentPPO": {
        "n_steps": 8,
        "batch_size": 24,
        "n_epochs": 2,
        "policy_kwargs": {"net_arch": [16], "lstm_hidden_size": 8},
    },
    "DQN": OFF_POLICY,
    "QRDQN": {**OFF_POLICY, "policy_kwargs": {"net_arch": [16], "n_quantiles": 5}},
    "SAC": {"learning_starts": 30, "buffer_size": 500, **SMALL},
    "TD3": {"learning_starts": 30, "buffer_size": 500, **SMALL},
    "TQC": {"learning_starts": 30, "buffer_size": 500, "policy_kwargs": {"net_arch": [16], "n_quantiles": 5}},
}
CONTINUOUS_ONLY = {"SAC", "TD3", "TQC"}  # SB3's continuous-action learners
#: (env id, task) each learner is recorded on: Dark Room for discrete actions, the point robot for Box ones.
ENVS = {"discrete": ("DarkRoom-v0", {"goal": (5, 4)}), "continuous": ("PointRobot-v0", {"goal": (0.0, 0.5)})}
RUNS = [(algo, "discrete") for algo in sorted(set(HYPERPARAMS) - CONTINUOUS_ONLY)]
RUNS += [(algo, "continuous") for algo in ("A2C", "PPO", "SAC", "TD3", "TQC")]


def recording_env(env: object) -> RecordingWrapper:
    """Outermost recording wrapper, with the action masks MaskablePPO asks for (harmless to the rest)."""
    return RecordingWrapper(with_action_masks(env))


def make_model(algo: str, vec_env_cls: type = DummyVecEnv, seed: int = 1, actions: str = "discrete"):
    # fork starts workers in ~0.1 s; spawn/forkserver re-import torch in each (~7 s per test on 2 cores)
    vec_env_kwargs = {"start_method": "fork"} if vec_env_cls is SubprocVecEnv else None
    env_id, task = ENVS[actions]
    vec_env = make_vec_env(
        env_id,
        n_envs=N_ENVS,
        seed=seed,
        env_kwargs=task,
        wrapper_class=recording_env,
        vec_env_cls=vec_env_cls,
        vec_env_kwargs=vec_env_kwargs,
    )
    return build_learner(algo, vec_env, seed, **HYPERPARAMS[algo])


def reference(vec_env) -> Capture:
    """What the env instances themselves saw, fetched from wherever they live."""
    return stack_captures(vec_env.env_method("capture"))


def assert_same_capture(recorded: Capture, expected: Capture) -> None:
    for name in ("observations", "actions", "rewards", "episode_starts"):
        got, want = getattr(recorded.streams, name), getattr(expected.streams, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    np.testing.assert_array_equal(recorded.terminated, expected.terminated)
    np.testing.assert_array_equal(recorded.truncated, expected.truncated)
    np.testing.assert_array_equal(recorded.terminal_observations, expected.terminal_observations)


def test_every_learner_is_recorded_here() -> None:
    assert {algo for algo, _ in RUNS} == set(ALGORITHMS) == set(HYPERPARAMS)


@pytest.mark.parametrize("vec_env_cls", [DummyVecEnv, SubprocVecEnv])
@pytest.mark.parametrize("algo, actions", RUNS)
def test_recorder_matches_each_envs_own_recording(algo, actions, vec_env_cls):
    model = make_model(algo, vec_env_cls, actions=actions)
    recorder = HistoryRecorder()
    model.learn(total_timesteps=150, callback=recorder)
    capture = recorder.capture()
    assert_same_capture(capture, reference(model.get_env()))
    model.get_env().close()
    streams = capture.streams
    assert streams.n_actors == N_ENVS and streams.n_steps >= 150 // N_ENVS
    assert streams.episode_starts[:, ::EPISODE].all() and streams.episode_starts.sum() == N_ENVS * -(
        -streams.n_steps // EPISODE
    )
    assert capture.truncated[:, EPISODE - 1 :: EPISODE].all() and not capture.terminated.any()
    # the true last observation, not the auto-reset one (the start) that opens the next episode
    start = [4, 4] if actions == "discrete" else [0, 0]
    assert (capture.terminal_observations != start).any(axis=1).any()
    np.testing.assert_array_equal(capture.learner_steps, N_ENVS * np.arange(1, streams.n_steps + 1))
    if actions == "discrete":
        assert streams.rewards.sum() > 0  # the stream saw the goal: rewards are real, not zeros
        return
    assert streams.continuous and streams.actions.shape[2:] == (2,)
    assert np.abs(streams.actions).max() <= 1  # as the env received them: inside the box
    assert (capture.learner_actions is not None) == (algo in ("A2C", "PPO"))
    if capture.learner_actions is not None:  # on-policy: the Gaussian's own samples, before clipping
        np.testing.assert_array_equal(np.clip(capture.learner_actions, -1, 1), streams.actions)
        assert np.abs(capture.learner_actions).max() > 1  # some were clipped: the two forms differ


@pytest.mark.parametrize("reset_num_timesteps", [False, True])
def test_second_learn_call_continues_or_restarts_like_the_env(reset_num_timesteps):
    model = make_model("A2C")
    recorder = HistoryRecorder()
    model.learn(total_timesteps=30, callback=recorder)
    second = recorder.streams().n_steps  # the second call's first row
    model.learn(total_timesteps=30, callback=recorder, reset_num_timesteps=reset_num_timesteps)
    capture = recorder.capture()
    assert_same_capture(capture, reference(model.get_env()))
    assert capture.streams.episode_starts[:, second].all() == reset_num_timesteps
    assert (np.diff(capture.learner_steps) < 0).any() == reset_num_timesteps


def test_vec_normalize_records_the_raw_rewards():
    model = make_model("PPO")
    # VecNormalize normalises only Box observations; Dark Room's rewards are what it would change here
    model.set_env(VecNormalize(model.get_env(), norm_obs=False, gamma=model.gamma))
    recorder = HistoryRecorder()
    model.learn(total_timesteps=150, callback=recorder)
    assert_same_capture(recorder.capture(), reference(model.get_env()))
    assert recorder.capture().streams.rewards.sum() > 0


@pytest.mark.parametrize("algo", ["PPO", "DQN"])
def test_recording_leaves_learning_bit_identical(algo):
    params = []
    for callback in (None, HistoryRecorder()):
        model = make_model(algo, seed=3)
        model.learn(total_timesteps=150, callback=callback)
        params.append(model.policy.state_dict())
    assert params[0].keys() == params[1].keys()
    for name, value in params[0].items():
        assert torch.equal(value, params[1][name]), name


def test_streams_before_learning_is_an_error():
    with pytest.raises(RuntimeError, match="nothing recorded"):
        HistoryRecorder().streams()
