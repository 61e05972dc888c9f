"""training_budget --quick: one record over several budgets, sharing main_results' caches."""

import argparse
import json
from pathlib import Path

import pytest

from ad_agent.histories import read_run, run_files
from benchmarks import experiments, training_budget


def quick_run(tmp_path: Path, *steps: str) -> tuple[Path, Path, list[str]]:
    """A quick run's cache and results folders under ``tmp_path``, and its arguments (budgets ``steps``, default 5)."""
    work, results = tmp_path / "work", tmp_path / "results"
    argv = [
        "--quick",
        "--workdir",
        str(work),
        "--results",
        str(results),
        "--workers",
        "1",
        "--steps",
        *(steps or ("5",)),
    ]
    return work, results, argv


def test_the_preset_budget_shares_main_results_cache_names() -> None:
    args = argparse.Namespace(train_steps=None, batched=True)
    assert training_budget._as_main_results(args, 1200, 1200).train_steps is None  # main_results' "ad-batched"
    assert training_budget._as_main_results(args, 3000, 1200).train_steps == 3000  # its "ad-steps3000-batched"


@pytest.mark.slow
def test_quick_budget_curve_trains_each_budget_once(tmp_path) -> None:
    work, results, argv = quick_run(tmp_path, "5", "10")
    training_budget.main(argv)
    record = json.loads((results / "training_budget_darkroom_quick.json").read_text())
    table = record["tables"]["Mean return per episode block, by training steps"]
    assert list(table) == ["5", "10"] and table["5"]["ep 1-4"] >= 0 and table["5"]["cache_name"] == "ad-steps5"
    curve = experiments.Curve.from_dict(record["curves"][0])
    assert table["5"]["env steps to 80%"] == curve.steps_to_reach(0.8 * record["optimal"])
    assert [c["method"] for c in record["curves"]] == ["AD, 5 steps", "AD, 10 steps"]
    assert all((results / name).exists() for name in record["plots"])
    policies = work / "DarkRoom-v0" / "policies"
    trained = {p.name: (p / "job.json").stat().st_mtime_ns for p in policies.iterdir()}
    assert set(trained) == {"ad-steps5-seed0", "ad-steps10-seed0"}

    training_budget.main([*argv, "20"])  # a budget added later: the earlier two come from the cache
    again = {p.name: (p / "job.json").stat().st_mtime_ns for p in policies.iterdir()}
    assert {k: again[k] for k in trained} == trained and "ad-steps20-seed0" in again
    record = json.loads((results / "training_budget_darkroom_quick.json").read_text())
    assert list(record["tables"]["Mean return per episode block, by training steps"]) == ["5", "10", "20"]


@pytest.mark.slow
def test_another_depth_has_its_own_caches_and_record_and_train_tasks_are_played_too(tmp_path) -> None:
    work, results, argv = quick_run(tmp_path)
    training_budget.main([*argv, "--n-layers", "2", "--train-tasks", "2", "--train-seeds", "2"])
    record = json.loads((results / "training_budget_darkroom_2layers_2seeds_quick.json").read_text())
    assert record["budgets"]["model"]["n_layers"] == 2 and record["title"].endswith(", 2 layers, 2 training seeds")
    row = record["tables"]["Mean return per episode block, by training steps"]["5"]
    assert "train tasks ep 1-4" in row and row["ep 1-4 std over seeds"] >= 0
    per_seed = record["tables"]["Mean return per episode block, by training seed"]
    assert list(per_seed) == ["5 steps, seed 0", "5 steps, seed 1"]
    seed_means = [per_seed[name]["ep 1-4"] for name in per_seed]  # equal trials per seed: they average to the row
    assert abs(sum(seed_means) / 2 - row["ep 1-4"]) < 2e-3
    assert abs(abs(seed_means[0] - seed_means[1]) / 2 - row["ep 1-4 std over seeds"]) < 2e-3
    assert record["curves"][0]["n"] == 2 * 3  # 2 training seeds x 3 held-out tasks
    assert record["findings"][1]["claim"].endswith("on 2 of its train tasks too")
    trained = sorted(p.name for p in (work / "DarkRoom-v0" / "policies").iterdir())
    assert trained == ["ad-2layers-steps5-seed0", "ad-2layers-steps5-seed1"]


def test_the_lstm_variant_trains_under_its_own_name_with_the_lstm_shape(tmp_path) -> None:
    work, results, argv = quick_run(tmp_path)
    training_budget.main([*argv, "--arch", "lstm", "--record-suffix", "mine"])
    record = json.loads((results / "training_budget_darkroom_lstm_mine_quick.json").read_text())
    assert record["budgets"]["model"]["arch"] == "lstm" and record["budgets"]["model"]["n_layers"] == 1
    assert record["title"].endswith(", LSTM")
    assert sorted(p.name for p in (work / "DarkRoom-v0" / "policies").iterdir()) == ["ad-lstm-steps5-seed0"]


def test_a_longer_context_trains_under_its_own_name_with_the_context_recorded(tmp_path) -> None:
    work, results, argv = quick_run(tmp_path)
    training_budget.main([*argv, "--context-len", "48"])
    record = json.loads((results / "training_budget_darkroom_ctx48_quick.json").read_text())
    assert record["budgets"]["model"]["context_len"] == 48 and record["title"].endswith(", context 48 steps")
    assert record["budgets"]["AD"].endswith("context 48")
    assert sorted(p.name for p in (work / "DarkRoom-v0" / "policies").iterdir()) == ["ad-ctx48-steps5-seed0"]
    policy = work / "DarkRoom-v0" / "policies" / "ad-ctx48-steps5-seed0"
    assert json.loads((policy / "job.json").read_text())["model"]["context_len"] == 48  # the shape reached training


def test_histories_of_another_source_train_under_their_own_name_with_the_folder_recorded(tmp_path) -> None:
    from ad_agent.collection.runner import collect, split_jobs
    from ad_agent.presets import get_preset
    from ad_agent.sources import GridSearchConfig

    data = tmp_path / "searched"
    jobs = split_jobs("DarkRoom-v0", get_preset("DarkRoom-v0").task_env.tasks, "train", 1, 0, num_tasks=3)
    collect(jobs, GridSearchConfig(n_actors=4, episodes=6), data, workers=1)
    work, results, argv = quick_run(tmp_path)
    training_budget.main([*argv, "--histories", str(data)])
    record = json.loads((results / "training_budget_darkroom_on_searched_quick.json").read_text())
    assert record["budgets"]["data"] == {"histories": str(data)} and record["title"].endswith(", on searched")
    (policy,) = (work / "DarkRoom-v0" / "policies").iterdir()
    assert policy.name == "ad-on-searched-steps5-seed0" and not (work / "DarkRoom-v0" / "histories-seed0").exists()
    assert json.loads((policy / "job.json").read_text())["data"]["folder"] == str(data)  # trained on those runs
    with pytest.raises(SystemExit):
        training_budget.main([*argv, "--histories", str(data), "--batched"])
    with pytest.raises(SystemExit):
        training_budget.main([*argv, "--histories", str(tmp_path / "missing")])


def test_a_scripted_source_collects_and_trains_under_its_own_names(tmp_path) -> None:
    work, results, argv = quick_run(tmp_path)
    training_budget.main([*argv, "--source", "grid-search"])
    record = json.loads((results / "training_budget_darkroom_gridsearch_quick.json").read_text())
    assert record["budgets"]["data"]["source"] == "grid-search" and record["title"].endswith(", grid-search source")
    data = work / "DarkRoom-v0" / "gridsearch-seed0"  # named as ad-agent's other datasets, by what differs
    assert {read_run(path)[1]["source"]["kind"] for path in run_files(data)} == {"GridSearchConfig"}
    assert [p.name for p in (work / "DarkRoom-v0" / "policies").iterdir()] == ["ad-steps5-gridsearch-seed0"]
    for clash in (["--batched"], ["--histories", str(data)]):
        with pytest.raises(SystemExit):
            training_budget.main([*argv, "--source", "grid-search", *clash])


def test_a_single_stream_source_subsampled_trains_under_its_own_names(tmp_path) -> None:
    work, results, argv = quick_run(tmp_path)
    training_budget.main([*argv, "--single-stream", "--source-steps", "200", "--every-kth-episode", "2"])
    record = json.loads((results / "training_budget_darkroom_every2_singlestream_envsteps200_quick.json").read_text())
    assert record["budgets"]["data"]["single_stream"] is True and record["budgets"]["data"]["steps"] == 200
    assert record["title"].endswith(", single-stream PPO, 200 env steps per run, one episode in 2 of each stream")
    data = work / "DarkRoom-v0" / "singlestream-envsteps200-seed0"
    assert {read_run(path)[1]["source"]["n_envs"] for path in run_files(data)} == {1}
    assert [p.name for p in (work / "DarkRoom-v0" / "policies").iterdir()] == [
        "ad-every2-steps5-singlestream-envsteps200-seed0"
    ]


def test_label_smoothing_trains_under_its_own_name_with_the_smoothing_recorded(tmp_path) -> None:
    work, results, argv = quick_run(tmp_path)
    training_budget.main([*argv, "--label-smoothing", "0.2"])
    record = json.loads((results / "training_budget_darkroom_ls0.2_quick.json").read_text())
    assert record["budgets"]["train"]["label_smoothing"] == 0.2 and record["title"].endswith(", label smoothing 0.2")
    assert sorted(p.name for p in (work / "DarkRoom-v0" / "policies").iterdir()) == ["ad-ls0.2-steps5-seed0"]


def test_subsampled_streams_train_under_their_own_name_with_the_view_recorded(tmp_path) -> None:
    work, results, argv = quick_run(tmp_path)
    training_budget.main([*argv, "--every-kth-episode", "2"])
    record = json.loads((results / "training_budget_darkroom_every2_quick.json").read_text())
    assert record["budgets"]["views"] == {"every_kth_episode": 2}
    assert record["title"].endswith(", one episode in 2 of each stream")
    (policy,) = (work / "DarkRoom-v0" / "policies").iterdir()
    assert policy.name == "ad-every2-steps5-seed0"
    assert json.loads((policy / "job.json").read_text())["every_kth_episode"] == 2  # the view reached distill
    (evaluation,) = (work / "DarkRoom-v0" / "evaluations").iterdir()
    assert json.loads((evaluation / "job.json").read_text())["views"] == {"every_kth_episode": 2}


@pytest.mark.slow
def test_seeds_played_apart_pool_into_the_record_of_them_played_together(tmp_path) -> None:
    work, results, argv = quick_run(tmp_path)
    training_budget.main([*argv, "--train-seeds", "2"])  # seeds 0 and 1 in one run
    together = json.loads((results / "training_budget_darkroom_2seeds_quick.json").read_text())
    training_budget.main(argv)  # seed 0 alone, then seed 1 alone (as two sessions would)
    training_budget.main([*argv, "--first-train-seed", "1"])
    alone = [results / "training_budget_darkroom_quick.json", results / "training_budget_darkroom_seed1_quick.json"]
    assert json.loads(alone[1].read_text())["training_seeds"] == [1]
    assert json.loads(alone[1].read_text())["title"].endswith(", training seed 1")
    assert not json.loads(alone[0].read_text())["title"].endswith("seed 0")
    old_seed0 = results / "old_seed0.json"  # seed 0 in the format before records kept seed_curves: it pools too
    old_seed0.write_text(json.dumps({k: v for k, v in json.loads(alone[0].read_text()).items() if k != "seed_curves"}))

    training_budget.main([*argv, "--train-seeds", "0", "--pool", str(old_seed0), str(alone[1])])
    pooled = json.loads((results / "training_budget_darkroom_2seeds_quick.json").read_text())
    for key in ("tables", "findings", "training_seeds", "budgets"):
        assert pooled[key] == together[key]
    assert pooled["curves"][0]["n"] == together["curves"][0]["n"] == 2 * 3
    assert pooled["curves"][0]["mean"] == pytest.approx(together["curves"][0]["mean"])
    assert pooled["curves"][0]["std"] == pytest.approx(together["curves"][0]["std"])


def test_pooling_refuses_another_experiment_a_seed_twice_and_nothing_to_play(tmp_path) -> None:
    work, results, argv = quick_run(tmp_path)
    training_budget.main(argv)
    seed0 = str(results / "training_budget_darkroom_quick.json")
    with pytest.raises(ValueError, match="seed\\(s\\) \\[0\\] .* come twice"):
        training_budget.main([*argv, "--pool", seed0])
    with pytest.raises(ValueError, match="its budgets differ"):
        training_budget.main([*argv, "--first-train-seed", "1", "--label-smoothing", "0.2", "--pool", seed0])
    with pytest.raises(ValueError, match="no 7-step budget"):
        training_budget.main([*argv[:-1], "7", "--train-seeds", "0", "--pool", seed0])
    with pytest.raises(SystemExit):
        training_budget.main([*argv, "--train-seeds", "0"])  # nothing played, nothing pooled
    with pytest.raises(SystemExit):  # a missing record is the parser's error, before any training
        training_budget.main([*argv, "--first-train-seed", "1", "--pool", str(results / "missing.json")])
    old = json.loads((results / "training_budget_darkroom_quick.json").read_text())
    del old["seed_curves"]  # a record of several seeds from before seed_curves: its seeds cannot be told apart
    old["budgets"]["AD"] = old["budgets"]["AD"].replace("1 training seed(s)", "2 training seed(s)")
    (results / "old.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match="several training seeds"):
        training_budget.main([*argv, "--first-train-seed", "2", "--pool", str(results / "old.json")])
