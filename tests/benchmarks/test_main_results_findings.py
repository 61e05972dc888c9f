"""The Fig. 4 verdicts on synthetic curves: every branch of every claim decides as its text says."""

import numpy as np
import pytest

from benchmarks.experiments import Curve
from benchmarks.main_results import ICL_MARGIN, SPEEDUP, Budgets, findings

HORIZON = 20
OPTIMAL, RANDOM = 10.0, 0.0


def curve(method: str, mean: list[float] | np.ndarray) -> Curve:
    mean = np.asarray(mean, dtype=np.float64)
    return Curve(method, HORIZON * np.arange(1, len(mean) + 1), mean, np.zeros_like(mean), 1)


def ramp(start: float, stop: float, episodes: int = 100) -> np.ndarray:
    return np.linspace(start, stop, episodes)


def verdicts(ad, ed=None, scratch=None, rl2=None) -> list[dict]:
    curves = {
        "AD": curve("AD", ad),
        "ED": curve("ED", ed if ed is not None else np.full(100, 1.0)),
        "source (scratch)": curve("source (scratch)", scratch if scratch is not None else np.zeros(500)),
        "RL^2": curve("RL^2", rl2 if rl2 is not None else np.zeros(20)),
    }
    return findings(curves, OPTIMAL, RANDOM, HORIZON, Budgets())


def claim(found: list[dict], start: str) -> dict:
    """The one finding whose claim starts with ``start``."""
    (match,) = [f for f in found if f["claim"].startswith(start)]
    return match


def test_in_context_learning_needs_the_margin() -> None:
    margin = ICL_MARGIN * (OPTIMAL - RANDOM)
    assert claim(verdicts(ramp(1, 9)), "AD learns")["reproduced"] is True
    flat = np.concatenate([np.full(90, 2.0), np.full(10, 2.0 + 0.9 * margin)])
    assert claim(verdicts(flat), "AD learns")["reproduced"] is False


def test_reaching_ninety_percent_within_a_hundred_episodes() -> None:
    reached = claim(verdicts(ramp(0, 10)), "AD reaches 90%")
    assert reached["reproduced"] is True and "first at episode" in reached["evidence"]
    short = claim(verdicts(ramp(0, 8.5)), "AD reaches 90%")
    assert short["reproduced"] is False and "best episode 8.50 = 85% of optimal" in short["evidence"]


def test_speed_up_when_ad_never_reaches_eighty_percent() -> None:
    found = claim(verdicts(ramp(0, 7.9), scratch=ramp(0, 10, 500)), "AD needs")
    assert found["reproduced"] is False and found["evidence"] == "AD never reaches 80% of optimal"


def test_speed_up_when_the_source_never_reaches_eighty_percent() -> None:
    fast_ad = np.full(100, 9.0)  # 80% at its first episode: 20 steps, against > 500 x 20 for the source
    found = claim(verdicts(fast_ad, scratch=np.zeros(500)), "AD needs")
    assert found["reproduced"] is True and "source (scratch) never reached 80% of optimal" in found["evidence"]
    slow_ad = np.concatenate([np.zeros(99), [9.0]])  # 2,000 steps against a source cut off at 2 x 2,000 steps
    found = claim(verdicts(slow_ad, scratch=np.zeros(200)), "AD needs")
    assert found["reproduced"] is False and "ratio > 2.0" in found["evidence"]


def test_speed_up_when_both_reach_eighty_percent() -> None:
    ad = np.concatenate([np.zeros(9), np.full(91, 9.0)])  # 80% at episode 10: 200 steps
    scratch_fast = np.concatenate([np.zeros(int(SPEEDUP * 10) - 11), np.full(500, 9.0)])  # < 5x later
    scratch_slow = np.concatenate([np.zeros(int(SPEEDUP * 10) + 9), np.full(500, 9.0)])  # > 5x later
    assert claim(verdicts(ad, scratch=scratch_fast), "AD needs")["reproduced"] is False
    found = claim(verdicts(ad, scratch=scratch_slow), "AD needs")
    assert found["reproduced"] is True and "AD 200 steps" in found["evidence"]


@pytest.mark.parametrize("rl2, word", [(ramp(0, 9, 20), "does"), (np.zeros(20), "does not")])
def test_asymptotic_rl2_is_never_judged_at_our_budget(rl2, word) -> None:
    found = claim(verdicts(ramp(0, 9), rl2=rl2), "AD matches asymptotic RL^2")
    assert found["reproduced"] is None and f"{word} learn in context yet" in found["evidence"]


def test_expert_distillation_claim_needs_a_flat_ed_and_ad_ahead_of_it() -> None:
    ed_claim = "ED does not learn in context"
    assert claim(verdicts(ramp(1, 9), ed=np.full(100, 1.0)), ed_claim)["reproduced"] is True
    # ED learning in context by the margin refutes it, however far AD ends ahead
    assert claim(verdicts(ramp(1, 9), ed=ramp(1, 4)), ed_claim)["reproduced"] is False
    # ED failing does not reproduce it when AD fails beside it
    both_flat = claim(verdicts(np.full(100, 1.2), ed=np.full(100, 1.0)), ed_claim)
    assert both_flat["reproduced"] is False and "AD ends +0.20 above ED" in both_flat["evidence"]
