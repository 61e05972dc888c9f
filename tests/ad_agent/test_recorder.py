"""The recorder stores exactly what each actor's env emitted, checked by an independent wrapper."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env

from ad_agent import HistoryRecorder
from ad_agent.sources.sb3 import ALGORITHMS


class StepLog(gym.Wrapper):
    """Independent reference: each env instance logs what it was given and what it returned."""

    logs: list["StepLog"] = []

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.obs, self.actions, self.rewards, self.starts = [], [], [], []
        self._last, self._start = None, True
        StepLog.logs.append(self)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._last, self._start = obs, True
        return obs, info

    def step(self, action):
        self.obs.append(self._last)
        self.actions.append(int(action))
        self.starts.append(self._start)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.rewards.append(reward)
        self._last, self._start = obs, False
        return obs, reward, terminated, truncated, info


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_recorder_matches_independent_wrapper_per_actor(algo):
    StepLog.logs = []
    vec_env = make_vec_env("DarkRoom-v0", n_envs=3, seed=1, env_kwargs={"goal": (5, 4)}, wrapper_class=StepLog)
    extra = {"batch_size": 24} if algo == "PPO" else {}
    model = ALGORITHMS[algo]("MlpPolicy", vec_env, n_steps=8, seed=1, device="cpu", **extra)
    recorder = HistoryRecorder()
    model.learn(total_timesteps=150, callback=recorder)
    streams = recorder.streams()
    assert streams.n_actors == 3 and streams.n_steps == len(StepLog.logs[0].actions)
    for actor, log in enumerate(StepLog.logs):
        np.testing.assert_array_equal(streams.observations[actor], np.stack(log.obs))
        np.testing.assert_array_equal(streams.actions[actor], log.actions)
        np.testing.assert_array_equal(streams.rewards[actor], np.asarray(log.rewards, dtype=np.float32))
        np.testing.assert_array_equal(streams.episode_starts[actor], log.starts)
    assert streams.episode_starts[:, ::20].all() and streams.episode_starts.sum() == 3 * -(-streams.n_steps // 20)
    assert streams.rewards.sum() > 0  # the stream saw the goal: rewards are real, not zeros


def test_streams_before_learning_is_an_error():
    with pytest.raises(RuntimeError, match="nothing recorded"):
        HistoryRecorder().streams()
