"""Data-parallel training under torchrun follows single-process training on the same global batch."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ad_agent import cli
from ad_agent.deployment.policy_file import WEIGHTS_FILE
from ad_agent.training.distributed import init_from_env, is_main
from ad_agent.training.loop import TrainConfig, _shard
from tests.ad_agent.synthetic import write_learnable_histories

# Over the DarkRoom preset. No dropout: the ranks would draw the same dropout masks for different
# slices of the batch, where one process draws one mask for the whole batch.
SMALL = dict(context_len=16, d_model=32, n_layers=1, n_heads=2, d_ff=64, dropout=0.0)
TRAIN = TrainConfig(steps=5, batch_size=8, warmup_steps=2, peak_lr=3e-3, mask_prob=0.3, device="cpu")


def test_a_plain_start_stays_single_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_from_env("cpu") == (0, 1) and is_main()


def test_rank_slices_are_equal_and_tile_the_global_batch():
    batch = {"actions": np.arange(8), "observations": np.arange(16).reshape(8, 2)}
    slices = [_shard(batch, rank, 2) for rank in range(2)]
    for key, value in batch.items():
        np.testing.assert_array_equal(np.concatenate([s[key] for s in slices]), value)


@pytest.mark.slow
def test_ad_agent_train_under_torchrun_matches_one_process_and_only_rank_0_writes(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_learnable_histories(data_dir)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"model": SMALL, "train": TRAIN.to_dict()}))
    args = ["train", "--data", str(data_dir), "--config", str(config_file), "--device", "cpu"]
    args += ["--train-steps", str(TRAIN.steps)]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        "-m",
        "ad_agent.cli",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    parallel_dir, single_dir = tmp_path / "parallel", tmp_path / "single"
    done = subprocess.run(
        [*command, *args, "--policy", str(parallel_dir), "--checkpoint-dir", str(tmp_path / "checkpoints")],
        env=env,
        timeout=180,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("policy saved to") == 1
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [f"step_{TRAIN.steps:08d}"]
    assert cli.main([*args, "--policy", str(single_dir)]) == 0

    single, parallel = load_file(single_dir / WEIGHTS_FILE), load_file(parallel_dir / WEIGHTS_FILE)
    assert parallel.keys() == single.keys()
    for name, tensor in single.items():
        torch.testing.assert_close(parallel[name], tensor, rtol=1e-4, atol=1e-5, msg=name)


def test_only_train_runs_under_torchrun(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert cli.main(["evaluate", "--policy", "pretrained:DarkRoom-v0"]) == 2
    assert "only 'ad-agent train' runs under torchrun" in capsys.readouterr().err
