"""Training checkpoints: safetensors for tensors, JSON for everything else, nothing to unpickle.

A checkpoint is a folder ``step_XXXXXXXX`` holding ``model.safetensors``, ``optimizer.safetensors``
(Adam's per-parameter tensors, flattened to ``"<param index>.<name>"``), ``rng.safetensors`` (the
torch generators as uint8 tensors) and ``state.json`` (step, both configs, the numpy generator
state, the optimizer's param groups, the float16 GradScaler's state when one is used, and the log
so far). Together they let training continue bit for bit. Each folder is written under a temporary
name and renamed, so a crash mid-write never leaves a checkpoint that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

STATE_FILE = "state.json"
PREFIX = "step_"


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` reads back; tensors are on the CPU."""

    step: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    rng_state: dict[str, Any]
    torch_rng: dict[str, torch.Tensor]
    train_config: dict[str, Any]
    model_config: dict[str, Any]
    log: list[dict[str, float]]
    scaler_state: dict[str, Any] = field(default_factory=dict)  # empty unless training used fp16
    data_fingerprint: str | None = None  # ad_agent.histories.fingerprint; None in older checkpoints


def _flatten_optimizer(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Adam's state as flat tensors plus its JSON-able param groups."""
    tensors = {
        f"{index}.{name}": torch.as_tensor(value).detach().cpu().contiguous()
        for index, per_param in state_dict["state"].items()
        for name, value in per_param.items()
    }
    return tensors, state_dict["param_groups"]


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in groups]
    return {"state": state, "param_groups": groups}


def torch_rng_state() -> dict[str, torch.Tensor]:
    """The CPU generator, and the current CUDA device's one when there is one."""
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state()
    return states


def set_torch_rng_state(states: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(states["cpu"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states["cuda"])


def save_checkpoint(
    root: str | Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    train_config: dict[str, Any],
    model_config: dict[str, Any],
    log: list[dict[str, float]],
    scaler_state: dict[str, Any] | None = None,
    data_fingerprint: str | None = None,
) -> Path:
    """Write the checkpoint of ``step`` atomically under ``root``; returns its folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp_{PREFIX}{step:08d}_{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
    opt_tensors, groups = _flatten_optimizer(optimizer.state_dict())
    save_file(opt_tensors, tmp / "optimizer.safetensors")
    save_file(torch_rng_state(), tmp / "rng.safetensors")
    state = {
        "step": step,
        "train_config": train_config,
        "model_config": model_config,
        "numpy_rng": rng.bit_generator.state,
        "optimizer_param_groups": groups,
        "log": log,
        "grad_scaler": scaler_state or {},
        "data_fingerprint": data_fingerprint,
    }
    (tmp / STATE_FILE).write_text(json.dumps(state))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


def latest_checkpoint(root: str | Path) -> Path | None:
    """The complete checkpoint folder with the highest step, or ``None``; temporary ones are ignored."""
    done = _complete_checkpoints(Path(root))
    return done[-1] if done else None


def prune_checkpoints(root: str | Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` latest complete checkpoints under ``root`` (0 keeps all); returns the deleted.

    Only complete ones count and go: a temporary folder may be another process's write in progress.
    """
    stale = _complete_checkpoints(Path(root))[:-keep] if keep > 0 else []
    for folder in stale:
        shutil.rmtree(folder)
    return stale


def _complete_checkpoints(root: Path) -> list[Path]:
    """The complete checkpoint folders under ``root``, by step."""
    if not root.is_dir():
        return []
    done = [p for p in root.glob(f"{PREFIX}*") if _step_of(p) is not None and (p / STATE_FILE).is_file()]
    return sorted(done, key=lambda p: cast(int, _step_of(p)))  # every one in done has a step


def _step_of(folder: Path) -> int | None:
    """The step a checkpoint folder's name gives, or ``None`` for any other folder or file."""
    digits = folder.name[len(PREFIX) :]
    return int(digits) if folder.is_dir() and digits.isdigit() else None


#: What ``state.json`` must hold, and of which JSON type; checked before any tensor is read.
_STATE_FIELDS = {
    "step": int,
    "train_config": dict,
    "model_config": dict,
    "numpy_rng": dict,
    "optimizer_param_groups": list,
    "log": list,
}
MAX_STATE_BYTES = 256 * 2**20  # the log grows with the steps: 1e6 steps stay far below this


def _read_state(folder: Path) -> dict[str, Any]:
    """``state.json`` parsed and its fields' types checked, or a ``ValueError`` naming the file and field."""
    path = folder / STATE_FILE
    if not path.is_file() or path.stat().st_size > MAX_STATE_BYTES:
        raise ValueError(f"checkpoint {folder}: {STATE_FILE} is missing or larger than {MAX_STATE_BYTES} bytes")
    try:
        state = json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"checkpoint {path} is not valid JSON: {err}") from err
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} must hold a JSON object")
    for name, kind in _STATE_FIELDS.items():
        if not isinstance(state.get(name), kind) or isinstance(state.get(name), bool):
            raise ValueError(f"checkpoint {path}: {name} must be a {kind.__name__}, got {state.get(name)!r:.80}")
    if state["step"] < 0:
        raise ValueError(f"checkpoint {path}: step must be >= 0, got {state['step']}")
    return state


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(path)
    except (SafetensorError, OSError) as err:
        raise ValueError(f"checkpoint file {path} is missing or not a valid safetensors file: {err}") from err


def load_checkpoint(folder: str | Path) -> Checkpoint:
    """Read a checkpoint folder; a damaged or tampered one is a ``ValueError`` naming the file and field."""
    folder = Path(folder)
    state = _read_state(folder)
    return Checkpoint(
        step=state["step"],
        model_state=_tensors(folder / "model.safetensors"),
        optimizer_state=_unflatten_optimizer(
            _tensors(folder / "optimizer.safetensors"), state["optimizer_param_groups"]
        ),
        rng_state=state["numpy_rng"],
        torch_rng=_tensors(folder / "rng.safetensors"),
        train_config=state["train_config"],
        model_config=state["model_config"],
        log=state["log"],
        scaler_state=state.get("grad_scaler", {}),
        data_fingerprint=state.get("data_fingerprint"),
    )
