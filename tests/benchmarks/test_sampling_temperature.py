"""sampling_temperature: one held-out curve and goal statistics per temperature, in one record."""

import json

import pytest

from benchmarks import sampling_temperature


def test_each_temperature_gets_its_curve_blocks_and_goal_statistics(tmp_path) -> None:
    args = ["--env", "DarkRoom-v0", "--tasks", "2", "--trials", "1", "--episodes", "3", "--results", str(tmp_path)]
    sampling_temperature.main([*args, "--temperatures", "1", "0.0001"])
    record = json.loads((tmp_path / "sampling_temperature_darkroom.json").read_text())
    table = record["tables"]["Mean return per episode block and goal statistics, by sampling temperature"]
    assert list(table) == ["temperature 1", "temperature 0.0001"]
    assert all({"ep 1-3", "return_rate", "episodes_to_first_find"} <= set(row) for row in table.values())
    assert [c["method"] for c in record["curves"]] == list(table) and all(c["n"] == 2 for c in record["curves"])
    assert (tmp_path / "sampling_temperature_darkroom.png").exists() and "temperature 1:" in record["summary"]


def test_a_temperature_that_is_not_above_zero_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="temperature"):
        sampling_temperature.main(["--env", "DarkRoom-v0", "--temperatures", "0", "--results", str(tmp_path)])
