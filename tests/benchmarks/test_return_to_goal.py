"""The return-to-goal diagnostic's arithmetic, on returns whose answers are known by hand."""

import math

import numpy as np
import pytest

from benchmarks.return_to_goal import goal_statistics, main


def test_goal_statistics_on_hand_made_trials() -> None:
    returns = np.array(
        [
            [0, 0, 1, 1, 0, 1],  # first find in episode 3; after it 1, 0, 1; found->next: 1->1, 1->0
            [1, 1, 1, 1, 1, 1],  # found at once and always after
            [0, 0, 0, 0, 0, 0],  # never found
        ]
    )
    stats = goal_statistics(returns)
    assert stats["trials_finding_the_goal"] == pytest.approx(2 / 3)
    assert stats["episodes_to_first_find"] == pytest.approx((3 + 1) / 2)
    assert stats["found_before_first_find"] == pytest.approx((1 / 3 + 1) / 2)
    assert stats["found_after_first_find"] == pytest.approx((2 + 5) / (3 + 5))
    assert stats["return_rate"] == pytest.approx((1 + 5) / (2 + 5))  # pairs from found episodes bar the last


def test_goal_statistics_when_nothing_is_found_and_refusals() -> None:
    stats = goal_statistics(np.zeros((2, 5)))
    assert stats["trials_finding_the_goal"] == 0 and all(
        math.isnan(stats[k]) for k in ("episodes_to_first_find", "found_after_first_find", "return_rate")
    )
    with pytest.raises(ValueError, match="episodes >= 2"):
        goal_statistics(np.zeros((2, 1)))


def test_the_benchmark_runs_on_the_shipped_policy(tmp_path, monkeypatch) -> None:
    from benchmarks import return_to_goal

    written = {}
    monkeypatch.setattr(return_to_goal, "write_result", lambda name, figures: written.setdefault(name, figures))
    main(["--env", "DarkRoom-v0", "--tasks", "2", "--trials", "1", "--episodes", "3", "--record-suffix", "mine"])
    splits = written["return_to_goal_darkroom_mine"]["splits"]
    assert sorted(splits) == ["held-out goals", "train goals"] and all(s["goals"] == 2 for s in splits.values())
    assert all(0 <= s["trials_finding_the_goal"] <= 1 for s in splits.values())


def test_stream_returns_are_every_streams_whole_episodes(tmp_path) -> None:
    from ad_agent.histories import Streams
    from ad_agent.histories.runfile import write_run
    from benchmarks.return_to_goal import stream_returns

    def run(rewards: list[list[float]], episode_length: int) -> Streams:
        rewards_ = np.array(rewards, dtype=np.float32)
        starts = np.broadcast_to(np.arange(rewards_.shape[1]) % episode_length == 0, rewards_.shape).copy()
        zeros = np.zeros(rewards_.shape, dtype=np.int64)
        return Streams(observations=zeros[..., None], actions=zeros, rewards=rewards_, episode_starts=starts)

    write_run(tmp_path / "a.h5", run([[0, 0, 1, 0, 1, 1, 0], [1, 0, 0, 0, 0, 0, 0]], 2), {"env_id": "DarkRoom-v0"})
    write_run(tmp_path / "b.h5", run([[0, 0, 0, 0, 0, 1, 1, 1, 0]], 3), {"env_id": "DarkRoom-v0"})
    returns, runs, metadata = stream_returns(tmp_path)
    # a: 4 episodes each (the last cut short), b: 3 (the last whole); every stream keeps the 2 all have bar the last
    np.testing.assert_array_equal(returns, [[0, 1], [1, 0], [0, 1]])
    np.testing.assert_array_equal(runs, [0, 0, 1])
    assert [m["env_id"] for m in metadata] == ["DarkRoom-v0"] * 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no run files"):
        stream_returns(tmp_path / "empty")


def test_histories_must_be_a_folder(tmp_path) -> None:
    with pytest.raises(SystemExit):
        main(["--env", "DarkRoom-v0", "--histories", str(tmp_path / "missing")])


def test_first_finds_after_a_sibling_count_streams_taught_by_their_run() -> None:
    from benchmarks.return_to_goal import first_finds_after_a_sibling

    returns = np.array(
        [
            [0, 1, 1, 1],  # run 0: first find in episode 1, the run's earliest
            [0, 0, 0, 1],  # run 0: episode 3, after its sibling's 1
            [0, 1, 0, 1],  # run 0: episode 1, tied with the earliest: not after
            [0, 0, 0, 0],  # run 0: never finds it, not counted
            [0, 0, 1, 1],  # run 1: alone in its run, so never after a sibling
            [1, 1, 1, 1],  # run 2: episode 0
            [0, 0, 1, 0],  # run 2: episode 2, after
        ]
    )
    share = first_finds_after_a_sibling(returns, np.array([0, 0, 0, 0, 1, 2, 2]))
    assert share == pytest.approx(2 / 6)
    assert math.isnan(first_finds_after_a_sibling(np.zeros((2, 3)), np.array([0, 0])))
