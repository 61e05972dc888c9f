"""main_results --quick end to end on Dark Room: every method measured, the figure drawn, the report built."""

import json

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
    assert {f["claim"] for f in record["findings"]} >= {"ED does not learn in context"}
    png = results / record["plots"][0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    out = report.build(results, tmp_path / "REPORT.md", include_quick=True)
    text = out.read_text()
    assert record["title"] in text and "main_results_darkroom_quick.png" in text
    assert report.build(results, tmp_path / "FULL.md").read_text().count("No experiment records yet") == 1


def test_env_without_a_preset_fails_with_a_clear_message(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(main_results, "PRESETS", {})
    with pytest.raises(SystemExit, match="no pipeline preset for DarkRoomHard-v0"):
        main_results.main(["--env", "DarkRoomHard-v0", "--workdir", str(tmp_path), "--results", str(tmp_path)])
