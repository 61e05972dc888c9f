"""Batched learners on Box actions and float vector observations (Point Robot): SB3's Gaussian PPO and A2C to
float tolerance, histories of the actions the envs received beside the learners' own, refusals."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, PPO

from ad_agent.collection import source_for
from ad_agent.presets import source_preset
from ad_agent.sources import SourceConfig
from ad_agent.sources.batched import BatchedSourceConfig, run_batched
from ad_agent.sources.batched.networks import BatchedActorCritic
from ad_agent.sources.yardstick import spread_tasks
from tests.ad_agent.sb3_twin import assert_same_weights, flat, rollout, sb3_after_one_rollout, train_both_once, twin

GOAL = (0.3, 0.4)  # near the start, so random actions find some reward
# SB3 warns that 80 samples do not split into minibatches of 24: the smaller last one is tested on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:You have specified a mini-batch size")


PPO_SETTINGS = dict(n_steps=20, batch_size=24, n_epochs=3, learning_rate=3e-3, ent_coef=0.01, gamma=0.95)


def test_forward_pass_gives_sb3s_values_log_probabilities_and_entropies():
    model = sb3_after_one_rollout(PPO, "PointRobot-v0", GOAL, **PPO_SETTINGS, policy_kwargs=dict(log_std_init=-0.5))
    samples, buf = rollout(model), model.rollout_buffer
    assert np.abs(buf.actions).max() > 1  # the buffer holds the Gaussian's samples, not the clipped actions
    batched = twin(model)
    means, values = batched(samples.observations)
    distribution = batched.distribution(means)
    _, _, sb3_entropy = model.policy.evaluate_actions(samples.observations[0], samples.actions[0])
    np.testing.assert_allclose(values.detach(), flat(buf.values), atol=1e-6)
    np.testing.assert_allclose(distribution.log_prob(samples.actions).detach(), samples.old_log_probs, atol=1e-5)
    np.testing.assert_allclose(distribution.entropy().detach()[0], sb3_entropy.detach(), atol=1e-6)


@pytest.mark.parametrize(
    "cls, hyperparams",
    [
        (PPO, PPO_SETTINGS),  # 80 samples in minibatches of 24: the last one is smaller, as in SB3
        (PPO, {**PPO_SETTINGS, "max_grad_norm": 0.05, "policy_kwargs": dict(log_std_init=-1.0)}),  # clipping binds
        (A2C, dict(n_steps=5, learning_rate=3e-3, ent_coef=0.01, gamma=0.95)),
        (A2C, dict(n_steps=5, learning_rate=3e-3, use_rms_prop=False, normalize_advantage=True)),
    ],
)
def test_one_update_gives_sb3s_parameters(cls, hyperparams):
    """Same initial weights, rollout and minibatch order: one ``train()`` lands on SB3's weights and log_std."""
    model = sb3_after_one_rollout(cls, "PointRobot-v0", GOAL, **hyperparams)
    batched = twin(model)
    log_std_before = model.policy.log_std.detach().clone()
    train_both_once(model, batched, hyperparams)
    assert not torch.equal(model.policy.log_std.detach(), log_std_before)
    assert batched.log_std is not None
    assert_same_weights(batched, model)


TINY = BatchedSourceConfig(
    "PPO", n_envs=2, total_timesteps=400, hyperparams=dict(n_steps=50, batch_size=50, n_epochs=2)
)
TASKS = [GOAL, (-0.5, 0.9)]


def test_histories_replay_through_a_fresh_env():
    """Each stream's actions, replayed from its episodes' first observations, give back its observations,
    rewards, episode ends and terminal observations; the learners' own actions clip to them."""
    captures = run_batched(TINY, "PointRobot-v0", TASKS, seeds=[1, 2])
    for task, capture in zip(TASKS, captures, strict=True):
        s = capture.streams
        assert s.continuous and s.actions.shape == (2, 200, 2) and s.observations.dtype == np.float32
        assert capture.learner_actions is not None and capture.learner_actions.dtype == np.float32
        np.testing.assert_array_equal(np.clip(capture.learner_actions, -1, 1), s.actions)
        assert np.abs(capture.learner_actions).max() > 1  # some were clipped: the two forms differ
        ends = iter(capture.terminal_observations)
        for actor in range(s.n_actors):
            env = gym.make("PointRobot-v0", task=task).unwrapped
            for t in range(s.n_steps):
                if s.episode_starts[actor, t]:
                    obs, _ = env.reset()  # the point always starts at the origin
                np.testing.assert_array_equal(s.observations[actor, t], obs)
                obs, reward, terminated, truncated, _ = env.step(s.actions[actor, t])
                assert reward == s.rewards[actor, t]
                assert (terminated, truncated) == (capture.terminated[actor, t], capture.truncated[actor, t])
                if terminated or truncated:
                    np.testing.assert_array_equal(next(ends), obs)
        assert next(ends, None) is None
        assert s.rewards.any()


def test_same_seeds_give_the_same_histories():
    first, second = (run_batched(TINY, "PointRobot-v0", TASKS, seeds=[5, 6]) for _ in range(2))
    for a, b in zip(first, second, strict=True):
        for name in ("observations", "actions", "rewards", "episode_starts"):
            np.testing.assert_array_equal(getattr(a.streams, name), getattr(b.streams, name))
        np.testing.assert_array_equal(a.learner_actions, b.learner_actions)


def test_learners_learn_point_robot():
    """Point Robot's PPO preset, batched: each learner of 4 goals spread over the half circle ends >= 90% of optimal."""
    tasks = spread_tasks("PointRobot-v0", 4)
    captures = run_batched(
        BatchedSourceConfig.like(source_preset("PointRobot-v0", "PPO")), "PointRobot-v0", tasks, [0, 1, 2, 3]
    )
    env = gym.make("PointRobot-v0").unwrapped
    scores = [c.streams.final_return() / env.optimal_return(tuple(t)) for c, t in zip(captures, tasks, strict=True)]
    assert min(scores) >= 0.9, scores


def test_learner_views_are_refused_on_box_observations_before_any_work():
    views = {"count_bonus": {"beta": 0.1}}
    with pytest.raises(ValueError, match="count and extend discrete observations"):
        run_batched(dataclasses.replace(TINY, learner_views=views), "PointRobot-v0", [GOAL], [0])
    sb3 = SourceConfig("PPO", n_envs=2, total_timesteps=80, hyperparams=dict(n_steps=20), learner_views=views)
    with pytest.raises(ValueError, match="count and extend discrete observations"):
        source_for("PointRobot-v0", sb3, learners_per_batch=2)


@pytest.mark.parametrize(
    "policy_kwargs, message",
    [
        (dict(use_sde=True), "no gSDE"),
        (dict(squash_output=True), "no squashed"),
        (dict(full_std=False), "full-std"),
        (dict(log_std_init="wide"), "log_std_init must be a finite number"),
        (dict(log_std_init=float("nan")), "log_std_init must be a finite number"),
    ],
)
def test_unimplemented_policy_kwargs_are_refused_before_any_work(policy_kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchedSourceConfig("PPO", 2, 400, dict(n_steps=50, batch_size=50, policy_kwargs=policy_kwargs))


def test_log_std_is_per_learner_and_starts_at_log_std_init():
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    twin = BatchedActorCritic(3, box, box, net_arch=[8], log_std_init=-0.7)
    twin.reset_parameters(torch.Generator().manual_seed(0))
    assert twin.log_std is not None and twin.log_std.shape == (3, 2)
    np.testing.assert_allclose(twin.log_std.detach(), -0.7)
    assert any(p is twin.log_std for p in twin.parameters())  # so the optimiser and the clipping include it
