"""Build ``benchmarks/REPORT.md`` from every experiment record in ``benchmarks/results/``.

An experiment record is a JSON written by :func:`benchmarks.experiments.save_experiment` (it has a
``title`` and ``curves``); the layout its ``figures`` follow is documented there. Only full-mode
records are reported (quick ones check the code, not the paper) unless ``--include-quick``. The
report is generic: ``findings`` become reproduced / not reproduced lines, ``tables`` and any other
nested mapping become Markdown tables, plots are linked, and the rest is listed as it is.

    python -m benchmarks.report
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR

REPORT = Path(__file__).resolve().parent / "REPORT.md"
#: Hand-written analyses and how the presets were found, appended to the report as they are.
NOTES = Path(__file__).resolve().parent / "report_notes.md"
# Keys rendered by their own section, or too bulky to render at all.
_HANDLED = {"title", "summary", "command", "date", "machine", "seed", "mode", "curves", "findings", "tables", "plots"}
_HANDLED |= {"figure", "wall_time_s", "seed_curves"}  # seed_curves: each training seed's curve, for pooling
VERDICT = {True: "**reproduced**", False: "**not reproduced**", None: "not tested"}


def experiment_records(results: Path, include_quick: bool = False) -> list[tuple[Path, dict[str, Any]]]:
    """Every experiment JSON of ``results``, by file name; other benchmarks' JSONs are skipped."""
    records = []
    for path in sorted(results.glob("*.json")):
        record = json.loads(path.read_text())
        if "title" in record and "curves" in record and (include_quick or record.get("mode") != "quick"):
            records.append((path, record))
    return records


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value).replace("|", "\\|")


def table(rows: dict[str, Any]) -> list[str]:
    """A Markdown table: rows of mappings share the union of their keys as columns; scalars get one."""
    if all(isinstance(v, dict) for v in rows.values()):
        columns: list[str] = []
        for row in rows.values():
            columns += [c for c in row if c not in columns]
        lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        lines += [f"| {name} | " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for name, row in rows.items()]
        return lines
    return ["| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in rows.items())]


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(not isinstance(v, list) for v in value.values())


def _plots(path: Path, record: dict[str, Any]) -> list[str]:
    names = list(record.get("plots", []))
    if isinstance(record.get("figure"), str):
        names.append(record["figure"])
    if not names and path.with_suffix(".png").exists():
        names.append(path.with_suffix(".png").name)
    return names


def headings(records: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    """Each record's title, with its record's name added where two records share a title, so
    every section has its own heading and link anchor."""
    counts = Counter(record["title"] for _, record in records)
    return [
        record["title"] if counts[record["title"]] == 1 else f"{record['title']} ({path.stem})"
        for path, record in records
    ]


def section(path: Path, record: dict[str, Any], report_dir: Path, heading: str) -> list[str]:
    """One experiment: what it compared, its verdicts, its tables and plots, how to rerun it."""
    lines = [f"## {heading}", "", record.get("summary", ""), ""]
    lines += [
        f"- command: `{record.get('command', '?')}`",
        f"- seed {record.get('seed')}, {record.get('mode', 'full')} mode, {record.get('date', '?')}"
        + (f", wall time {record['wall_time_s'] / 60:.1f} min" if "wall_time_s" in record else ""),
        f"- record: [{path.name}]({_relative(path, report_dir)})",
        "",
    ]
    if record.get("findings"):
        lines += ["Findings:", ""]
        lines += [f"- {f['claim']}: {VERDICT[f['reproduced']]} ({f['evidence']})" for f in record["findings"]]
        lines.append("")
    for name, rows in record.get("tables", {}).items():
        lines += [f"**{name}**", "", *table(rows), ""]
    rest = {key: value for key, value in record.items() if key not in _HANDLED}
    lines += [f"- {key}: {_cell(value)}" for key, value in rest.items() if not isinstance(value, (dict, list))]
    lines.append("")
    for key, value in rest.items():
        if _is_table(value):
            lines += [f"**{key}**", "", *table(value), ""]
    lines += [f"![{name}]({_relative(path.parent / name, report_dir)})" for name in _plots(path, record)]
    return [*lines, ""]


def _relative(path: Path, start: Path) -> str:
    try:
        return str(path.resolve().relative_to(start.resolve()))
    except ValueError:
        return str(path)


def _machines(records: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    seen: dict[str, list[str]] = {}
    for path, record in records:
        m = record.get("machine", {})
        cpu = m.get("cpu_model") or m.get("processor", "?")
        desc = (
            f"{m.get('platform', '?')}, {cpu}, {m.get('cpu_count', '?')} CPUs, "
            f"GPU {m.get('cuda') or 'none'}; Python {m.get('python', '?')}, torch {m.get('torch', '?')}, "
            f"numpy {m.get('numpy', '?')}, gymnasium {m.get('gymnasium', '?')}"
        )
        seen.setdefault(desc, []).append(path.stem)
    return [f"- {desc} ({', '.join(names)})" for desc, names in seen.items()]


def build(results: Path = RESULTS_DIR, out: Path = REPORT, include_quick: bool = False) -> Path:
    """Write the report of every experiment record in ``results`` to ``out``."""
    records = experiment_records(results, include_quick)
    lines = [
        "# Reproducing Algorithm Distillation: report",
        "",
        "Generated by `python -m benchmarks.report` from the experiment records in `benchmarks/results/`; every",
        "number below is in the record named beside it, with the command that produced it. Verdicts compare",
        "our measurement with the paper's claim at our (much smaller) budgets, stated per experiment.",
        "",
    ]
    if not records:
        lines.append("No experiment records yet.")
    else:
        lines += ["## Summary", ""]
        titles = headings(records)
        for (_, record), title in zip(records, titles, strict=True):
            for f in record.get("findings", []):
                lines.append(f"- {title}: {f['claim']}: {VERDICT[f['reproduced']]}")
        lines += ["", "## Hardware", "", *_machines(records), ""]
        for (path, record), title in zip(records, titles, strict=True):
            lines += section(path, record, out.parent, title)
    if NOTES.exists():
        lines += ["", NOTES.read_text().strip()]
    out.write_text("\n".join(lines).rstrip() + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build benchmarks/REPORT.md from the experiment records.")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--out", type=Path, default=REPORT)
    parser.add_argument("--include-quick", action="store_true", help="also report quick (CI) records")
    parser.add_argument("--seed", type=int, default=0, help="unused: the report draws no random numbers")
    args = parser.parse_args(argv)
    print(f"wrote {build(args.results, args.out, args.include_quick)}")


if __name__ == "__main__":
    main()
