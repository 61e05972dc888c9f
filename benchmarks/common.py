"""What every benchmark script shares: where results go and the facts that make them reproducible."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """The hardware and software a figure was measured on, stored beside the figure."""
    import gymnasium
    import numpy
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        # the widest vector instructions torch's CPU kernels use: timings (bf16 most) differ between them
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "gymnasium": gymnasium.__version__,
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's model name as Linux reports it (None elsewhere): a shared VM is not always on the same one."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)


def _command() -> str:
    """How this script was started, as a person would type it from the repository root."""
    import __main__

    spec = getattr(__main__, "__spec__", None)
    program = f"python -m {spec.name}" if spec else f"python {sys.argv[0]}"
    return " ".join([program, shlex.join(sys.argv[1:])]).strip()


def env_slug(env_id: str) -> str:
    """How record names spell an env: ``DarkRoom-v0`` -> ``darkroom``."""
    return env_id.split("-")[0].lower()


def write_result(name: str, figures: dict[str, Any], out_dir: Path = RESULTS_DIR) -> Path:
    """Write ``figures`` as ``<out_dir>/<name>.json`` with the command, machine and date that made them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "command": _command(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        **figures,
    }
    path = out_dir / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
    return path
