"""How well a dataset's source runs learned, read from their rewards alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ad_agent.histories.runfile import iter_rewards
from ad_agent.histories.streams import final_return, learning_curve


def summarize(
    root: str | Path, optimal_return: float | None = None, fraction: float = 0.9, strict: bool = False
) -> dict[str, Any]:
    """How well the source runs learned: per run learning curve and final return, plus dataset stats.

    A run's final return is :func:`final_return` (its last complete episodes). With ``optimal_return``
    (assumed positive), ``fraction_reaching`` is the share of runs whose final return is at least
    ``fraction * optimal_return``. Only rewards and episode starts are read, so it is cheap even
    for image datasets.
    """
    runs = []
    for run in iter_rewards(root, strict):
        curve = learning_curve(run.rewards, run.episode_starts)
        final = final_return(run.rewards, run.episode_starts)
        runs.append({"file": run.path.name, "task": run.metadata.get("task"), "curve": curve, "final_return": final})
    finals = np.array([run["final_return"] for run in runs])
    summary: dict[str, Any] = {
        "runs": runs,
        "n_runs": len(runs),
        "mean_final_return": float(np.mean(finals)) if len(runs) else float("nan"),
    }
    if optimal_return is not None:
        summary["fraction_reaching"] = float(np.mean(finals >= fraction * optimal_return)) if len(runs) else 0.0
    return summary
