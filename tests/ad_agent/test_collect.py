"""Collection: task splits and source algorithms, crash-safe resume, corrupted files, the Ray backend."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ad_agent.cli import main
from ad_agent.collection.runner import (
    SourceMismatchError,
    collect,
    make_jobs,
    plan_collection,
    scripted_source,
    source_for,
    split_jobs,
)
from ad_agent.histories import read_run, scan, write_run
from ad_agent.presets import DARKROOM_PPO, SOURCE_PRESETS, get_preset
from ad_agent.sources import BatchedSourceConfig, GridSearchConfig, NoisyExpertConfig, SourceConfig
from envs.core import evenly_spaced

PRESET = get_preset("DarkRoom-v0")
# 4 tasks x 2 runs of ~0.5 s each (four PPO rollouts of 64 actors): a kill lands mid-collection.
TOY = ["--num-tasks", "4", "--runs-per-task", "2", "--steps", "5120", "--seed", "3"]


def _cli_command(out: Path) -> list[str]:
    return [sys.executable, "-m", "ad_agent.cli", "collect", *TOY, "--workers", "2", "--out", str(out)]


def _runs(out: Path) -> list[Path]:
    return sorted(out.glob("*.h5"))


def _leftovers(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.suffix != ".h5"]


def _assert_complete(out: Path) -> None:
    """Exactly the 8 expected run files, each sound, and nothing else in the folder."""
    assert [p.name for p in _runs(out)] == sorted(job.filename for job in _toy_jobs())
    assert scan(out) == {} and _leftovers(out) == []


def _toy_jobs() -> list:
    return split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "train", 2, 3, 4)


def _wait_for_run(out: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (out.is_dir() and _runs(out)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no run file appeared"
        time.sleep(0.05)


def test_tasks_option_picks_the_split_and_tags_each_job():
    train = split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "train", 2, 0, 3)
    test = split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "test", 2, 0, 3)
    both = split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "all", 2, 0, 3)
    assert [job.env_kwargs["task"] for job in test[::2]] == evenly_spaced(PRESET.test_tasks, 3)
    assert {job.split for job in train} == {"train"} and {job.split for job in test} == {"test"}
    assert both == train + test
    assert len({job.seed for job in both}) == len({job.filename for job in both}) == 12
    assert len(split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "test", 1, 0)) == len(PRESET.test_tasks)


def test_a_task_subset_is_spread_and_reuses_the_whole_splits_jobs():
    """``num_tasks`` keeps tasks from the whole split (not its first corner), each with the very job
    (seed included) the whole split plans for it, so a subset links a full collection's runs."""
    whole = split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "train", 2, 0)
    assert whole == make_jobs("DarkRoom-v0", PRESET.train_tasks, 2, 0, "train")  # old datasets resume
    subset = split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "train", 2, 0, 4)
    tasks = [job.env_kwargs["task"] for job in subset[::2]]
    assert tasks == evenly_spaced(PRESET.train_tasks, 4)
    assert tasks[0] == PRESET.train_tasks[0] and tasks[-1] == PRESET.train_tasks[-1]
    assert all(job in whole for job in subset) and len(subset) == 8


def test_split_is_written_in_each_run(tmp_path):
    jobs = split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "all", 1, 0, 1)
    collect(jobs, NoisyExpertConfig(n_actors=2, episodes=2), tmp_path, workers=1)
    splits = {read_run(tmp_path / job.filename)[1]["split"]: job.env_kwargs["task"] for job in jobs}
    assert splits == {"train": PRESET.train_tasks[0], "test": PRESET.test_tasks[0]}


def test_resuming_with_another_source_is_refused_not_mixed(tmp_path):
    jobs = split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "train", 1, 0, 2)
    first = NoisyExpertConfig(n_actors=2, episodes=2)
    collect(jobs[:1], first, tmp_path, workers=1)
    assert [job.filename for job in plan_collection(jobs, tmp_path, first).todo] == [jobs[1].filename]
    other = dataclasses.replace(first, episodes=3)
    with pytest.raises(SourceMismatchError, match="collect into a new folder"):
        collect(jobs, other, tmp_path, workers=1)
    assert len(_runs(tmp_path)) == 1  # nothing was added to the mixed-up folder


def test_runs_recorded_before_a_source_setting_existed_count_as_its_default(tmp_path):
    jobs = split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "train", 1, 0, 2)
    source = NoisyExpertConfig(n_actors=2, episodes=2)
    collect(jobs[:1], source, tmp_path, workers=1)
    path = tmp_path / jobs[0].filename
    streams, meta = read_run(path)
    assert meta["final_return"] == streams.final_return()  # the one meaning of a run's final return
    del meta["source"]["anneal_fraction"]  # as an older version, without that setting, wrote it
    write_run(path, streams, meta)
    assert [job.filename for job in plan_collection(jobs, tmp_path, source).todo] == [jobs[1].filename]
    other = dataclasses.replace(source, anneal_fraction=0.5)
    with pytest.raises(SourceMismatchError, match="anneal_fraction"):
        plan_collection(jobs, tmp_path, other)


def test_cli_resume_with_other_steps_exits_2_naming_the_run(tmp_path, capsys):
    toy = ["--num-tasks", "1", "--runs-per-task", "1", "--workers", "1", "--out", str(tmp_path / "h")]
    assert main(["collect", "--steps", "128", *toy]) == 0
    assert main(["collect", "--steps", "256", *toy]) == 2
    assert "collected with another source (total_timesteps: 128 there, 256 now)" in capsys.readouterr().err


def test_algo_option_keeps_the_presets_scale_with_sb3_defaults():
    assert source_for("DarkRoom-v0", DARKROOM_PPO) is DARKROOM_PPO
    assert source_for("DarkRoom-v0", DARKROOM_PPO, "PPO") is DARKROOM_PPO
    tuned = SOURCE_PRESETS[("DarkRoom-v0", "DQN")]
    assert source_for("DarkRoom-v0", DARKROOM_PPO, "DQN", 1280) == dataclasses.replace(tuned, total_timesteps=1280)
    assert ("DarkRoom-v0", "QRDQN") not in SOURCE_PRESETS  # no tuned one: SB3 defaults, the preset's scale
    assert source_for("DarkRoom-v0", DARKROOM_PPO, "QRDQN") == SourceConfig("QRDQN", 64, 60_000)
    with pytest.raises(ValueError, match="step budget applies to SB3 learners"):
        source_for("DarkRoom-v0", NoisyExpertConfig(), total_timesteps=100)


def test_cli_algo_is_recorded_in_the_runs(tmp_path):
    out = tmp_path / "h"
    toy = ["--num-tasks", "1", "--runs-per-task", "1", "--steps", "128", "--workers", "1", "--out", str(out)]
    assert main(["collect", "--algo", "A2C", "--tasks", "test", *toy]) == 0
    (meta,) = [read_run(path)[1] for path in _runs(out)]
    assert meta["source"]["algo"] == "A2C" and meta["split"] == "test"
    assert meta["task"]["task"] == list(PRESET.test_tasks[0])


def test_single_stream_source_is_one_actor_for_the_whole_budget_batched_or_not():
    one = source_for("DarkRoom-v0", DARKROOM_PPO, total_timesteps=4000, one_actor=True)
    assert (one.n_envs, one.total_timesteps, one.hyperparams["batch_size"]) == (1, 4000, 20)
    assert source_for("DarkRoom-v0", DARKROOM_PPO, one_actor=True).total_timesteps == DARKROOM_PPO.total_timesteps
    batched = source_for("DarkRoom-v0", DARKROOM_PPO, learners_per_batch=8, one_actor=True)
    assert isinstance(batched, BatchedSourceConfig) and batched.n_envs == 1 and batched.hyperparams["batch_size"] == 20
    with pytest.raises(ValueError, match="one actor per run applies to SB3 learners, not to NoisyExpertConfig"):
        source_for("DarkRoom-v0", NoisyExpertConfig(), one_actor=True)


def test_cli_single_stream_records_one_stream_per_run(tmp_path, capsys):
    out = tmp_path / "h"
    toy = ["--num-tasks", "1", "--runs-per-task", "2", "--steps", "200", "--workers", "1", "--out", str(out)]
    assert main(["collect", "--single-stream", "--batched", *toy]) == 0
    runs = [read_run(path) for path in _runs(out)]
    assert len(runs) == 2
    for streams, meta in runs:
        assert meta["source"]["n_envs"] == 1 and len(streams.actions) == 1 and streams.actions[0].shape == (200,)
    assert main(["collect", "--source", "grid-search", "--single-stream", *toy]) == 2
    assert "so --steps, --single-stream cannot change it" in capsys.readouterr().err


def test_cli_source_collects_a_scripted_source_and_refuses_what_it_cannot_do(tmp_path, capsys):
    out = tmp_path / "h"
    toy = ["--num-tasks", "1", "--runs-per-task", "1", "--workers", "1", "--out", str(out)]
    assert main(["collect", "--source", "grid-search", *toy]) == 0
    (meta,) = [read_run(path)[1] for path in _runs(out)]
    assert meta["source"] == {"kind": "GridSearchConfig", **dataclasses.asdict(GridSearchConfig())}
    assert main(["collect", "--source", "grid-search", "--env", "DarkKeyToDoor-v0", *toy]) == 2
    assert "the grid-search source plays DarkRoom-v0, DarkRoomHard-v0, not DarkKeyToDoor-v0" in capsys.readouterr().err
    assert main(["collect", "--source", "noisy-expert", "--batched", "--steps", "128", *toy]) == 2
    refusal = "--source noisy-expert is not an SB3 learner, so --steps, --batched cannot change it"
    assert refusal in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown scripted source 'ucb'; choose from noisy-expert, grid-search"):
        scripted_source("ucb", "DarkRoom-v0")
    assert scripted_source("noisy-expert", "AdversarialBandit-v0") == NoisyExpertConfig()


@pytest.mark.parametrize(
    "option, value, match",
    [
        ("--algo", "DDPG", "argument --algo: invalid choice: 'DDPG'"),
        ("--tasks", "valid", "argument --tasks: invalid choice: 'valid'"),
        ("--backend", "dask", "argument --backend: invalid choice: 'dask'"),
    ],
)
def test_cli_refuses_bad_options(tmp_path, capsys, option, value, match):
    with pytest.raises(SystemExit) as exit_:
        main(["collect", option, value, "--out", str(tmp_path / "h")])
    assert exit_.value.code == 2 and match in capsys.readouterr().err
    assert not (tmp_path / "h").exists()


def test_cli_refuses_a_learner_for_the_other_kind_of_actions(tmp_path, capsys):
    assert main(["collect", "--algo", "SAC", "--out", str(tmp_path / "h")]) == 2
    assert "SAC learns continuous (Box) actions only; DarkRoom-v0's action space is Discrete" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()


def test_library_refuses_bad_options(tmp_path):
    jobs = make_jobs("DarkRoom-v0", [(0, 0)], 1, 0, "train")
    with pytest.raises(ValueError, match="unknown source algorithm 'DDPG'; choose from A2C, DQN"):
        source_for("DarkRoom-v0", DARKROOM_PPO, "DDPG")
    with pytest.raises(ValueError, match="SAC learns continuous \\(Box\\) actions only"):
        source_for("DarkRoom-v0", DARKROOM_PPO, "SAC")
    with pytest.raises(ValueError, match="DQN learns Discrete actions only; PointRobot-v0's"):
        collect(make_jobs("PointRobot-v0", [(0.0, 1.0)], 1, 0, "train"), SourceConfig("DQN"), tmp_path)
    with pytest.raises(ValueError, match="unknown task split 'valid'; choose from train, test, all"):
        split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "valid", 1, 0)
    with pytest.raises(ValueError, match="num_tasks must be >= 1, got 0"):
        split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "train", 1, 0, num_tasks=0)
    with pytest.raises(ValueError, match="unknown backend 'dask'; choose from local, ray"):
        collect(jobs, DARKROOM_PPO, tmp_path, backend="dask")
    with pytest.raises(ValueError, match="address is for the ray backend only"):
        collect(jobs, NoisyExpertConfig(n_actors=1, episodes=1), tmp_path, address="10.0.0.1:6379")


def test_corrupted_run_is_named_moved_aside_and_redone(tmp_path, capsys):
    out = tmp_path / "h"
    toy = ["--num-tasks", "2", "--runs-per-task", "1", "--steps", "128", "--workers", "1", "--out", str(out)]
    assert main(["collect", *toy]) == 0
    bad, good = _runs(out)
    intact = good.read_bytes()
    bad.write_bytes(bad.read_bytes()[:1000])  # truncated, as by a full disk
    capsys.readouterr()
    assert main(["collect", *toy]) == 0
    captured = capsys.readouterr()
    assert f"corrupted run {bad} moved aside to {bad.name}.corrupt" in captured.err
    assert "(1 were already there)" in captured.out
    assert scan(out) == {} and good.read_bytes() == intact
    assert (out / f"{bad.name}.corrupt").stat().st_size == 1000


def test_kill_9_of_the_whole_collection_then_resume(tmp_path):
    out = tmp_path / "h"
    process = subprocess.Popen(_cli_command(out), start_new_session=True, stderr=subprocess.DEVNULL)
    _wait_for_run(out, process)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert 1 <= len(_runs(out)) < 8 and scan(out) == {}  # partial, yet every file counted is whole
    (out / f".{_runs(out)[0].name}.12345.tmp").write_bytes(b"half a run")  # as a writer killed mid-write leaves
    assert main(["collect", *TOY, "--workers", "1", "--out", str(out)]) == 0
    _assert_complete(out)


@pytest.mark.skipif(sys.platform != "linux", reason="finds the pool's workers in /proc")
def test_kill_9_of_one_worker_fails_clearly_then_resume(tmp_path):
    out = tmp_path / "h"
    process = subprocess.Popen(_cli_command(out), start_new_session=True, stderr=subprocess.PIPE, text=True)
    _wait_for_run(out, process)
    os.kill(_pool_workers(process.pid)[0], signal.SIGKILL)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2, err
    assert "a worker process died (killed, or out of memory?)" in err and "re-run the same command" in err
    assert plan_collection(_toy_jobs(), out).todo
    assert main(["collect", *TOY, "--workers", "1", "--out", str(out)]) == 0
    _assert_complete(out)


def _pool_workers(pid: int) -> list[int]:
    """The process pool's workers among ``pid``'s children (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_ray_backend_on_a_local_instance(tmp_path, capsys):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        jobs = split_jobs("DarkRoom-v0", PRESET.task_env.tasks, "all", 1, 0, 1)
        finished = []
        summaries = collect(jobs, NoisyExpertConfig(n_actors=2, episodes=3), tmp_path / "h", 2, finished.append, "ray")
        assert sorted(s["file"] for s in summaries) == sorted(job.filename for job in jobs) and finished == summaries
        assert scan(tmp_path / "h") == {}
        toy = ["--num-tasks", "1", "--runs-per-task", "2", "--steps", "128", "--out", str(tmp_path / "cli")]
        assert main(["collect", "--backend", "ray", *toy]) == 0
        assert len(_runs(tmp_path / "cli")) == 2 and "final_return=" in capsys.readouterr().err
        batched = BatchedSourceConfig("PPO", 4, 80, dict(n_steps=20, batch_size=40), learners_per_batch=1)
        summaries = collect(jobs, batched, tmp_path / "batched", 2, backend="ray")  # a Ray task per batch
        assert sorted(s["file"] for s in summaries) == sorted(job.filename for job in jobs)
        assert scan(tmp_path / "batched") == {}
    finally:
        ray.shutdown()
