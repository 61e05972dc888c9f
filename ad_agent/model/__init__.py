"""The AD sequence model, its configuration and its decoding cache."""

from ad_agent.model.config import ModelConfig
from ad_agent.model.transformer import ADTransformer, KVCache

__all__ = ["ADTransformer", "KVCache", "ModelConfig"]
