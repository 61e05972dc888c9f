"""A small convolutional feature extractor for SB3 learners on pixel observations, cheap enough for a CPU.

SB3's ``NatureCNN`` (three convolutions of 32-64 channels and a 512-unit layer) is built for 84x84
Atari frames and dominates a CPU run's time on Pixel Watermaze's 55x55 views. Two strided
convolutions are enough there: the agent only has to tell apart a few hundred distinct poses, each
with its own image. Source configs name extractors by their key in :data:`FEATURE_EXTRACTORS`, so
a config stays plain data that run metadata can store.
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class SmallCNN(BaseFeaturesExtractor):
    """Two strided convolutions (16 then 32 channels) and a linear layer to ``features_dim`` features.

    Takes channels-first images, already scaled to ``[0, 1]`` by the SB3 policy.
    """

    def __init__(self, observation_space: spaces.Box, features_dim: int = 128) -> None:
        super().__init__(observation_space, features_dim)
        channels = observation_space.shape[0]
        self.convs = nn.Sequential(
            nn.Conv2d(channels, 16, kernel_size=5, stride=3),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, stride=2),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, *observation_space.shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(flat, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(observations))


#: Feature extractors a source config may name in ``policy_kwargs["features_extractor_class"]``.
FEATURE_EXTRACTORS: dict[str, type[BaseFeaturesExtractor]] = {"SmallCNN": SmallCNN}
