"""Learner views: the learner gets the bonus or the extra input, the histories keep what the envs emitted.

The reference for "what the envs emitted" is a :class:`RecordingWrapper` around each env instance,
below the VecEnv and every view; the recorder reaches its streams through the views' originals.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

from ad_agent import HistoryRecorder
from ad_agent.sources.cnn import SmallCNN
from ad_agent.sources.learner_view import LEARNER_VIEWS, CountBonus, ReturnSoFarObservation, wrap_views
from ad_agent.sources.sb3 import SourceConfig, build_learner, learner_env, original_view
from ad_agent.sources.wrapper import RecordingWrapper, stack_captures

N_ENVS = 3
SMALL = {"policy_kwargs": {"net_arch": [16]}}
HYPERPARAMS = {
    "PPO": {"n_steps": 8, "batch_size": 24, "n_epochs": 2, **SMALL},
    "DQN": {"learning_starts": 30, "buffer_size": 500, "target_update_interval": 30, **SMALL},
}
VIEWS = {
    "count_bonus": {"count_bonus": {"beta": 0.5}},
    "return_so_far": {"return_so_far": {"max_return": 2}},
    "both": {"return_so_far": {"max_return": 2}, "count_bonus": {"beta": 0.5}},
}
# Near goals and a near key and door, so short runs see rewards.
TASKS = {"DarkRoomHard-v0": (8, 7), "DarkKeyToDoor-v0": ((4, 4), (5, 4))}


def recorded_vec_env(env_id: str, seed: int = 1) -> VecEnv:
    return make_vec_env(
        env_id, n_envs=N_ENVS, seed=seed, env_kwargs={"task": TASKS[env_id]}, wrapper_class=RecordingWrapper
    )


def step_randomly(vec_env: VecEnv, steps: int, seed: int = 0) -> list[tuple]:
    """(learner's obs, learner's rewards, dones, infos) of ``steps`` random vector steps."""
    rng = np.random.default_rng(seed)
    out = [(vec_env.reset(), None, None, None)]
    for _ in range(steps):
        out.append(vec_env.step(rng.integers(0, 5, size=vec_env.num_envs)))
    return out


def test_count_bonus_pays_beta_over_root_count_of_each_arrival() -> None:
    vec_env = recorded_vec_env("DarkRoomHard-v0")
    bonus = CountBonus(vec_env, beta=0.5)
    steps = step_randomly(bonus, 45)  # two episode ends: arrivals at the terminal cells count too
    reference = stack_captures(vec_env.env_method("capture"))
    counts: dict[tuple[int, ...], int] = {}
    for t, (obs, rewards, dones, infos) in enumerate(steps[1:]):
        cells = [tuple(infos[a]["terminal_observation"]) if dones[a] else tuple(obs[a]) for a in range(N_ENVS)]
        for cell in cells:  # a step's arrivals all count before any is paid
            counts[cell] = counts.get(cell, 0) + 1
        expected = reference.streams.rewards[:, t] + [0.5 / np.sqrt(counts[cell]) for cell in cells]
        np.testing.assert_allclose(rewards, expected, rtol=1e-6)
    assert any(dones.any() for _, _, dones, _ in steps[1:])
    assert bonus.counts.sum() == 45 * N_ENVS and max(counts.values()) > 1
    np.testing.assert_array_equal(bonus.get_original_reward(), reference.streams.rewards[:, -1])


def test_return_so_far_is_appended_and_restarts_with_each_episode() -> None:
    vec_env = recorded_vec_env("DarkKeyToDoor-v0")
    view = ReturnSoFarObservation(vec_env, max_return=2)
    assert list(view.observation_space.nvec) == [9, 9, 3]
    steps = step_randomly(view, 300)
    reference = stack_captures(vec_env.env_method("capture")).streams
    seen = np.stack([obs for obs, *_ in steps[:-1]], axis=1)  # (actors, steps, 3): what each action saw
    np.testing.assert_array_equal(seen[..., :2], reference.observations)
    episode = np.cumsum(reference.episode_starts, axis=1)
    before = np.cumsum(reference.rewards, axis=1) - reference.rewards  # return before each row's step
    start_of_episode = np.array([[before[a][episode[a] == e][0] for e in episode[a]] for a in range(N_ENVS)])
    np.testing.assert_array_equal(seen[..., 2], np.clip(before - start_of_episode, 0, 2))
    assert seen[..., 2].max() >= 1  # the key was found: the input really changes
    ends = [(infos, np.flatnonzero(dones)) for _, _, dones, infos in steps[1:] if dones.any()]
    assert ends and all(len(infos[a]["terminal_observation"]) == 3 for infos, actors in ends for a in actors)


@pytest.mark.parametrize("env_id", sorted(TASKS))
@pytest.mark.parametrize("views", sorted(VIEWS))
@pytest.mark.parametrize("algo", sorted(HYPERPARAMS))
def test_recorder_stores_what_the_envs_emitted_under_views(algo: str, views: str, env_id: str) -> None:
    vec_env = recorded_vec_env(env_id)
    model = build_learner(algo, wrap_views(vec_env, VIEWS[views]), 1, **HYPERPARAMS[algo])
    recorder = HistoryRecorder()
    model.learn(total_timesteps=150, callback=recorder)
    recorded, expected = recorder.capture(), stack_captures(vec_env.env_method("capture"))
    for name in ("observations", "actions", "rewards", "episode_starts"):
        got, want = getattr(recorded.streams, name), getattr(expected.streams, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    np.testing.assert_array_equal(recorded.terminated | recorded.truncated, expected.episode_ends)
    np.testing.assert_array_equal(recorded.terminal_observations, expected.terminal_observations)
    innermost = LEARNER_VIEWS[next(iter(VIEWS[views]))]
    assert type(original_view(model.get_env())) is innermost


@pytest.mark.parametrize("algo", sorted(HYPERPARAMS))
def test_recording_leaves_learning_under_views_bit_identical(algo: str) -> None:
    params = []
    for callback in (None, HistoryRecorder()):
        vec_env = wrap_views(recorded_vec_env("DarkKeyToDoor-v0", seed=3), VIEWS["both"])
        model = build_learner(algo, vec_env, 3, **HYPERPARAMS[algo])
        model.learn(total_timesteps=150, callback=callback)
        params.append(model.policy.state_dict())
    for name, value in params[0].items():
        assert torch.equal(value, params[1][name]), name


def test_source_config_rejects_an_unknown_view() -> None:
    with pytest.raises(ValueError, match="unknown learner views.*'curiosity'"):
        SourceConfig(learner_views={"curiosity": {}})
    with pytest.raises(ValueError, match="beta must be >= 0"):
        wrap_views(recorded_vec_env("DarkRoomHard-v0"), {"count_bonus": {"beta": -1.0}})


def test_pixel_learner_gets_channels_first_and_the_recorder_the_envs_images() -> None:
    """Without the view SB3 would transpose the images itself, and the streams would hold its (C, H, W) copies."""
    config = SourceConfig(
        algo="PPO",
        n_envs=2,
        total_timesteps=120,
        hyperparams={
            "n_steps": 30,
            "batch_size": 30,
            "n_epochs": 1,
            "policy_kwargs": {"features_extractor_class": "SmallCNN"},
        },
    )
    vec_env = learner_env(config, "PixelWatermaze-v0", {"task": (6, 5)}, 0, wrapper_class=RecordingWrapper)
    model = build_learner(config.algo, vec_env, 0, **config.hyperparams)
    assert model.get_env() is vec_env and model.observation_space.shape == (3, 55, 55)
    assert isinstance(model.policy.features_extractor, SmallCNN)
    recorder = HistoryRecorder()
    model.learn(total_timesteps=config.total_timesteps, callback=recorder)
    recorded, expected = recorder.capture(), stack_captures(vec_env.env_method("capture"))
    assert recorded.streams.observations.shape[2:] == (55, 55, 3)
    np.testing.assert_array_equal(recorded.streams.observations, expected.streams.observations)
    np.testing.assert_array_equal(recorded.streams.rewards, expected.streams.rewards)
    np.testing.assert_array_equal(recorded.terminal_observations, expected.terminal_observations)


def test_unknown_features_extractor_is_named() -> None:
    with pytest.raises(ValueError, match="unknown features extractor 'BigCNN'"):
        build_learner(
            "PPO", recorded_vec_env("DarkRoomHard-v0"), 0, policy_kwargs={"features_extractor_class": "BigCNN"}
        )
