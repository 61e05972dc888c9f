"""The shared experiment helpers (curves, steps-to-threshold, tables, plots, caches) and the report built from them."""

import argparse
import json
import time

import numpy as np
import pytest

from ad_agent.histories import read_run
from ad_agent.training.loop import TrainConfig
from benchmarks import report
from benchmarks.experiments import (
    Curve,
    adopt_trained_policy,
    cached_returns,
    compute_seconds,
    dataset_key,
    efficiency_table,
    finding,
    plot_curves,
    save_experiment,
    training_key,
)


def test_curve_counts_steps_per_episode_and_averages_runs() -> None:
    returns = np.array([[0.0, 4.0, 8.0], [2.0, 6.0, 10.0]])
    curve = Curve.from_returns("AD", returns, episode_length=20)
    np.testing.assert_array_equal(curve.steps, [20, 40, 60])
    np.testing.assert_allclose(curve.mean, [1.0, 5.0, 9.0])
    np.testing.assert_allclose(curve.std, [1.0, 1.0, 1.0])
    assert curve.n == 2


def test_curves_pooled_equal_the_curve_of_their_returns_together_and_survive_a_record() -> None:
    rng = np.random.default_rng(0)
    apart = [rng.random((n, 4)) for n in (3, 5)]  # two runs of different sizes: weighted by their counts
    parts = [Curve.from_dict(json.loads(json.dumps(Curve.from_returns("AD", r, 20).to_dict()))) for r in apart]
    pooled, together = Curve.pooled("AD", parts), Curve.from_returns("AD", np.concatenate(apart), 20)
    np.testing.assert_allclose(pooled.mean, together.mean)
    np.testing.assert_allclose(pooled.std, together.std)
    assert pooled.n == together.n == 8 and np.array_equal(pooled.steps, together.steps)
    with pytest.raises(ValueError, match="same episodes"):
        Curve.pooled("AD", [parts[0], Curve.from_returns("AD", apart[1], 10)])


@pytest.mark.parametrize(("threshold", "expected"), [(0.5, 20), (5.0, 40), (9.0, 60), (9.5, None)])
def test_steps_to_reach_is_the_first_episode_at_or_above(threshold: float, expected: int | None) -> None:
    curve = Curve.from_returns("AD", np.array([[1.0, 5.0, 9.0]]), episode_length=20)
    assert curve.steps_to_reach(threshold) == expected


def test_efficiency_table_uses_fractions_of_optimal() -> None:
    fast = Curve.from_returns("fast", np.array([[5.0, 8.5, 9.5]]), episode_length=10)
    slow = Curve.from_returns("slow", np.array([[1.0, 2.0, 8.0]]), episode_length=10)
    table = efficiency_table([fast, slow], optimal=10.0)
    assert table == {"fast": {"80%": 20, "90%": 30}, "slow": {"80%": 30, "90%": None}}


def test_plot_curves_writes_a_png(tmp_path) -> None:
    curve = Curve.from_returns("AD", np.random.default_rng(0).random((3, 5)), episode_length=20)
    path = plot_curves([curve], optimal=1.0, random=0.1, title="t", path=tmp_path / "fig.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cached_returns_computes_once_per_job_and_again_when_it_changes(tmp_path) -> None:
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.arange(len(calls) * 3.0)

    first = cached_returns(tmp_path / "job", {"steps": 10}, compute)
    again = cached_returns(tmp_path / "job", {"steps": 10}, compute)
    np.testing.assert_array_equal(first, again)
    changed = cached_returns(tmp_path / "job", {"steps": 20}, compute)
    assert len(calls) == 2 and len(changed) == 6


def test_cached_returns_runs_setup_first_only_on_a_miss_and_leaves_it_out_of_the_seconds(tmp_path) -> None:
    setups = []

    def slow_setup() -> None:  # as training the policy that compute then plays
        setups.append(1)
        time.sleep(0.3)

    for _ in range(2):
        cached_returns(tmp_path / "job", {"steps": 10}, lambda: np.zeros(3), slow_setup)
    assert len(setups) == 1
    assert compute_seconds(tmp_path / "job") < 0.3


def test_a_job_renamed_by_a_preset_change_is_found_under_its_new_name_for_the_same_seed_only(tmp_path) -> None:
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.full(3, float(len(calls)))

    def job(preset_steps: int, steps: int | None, lr: float = 1e-3) -> dict:
        return {"train": {"steps": preset_steps, "peak_lr": lr}, "steps": steps, "seed": 0}

    old = cached_returns(tmp_path / "ad-steps20-seed0", job(10, 20), compute)  # the preset trained 10 then
    renamed = cached_returns(tmp_path / "ad-seed0", job(20, None), compute)  # the preset's default is now 20
    np.testing.assert_array_equal(renamed, old)
    assert len(calls) == 1 and (tmp_path / "ad-steps20-seed0" / "returns.npy").exists()  # the old name stays valid
    assert compute_seconds(tmp_path / "ad-seed0") == compute_seconds(tmp_path / "ad-steps20-seed0")
    assert cached_returns(tmp_path / "ad-seed0", job(20, None), compute)[0] == 1.0 and len(calls) == 1

    cached_returns(tmp_path / "ad-seed1", job(20, None), compute)  # another seed is another model
    cached_returns(tmp_path / "ad-steps10-seed0", job(20, 10), compute)  # other steps
    cached_returns(tmp_path / "ad-lr-seed0", job(20, None, lr=3e-4), compute)  # another setting
    assert len(calls) == 4


def test_dataset_key_changes_with_the_runs_in_the_folder(tmp_path) -> None:
    (tmp_path / "a.h5").touch()
    first = dataset_key(tmp_path)
    assert first == {"folder": str(tmp_path), "runs": ["a.h5"]} and dataset_key(tmp_path) == first
    (tmp_path / "b.h5").touch()
    assert dataset_key(tmp_path)["runs"] == ["a.h5", "b.h5"]


def test_a_policy_trained_under_another_name_is_adopted_with_its_cost_and_no_training(tmp_path) -> None:
    from ad_agent.presets import get_preset
    from benchmarks.experiments import _mark_done, _policy_job, _record_seconds

    preset, data = get_preset("DarkRoom-v0"), tmp_path / "data"
    data.mkdir()
    policies = tmp_path / "DarkRoom-v0" / "policies"
    _record_seconds(policies / "ad-on-data-seed0", 2911.0)  # as trained_policy leaves a finished job
    _mark_done(policies / "ad-on-data-seed0", _policy_job(preset, data, None))

    adopt_trained_policy(preset, data, 0, tmp_path, "ad-searched")
    assert compute_seconds(policies / "ad-searched-seed0") == 2911.0
    adopt_trained_policy(preset, data, 0, tmp_path, "ad-other-steps", steps=10)  # another job: nothing to adopt
    adopt_trained_policy(preset, data, 1, tmp_path, "ad-searched")  # another seed: nor here
    assert sorted(p.name for p in policies.iterdir()) == ["ad-on-data-seed0", "ad-searched-seed0"]


def test_report_renders_findings_tables_and_plots_of_any_experiment(tmp_path) -> None:
    curve = Curve.from_returns("AD", np.array([[1.0, 2.0]]), episode_length=20)
    args = argparse.Namespace(quick=False, seed=3, results=tmp_path)
    figures = {
        "title": "An ablation",
        "summary": "What it compared.",
        "findings": [finding("X beats Y", True, "3 vs 2"), finding("Y is flat", False, "it rose by 4")],
        "tables": {"steps to 80%": {"X": {"80%": 40, "90%": None}}},
        "figure": "ablation.png",
        "budget": {"episodes": 50},
        "wall_time_s": 90.0,
        "seed_curves": {"5": {"0": {"curve": curve.to_dict(), "train_seconds": 1.0}}},  # for pooling, not reading
    }
    save_experiment("ablation", args, figures, [curve])
    save_experiment("ablation", argparse.Namespace(quick=True, seed=3, results=tmp_path), figures, [curve])
    (tmp_path / "other_benchmark.json").write_text('{"steps_per_s": 5}')

    text = report.build(tmp_path, tmp_path / "REPORT.md").read_text()
    assert "X beats Y: **reproduced** (3 vs 2)" in text
    assert "Y is flat: **not reproduced** (it rose by 4)" in text
    assert "| X | 40 | - |" in text and "| episodes | 50 |" in text
    assert "![ablation.png](ablation.png)" in text and "seed 3, full mode" in text
    assert "quick mode" not in text and "steps_per_s" not in text
    assert "train_seconds" not in text


def test_report_tells_records_of_one_title_apart_by_their_names(tmp_path) -> None:
    curve = Curve.from_returns("AD", np.array([[1.0, 2.0]]), episode_length=20)
    figures = {"title": "A sweep", "findings": [finding("X rises", True, "by 1")]}
    for name in ("sweep", "sweep_steps400"):
        save_experiment(name, argparse.Namespace(quick=False, seed=0, results=tmp_path), figures, [curve])
    save_experiment("other", argparse.Namespace(quick=False, seed=0, results=tmp_path), {"title": "B"}, [curve])

    text = report.build(tmp_path, tmp_path / "REPORT.md").read_text()
    assert "## A sweep (sweep)\n" in text and "## A sweep (sweep_steps400)\n" in text
    assert "- A sweep (sweep_steps400): X rises: **reproduced**" in text
    assert "## B\n" in text


def test_a_batched_dataset_is_collected_by_the_batched_learners(tmp_path) -> None:
    from benchmarks.experiments import dataset
    from benchmarks.main_results import data_name, variant

    out = dataset("DarkRoom-v0", 0, tmp_path, name="tiny", num_tasks=2, steps=1280, batched=True, workers=1)
    runs = sorted(out.glob("*.h5"))
    assert len(runs) == 2 * 2 and read_run(runs[0])[1]["source"]["kind"] == "BatchedSourceConfig"
    args = argparse.Namespace(num_tasks=1000, runs_per_task=2, batched=True, train_steps=None)
    assert data_name(args) == "tasks1000x2-batched" and variant(args) == "-batched"


def test_a_killed_policy_job_resumes_from_its_checkpoint_and_trains_the_same_model(tmp_path, monkeypatch) -> None:
    import dataclasses

    import torch

    from ad_agent.model import ModelShape
    from ad_agent.presets import get_preset
    from benchmarks import experiments
    from tests.ad_agent.synthetic import write_learnable_histories

    data = tmp_path / "data"
    write_learnable_histories(data)
    preset = get_preset("DarkRoom-v0")
    small = ModelShape(context_len=20, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    preset = dataclasses.replace(
        preset, model=small, train=dataclasses.replace(preset.train, batch_size=4, warmup_steps=2)
    )
    monkeypatch.setattr(experiments, "CHECKPOINT_EVERY", 4)
    whole = experiments.trained_policy(preset, data, 0, tmp_path / "whole", "ad", steps=12)

    real_distill = experiments.distill

    def killed_at_step_6(*args, **kwargs):
        def on_progress(record):
            if record["step"] == 6:
                raise KeyboardInterrupt

        return real_distill(*args, on_progress=on_progress, **kwargs)

    monkeypatch.setattr(experiments, "distill", killed_at_step_6)
    with pytest.raises(KeyboardInterrupt):
        experiments.trained_policy(preset, data, 0, tmp_path / "killed", "ad", steps=12)
    folder = tmp_path / "killed" / "DarkRoom-v0" / "policies" / "ad-seed0"
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["step_00000004"]
    state = folder / "checkpoints" / "step_00000004" / "state.json"  # as if the first part took 1,000 s
    saved = json.loads(state.read_text())
    saved["log"][-1]["seconds"] = 1000.0
    state.write_text(json.dumps(saved))
    steps_run = []

    def watched(*args, **kwargs):
        return real_distill(*args, on_progress=lambda record: steps_run.append(record["step"]), **kwargs)

    monkeypatch.setattr(experiments, "distill", watched)
    resumed = experiments.trained_policy(preset, data, 0, tmp_path / "killed", "ad", steps=12)
    assert steps_run[0] == 5 and steps_run[-1] == 12  # went on from the step-4 checkpoint
    assert not (folder / "checkpoints").exists() and not (folder / "pending.json").exists()
    assert (  # seconds are kept to 0.1 s, so the resumed steps may add nothing visible
        1000.0
        <= compute_seconds(folder)
        < 1000.0 + compute_seconds(tmp_path / "whole" / "DarkRoom-v0" / "policies" / "ad-seed0") + 5
    )
    for name, weight in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], weight, rtol=0, atol=0)


def test_the_cache_key_of_training_keeps_only_settings_that_change_the_weights():
    base = training_key(TrainConfig())
    neutral = TrainConfig(device="cpu", deterministic=False, eval_every=7, checkpoint_every=3, keep_checkpoints=1)
    assert training_key(neutral) == base
    assert training_key(TrainConfig(steps=2)) != base and training_key(TrainConfig(mask_prob=0.3)) != base
