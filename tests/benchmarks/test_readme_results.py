"""The README's generated tables are what the committed records say."""

import json
import shutil

import numpy as np
import pytest

from benchmarks import readme_results
from benchmarks.common import RESULTS_DIR
from benchmarks.experiments import Curve

MAIN = readme_results.BLOCKS_IN_README[0]


@pytest.mark.parametrize("block", readme_results.BLOCKS_IN_README, ids=lambda block: block.name)
def test_every_readme_table_matches_the_records(block) -> None:
    readme = readme_results.README.read_text()
    assert block.find(readme) == block.table(RESULTS_DIR), "run: python -m benchmarks.readme_results"


def test_a_changed_record_changes_the_table_and_rewrite_puts_it_in(tmp_path) -> None:
    results = tmp_path / "results"
    shutil.copytree(RESULTS_DIR, results, ignore=shutil.ignore_patterns("*.png"))
    path = results / "main_results_darkroom.json"
    record = json.loads(path.read_text())
    record["tables"]["Mean return per block of episodes"]["AD"]["ep 41-50"] = 15.0
    path.write_text(json.dumps(record))
    readme = tmp_path / "README.md"
    blocks = "\n".join(f"{block.begin}\n{block.end}" for block in readme_results.BLOCKS_IN_README)
    readme.write_text(f"intro\n{blocks}\noutro\n")  # empty blocks
    readme_results.rewrite(readme, results)
    readme.write_text(readme.read_text().replace("| 15.00 (92%) |", "| old |"))
    readme_results.rewrite(readme, results)
    text = readme.read_text()
    assert "15.00 (92%)" in MAIN.find(text) and "| old |" not in text
    assert text.startswith("intro\n") and text.endswith("outro\n")
    with pytest.raises(ValueError, match="no .* block"):
        MAIN.find("no markers here")


def budget_record(seeds: dict[int, dict[int, np.ndarray]], label_smoothing: float = 0.0) -> dict:
    """A training-budget record of env ``X-v0``: per budget, each training seed's mean-return curve
    (2 trials each), and the pooled curve where a budget has several seeds."""
    curves, seed_curves = [], {}
    for steps, by_seed in seeds.items():
        parts = {seed: Curve.from_returns("AD", np.stack([mean, mean]), 20) for seed, mean in by_seed.items()}
        seed_curves[str(steps)] = {str(s): {"curve": c.to_dict(), "train_seconds": 1.0} for s, c in parts.items()}
        curves.append(Curve.pooled(f"AD, {steps} steps", list(parts.values())).to_dict())
    budgets = {"AD": "300 in-context episodes, 1 training seed(s)", "train": {"label_smoothing": label_smoothing}}
    return {"env_id": "X-v0", "seed": 0, "mode": "full", "optimal": 1.0, "budgets": budgets} | {
        "curves": curves,
        "seed_curves": seed_curves,
    }


def test_the_budget_table_has_a_row_per_seed_and_pooled_record_of_the_same_experiment_only(tmp_path) -> None:
    rising, flat, fast = np.linspace(0, 1, 300), np.full(300, 0.5), np.minimum(1.0, np.arange(300) / 10)
    records = {
        "training_budget_x_2seeds": budget_record({100: {0: rising, 1: flat}}),
        "training_budget_x_seed5": budget_record({200: {5: fast}}),
        "training_budget_x_ls": budget_record({300: {0: fast}}, label_smoothing=0.1),  # another experiment
    }
    for name, record in records.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(record))
    efficiency = {readme_results.EFFICIENCY: {"source (scratch)": {"80%": 1000}}}
    (tmp_path / "main_results_x.json").write_text(json.dumps({"tables": efficiency}))

    lines = readme_results.BudgetTable("training_budget_x_2seeds", "main_results_x")(tmp_path).splitlines()
    assert lines[0].startswith("| training steps | episodes 1-10 | episodes 41-50 | episodes 91-100 |")
    labels = [line.split(" | ")[0] for line in lines[2:]]
    assert labels == ["| 100, seed 0", "| 100, seed 1", "| 100, 2 seeds (4 trials)", "| 200, seed 5"]
    rows = {label: line.split(" | ")[1:] for label, line in zip(labels, lines[2:], strict=True)}
    # rising crosses 0.8 at episode 241 (4,820 steps): 4.8x more than the source's 1,000
    assert rows["| 100, seed 0"][-1] == "4,820 (4.8x more than the source's 1,000) |"
    assert rows["| 100, seed 1"][-1] == "never |"  # the flat seed, and the pooled mean, never reach 80%
    assert rows["| 100, 2 seeds (4 trials)"][-1] == "never |"
    alone = readme_results.BudgetTable("training_budget_x_2seeds", None)(tmp_path).splitlines()  # no source record
    assert alone[2].endswith(" | 4,820 |") and alone[3].endswith(" | never |")
    pooled_91_100 = (rising[90:100].mean() + 0.5) / 2
    spread = np.std([rising[90:100].mean(), 0.5])
    assert rows["| 100, 2 seeds (4 trials)"][2] == f"{pooled_91_100:.2f} (spread {spread:.2f})"
    assert rows["| 200, seed 5"][0] == "0.45" and rows["| 200, seed 5"][-1].startswith("180 (5.6x fewer")


def test_a_table_inside_a_list_item_keeps_its_indent(tmp_path) -> None:
    block = readme_results.Block("x", lambda results: "| a |\n|---|\n| 1 |")
    readme = f"- item\n\n  {block.begin}\n  {block.end}\n\n  more of the item\n"
    rewritten = block.rewrite(readme, tmp_path)
    assert f"  {block.begin}\n  | a |\n  |---|\n  | 1 |\n  {block.end}" in rewritten
    assert block.find(rewritten) == "| a |\n|---|\n| 1 |" and block.rewrite(rewritten, tmp_path) == rewritten


def test_data_efficiency_is_worded_for_each_case() -> None:
    against = readme_results._against_source
    assert against(None, 1000) == "never" and against(500, None) == "500 (the source never does)"
    assert against(500, 1000) == "500 (2.0x fewer than the source's 1,000)"
    assert against(2000, 1000) == "2,000 (2.0x more than the source's 1,000)"
