"""The README's table of main results, generated from the ``main_results*.json`` records.

README.md holds the table between two marker comments; this script rewrites what lies between
them, and a test fails when the README's table differs from what the committed records give, so
no main-result figure in the README can go stale.

    python -m benchmarks.readme_results            # rewrite the block in README.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- main-results:begin (python -m benchmarks.readme_results) -->"
END = "<!-- main-results:end -->"
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


def table(results: Path = RESULTS_DIR) -> str:
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


def block(readme: str) -> str:
    """The text between the markers of ``readme``."""
    if BEGIN not in readme or END not in readme:
        raise ValueError(f"README has no {BEGIN!r} ... {END!r} block")
    return readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def rewrite(readme_path: Path = README, results: Path = RESULTS_DIR) -> Path:
    text = readme_path.read_text()
    block(text)  # the markers are there
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    readme_path.write_text(f"{before}{BEGIN}\n{table(results)}\n{END}{after}")
    return readme_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    print(f"wrote {rewrite(args.readme, args.results)}")


if __name__ == "__main__":
    main()
