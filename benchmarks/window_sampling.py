"""Training windows read from disk (``LazyHistories``) against the same windows in memory (``FlatHistories``).

Datasets above 2 GiB in memory train from disk, one h5py slice per array per window; this measures
what that costs per batch, as a ratio to the in-memory draw of the same windows in the same process,
and as a share of a training step of the env preset's model on the same data (Hard's by default:
2 layers of width 64, batch 64 x 200 steps).

On synthetic runs shaped as the batched Hard learner writes them by default; given ``--histories``
(of ``--env``), on a collected dataset, where it also says what loading holds (compact, against the
files' widths), how long loading takes and at what peak, and times training steps from memory
against from disk. Image histories load as rows of a table of their distinct images, so the pixel
maze's paper-scale runs, 173 GiB as images, fit in memory: this says what reading them from disk cost.

    python -m benchmarks.window_sampling --seed 0
    python -m benchmarks.window_sampling --seed 0 --threads 2 --train-steps 40 \\
        --histories runs/experiments/DarkRoomHard-v0/tasks231x5-batched-seed0
    python -m benchmarks.window_sampling --seed 0 --threads 1 --train-steps 20 --env PixelWatermaze-v0 \\
        --histories runs/experiments/PixelWatermaze-v0/tasks64x8-batched-seed0
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ad_agent.actions import ActionCoding
from ad_agent.histories import CodedObservations, FlatHistories, LazyHistories, Streams, write_run
from ad_agent.presets import get_preset
from benchmarks.common import RESULTS_DIR, env_slug, write_result
from benchmarks.train_throughput import timed_training

ENV_ID = "DarkRoomHard-v0"


def write_synthetic_runs(folder: Path, seed: int, n_runs: int, actors: int = 64, steps: int = 1580) -> Path:
    """``n_runs`` run files shaped as the batched Hard learner writes them (64 actors x 1,580 steps); what a
    window costs does not depend on what it says."""
    rng = np.random.default_rng(seed)
    for run in range(n_runs):
        streams = Streams(
            observations=rng.integers(0, 17, size=(actors, steps, 2)),
            actions=rng.integers(0, 5, size=(actors, steps)),
            rewards=(rng.random((actors, steps)) < 0.05).astype(np.float32),
            episode_starts=np.broadcast_to(np.arange(steps) % 20 == 0, (actors, steps)).copy(),
        )
        write_run(folder / f"run{run:03d}.h5", streams, {"env_id": ENV_ID, "seed": run})
    return folder


def seconds_per_batch(data: FlatHistories | LazyHistories, seed: int, batches: int, length: int) -> float:
    """Median wall seconds of one ``sample_windows`` batch of 64 windows."""
    rng = np.random.default_rng(seed)
    data.sample_windows(rng, 64, length)  # opens files / warms caches, untimed
    times = []
    for _ in range(batches):
        tick = time.perf_counter()
        data.sample_windows(rng, 64, length)
        times.append(time.perf_counter() - tick)
    return float(np.median(times))


def seconds_per_train_step(data: FlatHistories | LazyHistories, env_id: str, seed: int, steps: int) -> float:
    """Median wall seconds of one training step of ``env_id``'s preset model on ``data``."""
    preset = get_preset(env_id)
    _, seconds = timed_training(data, preset.model_config(), preset.train, steps, seed)
    return float(np.median(seconds[1:]))  # the first step also builds the model, untimed


def held_bytes(data: FlatHistories) -> int:
    """What ``data`` holds: its arrays as loaded (what :func:`in_memory_bytes` predicts from the files)."""
    observations = data.observations
    coded = (observations.codes, observations.table) if isinstance(observations, CodedObservations) else ()
    arrays = coded or (observations,)
    arrays += (data.actions, data.prev_actions, data.prev_rewards, data.episode_starts)
    return sum(array.nbytes for array in arrays)


def bytes_at_file_widths(data: FlatHistories) -> int:
    """What ``data`` would hold with every array at its files' width (8-byte integers, float32
    rewards, bool starts, whole images): what loading held before it narrowed integers and coded images."""
    steps = len(data.prev_rewards)
    observations = data.observations
    stored = observations.table if isinstance(observations, CodedObservations) else observations
    obs_item = (data.observation_dtype or stored.dtype).itemsize
    per_step_obs = int(np.prod(stored.shape[1:]))
    per_step_actions = int(np.prod(data.actions.shape[1:]))
    return steps * (obs_item * per_step_obs + 2 * 8 * per_step_actions + 4 + 1)


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _load_figures(folder: Path, coding: ActionCoding) -> tuple[FlatHistories, dict[str, float]]:
    """The dataset in memory, and what loading it costs: seconds, peak resident memory, bytes held."""
    before, tick = _peak_rss_bytes(), time.perf_counter()
    data = FlatHistories.load(folder, n_actions=coding)
    seconds = time.perf_counter() - tick
    gib = 2**30
    return data, {
        "load_seconds": round(seconds, 1),
        "load_peak_rss_gib": round(_peak_rss_bytes() / gib, 2),  # the process's peak; loading comes first
        "peak_rss_before_load_gib": round(before / gib, 2),
        "held_bytes": held_bytes(data),
        "held_at_file_widths_bytes": bytes_at_file_widths(data),
    }


@contextlib.contextmanager
def _dataset(args: argparse.Namespace) -> Iterator[Path]:
    if args.histories is not None:
        yield args.histories
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield write_synthetic_runs(Path(tmp), args.seed, args.runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=256, help="run files (windows spread over all of them)")
    parser.add_argument("--batches", type=int, default=50, help="timed batches per reader")
    parser.add_argument("--train-steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    parser.add_argument("--histories", type=Path, default=None, help="a collected dataset of --env")
    parser.add_argument("--env", default=ENV_ID, help="whose preset model trains (another needs --histories)")
    args = parser.parse_args(argv)
    if args.env != ENV_ID and args.histories is None:
        parser.error(f"the synthetic runs are {ENV_ID}'s; --env {args.env} needs --histories")
    torch.set_num_threads(args.threads)
    preset = get_preset(args.env)
    length, coding = preset.model.value("context_len"), preset.model_config().action_coding
    with _dataset(args) as folder:
        in_memory, loading = _load_figures(folder, coding)
        if args.histories is not None and {m["env_id"] for m in in_memory.metadata} != {args.env}:
            raise SystemExit(f"--histories: {folder} holds no {args.env} histories alone")
        with LazyHistories.open(folder, coding) as from_disk:
            disk = seconds_per_batch(from_disk, args.seed, args.batches, length)
            disk_step = None
            if args.histories:
                disk_step = seconds_per_train_step(from_disk, args.env, args.seed, args.train_steps)
        memory = seconds_per_batch(in_memory, args.seed, args.batches, length)
        step = seconds_per_train_step(in_memory, args.env, args.seed, args.train_steps)
    figures = {
        "env_id": args.env,
        "seed": args.seed,
        "threads": args.threads,
        "histories": str(args.histories) if args.histories else f"{args.runs} synthetic runs",
        "runs": len(in_memory.metadata),
        "steps": len(in_memory.prev_rewards),
        "batch": f"64 windows x {length} steps",
        "seconds_per_batch": {"in memory": round(memory, 5), "from disk": round(disk, 5)},
        "from_disk_over_in_memory": round(disk / memory, 1),
        "train_step_seconds": round(step, 4),
        "from_disk_share_of_a_train_step": round(disk / (disk + step), 3),
        **loading,
    }
    if disk_step is not None:
        figures |= {
            "train_step_seconds_from_disk": round(disk_step, 4),
            "train_from_disk_over_in_memory": round(disk_step / step, 2),
        }
    print(
        f"a batch: {1e3 * memory:.1f} ms in memory, {1e3 * disk:.1f} ms from disk ({disk / memory:.1f}x); "
        f"a training step {1e3 * step:.0f} ms, so reading from disk is {disk / (disk + step):.0%} of a step; "
        f"loading held {loading['held_bytes'] / 2**30:.2f} GiB "
        f"({loading['held_at_file_widths_bytes'] / 2**30:.2f} at the files' widths) in {loading['load_seconds']} s"
    )
    name = "window_sampling" + (f"_{env_slug(args.env)}" if args.histories else "")
    print(f"wrote {write_result(name, figures, args.results)}")


if __name__ == "__main__":
    main()
