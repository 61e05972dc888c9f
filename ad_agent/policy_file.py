"""The policy file: a folder with safetensors weights and a JSON description, and nothing to unpickle.

``policy.json`` holds the format version, the package version, the model config, the observation
and action spaces, the env id, the episode length, the training provenance and the SHA-256 of the
weights. Loading checks the format version, that the model config is complete and valid, that the
spaces agree with it and that the weights match their hash and the model's shapes, so a missing,
truncated, tampered or incompatible file is refused with a message that says which and why before
any weight reaches a model. The package version and env id are recorded, not enforced: a policy
may be driven on any env with its spaces.
``pretrained:<env id>`` names a policy shipped inside the package.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ad_agent.model import ADModel, ModelConfig, build_model

FORMAT_VERSION = 3  # 2: rotary positions and SHA-256-checked weights; 3: model.arch (transformer | lstm)
# Version 2 files are still read: their configs have no ``arch`` and mean a transformer. Packages
# that only know version 2 refuse version 3 files by their version, not by an unknown config key.
READABLE_VERSIONS = (2, FORMAT_VERSION)
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "policy.json"
PRETRAINED_PREFIX = "pretrained:"
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


@dataclass
class PolicySpec:
    """What a saved policy says about itself, besides its weights."""

    model: ModelConfig
    env_id: str
    max_episode_steps: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def observation_space(self) -> dict[str, Any]:
        if self.model.obs_kind == "discrete":
            return {"type": "MultiDiscrete", "nvec": list(self.model.obs_nvec)}
        dtype = "uint8" if self.model.obs_kind == "image" else "float32"
        return {"type": "Box", "shape": list(self.model.obs_shape), "dtype": dtype}

    @property
    def action_space(self) -> dict[str, Any]:
        return {"type": "Discrete", "n": self.model.n_actions}

    def to_dict(self) -> dict[str, Any]:
        import ad_agent

        return {
            "format_version": FORMAT_VERSION,
            "package_version": ad_agent.__version__,
            "model": self.model.to_dict(),
            "observation_space": self.observation_space,
            "action_space": self.action_space,
            "context_len": self.model.context_len,
            "env_id": self.env_id,
            "max_episode_steps": self.max_episode_steps,
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicySpec:
        version = data.get("format_version") if isinstance(data, dict) else None
        if version not in READABLE_VERSIONS:
            raise ValueError(f"policy format_version {version!r} is not supported (readable: {READABLE_VERSIONS})")
        try:
            spec = cls(
                model=ModelConfig.from_dict(data["model"]),
                env_id=data["env_id"],
                max_episode_steps=data.get("max_episode_steps"),
                provenance=data.get("provenance", {}),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"policy config is incomplete or malformed: {err!r}") from err
        for name in ("observation_space", "action_space"):
            if data.get(name) != getattr(spec, name):
                raise ValueError(f"policy {name} {data.get(name)!r} does not match its model config")
        return spec


def resolve(path: str | Path) -> Path:
    """A policy folder from a path or from ``pretrained:<env id>``."""
    text = str(path)
    if not text.startswith(PRETRAINED_PREFIX):
        return Path(path)
    env_id = text.removeprefix(PRETRAINED_PREFIX)
    folder = PRETRAINED_DIR / env_id
    if not folder.is_dir():
        shipped = sorted(p.name for p in PRETRAINED_DIR.iterdir() if p.is_dir()) if PRETRAINED_DIR.is_dir() else []
        raise ValueError(f"no pretrained policy for {env_id!r}; shipped: {shipped}")
    return folder


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(model: ADModel, spec: PolicySpec, path: str | Path) -> Path:
    """Write the weights, then the description that vouches for them (with their hash).

    Both are written under temporary names and then renamed into place, so an interrupted save
    never leaves a half-written file; overwriting a policy, the moment between the two renames
    leaves new weights beside the old description, which loading refuses by the hash."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    weights, config_file = path / f".{WEIGHTS_FILE}.tmp", path / f".{CONFIG_FILE}.tmp"
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(weights))
    config = {**spec.to_dict(), "weights_sha256": sha256(weights)}
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    os.replace(weights, path / WEIGHTS_FILE)
    os.replace(config_file, path / CONFIG_FILE)
    return path


def load(path: str | Path) -> tuple[ADModel, PolicySpec]:
    """Read a policy folder written by :func:`save` (or ``pretrained:<env id>``); refuse anything else."""
    path = resolve(path)
    if path.is_file():
        raise ValueError(f"{path} is a file; a policy is a folder holding {CONFIG_FILE} and {WEIGHTS_FILE}")
    config_path, weights_path = path / CONFIG_FILE, path / WEIGHTS_FILE
    for required in (config_path, weights_path):
        if not required.is_file():
            raise FileNotFoundError(f"not a saved policy: {required} is missing")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{config_path} is not valid JSON: {err}") from err
    spec = PolicySpec.from_dict(config)
    if config.get("weights_sha256") != sha256(weights_path):
        raise ValueError(f"{weights_path} is not the file {config_path} describes (SHA-256 mismatch): altered or cut")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights_path} is not a valid safetensors file: {err}") from err
    model = build_model(spec.model)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{weights_path} does not match the model in {config_path}: {err}") from err
    return model, spec
