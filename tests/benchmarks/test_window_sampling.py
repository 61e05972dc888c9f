"""window_sampling: disk and memory draw the same windows, and the record says what each costs."""

import json

from ad_agent.histories import FlatHistories, read_run
from benchmarks import window_sampling


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
