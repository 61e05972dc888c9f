"""SB3's PPO and A2C updates for N independent learners: the same losses, per learner, summed.

Each learner's loss is the mean over its own samples, so the gradient of their sum with respect to
one learner's (stacked) weights is that learner's own gradient; clipping then scales each learner's
gradient by its own norm, as ``torch.nn.utils.clip_grad_norm_`` would for one network. What follows
SB3 2.x line by line: generalised advantage estimation with the last step's bootstrap
(``RolloutBuffer.compute_returns_and_advantage``), PPO's clipped surrogate, advantage normalisation
per minibatch, value loss and entropy bonus, ``n_epochs`` passes over shuffled minibatches of
``batch_size`` (the last one smaller when it does not divide), and A2C's single full-batch step.
The kind of action (Discrete or Box) changes only the policy's distribution
(:meth:`~ad_agent.sources.batched.networks.BatchedActorCritic.distribution`), as in SB3.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ad_agent.sources.batched.networks import POLICY_KWARGS, BatchedActorCritic, activation, trunk_sizes


@dataclass(frozen=True)
class PPOSettings:
    """SB3 ``PPO``'s hyper-parameters and defaults (constant learning rate and clip range)."""

    learning_rate: float = 3e-4
    n_steps: int = 2048
    batch_size: int = 64
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    normalize_advantage: bool = True
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5


@dataclass(frozen=True)
class A2CSettings:
    """SB3 ``A2C``'s hyper-parameters and defaults (RMSprop as the original A2C/A3C)."""

    learning_rate: float = 7e-4
    n_steps: int = 5
    gamma: float = 0.99
    gae_lambda: float = 1.0
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    rms_prop_eps: float = 1e-5
    use_rms_prop: bool = True
    normalize_advantage: bool = False


SETTINGS: dict[str, type[PPOSettings] | type[A2CSettings]] = {"PPO": PPOSettings, "A2C": A2CSettings}


def settings_for(algo: str, hyperparams: dict[str, Any], n_envs: int) -> PPOSettings | A2CSettings:
    """``hyperparams`` (SB3 names, ``policy_kwargs`` excluded) over ``algo``'s SB3 defaults, checked.

    A name SB3 accepts but this learner does not implement is refused rather than silently ignored.
    """
    if algo not in SETTINGS:
        raise ValueError(f"batched learners implement {sorted(SETTINGS)}, not {algo!r}")
    cls = SETTINGS[algo]
    given = {k: v for k, v in hyperparams.items() if k != "policy_kwargs"}
    unknown = set(given) - {f.name for f in fields(cls)}
    if unknown:
        takes = sorted(asdict(cls()))
        raise ValueError(f"batched {algo} has no hyper-parameter(s) {sorted(unknown)}; it takes {takes}")
    settings = cls(**given)
    _check(settings, n_envs)
    return settings


def _check(s: PPOSettings | A2CSettings, n_envs: int) -> None:
    problems = []
    if s.n_steps < 1 or s.n_steps * n_envs < 2:
        problems.append(f"n_steps * n_envs must be >= 2 (n_steps={s.n_steps}, n_envs={n_envs})")
    if not (s.learning_rate > 0 and s.max_grad_norm > 0):
        problems.append("learning_rate and max_grad_norm must be > 0")
    if not (0 <= s.gamma <= 1 and 0 <= s.gae_lambda <= 1):
        problems.append(f"gamma and gae_lambda must be in [0, 1], got {s.gamma}, {s.gae_lambda}")
    if isinstance(s, PPOSettings):
        if not 2 <= s.batch_size <= s.n_steps * n_envs:
            problems.append(f"batch_size must be in [2, n_steps * n_envs = {s.n_steps * n_envs}], got {s.batch_size}")
        if s.n_epochs < 1 or s.clip_range <= 0:
            problems.append(f"n_epochs must be >= 1 and clip_range > 0, got {s.n_epochs}, {s.clip_range}")
    if problems:
        raise ValueError("; ".join(problems))


def check_policy_kwargs(policy_kwargs: dict[str, Any]) -> None:
    """Refuse ``policy_kwargs`` the batched networks would not honour, before any work."""
    unknown = set(policy_kwargs) - set(POLICY_KWARGS)
    if unknown:
        raise ValueError(
            f"batched learners take policy_kwargs {list(POLICY_KWARGS)}, not {sorted(unknown)}: their policy is "
            "SB3's MlpPolicy (no other feature extractor, no gSDE, no squashed or full-std Gaussian)"
        )
    activation(policy_kwargs.get("activation_fn", "tanh"))
    trunk_sizes(policy_kwargs.get("net_arch"))
    log_std_init = policy_kwargs.get("log_std_init", 0.0)
    if isinstance(log_std_init, bool) or not isinstance(log_std_init, int | float) or not np.isfinite(log_std_init):
        raise ValueError(f"log_std_init must be a finite number, got {log_std_init!r}")


def make_optimizer(params: Any, settings: PPOSettings | A2CSettings) -> torch.optim.Optimizer:
    """The optimiser SB3 builds: Adam (eps 1e-5), or for A2C RMSprop (alpha 0.99) unless told otherwise."""
    if isinstance(settings, A2CSettings) and settings.use_rms_prop:
        return torch.optim.RMSprop(params, lr=settings.learning_rate, alpha=0.99, eps=settings.rms_prop_eps)
    return torch.optim.Adam(params, lr=settings.learning_rate, eps=1e-5)


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    episode_starts: torch.Tensor,
    last_values: torch.Tensor,
    last_dones: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns as SB3's rollout buffer computes them; every input is time-major ``(T, ...)``.

    ``episode_starts[t]`` marks that the observation at ``t`` opened an episode, so step ``t - 1``
    does not bootstrap through it; ``last_dones`` does the same for the step after the rollout.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_values)
    next_values, next_non_terminal = last_values, 1.0 - last_dones.float()
    for t in reversed(range(len(rewards))):  # a recurrence over the rollout's n_steps, not over all time
        delta = rewards[t] + gamma * next_values * next_non_terminal - values[t]
        running = delta + gamma * gae_lambda * next_non_terminal * running
        advantages[t] = running
        next_values, next_non_terminal = values[t], 1.0 - episode_starts[t].float()
    return advantages, advantages + values


def clip_grad_norms(params: list[torch.Tensor], max_norm: float) -> None:
    """Scale each learner's gradient (the leading axis of every parameter) to norm <= ``max_norm``.

    The same arithmetic as ``clip_grad_norm_`` (coefficient ``max_norm / (norm + 1e-6)``, at most 1),
    with one norm per learner instead of one for all.
    """
    grads = [p.grad for p in params if p.grad is not None]
    squares = torch.stack([g.pow(2).flatten(1).sum(1) for g in grads]).sum(0)
    coef = (max_norm / (squares.sqrt() + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *[1] * (g.dim() - 1)))


@dataclass
class Rollout:
    """One rollout of every learner, learner-major and flattened SB3's way: sample ``a * n_steps + t``
    is actor ``a``'s step ``t``. Shapes ``(N, n_samples, ...)``: ``actions`` are ints, or the Gaussian's
    unclipped float samples ``(N, n_samples, d)`` for Box actions."""

    observations: torch.Tensor
    actions: torch.Tensor
    old_log_probs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    @property
    def n_samples(self) -> int:
        return self.actions.shape[1]

    def take(self, index: torch.Tensor) -> Rollout:
        """Each learner's samples at its own ``index`` row, ``index`` shaped ``(N, b)``."""

        def pick(x: torch.Tensor) -> torch.Tensor:
            return x.gather(1, index.view(*index.shape, *[1] * (x.dim() - 2)).expand(-1, -1, *x.shape[2:]))

        return Rollout(*(pick(x) for x in self.fields()))

    def fields(self) -> tuple[torch.Tensor, ...]:
        return self.observations, self.actions, self.old_log_probs, self.advantages, self.returns


def _losses(
    policy: BatchedActorCritic, batch: Rollout, settings: PPOSettings | A2CSettings
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-learner policy, value and entropy losses ``(N,)`` on ``batch``, as SB3's ``train()`` forms them."""
    action_params, values = policy(batch.observations)
    distribution = policy.distribution(action_params)
    log_prob, entropy = distribution.log_prob(batch.actions), distribution.entropy()
    advantages = batch.advantages
    if settings.normalize_advantage and advantages.shape[1] > 1:
        advantages = (advantages - advantages.mean(1, keepdim=True)) / (advantages.std(1, keepdim=True) + 1e-8)
    if isinstance(settings, PPOSettings):
        ratio = torch.exp(log_prob - batch.old_log_probs)
        clipped = torch.clamp(ratio, 1 - settings.clip_range, 1 + settings.clip_range)
        policy_loss = -torch.min(advantages * ratio, advantages * clipped).mean(1)
    else:
        policy_loss = -(advantages * log_prob).mean(1)
    value_loss = F.mse_loss(values, batch.returns, reduction="none").mean(1)
    return policy_loss, value_loss, -entropy.mean(1)


def gradient_step(
    policy: BatchedActorCritic, optimizer: torch.optim.Optimizer, batch: Rollout, settings: PPOSettings | A2CSettings
) -> None:
    """One optimiser step of every learner on its own part of ``batch``."""
    policy_loss, value_loss, entropy_loss = _losses(policy, batch, settings)
    loss = policy_loss + settings.ent_coef * entropy_loss + settings.vf_coef * value_loss
    optimizer.zero_grad()
    loss.sum().backward()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    clip_grad_norms(params, settings.max_grad_norm)
    optimizer.step()


def train_on(
    policy: BatchedActorCritic,
    optimizer: torch.optim.Optimizer,
    rollout: Rollout,
    settings: PPOSettings | A2CSettings,
    rng: np.random.Generator,
    orders: np.ndarray | None = None,
) -> None:
    """SB3's ``train()`` on one rollout: A2C's one full-batch step, or PPO's shuffled minibatch epochs.

    Each PPO learner shuffles its own samples every epoch (drawn from ``rng``), or follows
    ``orders`` ``(n_epochs, N, n_samples)`` when given, e.g. SB3's own permutations.
    """
    if isinstance(settings, A2CSettings):
        gradient_step(policy, optimizer, rollout, settings)
        return
    n_learners, n = rollout.actions.shape[0], rollout.n_samples
    for epoch in range(settings.n_epochs):
        order = orders[epoch] if orders is not None else rng.permuted(np.tile(np.arange(n), (n_learners, 1)), axis=1)
        order = torch.as_tensor(order, device=rollout.actions.device)
        for start in range(0, n, settings.batch_size):
            gradient_step(policy, optimizer, rollout.take(order[:, start : start + settings.batch_size]), settings)
