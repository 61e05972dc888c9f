"""AD against its distributed source: the source's curves from hand-made histories, and both verdicts."""

import json

import numpy as np
import pytest

from ad_agent.histories import Streams
from ad_agent.histories.runfile import write_run
from ad_agent.presets import get_preset
from benchmarks.source_pace import main

ENV, EPISODE = "DarkRoom-v0", 20  # Dark Room's fixed episode length


def write_source_run(path, task: list[int], episode_returns: list[list[float]], kind: str = "SourceConfig") -> None:
    """A run whose actors earn ``episode_returns[actor][k]`` in their k-th episode (all on its last step),
    plus one episode cut short, as a stopped learner leaves it."""
    returns = np.asarray(episode_returns, dtype=np.float32)
    actors, episodes = returns.shape
    rewards = np.zeros((actors, (episodes + 1) * EPISODE - 5), dtype=np.float32)
    rewards[:, EPISODE - 1 : episodes * EPISODE : EPISODE] = returns
    starts = np.broadcast_to(np.arange(rewards.shape[1]) % EPISODE == 0, rewards.shape).copy()
    zeros = np.zeros(rewards.shape, dtype=np.int64)
    streams = Streams(observations=zeros[..., None], actions=zeros, rewards=rewards, episode_starts=starts)
    write_run(path, streams, {"env_id": ENV, "task": {"task": task}, "source": {"kind": kind}})


def write_ad_record(path, shares: np.ndarray, env_id: str = ENV, optimal: float = 10.0) -> None:
    mean = optimal * np.asarray(shares, dtype=np.float64)
    curve = {"method": "AD", "n": 4, "steps": (EPISODE * np.arange(1, len(mean) + 1)).tolist()}
    curve |= {"mean": mean.tolist(), "std": np.zeros_like(mean).tolist()}
    record = {
        "env_id": env_id,
        "optimal": optimal,
        "random": 0.1 * optimal,
        "curves": [curve, {**curve, "method": "ED"}],
    }
    path.write_text(json.dumps(record))


@pytest.fixture()
def histories(tmp_path):
    """Two runs of two actors; every actor reaches optimal from its 3rd of 12 episodes."""
    folder = tmp_path / "histories"
    folder.mkdir()
    preset = get_preset(ENV)
    for name, task in (("a.h5", [0, 1]), ("b.h5", [8, 8])):
        best = preset.optimal_return(task)
        write_source_run(folder / name, task, [[0.0, 0.5 * best] + [best] * 10] * 2)
    return folder


def run(tmp_path, histories, ad_shares, suffix: str = "") -> dict:
    record = tmp_path / "ad.json"
    write_ad_record(record, ad_shares)
    argv = ["--env", ENV, "--histories", str(histories), "--ad", str(record), "--results", str(tmp_path)]
    main(argv + (["--record-suffix", suffix] if suffix else []))
    name = "source_pace_darkroom" + (f"_{suffix}" if suffix else "")
    out = json.loads((tmp_path / f"{name}.json").read_text())
    assert out["plots"] == [f"{name}.png"] and (tmp_path / f"{name}.png").is_file()
    return out


def test_source_curves_count_one_actors_steps_and_all_actors_steps(tmp_path, histories) -> None:
    out = run(tmp_path, histories, np.linspace(0, 1, 40))
    curves = {c["method"]: c for c in out["curves"]}
    one, every = curves["source, one actor"], curves["source, all actors"]
    # 12 whole episodes each (the cut-short 13th is dropped), as shares of each task's optimal
    np.testing.assert_allclose(one["mean"], [0.0, 0.5] + [1.0] * 10)
    assert one["steps"] == [EPISODE * k for k in range(1, 13)] and one["n"] == 4
    assert every["steps"] == [2 * EPISODE * k for k in range(1, 13)]  # two actors step together
    table = out["tables"]["Env steps to a share of optimal"]
    assert table["source, all actors"]["env steps to 80%"] == 2 * 3 * EPISODE
    assert table["source, one actor"]["episodes to 80%"] == 3
    assert sorted(curves) == ["AD (ad)", "source, all actors", "source, one actor"]  # ED is not AD
    assert (tmp_path / "source_pace_darkroom.png").is_file()


def test_verdicts_on_an_ad_that_is_fast_in_aggregate_but_slow_per_episode(tmp_path, histories) -> None:
    # AD first reaches 80% at its 8th episode: 160 steps against all actors' 120, one actor's 60
    slow = np.concatenate([np.zeros(7), np.full(33, 0.9)])
    speedup, similar = run(tmp_path, histories, slow)["findings"]
    assert speedup["reproduced"] is False and "0.8x" in speedup["evidence"]
    assert similar["reproduced"] is False and "episodes 3-12: AD 45%" in similar["evidence"]


def test_verdicts_on_an_ad_as_fast_as_one_actor(tmp_path, histories) -> None:
    speedup, similar = run(tmp_path, histories, np.full(40, 0.95))["findings"]
    assert speedup["reproduced"] is True and "6.0x" in speedup["evidence"]  # 20 steps against 120
    assert similar["reproduced"] is True and "one actor 100%" in similar["evidence"]


def test_an_ad_that_played_fewer_episodes_than_an_actor_is_not_judged(tmp_path, histories) -> None:
    _, similar = run(tmp_path, histories, np.full(5, 0.95), suffix="searcher")["findings"]
    assert similar["reproduced"] is None


def test_independent_actors_are_not_added_up_into_one_learner(tmp_path) -> None:
    folder = tmp_path / "searched"
    folder.mkdir()
    best = get_preset(ENV).optimal_return([3, 3])
    write_source_run(folder / "a.h5", [3, 3], [[0.0] + [best] * 11] * 2, kind="GridSearchConfig")
    out = run(tmp_path, folder, np.full(40, 0.95))
    assert [c["method"] for c in out["curves"]] == ["AD (ad)", "source, one actor"]
    (similar,) = out["findings"]
    assert similar["claim"].startswith("AD (ad) is about as good as one actor") and similar["reproduced"] is True


def test_a_single_stream_source_is_one_curve_judged_by_the_single_stream_claim(tmp_path) -> None:
    folder = tmp_path / "single"
    folder.mkdir()
    preset = get_preset(ENV)
    for name, task in (("a.h5", [0, 1]), ("b.h5", [8, 8])):  # one actor a run, optimal from its 7th episode
        write_source_run(folder / name, task, [[0.0] * 6 + [preset.optimal_return(task)] * 6])
    out = run(tmp_path, folder, np.full(40, 0.95))
    assert out["title"].startswith("AD against the single-stream source")
    curves = {c["method"]: c for c in out["curves"]}
    assert sorted(curves) == ["AD (ad)", "source, single stream"] and curves["source, single stream"]["n"] == 2
    (speedup,) = out["findings"]  # no "one actor of many" to be similar to
    assert speedup["claim"].endswith("than its single-stream source (Fig. 6)")
    assert speedup["reproduced"] is True and "7.0x" in speedup["evidence"]  # 20 steps against 140


def test_refuses_mismatched_inputs(tmp_path, histories) -> None:
    record = tmp_path / "hard.json"
    write_ad_record(record, np.ones(20), env_id="DarkRoomHard-v0")
    with pytest.raises(ValueError, match="not DarkRoom-v0"):
        main(["--env", ENV, "--histories", str(histories), "--ad", str(record), "--results", str(tmp_path)])
    write_source_run(histories / "c.h5", [2, 2], [[1.0] * 12] * 3)  # three actors beside two
    write_ad_record(record, np.ones(20))
    with pytest.raises(ValueError, match="different numbers of actors"):
        main(["--env", ENV, "--histories", str(histories), "--ad", str(record), "--results", str(tmp_path)])
    with pytest.raises(SystemExit):
        main(["--env", ENV, "--histories", str(tmp_path / "missing"), "--ad", str(record)])
