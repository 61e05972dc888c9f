"""The shared experiment helpers: curves against steps, steps-to-threshold, the efficiency table, plots."""

import numpy as np
import pytest

from benchmarks.experiments import Curve, efficiency_table, plot_curves


def test_curve_counts_steps_per_episode_and_averages_runs() -> None:
    returns = np.array([[0.0, 4.0, 8.0], [2.0, 6.0, 10.0]])
    curve = Curve.from_returns("AD", returns, episode_length=20)
    np.testing.assert_array_equal(curve.steps, [20, 40, 60])
    np.testing.assert_allclose(curve.mean, [1.0, 5.0, 9.0])
    np.testing.assert_allclose(curve.std, [1.0, 1.0, 1.0])
    assert curve.n == 2


@pytest.mark.parametrize(("threshold", "expected"), [(0.5, 20), (5.0, 40), (9.0, 60), (9.5, None)])
def test_steps_to_reach_is_the_first_episode_at_or_above(threshold: float, expected: int | None) -> None:
    curve = Curve.from_returns("AD", np.array([[1.0, 5.0, 9.0]]), episode_length=20)
    assert curve.steps_to_reach(threshold) == expected


def test_efficiency_table_uses_fractions_of_optimal() -> None:
    fast = Curve.from_returns("fast", np.array([[5.0, 8.5, 9.5]]), episode_length=10)
    slow = Curve.from_returns("slow", np.array([[1.0, 2.0, 8.0]]), episode_length=10)
    table = efficiency_table([fast, slow], optimal=10.0)
    assert table == {"fast": {"80%": 20, "90%": 30}, "slow": {"80%": 30, "90%": None}}


def test_plot_curves_writes_a_png(tmp_path) -> None:
    curve = Curve.from_returns("AD", np.random.default_rng(0).random((3, 5)), episode_length=20)
    path = plot_curves([curve], optimal=1.0, random=0.1, title="t", path=tmp_path / "fig.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
