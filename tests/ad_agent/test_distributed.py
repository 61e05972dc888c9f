"""Data-parallel training under torchrun follows single-process training on the same global batch."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ad_agent.distributed import init_from_env, is_main
from ad_agent.histories import FlatHistories
from ad_agent.model import ModelConfig
from ad_agent.train import TrainConfig, _shard, train
from tests.ad_agent.synthetic import write_learnable_histories

# No dropout: the ranks would draw the same dropout masks for different slices of the batch.
MODEL = ModelConfig(
    obs_nvec=(9, 9), n_actions=5, context_len=16, d_model=32, n_layers=1, n_heads=2, d_ff=64, dropout=0.0
)
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
def test_two_processes_match_one_on_the_same_global_batch(tmp_path):
    data_dir, out = tmp_path / "data", tmp_path / "out"
    data_dir.mkdir()
    write_learnable_histories(data_dir)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"model": MODEL.to_dict(), "train": TRAIN.to_dict()}))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "ad_agent.distributed", "--data", str(data_dir), "--config", str(config_file), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(command, env=env, check=True, timeout=120, capture_output=True)

    single, _ = train(FlatHistories.load(data_dir, n_actions=5), MODEL, TRAIN)
    parallel = load_file(out / "model.safetensors")
    assert parallel.keys() == single.state_dict().keys()
    for name, tensor in single.state_dict().items():
        torch.testing.assert_close(parallel[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
