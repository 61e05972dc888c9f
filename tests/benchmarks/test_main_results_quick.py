"""main_results --quick end to end on Dark Room: every method measured, the figure drawn, the report built."""

import argparse
import json
from concurrent.futures import ProcessPoolExecutor

import pytest

from benchmarks import main_results, report


@pytest.mark.slow
def test_quick_main_results_records_every_method_and_plots_them(tmp_path) -> None:
    results = tmp_path / "results"
    argv = ["--quick", "--env", "DarkRoom-v0", "--workdir", str(tmp_path / "work"), "--results", str(results)]
    main_results.main([*argv, "--workers", "1"])

    record = json.loads((results / "main_results_darkroom_quick.json").read_text())
    assert record["mode"] == "quick"
    assert [c["method"] for c in record["curves"]] == list(main_results.METHODS)
    efficiency = record["tables"]["Environment steps until the mean return first reaches 80% / 90% of optimal"]
    assert set(efficiency) == set(main_results.METHODS)
    assert efficiency["optimal"] == {"80%": 20, "90%": 20}  # optimal is optimal from its first episode
    assert {f["claim"] for f in record["findings"]} >= {"ED does not learn in context, and AD ends above it"}
    png = results / record["plots"][0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    out = report.build(results, tmp_path / "REPORT.md", include_quick=True)
    text = out.read_text()
    assert record["title"] in text and "main_results_darkroom_quick.png" in text
    assert report.build(results, tmp_path / "FULL.md").read_text().count("No experiment records yet") == 1


@pytest.mark.slow
def test_methods_measured_at_once_give_the_curves_measured_one_by_one(tmp_path, monkeypatch) -> None:
    """--jobs N measures AD, ED, the source and RL^2 in processes of their own: same seeds, same numbers."""
    pools = []

    def watched_pool(workers, *args, **kwargs):
        pools.append(workers)
        return ProcessPoolExecutor(workers, *args, **kwargs)

    monkeypatch.setattr(main_results, "ProcessPoolExecutor", watched_pool)
    records = {}
    for jobs in (1, 2):
        results = tmp_path / f"results{jobs}"
        argv = [
            "--quick",
            "--env",
            "DarkRoom-v0",
            "--workdir",
            str(tmp_path / f"work{jobs}"),
            "--results",
            str(results),
        ]
        main_results.main([*argv, "--workers", "1", "--jobs", str(jobs)])
        records[jobs] = json.loads((results / "main_results_darkroom_quick.json").read_text())
    assert pools == [2]  # only --jobs 2 started processes
    curves = {jobs: {c["method"]: c["mean"] for c in record["curves"]} for jobs, record in records.items()}
    assert list(curves[2]) == list(main_results.METHODS) and curves[2] == curves[1]
    assert all(seconds is not None for seconds in records[2]["compute_seconds"].values())  # each cached its piece


@pytest.mark.slow
def test_budget_options_reach_the_run_and_name_its_caches(tmp_path) -> None:
    """Task subsets, episodes, trials and training steps are what the record states and the caches are named by."""
    results, work = tmp_path / "results", tmp_path / "work"
    options = ["--num-tasks", "2", "--test-tasks", "2", "--episodes", "3", "--trials", "2", "--train-steps", "5"]
    argv = ["--quick", "--env", "DarkRoom-v0", "--workdir", str(work), "--results", str(results), "--workers", "1"]
    main_results.main([*argv, *options])

    record = json.loads((results / "main_results_darkroom_steps5_quick.json").read_text())
    ad = next(c for c in record["curves"] if c["method"] == "AD")
    assert len(ad["mean"]) == 3 and record["budgets"]["held_out_tasks"] == 2
    assert "3 in-context episodes x 2 trials per task" in record["budgets"]["AD/ED"]
    assert "5 gradient steps" in record["budgets"]["AD/ED"]
    policies = sorted(p.name for p in (work / "DarkRoom-v0" / "policies").iterdir())
    assert policies == ["ad-steps5-seed0", "ed-steps5-seed0"]
    assert len(list((work / "DarkRoom-v0" / "tasks2-seed0").glob("*.h5"))) == 2


def test_env_without_a_preset_fails_with_a_clear_message(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(main_results, "PRESETS", {})
    with pytest.raises(SystemExit, match="no pipeline preset for DarkRoomHard-v0"):
        main_results.main(["--env", "DarkRoomHard-v0", "--workdir", str(tmp_path), "--results", str(tmp_path)])


@pytest.mark.parametrize("option", ["--num-tasks", "--test-tasks", "--episodes", "--trials", "--train-steps"])
def test_budget_options_refuse_non_positive_values_before_any_work(tmp_path, capsys, option) -> None:
    with pytest.raises(SystemExit) as exit_:
        main_results.main(["--quick", option, "0", "--workdir", str(tmp_path / "work"), "--results", str(tmp_path)])
    assert exit_.value.code == 2 and f"argument {option}: must be a positive integer, got 0" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_a_scripted_source_is_named_apart_and_refused_with_batched_before_any_work(tmp_path, capsys) -> None:
    args = argparse.Namespace(train_steps=None, num_tasks=None, runs_per_task=5, batched=False, source="grid-search")
    assert main_results.data_name(args) == "x5-gridsearch" and main_results.policy_names(args)[0] == "ad-gridsearch"
    budgets = main_results.quick_budgets()
    main_results.use_data_options(args, budgets)
    assert budgets.data["source"] == "grid-search" and "steps" not in budgets.data  # SB3's budget does not apply
    argv = ["--quick", "--source", "grid-search", "--batched", "--workdir", str(tmp_path / "work")]
    with pytest.raises(SystemExit) as exit_:
        main_results.main([*argv, "--results", str(tmp_path)])
    assert exit_.value.code == 2 and "--source grid-search is not one" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_a_single_stream_source_is_named_labelled_and_collected_with_its_own_budget(tmp_path, capsys) -> None:
    args = argparse.Namespace(
        train_steps=6000, num_tasks=231, runs_per_task=5, batched=True, source="preset", single_stream=True,
        source_steps=20000, learners_per_batch=289,
    )  # fmt: skip
    assert main_results.data_name(args) == "tasks231x5-singlestream-envsteps20000-batched"
    assert main_results.policy_names(args)[0] == "ad-steps6000-singlestream-envsteps20000-batched"
    assert main_results.source_label(args) == ", single-stream batched PPO, 20000 env steps per run"
    budgets = main_results.quick_budgets()
    main_results.use_data_options(args, budgets)
    assert budgets.data["single_stream"] is True and budgets.data["steps"] == 20000
    assert budgets.data["learners_per_batch"] == 289  # batches seed their learners: part of the data
    argv = ["--quick", "--source", "noisy-expert", "--single-stream", "--source-steps", "100"]
    with pytest.raises(SystemExit) as exit_:
        main_results.main([*argv, "--workdir", str(tmp_path / "work"), "--results", str(tmp_path)])
    message = "--single-stream, --source-steps change(s) an SB3 learner; --source noisy-expert is not one"
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "work").exists()
    with pytest.raises(SystemExit) as exit_:
        main_results.main(["--quick", "--learners-per-batch", "8", "--workdir", str(tmp_path / "work")])
    assert exit_.value.code == 2 and "--learners-per-batch sizes the batches of --batched" in capsys.readouterr().err
