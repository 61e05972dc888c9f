"""benchmarks/time_to_target end to end in --quick mode: it stops at the first probe on target."""

import json

import pytest

from benchmarks import time_to_target


@pytest.mark.slow
def test_quick_run_stops_at_the_first_probe_on_target_and_times_it(tmp_path):
    results = tmp_path / "results"
    argv = ["--quick", "--seed", "0", "--target", "0", "--workdir", str(tmp_path / "work"), "--results", str(results)]
    time_to_target.main(argv)
    record = json.loads((results / "time_to_target.json").read_text())
    every = time_to_target.QUICK["probe_every"]
    assert record["reached"] and record["step_at_target"] == every and len(record["probes"]) == 1
    to_target = record["wall_seconds_to_target"]
    assert to_target["collect"] > 0 and to_target["total"] == pytest.approx(to_target["collect"] + to_target["train"])
