"""On-disk history format: round trip, atomic files, windows that never cross streams."""

import numpy as np
import pytest

from ad_agent.histories import FlatHistories, Streams, episode_returns, read_run, run_files, write_run


def make_streams(n_actors: int, n_steps: int, offset: int = 0) -> Streams:
    rng = np.random.default_rng(offset)
    steps = np.arange(n_steps)
    return Streams(
        observations=rng.integers(0, 9, size=(n_actors, n_steps, 2)),
        # action encodes (actor, step) so a window can be traced back to where it came from
        actions=(offset + np.arange(n_actors)[:, None] * 1000 + steps) % 5,
        rewards=rng.random((n_actors, n_steps)).astype(np.float32),
        episode_starts=np.broadcast_to(steps % 20 == 0, (n_actors, n_steps)).copy(),
    )


def test_round_trip_is_exact(tmp_path):
    streams = make_streams(3, 45)
    meta = {"env_id": "DarkRoom-v0", "task": {"goal": [1, 2]}, "seed": 7}
    path = write_run(tmp_path / "run.h5", streams, meta)
    loaded, loaded_meta = read_run(path)
    for name in ("observations", "actions", "rewards", "episode_starts"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(streams, name))
    assert loaded_meta["seed"] == 7 and loaded_meta["task"] == {"goal": [1, 2]} and loaded_meta["format_version"] == 1
    assert run_files(tmp_path) == [path]  # no temporary file left behind


def test_unreadable_file_is_reported_by_name(tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="broken.h5"):
        read_run(bad)


def test_flat_histories_align_previous_step_within_each_stream(tmp_path):
    write_run(tmp_path / "a.h5", make_streams(2, 30), {"env_id": "x"})
    write_run(tmp_path / "b.h5", make_streams(1, 50, offset=1), {"env_id": "x"})
    flat = FlatHistories.load(tmp_path, n_actions=5)
    assert flat.stream_lengths.tolist() == [30, 30, 50]
    for start, length in zip(flat.stream_starts, flat.stream_lengths, strict=True):
        assert flat.prev_actions[start] == 5 and flat.prev_rewards[start] == 0  # nothing before a stream
        np.testing.assert_array_equal(
            flat.prev_actions[start + 1 : start + length], flat.actions[start : start + length - 1]
        )


def test_windows_never_cross_streams(tmp_path):
    write_run(tmp_path / "a.h5", make_streams(4, 25), {"env_id": "x"})
    flat = FlatHistories.load(tmp_path, n_actions=5)
    # Tag each step with its stream: a window mixing streams would show two tags.
    stream_of_step = np.repeat(np.arange(4), 25)
    flat.actions = stream_of_step
    windows = flat.sample_windows(np.random.default_rng(0), batch_size=500, length=20)
    assert (windows["actions"] == windows["actions"][:, :1]).all()
    with pytest.raises(ValueError, match="at least 26 steps"):
        flat.sample_windows(np.random.default_rng(0), 1, 26)


def test_episode_returns_sums_each_episode():
    rewards = np.array([1, 0, 1, 1, 0, 0, 1], dtype=np.float32)
    starts = np.array([1, 0, 0, 1, 0, 1, 0], dtype=bool)
    assert episode_returns(rewards, starts).tolist() == [2.0, 1.0, 1.0]
