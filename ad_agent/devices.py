"""Device names checked up front: a typo or a missing GPU is a clear ``ValueError``, not a traceback
from deep inside PyTorch at the first tensor moved; and torch's CPU thread count set for a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block on ``count`` torch CPU threads, then give the caller back its own count."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
