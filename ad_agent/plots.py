"""Figures: in-context learning curves and attention maps, drawn with matplotlib's file-only backend
(no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ad_agent.deployment.attention import Trial


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend, imported on first use (acting needs no matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (its folder made if missing) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    pyplot().close(fig)
    return path


def plot_learning_curve(returns: np.ndarray, optimal: float, random: float, title: str, path: str | Path) -> Path:
    """Mean return per episode (+- one std over trials) of ``returns`` ``(trials, episodes)``,
    between the random and optimal policies' returns; written to ``path`` (PNG)."""
    episodes = np.arange(1, returns.shape[1] + 1)
    mean, std = returns.mean(axis=0), returns.std(axis=0)
    fig, ax = pyplot().subplots(figsize=(6, 4), dpi=120)
    ax.plot(episodes, mean, color="tab:blue", label="AD (frozen weights)")
    ax.fill_between(episodes, mean - std, mean + std, color="tab:blue", alpha=0.2, linewidth=0, label="+- 1 std")
    ax.axhline(optimal, color="tab:green", linestyle="--", label="optimal")
    ax.axhline(random, color="tab:gray", linestyle=":", label="random")
    ax.set(xlabel="episode on a new task", ylabel="return", title=title, xlim=(1, episodes[-1]))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, frameon=False, fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_attention(trial: Trial, maps: np.ndarray, path: str | Path, title: str = "") -> Path:
    """The paper's Fig. 15 for one trial: ``maps`` ``(layers, heads, T, T)`` from
    :func:`ad_agent.deployment.attention.attention_maps` over the trial's last ``T`` steps.

    Left, the last layer's attention (mean over heads), query step against key step, its colour scale
    capped at the 99th percentile. Right, how the
    steps of the last episode attend to the whole window, one line per layer: episode starts are
    dotted lines and rewarded steps red marks, so attention to past rewards and episode ends shows.
    """
    layers, _, t, _ = maps.shape
    starts = np.flatnonzero(trial.episode_starts[-t:])
    rewarded = np.flatnonzero(trial.rewards[-t:] > 0)
    last_episode = slice(starts[-1] if len(starts) else 0, t)
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(11, 4.2), dpi=120, width_ratios=(1, 1.6))
    last_layer = maps[-1].mean(axis=0)
    vmax = np.quantile(last_layer[np.tril_indices(t)], 0.99)  # the first queries' weight of 1 would wash out the rest
    image = left.imshow(last_layer, cmap="viridis", aspect="auto", interpolation="nearest", vmin=0, vmax=vmax)
    fig.colorbar(image, ax=left, fraction=0.046)
    left.set(xlabel="key step", ylabel="query step", title=f"layer {layers}, mean over heads")
    for s in starts[1:]:
        left.axvline(s - 0.5, color="white", linewidth=0.4, alpha=0.6)
        left.axhline(s - 0.5, color="white", linewidth=0.4, alpha=0.6)
    steps = np.arange(t)
    for layer in range(layers):
        weights = maps[layer].mean(axis=0)[last_episode].mean(axis=0)
        right.plot(steps, weights, linewidth=1, label=f"layer {layer + 1}")
    for s in starts:
        right.axvline(s, color="gray", linestyle=":", linewidth=0.8)
    right.plot(rewarded, np.zeros(len(rewarded)), "|", color="tab:red", markersize=10, label="reward > 0")
    right.set(xlabel="step in the context window", ylabel="attention from the last episode", xlim=(0, t - 1))
    right.legend(fontsize="small", ncol=2)
    returns = " ".join(f"{r:g}" for r in trial.episode_returns)
    fig.suptitle(title or f"{trial.env_id}, task {trial.task}: episode returns {returns}", fontsize="medium")
    fig.tight_layout()
    return save_figure(fig, path)
