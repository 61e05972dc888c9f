"""Observation encoders: one ``d_model`` vector per step, whatever the observation space.

Each encoder maps observations ``(B, T, *obs_input_shape)`` to ``(B, T, d_model)`` step by step,
independently of the other steps, so the transformer's causal structure and its incremental
decoding cache work the same for every kind. The encoder is picked from ``ModelConfig.obs_kind``,
which :func:`obs_config_from_space` derives from a Gymnasium space.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from ad_agent.model.config import ModelConfig

IMAGE_CHANNELS = 128  # Table 3: every conv block has 128 channels (ModelConfig.image_channels) ...
IMAGE_KERNEL = 5  # ... 5x5 kernels with stride 2,
IMAGE_BLOCKS = 3  # ... and there are three blocks.


class DiscreteEncoder(nn.Embedding):
    """Sum of per-component embeddings of a (Multi)Discrete observation, from one table.

    Offsets keep each component's rows apart. Being an ``nn.Embedding`` itself keeps the weight
    key ``obs_embed.weight`` of policy files saved before encoders were pluggable.
    """

    offsets: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, nvec: tuple[int, ...], d_model: int) -> None:
        super().__init__(sum(nvec), d_model)
        self.register_buffer("offsets", torch.tensor([0, *nvec[:-1]]).cumsum(0), persistent=False)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return super().forward(observations.long() + self.offsets).sum(dim=-2)


class VectorEncoder(nn.Linear):
    """A linear map of a Box vector; scaling the features is left to the environment."""

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return super().forward(observations.to(self.weight.dtype))


class ImageEncoder(nn.Module):
    """The paper's Watermaze image encoder (Table 3) for uint8 ``(H, W, C)`` pixels.

    Three blocks of conv (128 channels, 5x5, stride 2) -> BatchNorm (eps 1e-5) -> ReLU ->
    max-pool (2x2, stride 2) -> dropout, then flatten and the final linear layer. Convs and pools
    pad like "SAME", so every image size keeps at least one pixel: 55x55 shrinks to 28, 14, 7, 4,
    2, 1 (unpadded, images under 43 pixels a side would vanish).

    Three deliberate departures from Table 3: the final layer is ``d_model`` wide, not 256, so it
    is the token itself and needs no extra projection; the dropout rate is the model's
    ``dropout`` (Table 3: 0.2); and BatchNorm keeps torch's momentum 0.1 rather than the decay
    0.999 (momentum 0.001), at which the running statistics of a short CPU training run would
    still sit near their initial values and evaluation would see a different network.
    In training mode BatchNorm mixes the steps of a batch; in eval mode each step is encoded alone.

    Each distinct image of a call is encoded once (:func:`distinct_rows`): a gridworld's views repeat
    (the pixel maze emits 324), so a training batch of thousands of steps costs a few hundred images.
    Repeats of an image share its features exactly, so eval mode is unchanged; in training mode they
    also share a dropout mask, and BatchNorm's batch statistics weigh each distinct image once.
    """

    def __init__(
        self, obs_shape: tuple[int, ...], d_model: int, dropout: float, channels: int = IMAGE_CHANNELS
    ) -> None:
        super().__init__()
        height, width, colours = obs_shape
        blocks: list[nn.Module] = []
        for block in range(IMAGE_BLOCKS):
            blocks += [
                nn.Conv2d(colours if block == 0 else channels, channels, IMAGE_KERNEL, 2, IMAGE_KERNEL // 2),
                nn.BatchNorm2d(channels, eps=1e-5),
                nn.ReLU(),
                nn.MaxPool2d(2, 2, ceil_mode=True),
                nn.Dropout(dropout),
            ]
        self.convs = nn.Sequential(*blocks)
        shrink = 4**IMAGE_BLOCKS  # each block halves the sides twice, rounding up
        self.linear = nn.Linear(channels * math.ceil(height / shrink) * math.ceil(width / shrink), d_model)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        lead = observations.shape[:-3]
        images = observations.reshape(-1, *observations.shape[-3:])
        groups = distinct_rows(images.reshape(len(images), -1))
        if groups is not None:
            images = images[groups[0]]
        features = self.linear(self.convs(images.permute(0, 3, 1, 2).float() / 255.0).flatten(1))
        if groups is not None:
            features = features[groups[1]]
        return features.reshape(*lead, -1)


#: How many pixels :func:`distinct_rows` hashes: enough to tell views apart, few enough to be cheap.
HASHED_PIXELS = 512


def distinct_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(first, inverse)`` with ``rows[first][inverse] == rows``, ``first`` holding one of each distinct
    row, or ``None`` when every row is distinct (or a hash collision was caught: the caller then takes
    every row, so the result is always exact). Rows are hashed on a fixed sample of their columns in
    integer arithmetic, then checked whole."""
    n, width = rows.shape
    if n < 2:
        return None
    generator = torch.Generator().manual_seed(width)  # the same columns and weights for every call
    columns = torch.randperm(width, generator=generator)[:HASHED_PIXELS].to(rows.device)
    weights = torch.randint(1, 2**62, (len(columns),), generator=generator).to(rows.device)
    keys = (rows[:, columns].long() * weights).sum(1)  # wraps on overflow, deterministically
    _, inverse = torch.unique(keys, return_inverse=True)
    first = torch.zeros(int(inverse.max()) + 1, dtype=torch.long, device=rows.device)
    first.scatter_(0, inverse, torch.arange(n, device=rows.device))
    if len(first) == n or not torch.equal(rows[first][inverse], rows):
        return None
    return first, inverse


def make_encoder(config: ModelConfig) -> nn.Module:
    """The encoder for ``config.obs_kind``, producing ``config.d_model`` features per step."""
    if config.obs_kind == "discrete":
        return DiscreteEncoder(config.obs_nvec, config.d_model)
    if config.obs_kind == "vector":
        return VectorEncoder(config.obs_shape[0], config.d_model)
    return ImageEncoder(config.obs_shape, config.d_model, config.dropout, config.image_channels)


def obs_config_from_space(space: spaces.Space) -> dict[str, Any]:
    """``ModelConfig`` observation fields (``obs_kind``, ``obs_nvec``, ``obs_shape``) for ``space``.

    Discrete and MultiDiscrete get embeddings, a 1-D Box a linear map, a uint8 ``(H, W, 3)`` Box
    the conv encoder; any other space raises ``TypeError``.
    """
    if isinstance(space, spaces.Discrete):
        return {"obs_kind": "discrete", "obs_nvec": (int(space.n),), "obs_shape": ()}
    if isinstance(space, spaces.MultiDiscrete):
        return {"obs_kind": "discrete", "obs_nvec": tuple(int(n) for n in space.nvec.reshape(-1)), "obs_shape": ()}
    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        return {"obs_kind": "vector", "obs_nvec": (), "obs_shape": space.shape}
    if isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3 and space.shape[2] == 3:
        return {"obs_kind": "image", "obs_nvec": (), "obs_shape": space.shape}
    raise TypeError(
        f"no observation encoder for {space}: expected (Multi)Discrete, a 1-D Box or uint8 (H, W, 3) images"
    )
