"""Figures: in-context learning curves, drawn with matplotlib's file-only backend (no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_learning_curve(returns: np.ndarray, optimal: float, random: float, title: str, path: str | Path) -> Path:
    """Mean return per episode (+- one std over trials) of ``returns`` ``(trials, episodes)``,
    between the random and optimal policies' returns; written to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    episodes = np.arange(1, returns.shape[1] + 1)
    mean, std = returns.mean(axis=0), returns.std(axis=0)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(episodes, mean, color="tab:blue", label="AD (frozen weights)")
    ax.fill_between(episodes, mean - std, mean + std, color="tab:blue", alpha=0.2, linewidth=0, label="+- 1 std")
    ax.axhline(optimal, color="tab:green", linestyle="--", label="optimal")
    ax.axhline(random, color="tab:gray", linestyle=":", label="random")
    ax.set(xlabel="episode on a new task", ylabel="return", title=title, xlim=(1, episodes[-1]))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, frameon=False, fontsize="small")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
