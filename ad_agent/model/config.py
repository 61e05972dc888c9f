"""Model configuration as a dataclass, saved with every checkpoint and policy file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class ModelConfig:
    """Shape of the AD transformer.

    ``obs_nvec`` are the sizes of a (Multi)Discrete observation's components; ``n_actions`` the
    size of the Discrete action space. Defaults are the ``fast`` preset for 2 CPU cores: the
    paper's depth and heads (Table 1) with a wider embedding and a narrower feed-forward.
    """

    obs_nvec: tuple[int, ...]
    n_actions: int
    context_len: int = 200
    d_model: int = 64
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 256
    dropout: float = 0.1
    # Off by default: any attention dropout sends SDPA to its unfused path, ~3x slower on CPU.
    attn_dropout: float = 0.0

    def __post_init__(self) -> None:
        self.obs_nvec = tuple(int(n) for n in self.obs_nvec)
        if not self.obs_nvec or min(self.obs_nvec) < 1:
            raise ValueError(f"obs_nvec must be positive sizes, got {self.obs_nvec}")
        if self.n_actions < 1 or self.context_len < 1:
            raise ValueError("n_actions and context_len must be >= 1")
        if self.d_model % (2 * self.n_heads):
            raise ValueError(
                f"d_model {self.d_model} must split into n_heads {self.n_heads} heads of even size (rotary positions)"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}")
        return cls(**data)
