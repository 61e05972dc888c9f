"""SB3's ``MlpPolicy`` actor-critic for N independent learners at once, as stacked weights.

Every parameter carries a leading learner axis, so one batched matrix product runs all N networks
and an element-wise optimiser (Adam, RMSprop) stepping the stacked tensors is exactly N separate
optimisers. The shape of each learner's network is SB3's for ``PPO``/``A2C``: the observation as
SB3's ``preprocess_obs`` makes it (one-hot encoded when discrete, a float vector as it is when a 1-D
``Box``), separate policy and value trunks (``net_arch``, default ``dict(pi=[64, 64], vf=[64, 64])``)
with ``Tanh``, a linear action head and a linear value head, orthogonally initialised with SB3's gains
(``sqrt(2)`` in the trunks, 0.01 for the actions, 1 for the value). The action head gives a Discrete
space's logits, or a Box space's Gaussian means beside a state-independent ``log_std`` per learner
(:mod:`~ad_agent.sources.batched.distributions`). A discrete observation's first layer multiplies its
one-hot encoding: gathering the weight rows instead is cheaper forward, but its backward (a
scatter-add) was slower on CPU for the Dark tasks' small observation spaces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from ad_agent.sources.batched.distributions import ActionDistribution, Categorical, DiagGaussian

#: The ``policy_kwargs`` a batched learner understands; anything else is refused rather than ignored.
POLICY_KWARGS = ("net_arch", "activation_fn", "ortho_init", "log_std_init")

#: What a network reads: a discrete observation's values per component (its ``nvec``), or a 1-D Box.
Observation = Sequence[int] | np.ndarray | spaces.Box


def trunk_sizes(net_arch: Any) -> tuple[list[int], list[int]]:
    """SB3's ``net_arch`` (a list shared by both trunks, or ``dict(pi=..., vf=...)``) as two size lists."""
    if net_arch is None:
        return [64, 64], [64, 64]
    if isinstance(net_arch, dict):
        if set(net_arch) - {"pi", "vf"}:
            raise ValueError(f"net_arch keys must be 'pi' and 'vf', got {sorted(net_arch)}")
        pi, vf = list(net_arch.get("pi", [])), list(net_arch.get("vf", []))
    else:
        pi, vf = list(net_arch), list(net_arch)
    if not all(isinstance(size, int) and size >= 1 for size in pi + vf):
        raise ValueError(f"net_arch layer sizes must be positive ints, got {net_arch!r}")
    return pi, vf


class StackedLinear(nn.Module):
    """N independent ``nn.Linear(in_features, out_features)`` layers; input ``(N, B, in)``.

    ``weight`` is ``(N, in, out)``, the transpose of each ``nn.Linear.weight``, so the forward pass is
    one ``baddbmm``.
    """

    def __init__(self, n_learners: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_learners, in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(n_learners, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)

    def reset_orthogonal(self, gain: float, generator: torch.Generator) -> None:
        """Each learner's weight orthogonal with ``gain`` (as SB3's ``init_weights``), biases zero."""
        with torch.no_grad():
            for weight in self.weight:
                nn.init.orthogonal_(weight.T, gain=gain, generator=generator)
            self.bias.zero_()


class OneHotLinear(StackedLinear):
    """A :class:`StackedLinear` on one-hot encoded discrete observations, as SB3's ``preprocess_obs`` encodes them.

    ``nvec`` is the observation's number of values per component (a ``MultiDiscrete``'s ``nvec``,
    or ``[n]`` for ``Discrete(n)``); input ``(N, B, len(nvec))`` integer observations.
    """

    offsets: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, n_learners: int, nvec: Sequence[int] | np.ndarray, out_features: int) -> None:
        super().__init__(n_learners, int(np.sum(nvec)), out_features)
        offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
        self.register_buffer("offsets", torch.as_tensor(offsets, dtype=torch.long), persistent=False)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        one_hot = torch.zeros(*obs.shape[:2], self.weight.shape[1], device=obs.device)
        return super().forward(one_hot.scatter_(2, obs.long() + self.offsets, 1.0))


class FastTanh(torch.autograd.Function):
    """``tanh`` as ``2 sigmoid(2x) - 1``, with the derivative ``1 - tanh^2`` from the saved output.

    The same function to float rounding, several times faster than ``torch.tanh`` on CPUs where torch
    has no vectorised kernel for it; the activation dominated the batched learners' step otherwise.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(2 * x).mul_(2).sub_(1)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class Tanh(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return FastTanh.apply(x)


#: Activations a batched policy may name in ``policy_kwargs["activation_fn"]`` (SB3's classes work too).
ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": Tanh, "relu": nn.ReLU}
_SB3_ACTIVATIONS = {nn.Tanh: "tanh", nn.ReLU: "relu"}


def activation(name: Any) -> type[nn.Module]:
    """The activation class for ``name``: ``"tanh"``, ``"relu"``, or SB3's ``nn.Tanh`` / ``nn.ReLU``."""
    name = _SB3_ACTIVATIONS.get(name, name) if isinstance(name, type) else name
    if isinstance(name, str) and name.lower() in ACTIVATIONS:
        return ACTIVATIONS[name.lower()]
    raise ValueError(f"activation_fn must be one of {sorted(ACTIVATIONS)}, got {name!r}")


class BatchedActorCritic(nn.Module):
    """N actor-critics shaped as SB3's ``ActorCriticPolicy`` with its ``MlpPolicy`` defaults.

    ``observation`` is a discrete observation's ``nvec`` (its components one-hot encoded) or a 1-D
    ``spaces.Box`` (a float vector); ``actions`` is a Discrete space's number of actions (a categorical
    head) or a 1-D ``spaces.Box`` (a diagonal Gaussian head, its ``log_std`` ``(N, d)`` starting at
    ``log_std_init``). ``forward(obs)`` takes ``(N, B, n_components)`` observations of dtype
    :attr:`obs_dtype` and returns the action head's output ``(N, B, n)`` (logits, or the Gaussians'
    means) and values ``(N, B)``; :meth:`distribution` makes the policy of that output.
    """

    log_std: nn.Parameter | None

    def __init__(
        self,
        n_learners: int,
        observation: Observation,
        actions: int | spaces.Box,
        net_arch: Any = None,
        activation_fn: Any = "tanh",
        ortho_init: bool = True,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_learners = n_learners
        self.act = activation(activation_fn)()
        self.ortho_init = ortho_init
        self.observation = observation
        #: As the observations must come: indices for the one-hot layer, floats (``.float()`` in SB3) for a vector.
        self.obs_dtype = np.dtype(np.float32 if isinstance(observation, spaces.Box) else np.int64)
        pi_sizes, vf_sizes = trunk_sizes(net_arch)
        self.pi = self._trunk(pi_sizes)
        self.vf = self._trunk(vf_sizes)
        self.log_std_init = float(log_std_init)
        if isinstance(actions, spaces.Box):
            n_out = int(np.prod(actions.shape))
            self.log_std = nn.Parameter(torch.full((n_learners, n_out), self.log_std_init))
        else:
            n_out, self.log_std = int(actions), None
        self.action_net = self._layer(pi_sizes, n_out)
        self.value_net = self._layer(vf_sizes, 1)

    def _layer(self, sizes_before: list[int], out_features: int) -> StackedLinear:
        if sizes_before:
            return StackedLinear(self.n_learners, sizes_before[-1], out_features)
        if isinstance(self.observation, spaces.Box):
            return StackedLinear(self.n_learners, int(np.prod(self.observation.shape)), out_features)
        return OneHotLinear(self.n_learners, self.observation, out_features)

    def _trunk(self, sizes: list[int]) -> nn.ModuleList:
        return nn.ModuleList(self._layer(sizes[:i], size) for i, size in enumerate(sizes))

    def reset_parameters(self, generator: torch.Generator) -> None:
        """SB3's initialisation: orthogonal with gain sqrt(2) in the trunks, 0.01 for actions, 1 for values;
        ``log_std`` at ``log_std_init`` either way."""
        if self.log_std is not None:
            with torch.no_grad():
                self.log_std.fill_(self.log_std_init)
        if not self.ortho_init:  # SB3 then keeps torch's default init; ours is drawn from ``generator`` too
            for layer in self.modules():
                if isinstance(layer, StackedLinear):
                    _torch_default_init(layer, generator)
            return
        for layer in [*self.pi, *self.vf]:
            layer.reset_orthogonal(math.sqrt(2), generator)
        self.action_net.reset_orthogonal(0.01, generator)
        self.value_net.reset_orthogonal(1.0, generator)

    def _run(self, trunk: nn.ModuleList, head: StackedLinear, obs: torch.Tensor) -> torch.Tensor:
        x = obs
        for layer in trunk:
            x = self.act(layer(x))
        return head(x)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._run(self.pi, self.action_net, obs), self._run(self.vf, self.value_net, obs).squeeze(-1)

    def distribution(self, action_params: torch.Tensor) -> ActionDistribution:
        """Each learner's policy from the action head's output ``(N, B, n)`` (:meth:`forward`'s first)."""
        if self.log_std is None:
            return Categorical(action_params)
        return DiagGaussian(action_params, self.log_std)

    def values(self, obs: torch.Tensor) -> torch.Tensor:
        """The value heads alone, for bootstrapping at time limits and the rollout's last step."""
        return self._run(self.vf, self.value_net, obs).squeeze(-1)


def _torch_default_init(layer: StackedLinear, generator: torch.Generator) -> None:
    """``nn.Linear``'s own initialisation (uniform in +-1/sqrt(fan_in)) for every learner."""
    bound = 1.0 / math.sqrt(layer.weight.shape[1])
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)


def load_sb3_policy(batched: BatchedActorCritic, learner: int, policy: Any) -> None:
    """Copy an SB3 ``ActorCriticPolicy``'s weights into learner ``learner`` of ``batched``.

    For checking this implementation against SB3 from the same starting point.
    """
    pairs = [
        *zip(batched.pi, policy.mlp_extractor.policy_net[::2], strict=True),
        *zip(batched.vf, policy.mlp_extractor.value_net[::2], strict=True),
        (batched.action_net, policy.action_net),
        (batched.value_net, policy.value_net),
    ]
    with torch.no_grad():
        for ours, theirs in pairs:
            layer = cast(StackedLinear, ours)  # every layer of a BatchedActorCritic is one
            layer.weight[learner] = theirs.weight.detach().T
            layer.bias[learner] = theirs.bias.detach()
        if batched.log_std is not None:
            batched.log_std[learner] = policy.log_std.detach()
