"""Where a trained AD transformer looks in its own history (the paper's Fig. 15).

:func:`play_trial` lets a policy play one task for a few episodes, as a user would in a Gymnasium
loop, and keeps what happened; :func:`attention_maps` runs the policy's model over that trial once
more, without a cache, and returns every layer's attention weights; :func:`ad_agent.plots.plot_attention`
draws them with the episode starts and the rewarded steps marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, SupportsFloat, cast

import gymnasium as gym
import numpy as np
import torch

from ad_agent.deployment.policy import InContextPolicy
from ad_agent.histories.streams import episode_returns, previous_actions_and_rewards
from ad_agent.model.transformer import ADTransformer, Block, CausalSelfAttention


@dataclass
class Trial:
    """One task played by a policy: step ``t`` saw ``observations[t]``, took ``actions[t]`` and was
    paid ``rewards[t]``; ``episode_starts[t]`` marks the first step of an episode."""

    env_id: str
    task: Any
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_starts: np.ndarray

    @property
    def episode_returns(self) -> np.ndarray:
        return episode_returns(self.rewards, self.episode_starts)


def play_trial(policy: InContextPolicy, env_id: str, task: Any, episodes: int, seed: int = 0) -> Trial:
    """``episodes`` consecutive episodes of ``policy`` on one ``task`` from an empty context."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = gym.make(env_id, task=task)
    policy.reset(seed=seed)
    steps: list[tuple[Any, int | np.ndarray, float, bool]] = []
    reward: SupportsFloat = 0.0
    start = True
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed if episode == 0 else None)
        done, start = False, True
        while not done:
            action = policy.act(obs, reward, episode_start=start)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            steps.append((obs, action, float(reward), start))
            obs, done, start = next_obs, terminated or truncated, False
    env.close()
    observations, actions, rewards, starts = (np.asarray(column) for column in zip(*steps, strict=True))
    actions = actions.astype(np.float32 if policy.spec.model.action_coding.continuous else np.int64)
    return Trial(env_id, task, observations, actions, rewards, starts.astype(bool))


def attention_maps(policy: InContextPolicy, trial: Trial) -> np.ndarray:
    """Attention weights ``(layers, heads, T, T)`` over the last ``T = min(len(trial), context_len)``
    steps of ``trial``: row ``q`` is how step ``q``'s token weighs the steps before it (and itself)
    when the model chooses action ``q``."""
    model = policy.model
    if not isinstance(model, ADTransformer):
        raise ValueError(f"attention maps need a transformer policy; this one is a {type(model).__name__}")
    coding = policy.spec.model.action_coding
    prev_actions, prev_rewards = previous_actions_and_rewards(
        coding.encode(trial.actions[None]), trial.rewards[None], coding.null
    )
    window = slice(-policy.context_len, None)
    device = policy.device
    inputs = (
        torch.as_tensor(trial.observations[window][None], device=device),
        torch.as_tensor(prev_actions[:, window], device=device),
        torch.as_tensor(prev_rewards[:, window], device=device),
        torch.as_tensor(trial.episode_starts[window][None], device=device),
    )
    maps: list[torch.Tensor] = []

    def keep_weights(module: CausalSelfAttention, args: tuple[Any, ...]) -> None:
        x, positions, rope, _ = args
        maps.append(module.attention_weights(x, positions, rope)[0])

    blocks = [cast(Block, block) for block in model.blocks]  # an ADTransformer's blocks
    hooks = [block.attn.register_forward_pre_hook(keep_weights) for block in blocks]
    try:
        with torch.inference_mode():
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(maps).float().cpu().numpy()
