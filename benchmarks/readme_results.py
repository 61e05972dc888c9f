"""The README's tables of results, generated from the records: main results and training budgets.

README.md holds each table between two marker comments; this script rewrites what lies between
them, and a test fails when a README table differs from what the committed records give, so no
figure in those tables can go stale.

    python -m benchmarks.readme_results            # rewrite every block in README.md
"""

from __future__ import annotations

import argparse
import functools
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS_DIR, env_slug
from benchmarks.experiments import Curve
from benchmarks.training_budget import differences, record_seed_curves

README = Path(__file__).resolve().parent.parent / "README.md"
EFFICIENCY = "Environment steps until the mean return first reaches 80% / 90% of optimal"
BLOCKS = "Mean return per block of episodes"


def _data(record: dict[str, Any]) -> str:
    data = record["budgets"].get("data")
    if not isinstance(data, dict):
        return "the preset's collection"
    tasks, runs = data.get("num_tasks"), data.get("runs_per_task", 1)
    kind = "batched PPO" if data.get("batched") else "SB3"
    return f"{tasks} tasks x {runs} runs, {kind}" if tasks else kind


def _steps(record: dict[str, Any]) -> str:
    return record["budgets"]["AD/ED"].split(" gradient steps")[0].rsplit(", ", 1)[-1]


def _share(value: float | None, optimal: float) -> str:
    return "-" if value is None else f"{value:.2f} ({value / optimal:.0%})"


def _verdicts(findings: list[dict[str, Any]]) -> str:
    tested = [f["reproduced"] for f in findings if f["reproduced"] is not None]
    return f"{sum(tested)} of {len(tested)}"


def row(name: str, record: dict[str, Any]) -> str:
    """One record as a table row: AD's curve in blocks, its data-efficiency against the source, ED."""
    optimal, blocks = record["optimal"], record["tables"][BLOCKS]
    ad, ed = blocks["AD"], blocks["ED"]
    to80 = record["tables"][EFFICIENCY]
    ad80, source80 = to80["AD"]["80%"], to80["source (scratch)"]["80%"]
    cells = [
        f"[{record['env_id']}](benchmarks/results/{name}.json)",
        _data(record),
        _steps(record),
        f"{ad['ep 1-10']:.2f}",
        _share(ad.get("ep 41-50"), optimal),
        _share(ad.get("ep 91-100"), optimal),
        f"{optimal:.2f}",
        "never" if ad80 is None else f"{ad80:,}",
        "never" if source80 is None else f"{source80:,}",
        f"{ed['ep 1-10']:.2f} -> {ed['last 10 ep']:.2f}",
        _verdicts(record["findings"]),
    ]
    return "| " + " | ".join(cells) + " |"


def main_table(results: Path = RESULTS_DIR) -> str:
    """The Markdown table of every full-mode main-results record in ``results``."""
    header = [
        "| env (record) | data | AD steps | AD ep 1-10 | AD ep 41-50 | AD ep 91-100 | optimal | AD steps to 80% "
        "| source steps to 80% | ED ep 1-10 -> last 10 | claims reproduced |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    rows = []
    for path in sorted(results.glob("main_results_*.json")):
        record = json.loads(path.read_text())
        if record.get("mode") == "full":
            rows.append(row(path.stem, record))
    return "\n".join(header + rows)


# the episode blocks (1-based, inclusive) of a training-budget table: the paper's horizon, in steps
BUDGET_BLOCKS = ((1, 10), (41, 50), (91, 100), (191, 200), (291, 300))


@dataclass(frozen=True)
class BudgetTable:
    """Return against training budget on one env: a row per training seed and budget from every record
    of the experiment that ``reference`` holds (same env, data, model, training and evaluation), and a
    row per pooled record besides; data efficiency against the single-stream source of ``source``,
    a main-results record of the same data (None: no such record, the env steps alone)."""

    reference: str
    source: str | None

    def __call__(self, results: Path) -> str:
        reference = _record(results, self.reference)
        optimal = reference["optimal"]
        against: Callable[[int | None], str] = _steps_alone
        if self.source is not None:
            source80 = _record(results, self.source)["tables"][EFFICIENCY]["source (scratch)"]["80%"]
            against = functools.partial(_against_source, source80=source80)
        rows: dict[tuple[int, int, int], str] = {}  # by (steps, 0, seed), then pooled: (steps, 1, seeds)
        for path in sorted(results.glob(f"training_budget_{env_slug(reference['env_id'])}*.json")):
            record = json.loads(path.read_text())
            if differences(record, reference["env_id"], reference["seed"], reference["mode"], reference["budgets"]):
                continue  # another experiment on this env
            for steps, by_seed in record_seed_curves(record).items():
                for seed, part in by_seed.items():
                    rows[steps, 0, seed] = _budget_row(f"{steps:,}, seed {seed}", part["curve"], optimal, against)
                if len(by_seed) > 1:
                    curve = Curve.from_dict(next(c for c in record["curves"] if c["method"] == f"AD, {steps} steps"))
                    spread = np.std([_block_mean(part["curve"], BUDGET_BLOCKS[2]) for part in by_seed.values()])
                    label = f"{steps:,}, {len(by_seed)} seeds ({curve.n} trials)"
                    rows[steps, 1, len(by_seed)] = _budget_row(label, curve, optimal, against, float(spread))
        header = [
            "| training steps | " + " | ".join(f"episodes {a}-{b}" for a, b in BUDGET_BLOCKS) + " | env steps to 80% |",
            "|---|" + "---:|" * (len(BUDGET_BLOCKS) + 1),
        ]
        return "\n".join(header + [rows[key] for key in sorted(rows)])


def _record(results: Path, name: str) -> dict[str, Any]:
    return json.loads((results / f"{name}.json").read_text())


def _block_mean(curve: Curve, block: tuple[int, int]) -> float:
    return float(curve.mean[block[0] - 1 : block[1]].mean())


def _budget_row(
    label: str, curve: Curve, optimal: float, against: Callable[[int | None], str], spread: float | None = None
) -> str:
    """One curve as a row: its mean return per block (the 91-100 block's spread over seeds, given one),
    and the env steps until it first reaches 80% of optimal, as ``against`` sets them beside the source's."""
    cells = [f"{_block_mean(curve, block):.2f}" if len(curve.mean) >= block[1] else "-" for block in BUDGET_BLOCKS]
    if spread is not None:
        cells[2] += f" (spread {spread:.2f})"
    return "| " + " | ".join([label, *cells, against(curve.steps_to_reach(0.8 * optimal))]) + " |"


def _steps_alone(reached: int | None) -> str:
    return "never" if reached is None else f"{reached:,}"


def _against_source(reached: int | None, source80: int | None) -> str:
    if reached is None:
        return "never"
    if source80 is None:
        return f"{reached:,} (the source never does)"
    ratio = source80 / reached
    if ratio >= 1:
        return f"{reached:,} ({ratio:.1f}x fewer than the source's {source80:,})"
    return f"{reached:,} ({1 / ratio:.1f}x more than the source's {source80:,})"


@dataclass(frozen=True)
class Block:
    """A generated table in the README, between its two marker comments."""

    name: str
    table: Callable[[Path], str]

    @property
    def begin(self) -> str:
        return f"<!-- {self.name}:begin (python -m benchmarks.readme_results) -->"

    @property
    def end(self) -> str:
        return f"<!-- {self.name}:end -->"

    def find(self, readme: str) -> str:
        """The table between the markers of ``readme``, less the indent it has inside a list item."""
        if self.begin not in readme or self.end not in readme:
            raise ValueError(f"README has no {self.begin!r} ... {self.end!r} block")
        return textwrap.dedent(readme.split(self.begin, 1)[1].split(self.end, 1)[0]).strip()

    def rewrite(self, readme: str, results: Path) -> str:
        """``readme`` with this block's table made anew from ``results``, indented as its markers are."""
        self.find(readme)  # the markers are there
        before, rest = readme.split(self.begin, 1)
        after = rest.split(self.end, 1)[1]
        indent = before[before.rfind("\n") + 1 :]
        table = textwrap.indent(self.table(results), indent)
        return f"{before}{self.begin}\n{table}\n{indent}{self.end}{after}"


BLOCKS_IN_README = (
    Block("main-results", main_table),
    Block(
        "training-budget-darkroomhard",
        BudgetTable("training_budget_darkroomhard_3seeds", "main_results_darkroomhard_batched"),
    ),
    Block(
        "training-budget-darkroomhard-gridsearch", BudgetTable("training_budget_darkroomhard_gridsearch_3seeds", None)
    ),
    Block(
        "training-budget-darkroomhard-singlestream",
        BudgetTable(
            "training_budget_darkroomhard_every10_singlestream_envsteps20000", "main_results_darkroomhard_batched"
        ),
    ),
)


def rewrite(readme_path: Path = README, results: Path = RESULTS_DIR) -> Path:
    """Make every block of :data:`BLOCKS_IN_README` in ``readme_path`` anew from ``results``."""
    text = readme_path.read_text()
    for block in BLOCKS_IN_README:
        text = block.rewrite(text, results)
    readme_path.write_text(text)
    return readme_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    print(f"wrote {rewrite(args.readme, args.results)}")


if __name__ == "__main__":
    main()
