"""window_sampling: disk and memory draw the same windows, and the record says what each costs."""

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest

from ad_agent.histories import FlatHistories, Streams, read_run, write_run
from benchmarks import window_sampling
from envs.core import observation_table


def make_streams(actors: int, steps: int) -> Streams:
    rng = np.random.default_rng(0)
    starts = np.arange(steps) % 25 == 0
    return Streams(
        rng.integers(0, 9, (actors, steps, 2)),
        rng.integers(0, 5, (actors, steps)),
        np.zeros((actors, steps), np.float32),
        np.broadcast_to(starts, (actors, steps)).copy(),
    )


def test_synthetic_runs_are_shaped_as_the_batched_learner_writes_them(tmp_path) -> None:
    window_sampling.write_synthetic_runs(tmp_path, seed=0, n_runs=2, actors=3, steps=40)
    streams, meta = read_run(tmp_path / "run001.h5")
    assert streams.observations.shape == (3, 40, 2) and meta["env_id"] == window_sampling.ENV_ID
    assert FlatHistories.load(tmp_path, n_actions=5).stream_lengths.tolist() == [40] * 6


def test_record_has_both_readers_and_a_training_step(tmp_path) -> None:
    window_sampling.main(
        ["--runs", "2", "--batches", "2", "--train-steps", "1", "--threads", "1", "--results", str(tmp_path)]
    )
    record = json.loads((tmp_path / "window_sampling.json").read_text())
    seconds = record["seconds_per_batch"]
    assert seconds["in memory"] > 0 and seconds["from disk"] > 0 and record["train_step_seconds"] > 0
    assert 0 < record["from_disk_share_of_a_train_step"] < 1 and "command" in record


def test_a_collected_dataset_adds_what_loading_holds_and_training_from_disk(tmp_path) -> None:
    data = window_sampling.write_synthetic_runs(tmp_path / "data", seed=1, n_runs=2, actors=3, steps=300)
    results = tmp_path / "results"
    args = ["--batches", "2", "--train-steps", "1", "--threads", "1", "--results", str(results)]
    window_sampling.main([*args, "--histories", str(data)])
    record = json.loads((results / "window_sampling_darkroomhard.json").read_text())
    assert record["runs"] == 2 and record["steps"] == 2 * 3 * 300 and record["histories"] == str(data)
    # (x, y) and actions fit a byte each where the files hold 8: 2 + 1 + 1 + 4 + 1 against 16 + 16 + 4 + 1
    assert record["held_bytes"] == 1800 * 9 and record["held_at_file_widths_bytes"] == 1800 * 37
    assert record["train_step_seconds_from_disk"] > 0 and record["train_from_disk_over_in_memory"] > 0
    assert record["load_peak_rss_gib"] >= record["peak_rss_before_load_gib"] > 0


def test_image_histories_are_measured_held_as_table_rows_with_their_envs_model(tmp_path) -> None:
    env = gym.make("PixelWatermaze-v0")
    table = observation_table(env)
    env.close()
    rows = np.random.default_rng(0).integers(0, len(table), size=(3, 250))
    plain = make_streams(3, 250)
    streams = dataclasses.replace(plain, observations=table[rows], actions=plain.actions % 3)  # 3 maze actions
    write_run(tmp_path / "data" / "a.h5", streams, {"env_id": "PixelWatermaze-v0"})
    args = ["--batches", "2", "--train-steps", "1", "--threads", "1", "--results", str(tmp_path / "results")]
    window_sampling.main([*args, "--env", "PixelWatermaze-v0", "--histories", str(tmp_path / "data")])
    record = json.loads((tmp_path / "results" / "window_sampling_pixelwatermaze.json").read_text())
    steps, image = 750, table[0].nbytes
    distinct = len(np.unique(rows))  # the table loading holds, and a 2-byte row number per step
    assert record["held_bytes"] == distinct * image + steps * (2 + 1 + 1 + 4 + 1)
    assert record["held_at_file_widths_bytes"] == steps * (image + 8 + 8 + 4 + 1)
    assert record["env_id"] == "PixelWatermaze-v0" and record["train_from_disk_over_in_memory"] > 0


def test_another_env_needs_its_own_histories(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        window_sampling.main(["--env", "PixelWatermaze-v0", "--results", str(tmp_path)])
    assert exit_.value.code == 2 and "--env PixelWatermaze-v0 needs --histories" in capsys.readouterr().err


def test_a_dataset_of_another_env_is_refused(tmp_path) -> None:
    write_run(tmp_path / "a.h5", make_streams(2, 250), {"env_id": "DarkRoom-v0"})
    with pytest.raises(SystemExit, match="no DarkRoomHard-v0 histories"):
        window_sampling.main(["--histories", str(tmp_path), "--results", str(tmp_path / "results")])
