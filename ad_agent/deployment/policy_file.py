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
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ad_agent.model import ADModel, ModelConfig, build_model

# 2: rotary positions and SHA-256-checked weights; 3: model.arch (transformer | lstm); 4: Box actions
# (model.action_low / action_high / action_bins) and model.action_head (categorical | gaussian)
FORMAT_VERSION = 4
# Older files are still read: a config without ``arch`` means a transformer, one without Box bounds a
# Discrete space, one without ``action_head`` a categorical head. Packages that only know an older
# version refuse newer files by their version, not by an unknown config key.
READABLE_VERSIONS = (2, 3, FORMAT_VERSION)
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "policy.json"
PRETRAINED_PREFIX = "pretrained:"
PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"  # ad_agent/pretrained
MAX_CONFIG_BYTES = 2**20  # a description is a few kB; a bigger file is refused unread
#: Upper bounds of the model config's integer fields: far above any model this package trains
#: (context 200, width 64), low enough that no description can make loading allocate much
#: more than its weights file holds (the attention cache grows with context_len).
MODEL_LIMITS = {
    "n_actions": 2**16,
    "context_len": 2**16,
    "d_model": 2**13,
    "n_layers": 2**7,
    "n_heads": 2**9,
    "d_ff": 2**16,
    "lstm_hidden": 2**14,
    "image_channels": 2**12,
    "action_bins": 2**12,
}
MAX_ACTION_DIMS = 2**8
MAX_OBS_SIZE = 2**16  # largest obs_nvec entry and obs_shape side
MAX_OBS_COMPONENTS = 2**10
MAX_EPISODE_STEPS = 10**9
_TOP_LEVEL = {
    "format_version",
    "package_version",
    "model",
    "observation_space",
    "action_space",
    "context_len",
    "env_id",
    "max_episode_steps",
    "provenance",
    "weights_sha256",
}
_REQUIRED = ("format_version", "model", "observation_space", "action_space", "env_id", "weights_sha256")


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
        model = self.model
        if model.action_low:
            low, high = list(model.action_low), list(model.action_high)
            return {"type": "Box", "shape": [len(low)], "low": low, "high": high, "dtype": "float32"}
        return {"type": "Discrete", "n": model.n_actions}

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
        """The spec a ``policy.json`` describes, every field checked (:func:`check_description`)."""
        check_description(data)
        try:
            spec = cls(
                model=ModelConfig.from_dict(data["model"]),
                env_id=data["env_id"],
                max_episode_steps=data.get("max_episode_steps"),
                provenance=data.get("provenance", {}),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"policy model config is invalid: {err}") from err
        for name in ("observation_space", "action_space"):
            if data.get(name) != getattr(spec, name):
                raise ValueError(f"policy {name} {data.get(name)!r} does not match its model config")
        return spec


def check_description(data: Any) -> None:
    """Refuse a ``policy.json`` whose fields have the wrong type or an unreasonable value, naming the field."""
    version = data.get("format_version") if isinstance(data, dict) else None
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise ValueError(f"policy format_version {version!r} is not supported (readable: {READABLE_VERSIONS})")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ValueError(f"policy config is incomplete: no {', '.join(missing)}")
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise ValueError(f"policy config has unknown fields {unknown}")
    check_model_config(data["model"], "model")
    top, model = data.get("context_len"), data["model"]["context_len"]
    if "context_len" in data and top != model:
        raise ValueError(f"policy context_len {top!r} disagrees with model.context_len {model}")
    if not isinstance(data["env_id"], str) or not 0 < len(data["env_id"]) <= 200:
        raise ValueError(f"policy env_id must be a non-empty string, got {data['env_id']!r}")
    if data.get("max_episode_steps") is not None:
        _check_int(data["max_episode_steps"], "max_episode_steps", MAX_EPISODE_STEPS)
    for key, kind in (("provenance", dict), ("package_version", str)):
        if key in data and not isinstance(data[key], kind):
            raise ValueError(f"policy {key} must be a {kind.__name__}, got {type(data[key]).__name__}")
    digest = data["weights_sha256"]
    if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise ValueError(f"policy weights_sha256 must be 64 lowercase hex digits, got {digest!r}")


def check_model_config(model: Any, where: str = "model") -> None:
    """Types and bounds of a saved :class:`ModelConfig` (its own checks, such as heads dividing the
    width, follow when it is built); ``where`` prefixes the field names in messages."""
    if not isinstance(model, dict):
        raise ValueError(f"policy {where} must be an object, got {type(model).__name__}")
    for key in ("obs_nvec", "n_actions", "context_len"):
        if key not in model:
            raise ValueError(f"policy {where} config is incomplete: no {key}")
    box = bool(model.get("action_low"))  # a continuous action space has no discrete n_actions (0)
    for key, limit in MODEL_LIMITS.items():
        if key in model:
            _check_int(model[key], f"{where}.{key}", limit, minimum=0 if box and key == "n_actions" else 1)
    for key in ("action_low", "action_high"):
        value = model.get(key, [])
        if not (isinstance(value, list) and len(value) <= MAX_ACTION_DIMS and all(map(_finite_number, value))):
            raise ValueError(f"policy {where}.{key} must be a list of at most {MAX_ACTION_DIMS} finite numbers")
    for key in ("obs_nvec", "obs_shape"):
        value = model.get(key, [])
        if not isinstance(value, list) or len(value) > MAX_OBS_COMPONENTS:
            raise ValueError(
                f"policy {where}.{key} must be a list of at most {MAX_OBS_COMPONENTS} sizes, got {value!r}"
            )
        for i, size in enumerate(value):
            _check_int(size, f"{where}.{key}[{i}]", MAX_OBS_SIZE)
    for key in ("dropout", "attn_dropout"):
        value = model.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"policy {where}.{key} must be a number in [0, 1), got {value!r}")
    for key in ("obs_kind", "arch", "action_head"):
        if key in model and not isinstance(model[key], str):
            raise ValueError(f"policy {where}.{key} must be a string, got {model[key]!r}")


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(value: Any, name: str, limit: int, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= limit:
        raise ValueError(f"policy {name} must be an integer in [{minimum}, {limit}], got {value!r}")


def resolve(path: str | Path) -> Path:
    """A policy folder from a path or from ``pretrained:<env id>``."""
    text = str(path)
    if not text.startswith(PRETRAINED_PREFIX):
        return Path(path)
    env_id = text.removeprefix(PRETRAINED_PREFIX)
    shipped = sorted(p.name for p in PRETRAINED_DIR.iterdir() if p.is_dir()) if PRETRAINED_DIR.is_dir() else []
    if env_id not in shipped:  # a name from the list, never a path: "../x" or "/etc" find nothing
        raise ValueError(f"no pretrained policy for {env_id!r}; shipped: {shipped}")
    return PRETRAINED_DIR / env_id


def sha256(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB chunks: memory stays flat whatever the file's size."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    config = _read_description(config_path)
    spec = PolicySpec.from_dict(config)
    if config["weights_sha256"] != sha256(weights_path):
        raise ValueError(f"{weights_path} is not the file {config_path} describes (SHA-256 mismatch): altered or cut")
    _check_weight_shapes(weights_path, spec.model, config_path)
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


def _read_description(config_path: Path) -> Any:
    """``policy.json`` parsed, refusing an oversized, undecodable or absurdly nested file unread or unparsed."""
    size = config_path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ValueError(f"{config_path} is {size} bytes; a policy description is at most {MAX_CONFIG_BYTES}")
    try:
        return json.loads(config_path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"{config_path} is not valid JSON: {err}") from err


def _check_weight_shapes(weights_path: Path, config: ModelConfig, config_path: Path) -> None:
    """Compare the weights' names and shapes (safetensors header only) with the model ``config``
    builds on the ``meta`` device: a mismatch is refused before either is allocated."""
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in build_model(config).state_dict().items()}
    try:
        with safe_open(str(weights_path), framework="pt") as weights:
            found = {name: tuple(weights.get_slice(name).get_shape()) for name in weights.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights_path} is not a valid safetensors file: {err}") from err
    if found != expected:
        differ = sorted(k for k in found.keys() | expected.keys() if found.get(k) != expected.get(k))
        details = ", ".join(f"{k}: {found.get(k)} in the weights, {expected.get(k)} described" for k in differ[:3])
        raise ValueError(f"{weights_path} does not match the model in {config_path} ({details})")
