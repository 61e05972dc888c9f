"""The AD sequence models, their configuration and their decoding states."""

from ad_agent.model.base import ADModel
from ad_agent.model.config import ARCHS, ModelConfig, ModelShape
from ad_agent.model.lstm import ADLSTM, LSTMState
from ad_agent.model.transformer import ADTransformer, KVCache

_MODELS: dict[str, type[ADModel]] = {"transformer": ADTransformer, "lstm": ADLSTM}


def build_model(config: ModelConfig) -> ADModel:
    """A freshly initialised model of ``config.arch`` (seed torch first for reproducible weights).

    The one place a model is constructed from a config: training, policy loading, benchmarks.
    """
    return _MODELS[config.arch](config)


__all__ = [
    "ADLSTM",
    "ADModel",
    "ADTransformer",
    "ARCHS",
    "KVCache",
    "LSTMState",
    "ModelConfig",
    "ModelShape",
    "build_model",
]
