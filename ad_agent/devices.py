"""Where torch runs: device names checked up front (a typo or a missing GPU is a clear ``ValueError``,
not a traceback from deep inside PyTorch at the first tensor moved), torch's CPU thread count set for
a block, deterministic CUDA kernels, the mixed-precision mode of training, and this process's place in a process group.

Small and free of training code, so that loading and driving a policy imports only this."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import distributed as dist

AMP_MODES = ("auto", "off", "bf16", "fp16")


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block on ``count`` torch CPU threads, then give the caller back its own count."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def deterministic_kernels(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """On CUDA, run the block with torch's deterministic kernels, so that one seed gives one model.

    CUDA's default kernels for some backward passes (embedding gradients, cuBLAS's split reductions)
    add in a varying order, so two runs drift apart by rounding. cuBLAS reads its workspace setting when
    it first starts, so a process that already used it keeps its own. On a CPU nothing changes: its
    kernels are deterministic already. The caller's settings come back after the block.
    """
    if device.type != "cuda" or not enabled:
        yield
        return
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device`` this machine has: ``"auto"`` is CUDA when present, else CPU."""
    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device
    else:
        raise ValueError(f"device must be a string such as 'cpu', 'cuda' or 'auto', got {device!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {name!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here; use 'cpu' or 'auto'")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} asked for, but MPS is not available here")
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r} is not supported; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return resolved


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the training step, or ``None`` for full float32.

    ``"auto"`` is bfloat16 on a CUDA device that supports it (float32's exponent range, so no loss
    scaling) and off elsewhere: on a CPU the casts around this small model's matrix products cost
    more than they save (``benchmarks/train_throughput.py``). ``"fp16"`` needs CUDA, where a
    GradScaler keeps small gradients from underflowing; it is refused on a CPU rather than run slowly.
    """
    if amp == "off" or (amp == "auto" and not (device.type == "cuda" and torch.cuda.is_bf16_supported())):
        return None
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(f"amp='fp16' needs a CUDA device (got {device.type}); use amp='bf16' or 'off'")
    return torch.float16 if amp == "fp16" else torch.bfloat16


def process_group() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` outside an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
