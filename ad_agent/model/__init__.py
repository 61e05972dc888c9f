"""The AD sequence model and its configuration."""

from ad_agent.model.config import ModelConfig
from ad_agent.model.transformer import ADTransformer

__all__ = ["ADTransformer", "ModelConfig"]
