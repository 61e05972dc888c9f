"""The README's main-results table is what the committed records say."""

import json
import shutil

import pytest

from benchmarks import readme_results
from benchmarks.common import RESULTS_DIR


def test_readme_main_results_table_matches_the_records() -> None:
    readme = readme_results.README.read_text()
    assert readme_results.block(readme) == readme_results.table(), "run: python -m benchmarks.readme_results"


def test_a_changed_record_changes_the_table_and_rewrite_puts_it_in(tmp_path) -> None:
    results = tmp_path / "results"
    shutil.copytree(RESULTS_DIR, results, ignore=shutil.ignore_patterns("*.png"))
    path = results / "main_results_darkroom.json"
    record = json.loads(path.read_text())
    record["tables"]["Mean return per block of episodes"]["AD"]["ep 41-50"] = 15.0
    path.write_text(json.dumps(record))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{readme_results.BEGIN}\n{readme_results.END}\noutro\n")  # an empty block
    readme_results.rewrite(readme, results)
    readme.write_text(readme.read_text().replace("| 15.00 (92%) |", "| old |"))
    readme_results.rewrite(readme, results)
    text = readme.read_text()
    assert "15.00 (92%)" in readme_results.block(text) and "| old |" not in text
    assert text.startswith("intro\n") and text.endswith("outro\n")
    with pytest.raises(ValueError, match="no .* block"):
        readme_results.block("no markers here")
