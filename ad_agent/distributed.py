"""Multi-process data-parallel training through ``torchrun`` and DistributedDataParallel.

torchrun starts the processes and sets ``WORLD_SIZE`` / ``RANK`` / ``LOCAL_RANK``; this module
joins them into a process group (gloo on CPU, nccl on GPU) and :func:`ad_agent.train.train`
does the rest: each rank trains on its slice of the global batch and DDP averages gradients.
Run as a script it trains a model on a history folder::

    torchrun --nproc_per_node=2 -m ad_agent.distributed --data DIR --config CONFIG.json --out OUT

``CONFIG.json`` holds ``{"model": {...ModelConfig...}, "train": {...TrainConfig...}}``; rank 0
writes the trained weights to ``OUT/model.safetensors``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import distributed as dist

from ad_agent.histories import FlatHistories
from ad_agent.model import ModelConfig
from ad_agent.train import TrainConfig, process_group, resolve_device, train


def init_from_env(device: str = "auto") -> tuple[int, int]:
    """Join torchrun's process group when it started more than one process; ``(rank, world_size)``.

    A plain (non-torchrun) start stays single-process, so the same code runs either way. On CUDA
    each process takes GPU ``LOCAL_RANK`` so that ``"cuda"`` means its own device.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    cuda = resolve_device(device).type == "cuda"
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of learning histories")
    parser.add_argument("--config", required=True, help='JSON file: {"model": {...}, "train": {...}}')
    parser.add_argument("--out", required=True, help="folder for model.safetensors (written by rank 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Train data-parallel as configured; rank 0 saves the weights (safetensors, nothing to unpickle)."""
    args = _parser().parse_args(argv)
    settings = json.loads(Path(args.config).read_text())
    model_config = ModelConfig.from_dict(settings["model"])
    config = TrainConfig(**settings.get("train", {}))
    init_from_env(config.device)
    try:
        data = FlatHistories.load(args.data, n_actions=model_config.n_actions)
        model, _ = train(data, model_config, config)
        if is_main():
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, out / "model.safetensors"
            )
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
