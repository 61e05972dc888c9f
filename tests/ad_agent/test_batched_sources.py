"""Batched learners: SB3's PPO and A2C updates to float tolerance, SB3's views, faithful histories, refusals."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_util import make_vec_env
from torch import nn

from ad_agent.presets import source_preset
from ad_agent.sources.batched import BatchedSourceConfig, check_batch_fits, run_batched
from ad_agent.sources.batched.learners import _Batch
from ad_agent.sources.batched.networks import BatchedActorCritic
from ad_agent.sources.batched.updates import gae
from ad_agent.sources.batched.views import ViewChain
from ad_agent.sources.learner_view import wrap_views
from tests.ad_agent.sb3_twin import assert_same_weights, flat, rollout, sb3_after_one_rollout, train_both_once, twin

TASK = (2, 7)
# SB3 warns that 80 samples do not split into minibatches of 24: the smaller last one is tested on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:You have specified a mini-batch size")


PPO_SETTINGS = dict(n_steps=20, batch_size=24, n_epochs=3, learning_rate=3e-3, ent_coef=0.01, gamma=0.95)


def test_forward_pass_gives_sb3s_values_and_log_probabilities():
    model = sb3_after_one_rollout(PPO, "DarkRoom-v0", TASK, **PPO_SETTINGS)
    samples, buf = rollout(model), model.rollout_buffer
    logits, values = twin(model)(samples.observations)
    log_prob = torch.log_softmax(logits, -1).gather(-1, samples.actions.unsqueeze(-1)).squeeze(-1)
    np.testing.assert_allclose(values.detach(), flat(buf.values), atol=1e-6)
    np.testing.assert_allclose(log_prob.detach(), samples.old_log_probs, atol=1e-6)


def test_advantages_are_sb3s():
    model = sb3_after_one_rollout(PPO, "DarkRoom-v0", TASK, **PPO_SETTINGS)
    buf = model.rollout_buffer
    with torch.no_grad():
        last_values = model.policy.predict_values(torch.as_tensor(model._last_obs).float()).flatten()
    t = torch.as_tensor
    advantages, returns = gae(
        t(buf.rewards), t(buf.values), t(buf.episode_starts), last_values, t(model._last_episode_starts), 0.95, 0.95
    )
    np.testing.assert_allclose(advantages, buf.advantages, atol=1e-5)
    np.testing.assert_allclose(returns, buf.returns, atol=1e-5)


@pytest.mark.parametrize(
    "cls, hyperparams",
    [
        (PPO, PPO_SETTINGS),  # 80 samples in minibatches of 24: the last one is smaller, as in SB3
        (PPO, {**PPO_SETTINGS, "normalize_advantage": False, "max_grad_norm": 0.05}),  # clipping binds
        (A2C, dict(n_steps=5, learning_rate=3e-3, ent_coef=0.01, gamma=0.95)),
        (A2C, dict(n_steps=5, learning_rate=3e-3, use_rms_prop=False, normalize_advantage=True)),
        # other trunks: ReLU, one policy layer, no value layer (the value head reads the one-hot input)
        (PPO, {**PPO_SETTINGS, "policy_kwargs": dict(net_arch=dict(pi=[16], vf=[]), activation_fn=nn.ReLU)}),
    ],
)
def test_one_update_gives_sb3s_parameters(cls, hyperparams):
    """Same initial weights, rollout and minibatch order: one ``train()`` lands on SB3's weights."""
    model = sb3_after_one_rollout(cls, "DarkRoom-v0", TASK, **hyperparams)
    batched = twin(model)
    before = [p.detach().clone() for p in batched.parameters()]
    train_both_once(model, batched, hyperparams)
    assert any((p.detach() != b).any() for p, b in zip(batched.parameters(), before, strict=True))
    assert_same_weights(batched, model)


def test_time_limits_are_bootstrapped_with_the_value_of_the_last_observation():
    config = BatchedSourceConfig("PPO", n_envs=3, total_timesteps=60, hyperparams=dict(n_steps=20, batch_size=20))
    batch = _Batch(config, "DarkRoom-v0", np.array([TASK, (0, 0)]), seed=0, device="cpu")
    for _ in range(19):  # Dark Room episodes are cut after 20 steps
        *_, dones = batch.step(np.zeros(6, dtype=np.int64))
        assert not dones.any()
    recorded, learner_rewards, dones = batch.step(np.zeros(6, dtype=np.int64))
    env_rewards, terminated, truncated, final_obs = recorded
    assert dones.all() and truncated.all() and not terminated.any()
    with torch.no_grad():
        final_values = batch.policy.values(torch.as_tensor(final_obs).view(2, 3, 2)).reshape(-1).numpy()
    np.testing.assert_allclose(learner_rewards, env_rewards + 0.99 * final_values, rtol=1e-6)


def _step_both(views: dict, steps: int, seed: int = 0):
    """The same random actions through SB3's VecEnv views and the batched chain; yields both sides per step."""
    sb3_env = wrap_views(
        make_vec_env("DarkKeyToDoor-v0", n_envs=4, seed=seed, env_kwargs={"task": ((1, 1), (6, 6))}), views
    )
    sb3_obs = sb3_env.reset()
    inner = sb3_env
    while hasattr(inner, "venv"):
        inner = inner.venv
    env_obs = np.stack(inner.buf_obs[None]) if isinstance(inner.buf_obs, dict) else inner.buf_obs[None]
    chain = ViewChain(views, np.array([9, 9]), np.zeros(4, dtype=np.int64))
    ours = chain.reset(env_obs.astype(np.int64))
    yield sb3_obs, ours, None, None
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        actions = rng.integers(0, 5, size=4)
        obs, rewards, dones, infos = sb3_env.step(actions)
        originals = sb3_env
        while not hasattr(originals, "get_original_obs") or hasattr(originals.venv, "get_original_obs"):
            originals = originals.venv
        env_next, env_rewards = originals.get_original_obs(), originals.get_original_reward()
        terminal = env_next.copy()
        for actor in np.flatnonzero(dones):
            terminal[actor] = originals.get_original_terminal_obs(actor)
        ours, our_rewards, _ = chain.step(env_next, env_rewards, dones, terminal)
        yield obs, ours, rewards, our_rewards


def test_views_match_sb3s_learner_views():
    views = {"return_so_far": {"max_return": 2}, "count_bonus": {"beta": 0.1}}
    for sb3_obs, ours, sb3_rewards, our_rewards in _step_both(views, steps=120):
        np.testing.assert_array_equal(ours, sb3_obs)
        if sb3_rewards is not None:
            np.testing.assert_allclose(our_rewards, sb3_rewards, rtol=1e-6)


def test_count_bonus_counts_each_learners_own_arrivals():
    chain = ViewChain({"count_bonus": {"beta": 1.0}}, np.array([9, 9]), np.array([0, 0, 1]))
    here = np.array([[4, 4], [4, 4], [4, 4]])
    _, rewards, _ = chain.step(here, np.zeros(3), np.zeros(3, dtype=bool), here)
    np.testing.assert_allclose(rewards, [1 / np.sqrt(2), 1 / np.sqrt(2), 1.0])


TINY_HYPERPARAMS = dict(n_steps=50, batch_size=50, n_epochs=2)
TINY = BatchedSourceConfig("PPO", n_envs=2, total_timesteps=400, hyperparams=TINY_HYPERPARAMS)
KTD_VIEWS = {"return_so_far": {"max_return": 2}, "count_bonus": {"beta": 0.1}}


def test_histories_replay_through_a_fresh_env():
    """Each stream's actions, replayed from its episodes' first observations, give back its observations,
    rewards, episode ends and terminal observations: the histories are what the env emitted."""
    config = dataclasses.replace(TINY, learner_views=KTD_VIEWS)
    tasks = [((1, 1), (6, 6)), ((0, 8), (8, 0))]
    captures = run_batched(config, "DarkKeyToDoor-v0", tasks, seeds=[1, 2])
    for task, capture in zip(tasks, captures, strict=True):
        s = capture.streams
        ends = iter(capture.terminal_observations)
        assert s.n_actors == 2 and s.n_steps == 400 // 2
        for actor in range(s.n_actors):
            env, obs = gym.make("DarkKeyToDoor-v0", task=task).unwrapped, None
            for t in range(s.n_steps):
                if s.episode_starts[actor, t]:
                    env.reset()
                    env._pos = s.observations[actor, t].copy()  # the start cell is drawn; the rest follows
                else:
                    np.testing.assert_array_equal(s.observations[actor, t], obs)
                obs, reward, terminated, truncated, _ = env.step(int(s.actions[actor, t]))
                assert reward == s.rewards[actor, t]
                assert (terminated, truncated) == (capture.terminated[actor, t], capture.truncated[actor, t])
                if terminated or truncated:
                    np.testing.assert_array_equal(next(ends), obs)
        assert next(ends, None) is None
        np.testing.assert_array_equal(capture.learner_steps, 2 * np.arange(1, s.n_steps + 1))


def test_same_seeds_give_the_same_histories():
    first, second = (run_batched(TINY, "DarkRoom-v0", [TASK, (0, 0)], seeds=[5, 6]) for _ in range(2))
    for a, b in zip(first, second, strict=True):
        for name in ("observations", "actions", "rewards", "episode_starts"):
            np.testing.assert_array_equal(getattr(a.streams, name), getattr(b.streams, name))


def test_learners_learn_dark_room():
    """Dark Room's PPO preset, batched: every learner ends near its goal's optimum (16 goals' mean >= 90%)."""
    from ad_agent.sources.yardstick import spread_tasks
    from envs import optimal_return

    tasks = spread_tasks("DarkRoom-v0", 4)
    config = dataclasses.replace(BatchedSourceConfig.like(source_preset("DarkRoom-v0", "PPO")), total_timesteps=40_000)
    captures = run_batched(config, "DarkRoom-v0", tasks, seeds=[0, 1, 2, 3])
    scores = [c.streams.final_return() / optimal_return(tuple(t)) for c, t in zip(captures, tasks, strict=True)]
    assert min(scores) >= 0.9, scores


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(algo="DQN"), "batched learners implement"),
        (dict(hyperparams=dict(TINY_HYPERPARAMS, use_sde=True)), "no hyper-parameter"),
        (dict(hyperparams=dict(n_steps=20, batch_size=10_000)), "batch_size must be in"),
        (dict(hyperparams=dict(TINY_HYPERPARAMS, learning_rate=-1.0)), "learning_rate"),
        (dict(hyperparams=dict(TINY_HYPERPARAMS, gamma=1.5)), "gamma"),
        (
            dict(hyperparams=dict(TINY_HYPERPARAMS, policy_kwargs=dict(features_extractor_class="SmallCNN"))),
            "policy_kwargs",
        ),
        (dict(hyperparams=dict(TINY_HYPERPARAMS, policy_kwargs=dict(activation_fn="gelu"))), "activation_fn"),
        (dict(hyperparams=dict(TINY_HYPERPARAMS, policy_kwargs=dict(net_arch=dict(pi=[8], qf=[8])))), "net_arch"),
        (dict(learner_views={"channels_first": {}}), "support the views"),
        (dict(learner_views={"nope": {}}), "unknown learner views"),
        (dict(learners_per_batch=0), "learners_per_batch"),
        (dict(n_envs=0), "n_envs"),
    ],
)
def test_bad_settings_are_refused_before_any_work(change, message):
    settings = {**dataclasses.asdict(TINY), **change}
    with pytest.raises(ValueError, match=message):
        BatchedSourceConfig(**settings)


def test_pixel_observations_and_oversized_batches_are_refused():
    with pytest.raises(TypeError, match="decode image observations with the image_index learner view"):
        run_batched(TINY, "PixelWatermaze-v0", [(2, 5)], seeds=[0])
    with pytest.raises(ValueError, match="use at most"):
        check_batch_fits(BatchedSourceConfig.like(source_preset("DarkRoomHard-v0", "PPO")), "DarkRoomHard-v0", 10**5)
    with pytest.raises(ValueError, match="one seed per task"):
        run_batched(TINY, "DarkRoom-v0", [TASK, TASK], seeds=[0])


def test_record_runs_a_batch_of_one():
    from ad_agent.sources import record

    streams, extras = record(TINY, "DarkRoom-v0", {"task": TASK}, seed=0)
    assert streams.n_actors == 2 and streams.n_steps == 200
    assert set(extras) == {"terminated", "truncated", "terminal_observations", "learner_steps"}


def test_without_orthogonal_init_each_learner_gets_torchs_linear_init():
    twin = BatchedActorCritic(3, [9, 9], 5, ortho_init=False)
    twin.reset_parameters(torch.Generator().manual_seed(0))
    first = twin.pi[0].weight  # (learners, 18 inputs, 64 outputs)
    assert first.abs().max() <= 1 / np.sqrt(18) and not torch.equal(first[0], first[1])
    gram = first[0].T @ first[0]  # orthogonal columns would make this a multiple of the identity
    assert not torch.allclose(gram, gram.diagonal().mean() * torch.eye(64), atol=1e-3)
