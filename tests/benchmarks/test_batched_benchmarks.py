"""The batched-learner benchmarks' arithmetic: binned learning curves, the noise judgement, dataset summaries."""

from __future__ import annotations

import json

import numpy as np

from ad_agent.collection.runner import collect, split_jobs
from ad_agent.presets import get_preset
from ad_agent.sources import BatchedSourceConfig
from benchmarks.batched_sources import binned_curve, compare
from benchmarks.paper_scale import dataset_summary


def test_binned_curve_averages_the_episodes_that_end_in_each_span():
    # one actor: episodes of returns 1, 2 and 4 end after steps 2, 3 and 5; the one opened at row 5 is cut
    rewards = np.array([[0, 1, 2, 1, 3, 3, 9.0]])
    starts = np.array([[1, 0, 1, 1, 0, 1, 0]], dtype=bool)
    curve = binned_curve(rewards, starts, n_actors=1, total_steps=7, bins=2)  # spans: steps 1-4, 5-7
    np.testing.assert_allclose(curve, [1.5, 4.0])


def test_binned_curve_counts_steps_over_all_actors_and_leaves_empty_spans_nan():
    rewards, starts = np.ones((2, 4)), np.array([[1, 0, 1, 0], [1, 0, 0, 0]], dtype=bool)
    curve = binned_curve(rewards, starts, n_actors=2, total_steps=8, bins=4)  # actor 0's episode ends at step 4
    assert np.isnan(curve[[0, 2, 3]]).all() and curve[1] == 2.0


def test_compare_judges_a_paired_difference_by_its_standard_error():
    theirs = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    close = compare(theirs + np.array([[0.1, 1.0], [-0.1, 1.1], [0.05, 0.9]]), theirs)
    np.testing.assert_allclose(close["difference"], [0.05 / 3, 1.0], atol=1e-12)
    assert close["within"].tolist() == [True, False]


def test_dataset_summary_counts_runs_tasks_and_solved(tmp_path):
    preset = get_preset("DarkRoom-v0")
    jobs = split_jobs("DarkRoom-v0", preset.task_env.tasks, "train", 1, 0, 2)
    source = BatchedSourceConfig(
        "PPO", 8, 3200, dict(n_steps=20, batch_size=80, learning_rate=3e-3), learners_per_batch=2
    )
    collect(jobs, source, tmp_path, workers=1)
    summary = dataset_summary(tmp_path, preset.task_env)
    assert summary["runs"] == 2 and summary["distinct_tasks"] == 2 and summary["env_steps"] == 2 * 8 * 400
    assert 0.0 <= summary["solved_fraction"] <= 1.0 and summary["disk_bytes"] > 0


def test_a_partial_measurement_keeps_the_other_envs_entries(tmp_path, monkeypatch) -> None:
    from benchmarks import batched_sources

    record = {"load_average_1min": 2.3, "seed": 0, "DarkRoom-v0": {"curves_match": True}, "plot": "x.png"}
    (tmp_path / "batched_sources.json").write_text(json.dumps(record))
    monkeypatch.setattr(batched_sources, "RESULTS_DIR", tmp_path)
    assert batched_sources.previous_envs("batched_sources") == {
        "DarkRoom-v0": {"curves_match": True, "measured_with": {"load_average_1min": 2.3, "seed": 0}}
    }
    assert batched_sources.previous_envs("batched_sources_a2c") == {}
