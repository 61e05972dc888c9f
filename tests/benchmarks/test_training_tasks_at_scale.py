"""Paper Fig. 12 at scale, in --quick mode: one dataset and one AD per training-task count."""

import json

from benchmarks import training_tasks_at_scale


def test_each_count_gets_its_own_data_and_policy_and_a_rerun_reuses_them(tmp_path) -> None:
    work, results = tmp_path / "work", tmp_path / "results"
    argv = ["--quick", "--counts", "1", "2", "--runs-per-task", "1", "--workdir", str(work), "--results", str(results)]
    training_tasks_at_scale.main([*argv, "--workers", "1"])
    record = json.loads((results / "training_tasks_at_scale_darkkeytodoor_quick.json").read_text())
    rows = record["tables"]["Mean return per episode block, by training tasks"]
    assert list(rows) == ["1", "2"] and [c["method"] for c in record["curves"]] == [
        "1 training tasks",
        "2 training tasks",
    ]
    (found,) = record["findings"]
    assert isinstance(found["reproduced"], bool) and found["evidence"] in record["summary"]
    env = work / "DarkKeyToDoor-v0"
    assert sorted(p.name for p in (env / "policies").iterdir()) == [
        "ad-tasks1x1-batched-seed0",
        "ad-tasks2x1-batched-seed0",
    ]
    assert len(list((env / "tasks2x1-batched-seed0").glob("*.h5"))) == 2
    trained = (env / "policies" / "ad-tasks2x1-batched-seed0" / "job.json").stat().st_mtime
    training_tasks_at_scale.main([*argv, "--workers", "1"])
    assert (env / "policies" / "ad-tasks2x1-batched-seed0" / "job.json").stat().st_mtime == trained
