"""An SB3 learner and its batched twin from the same start, shared by the batched-learner fidelity tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env

from ad_agent.sources.batched.networks import BatchedActorCritic, load_sb3_policy
from ad_agent.sources.batched.updates import Rollout, make_optimizer, settings_for, train_on

N_ENVS = 4


def sb3_after_one_rollout(cls: type, env_id: str, task: Any, **hyperparams: Any) -> Any:
    """An SB3 learner on ``env_id``'s ``task`` that has collected one rollout and not yet trained on it."""
    env = make_vec_env(env_id, n_envs=N_ENVS, seed=0, env_kwargs={"task": task})
    model = cls("MlpPolicy", env, seed=0, device="cpu", **hyperparams)
    _, callback = model._setup_learn(model.n_steps * N_ENVS, callback=None)
    model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=model.n_steps)
    return model


def flat(x: np.ndarray) -> torch.Tensor:
    """SB3's buffer layout (n_steps, n_envs, ...) as one learner's SB3-flattened samples (1, n_envs * n_steps, ...)."""
    return torch.as_tensor(np.ascontiguousarray(x.swapaxes(0, 1))).reshape(1, -1, *x.shape[2:])


def twin(model: Any) -> BatchedActorCritic:
    """A batch of one learner with ``model``'s network shape and weights."""
    obs, act = model.observation_space, model.action_space
    shape = {k: v for k, v in model.policy_kwargs.items() if k in ("net_arch", "activation_fn", "log_std_init")}
    observation = obs if isinstance(obs, spaces.Box) else obs.nvec
    actions = act if isinstance(act, spaces.Box) else int(act.n)
    batched = BatchedActorCritic(1, observation, actions, **shape)
    load_sb3_policy(batched, 0, model.policy)
    return batched


def rollout(model: Any) -> Rollout:
    """``model``'s rollout buffer as the batched learner's rollout (discrete values as integers)."""
    buf = model.rollout_buffer
    obs, actions = flat(buf.observations), flat(buf.actions)
    if not isinstance(model.observation_space, spaces.Box):
        obs = obs.long()
    if isinstance(model.action_space, spaces.Discrete):
        actions = actions[..., 0].long()
    return Rollout(obs, actions, flat(buf.log_probs), flat(buf.advantages), flat(buf.returns))


def train_both_once(model: Any, batched: BatchedActorCritic, hyperparams: dict[str, Any]) -> None:
    """One ``train()`` of ``model`` and of ``batched`` on the same rollout, in SB3's own minibatch order."""
    settings = settings_for(type(model).__name__, hyperparams, n_envs=N_ENVS)
    optimizer = make_optimizer(batched.parameters(), settings)
    n_samples = model.n_steps * N_ENVS
    np.random.seed(123)  # SB3 draws each epoch's minibatch order from numpy's global generator
    orders = np.stack([np.random.permutation(n_samples)[None] for _ in range(getattr(settings, "n_epochs", 1))])
    np.random.seed(123)
    samples = rollout(model)  # before SB3's train() flattens its buffer in place
    model.train()
    train_on(batched, optimizer, samples, settings, np.random.default_rng(0), orders=orders)


def assert_same_weights(batched: BatchedActorCritic, model: Any) -> None:
    """Every layer (and a Gaussian's ``log_std``) of learner 0 equals ``model``'s to float tolerance."""
    ours = [*batched.pi, *batched.vf, batched.action_net, batched.value_net]
    extractor = model.policy.mlp_extractor
    theirs = [*extractor.policy_net[::2], *extractor.value_net[::2], model.policy.action_net, model.policy.value_net]
    for mine, sb3 in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine.weight[0].detach().T, sb3.weight.detach(), atol=2e-6, rtol=1e-5)
        np.testing.assert_allclose(mine.bias[0].detach(), sb3.bias.detach(), atol=2e-6, rtol=1e-5)
    if batched.log_std is not None:
        np.testing.assert_allclose(batched.log_std[0].detach(), model.policy.log_std.detach(), atol=2e-6, rtol=1e-5)
