"""Source presets beyond Dark Room: plain-data configs that collection stores, picked per env and algorithm."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ad_agent.collection.runner import source_for
from ad_agent.presets import PRESETS, SOURCE_PRESETS, source_preset
from ad_agent.sources import SourceConfig
from ad_agent.sources.learner_view import LEARNER_VIEWS
from benchmarks import source_presets as bench


@pytest.mark.parametrize("key", sorted(SOURCE_PRESETS), ids="/".join)
def test_presets_are_plain_data_that_rebuild_themselves(key: tuple[str, str]) -> None:
    """Run metadata stores ``asdict(source)`` as JSON; reading it back must give the same learner."""
    config = SOURCE_PRESETS[key]
    stored = json.loads(json.dumps(dataclasses.asdict(config)))
    assert SourceConfig(**stored) == config
    assert set(config.learner_views) <= set(LEARNER_VIEWS)


def test_hard_presets_explore_and_key_to_door_remembers() -> None:
    for algo in ("PPO", "A2C"):
        assert source_preset("DarkRoomHard-v0", algo).learner_views["count_bonus"]["beta"] > 0
    assert "return_so_far" in source_preset("DarkKeyToDoor-v0", "PPO").learner_views


@pytest.mark.parametrize("env_id", ["DarkRoomHard-v0", "DarkKeyToDoor-v0", "PixelWatermaze-v0"])
def test_pipeline_presets_collect_with_the_tuned_sources(env_id: str) -> None:
    preset = PRESETS[env_id]
    assert preset.source == SOURCE_PRESETS[(env_id, preset.source.algo)]
    assert source_for(env_id, preset.source) == preset.source


def test_another_algo_on_hard_gets_its_tuned_preset() -> None:
    assert (
        source_for("DarkRoomHard-v0", PRESETS["DarkRoomHard-v0"].source, "A2C")
        == SOURCE_PRESETS[("DarkRoomHard-v0", "A2C")]
    )


def test_benchmark_selects_presets_by_name_or_env() -> None:
    assert bench.selected(None, None) == list(SOURCE_PRESETS)
    assert bench.selected(None, ["DarkRoomHard-v0"]) == [k for k in SOURCE_PRESETS if k[0] == "DarkRoomHard-v0"]
    assert bench.selected(["DarkRoom-v0/DQN"], None) == [("DarkRoom-v0", "DQN")]
    with pytest.raises(SystemExit, match="no source preset matches"):
        bench.selected(["DarkRoom-v0/DQN"], ["DarkKeyToDoor-v0"])


def test_benchmark_keeps_the_other_presets_entries(tmp_path, monkeypatch) -> None:
    (tmp_path / f"{bench.NAME}.json").write_text(json.dumps({"presets": {"A/PPO": {"fraction_reaching": 1.0}}}))
    monkeypatch.setattr(bench, "RESULTS_DIR", tmp_path)
    assert bench.previous_presets() == {"A/PPO": {"fraction_reaching": 1.0}}
    monkeypatch.setattr(bench, "RESULTS_DIR", tmp_path / "none")
    assert bench.previous_presets() == {}
