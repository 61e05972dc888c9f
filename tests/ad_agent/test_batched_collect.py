"""Collecting with batched learners: the same run files, resume after kill -9, refusals (Ray: test_collect)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ad_agent.cli import main
from ad_agent.collection.runner import SourceMismatchError, collect, make_jobs, source_for, split_jobs, work_units
from ad_agent.histories import FlatHistories, read_extras, read_run, scan, verify_run
from ad_agent.presets import get_preset, model_config_for
from ad_agent.sources import BatchedSourceConfig, SourceConfig

PRESET = get_preset("DarkRoom-v0")
# 6 tasks, batches of 2 learners, 4 rollouts each: three units of work, so a kill lands mid-collection.
TOY = ["--num-tasks", "6", "--runs-per-task", "1", "--steps", "5120", "--seed", "3"]
BATCHED = ["--batched", "--learners-per-batch", "2"]


def _jobs() -> list:
    return split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "train", 1, 3, 6)


def _runs(out: Path) -> list[Path]:
    return sorted(out.glob("*.h5"))


def test_batched_collection_writes_the_same_run_files(tmp_path, capsys):
    out = tmp_path / "h"
    assert main(["collect", *TOY, *BATCHED, "--workers", "1", "--out", str(out)]) == 0
    assert [p.name for p in _runs(out)] == sorted(job.filename for job in _jobs()) and scan(out) == {}
    streams, metadata = read_run(_runs(out)[0])
    assert metadata["source"]["kind"] == "BatchedSourceConfig" and metadata["source"]["algo"] == "PPO"
    assert metadata["source"]["learners_per_batch"] == 2 and metadata["batch"]["learners"] == 2
    assert streams.n_actors == 64 and streams.n_steps == 80
    assert set(read_extras(_runs(out)[0])) == {"terminated", "truncated", "terminal_observations", "learner_steps"}
    assert len(FlatHistories.load(out, n_actions=5).stream_starts) == 6 * 64
    assert "final_return=" in (err := capsys.readouterr().err) and "env_steps=30.7k" in err  # 6 runs x 5,120


def test_batched_collection_of_box_actions_writes_the_files_of_an_sb3_source(tmp_path):
    """Point Robot (float observations, Box actions), batched: run files that verify and load as an SB3 PPO
    run's do, with the same datasets of the same dtypes."""
    out, sb3_out = tmp_path / "h", tmp_path / "sb3"
    toy = ["--env", "PointRobot-v0", "--num-tasks", "2", "--runs-per-task", "1", "--steps", "2560", "--seed", "3"]
    assert main(["collect", *toy, *BATCHED, "--workers", "1", "--out", str(out)]) == 0
    sb3 = SourceConfig("PPO", n_envs=2, total_timesteps=80, hyperparams=dict(n_steps=20, batch_size=20))
    collect(make_jobs("PointRobot-v0", [(0.0, 0.75)], 1, 0, "train"), sb3, sb3_out, 1)
    (sb3_run,) = _runs(sb3_out)
    sb3_arrays = {**read_extras(sb3_run), **vars(read_run(sb3_run)[0])}
    assert len(_runs(out)) == 2 and scan(out) == {}
    for path in _runs(out):
        assert verify_run(path)["source"]["kind"] == "BatchedSourceConfig"
        streams = read_run(path)[0]
        arrays = {**read_extras(path), **vars(streams)}
        assert {k: (v.dtype, v.ndim) for k, v in arrays.items()} == {
            k: (v.dtype, v.ndim) for k, v in sb3_arrays.items()
        }
        assert streams.actions.shape == arrays["learner_actions"].shape == (64, 40, 2)
        assert arrays["terminal_observations"].shape == (64 * 2, 2)  # two 20-step episodes per actor
        np.testing.assert_array_equal(np.clip(arrays["learner_actions"], -1, 1), streams.actions)
    coding = model_config_for("PointRobot-v0").action_coding
    assert len(FlatHistories.load(out, coding).stream_starts) == 2 * 64


def test_units_are_batches_for_batched_sources_only():
    batched = source_for("DarkRoom-v0", PRESET.source, learners_per_batch=4)
    assert [len(u) for u in work_units(_jobs(), batched)] == [4, 2]
    assert [len(u) for u in work_units(_jobs(), PRESET.source)] == [1] * 6


def test_kill_9_mid_batched_collection_then_resume(tmp_path):
    out = tmp_path / "h"
    command = [sys.executable, "-m", "ad_agent.cli", "collect", *TOY, *BATCHED, "--workers", "2", "--out", str(out)]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    while not _runs(out):
        assert process.poll() is None, "collection ended before it could be killed"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert 1 <= len(_runs(out)) < 6 and scan(out) == {}
    assert main(["collect", *TOY, *BATCHED, "--workers", "1", "--out", str(out)]) == 0
    assert [p.name for p in _runs(out)] == sorted(job.filename for job in _jobs()) and scan(out) == {}


def test_batched_and_sb3_runs_are_not_mixed_in_one_folder(tmp_path):
    jobs = _jobs()[:1]
    sb3 = SourceConfig("PPO", n_envs=4, total_timesteps=80, hyperparams=dict(n_steps=20, batch_size=40))
    collect(jobs, sb3, tmp_path, 1)
    batched = BatchedSourceConfig("PPO", n_envs=4, total_timesteps=80, hyperparams=dict(n_steps=20, batch_size=40))
    with pytest.raises(SourceMismatchError, match="kind"):
        collect(jobs, batched, tmp_path, 1)


def test_cli_refuses_a_batch_size_below_one(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["collect", "--batched", "--learners-per-batch", "0", "--out", "unused"])
    assert exit_info.value.code == 2 and "--learners-per-batch" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--env", "AdversarialBandit-v0", "--batched"], "batched learners replace SB3 PPO/A2C learners"),
        (["--algo", "DQN", "--batched"], "batched learners implement"),
        (
            ["--batched", "--learners-per-batch", "100000", "--num-tasks", "64", "--runs-per-task", "64"],
            "use at most",
        ),
    ],
)
def test_cli_refuses_what_cannot_work_before_any_work(tmp_path, capsys, argv, match):
    out = tmp_path / "h"
    assert main(["collect", *argv, "--out", str(out)]) == 2
    assert match in capsys.readouterr().err
    assert not _runs(out) if out.exists() else True
