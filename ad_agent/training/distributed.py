"""Multi-process data-parallel training through ``torchrun`` and DistributedDataParallel.

torchrun starts the processes and sets ``WORLD_SIZE`` / ``RANK`` / ``LOCAL_RANK``; ``ad-agent
train`` joins them into a process group here (gloo on CPU, nccl on GPU) and
:func:`ad_agent.training.loop.train` does the rest: each rank trains on its slice of the global batch and
DDP averages gradients. The command line is the one way in::

    torchrun --nproc-per-node 2 -m ad_agent.cli train --data DIR --policy OUT [--config CONFIG.json]

Every rank loads the data and trains; only rank 0 reports progress, validates, probes, writes
checkpoints, TensorBoard logs and the policy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import distributed as dist

from ad_agent.devices import check_device, process_group


def launched_world_size() -> int:
    """How many processes torchrun started (1 for a plain start)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_env(device: str = "auto") -> tuple[int, int]:
    """Join torchrun's process group when it started more than one process; ``(rank, world_size)``.

    A plain (non-torchrun) start stays single-process, so the same code runs either way. On CUDA
    each process takes GPU ``LOCAL_RANK`` so that ``"cuda"`` means its own device.
    """
    if launched_world_size() <= 1:
        return 0, 1
    cuda = check_device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return process_group()


def is_main() -> bool:
    """Whether this process is rank 0 (the one that writes files), true when not distributed."""
    return process_group()[0] == 0


def cleanup() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def joined(device: str = "auto") -> Iterator[tuple[int, int]]:
    """:func:`init_from_env` for the ``with`` block, left again however the block ends."""
    try:
        yield init_from_env(device)
    finally:
        cleanup()
