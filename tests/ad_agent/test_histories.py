"""On-disk history format: round trip, checksums, atomic files, views, windows that never cross streams."""

import dataclasses
import json
import os

import h5py
import numpy as np
import pytest

from ad_agent.histories import (
    CodedObservations,
    CorruptHistoryWarning,
    CorruptRunError,
    FlatHistories,
    LazyHistories,
    Streams,
    episode_returns,
    in_memory_bytes,
    iter_rewards,
    last_episodes,
    learning_curve,
    read_extras,
    read_rewards,
    read_run,
    run_files,
    scan,
    subsample_episodes,
    summarize,
    verify_run,
    write_run,
)


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
    assert loaded_meta["seed"] == 7 and loaded_meta["task"] == {"goal": [1, 2]} and loaded_meta["format_version"] == 2
    assert run_files(tmp_path) == [path]  # no temporary file left behind


def test_unreadable_file_is_reported_by_name(tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="broken.h5"):
        read_run(bad)


@pytest.mark.parametrize(
    "field, value", [("seed", "7"), ("seed", True), ("env_id", 3), ("source", [1]), ("split", "validation")]
)
def test_tampered_metadata_is_refused_naming_the_field(tmp_path, field, value):
    path = write_run(tmp_path / "run.h5", make_streams(1, 5), {"env_id": "DarkRoom-v0", "seed": 7, "split": "train"})
    with h5py.File(path, "r+") as f:
        meta = json.loads(f.attrs["metadata"])
        f.attrs["metadata"] = json.dumps({**meta, field: value})
    with pytest.raises(CorruptRunError, match=f"metadata field '{field}'"):
        read_run(path)
    assert "metadata field" in scan(tmp_path)[path]  # named and skipped, as any damaged run


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


def test_image_observations_round_trip_losslessly_chunked_and_compressed(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 30, 16, 16, 3), dtype=np.uint8)
    images[:, :, :8] = 7  # compressible half, so gzip has something to do
    streams = Streams(images, np.zeros((2, 30), np.int64), np.zeros((2, 30), np.float32), np.zeros((2, 30), bool))
    path = write_run(tmp_path / "img.h5", streams, {"env_id": "x"})
    loaded, _ = read_run(path)
    assert loaded.observations.dtype == np.uint8
    np.testing.assert_array_equal(loaded.observations, images)
    with h5py.File(path) as f:
        ds = f["observations"]
        assert ds.chunks[0] == 1 and ds.compression == "gzip" and ds.fletcher32 and ds.shuffle
        assert ds.id.get_storage_size() < images.nbytes


def _corrupt_dataset_bytes(path, name: str) -> None:
    """Overwrite bytes in the middle of dataset ``name``'s first stored chunk."""
    with h5py.File(path) as f:
        offset, size = f[name].id.get_chunk_info(0).byte_offset, f[name].id.get_chunk_info(0).size
    with open(path, "r+b") as raw:
        raw.seek(offset + size // 2)
        chunk = raw.read(8)
        raw.seek(offset + size // 2)
        raw.write(bytes(b ^ 0xFF for b in chunk))


def _dataset_with_one_bad_file(tmp_path, damage: str):
    write_run(tmp_path / "a.h5", make_streams(2, 30), {"env_id": "x"})
    bad = write_run(tmp_path / "b.h5", make_streams(2, 30, offset=1), {"env_id": "x"})
    write_run(tmp_path / "c.h5", make_streams(1, 40, offset=2), {"env_id": "x"})
    if damage == "flip":
        _corrupt_dataset_bytes(bad, "rewards")
    else:
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    return bad


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupted_file_is_named_and_the_rest_stays_usable(tmp_path, damage):
    bad = _dataset_with_one_bad_file(tmp_path, damage)
    with pytest.raises(CorruptRunError, match="b.h5") as info:
        read_run(bad)
    assert info.value.path == bad
    assert list(scan(tmp_path)) == [bad]
    with pytest.warns(CorruptHistoryWarning, match="b.h5"):
        flat = FlatHistories.load(tmp_path, n_actions=5)
    assert flat.stream_lengths.tolist() == [30, 30, 40] and len(flat.metadata) == 2
    with pytest.warns(CorruptHistoryWarning, match="b.h5"):
        lazy = LazyHistories.open(tmp_path, n_actions=5)
    assert lazy.paths == [tmp_path / "a.h5", tmp_path / "c.h5"]
    with pytest.raises(CorruptRunError, match="b.h5"):
        FlatHistories.load(tmp_path, n_actions=5, strict=True)


def test_iter_rewards_reads_rewards_and_starts_alone(tmp_path):
    bad = _dataset_with_one_bad_file(tmp_path, "flip")  # b.h5's rewards are damaged
    _corrupt_dataset_bytes(tmp_path / "a.h5", "observations")  # never read by iter_rewards
    with pytest.warns(CorruptHistoryWarning, match="b.h5"):
        runs = list(iter_rewards(tmp_path))
    assert [run.path.name for run in runs] == ["a.h5", "c.h5"]
    with pytest.raises(CorruptRunError, match="a.h5"):
        read_run(tmp_path / "a.h5")  # the whole run is damaged, its rewards are not
    streams, meta = read_run(tmp_path / "c.h5")
    np.testing.assert_array_equal(runs[1].rewards, streams.rewards)
    np.testing.assert_array_equal(runs[1].episode_starts, streams.episode_starts)
    assert runs[1].metadata == meta
    with pytest.raises(CorruptRunError, match="b.h5"):
        list(iter_rewards(tmp_path, strict=True))
    with pytest.raises(CorruptRunError, match="rewards"):
        read_rewards(bad)
    assert bad.exists()


def test_checksum_catches_damage_that_still_decodes(tmp_path):
    path = write_run(tmp_path / "a.h5", make_streams(2, 30), {"env_id": "x"})
    with h5py.File(path, "r+") as f:  # a valid HDF5 write, but not the data that was recorded
        f["actions"][0, 3] = 4 - f["actions"][0, 3]
    with pytest.raises(CorruptRunError, match="a.h5.*actions: SHA-256 mismatch"):
        read_run(path)
    assert "SHA-256 mismatch" in scan(tmp_path)[path]


def hand_made() -> Streams:
    """Actor 0: 4 episodes of 2 steps; actor 1: episodes of 3, 1, 2, 2 steps. Action = episode number."""
    starts = np.array([[1, 0, 1, 0, 1, 0, 1, 0], [1, 0, 0, 1, 1, 0, 1, 0]], dtype=bool)
    actions = np.cumsum(starts, axis=1) - 1
    rewards = np.arange(16, dtype=np.float32).reshape(2, 8)
    return Streams(np.stack([actions, -actions], axis=-1), actions, rewards, starts)


def test_every_kth_episode_keeps_episodes_0_k_2k():
    views = subsample_episodes(hand_made(), every=2)
    assert [v.actions[0].tolist() for v in views] == [[0, 0, 2, 2], [0, 0, 0, 2, 2]]
    assert [v.episode_starts[0].tolist() for v in views] == [[1, 0, 1, 0], [1, 0, 0, 1, 0]]
    assert views[1].rewards[0].tolist() == [8, 9, 10, 12, 13]
    assert subsample_episodes(hand_made(), every=1)[0].actions.tolist() == [hand_made().actions[0].tolist()]


def test_last_episodes_is_the_tail_of_each_stream():
    views = last_episodes(hand_made(), n=2)
    assert [v.actions[0].tolist() for v in views] == [[2, 2, 3, 3], [2, 2, 3, 3]]
    assert views[1].observations[0, :, 1].tolist() == [-2, -2, -3, -3]
    assert last_episodes(hand_made(), n=10)[1].n_steps == 8


def test_load_applies_views_and_realigns_previous_steps(tmp_path):
    write_run(tmp_path / "a.h5", hand_made(), {"env_id": "x"})
    flat = FlatHistories.load(tmp_path, n_actions=5, every_kth_episode=2, last_episodes=1)
    assert flat.stream_lengths.tolist() == [2, 2]
    assert flat.actions.tolist() == [2, 2, 2, 2]
    assert flat.prev_actions.tolist() == [5, 2, 5, 2]  # a view's stream starts afresh


def test_learning_curve_and_summary(tmp_path):
    starts = np.broadcast_to(np.arange(12) % 3 == 0, (2, 12))
    rewards = np.zeros((2, 12), np.float32)
    rewards[0, [2, 5, 8]] = [0, 1, 1]
    rewards[1, [2, 5, 8]] = [0, 0, 1]
    np.testing.assert_allclose(learning_curve(rewards, starts), [0, 0.5, 1])  # last episode may be cut: left out
    good = Streams(np.zeros((2, 12, 1)), np.zeros((2, 12), np.int64), rewards, starts.copy())
    poor = Streams(good.observations, good.actions, np.zeros_like(rewards), good.episode_starts)
    write_run(tmp_path / "good.h5", good, {"env_id": "x"})
    write_run(tmp_path / "poor.h5", poor, {"env_id": "x"})
    summary = summarize(tmp_path, optimal_return=1.0, fraction=0.7)
    assert [r["final_return"] for r in summary["runs"]] == [0.75, 0.0]  # the curve's last 2 points: 0.5, 1
    assert [r["final_return"] for r in summary["runs"]] == [good.final_return(), poor.final_return()]  # one meaning
    assert summary["mean_final_return"] == 0.375 and summary["fraction_reaching"] == 0.5


def test_lazy_windows_equal_in_memory_windows(tmp_path):
    write_run(tmp_path / "a.h5", make_streams(3, 45), {"env_id": "x"})
    write_run(tmp_path / "b.h5", make_streams(2, 5000, offset=1), {"env_id": "x"})  # spans two chunks
    flat = FlatHistories.load(tmp_path, n_actions=5)
    with LazyHistories.open(tmp_path, n_actions=5) as lazy:
        assert lazy.stream_lengths.tolist() == flat.stream_lengths.tolist()
        for length in (1, 20, 45):
            a = flat.sample_windows(np.random.default_rng(length), 64, length)
            b = lazy.sample_windows(np.random.default_rng(length), 64, length)
            assert a.keys() == b.keys()
            for name in a:
                assert a[name].dtype == b[name].dtype, name
                np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        with pytest.raises(ValueError, match="at least 5001 steps"):
            lazy.sample_windows(np.random.default_rng(0), 1, 5001)
        lazy.close()  # closed, it reopens its files (and their arrays) on the next draw
        again = lazy.sample_windows(np.random.default_rng(45), 64, 45)
        np.testing.assert_array_equal(again["observations"], b["observations"])


def test_integers_are_held_in_the_narrowest_type_and_windows_come_back_as_the_files_hold_them(tmp_path):
    small, wide = make_streams(2, 60), make_streams(3, 60, offset=1)
    wide = dataclasses.replace(wide, observations=wide.observations * 40 - 20)  # -20 .. 300: needs int16
    write_run(tmp_path / "a.h5", small, {"env_id": "x"})
    flat = FlatHistories.load(tmp_path, n_actions=5)
    assert (flat.observations.dtype, flat.actions.dtype, flat.prev_actions.dtype) == (np.uint8,) * 3
    write_run(tmp_path / "b.h5", wide, {"env_id": "x"})
    flat = FlatHistories.load(tmp_path, n_actions=5)
    assert flat.observations.dtype == np.int16 and flat.observation_dtype == np.int64
    assert in_memory_bytes(tmp_path, 5) == sum(
        a.nbytes for a in (flat.observations, flat.actions, flat.prev_actions, flat.prev_rewards, flat.episode_starts)
    )
    window = flat.sample_windows(np.random.default_rng(0), 8, 60)
    assert window["observations"].dtype == window["actions"].dtype == window["prev_actions"].dtype == np.int64
    held = np.concatenate([small.observations.reshape(-1, 2), wide.observations.reshape(-1, 2)])
    np.testing.assert_array_equal(flat.observations, held)  # every value as it was
    floats = dataclasses.replace(small, observations=small.observations.astype(np.float32))
    as_floats = FlatHistories.from_streams([floats], 5, [{}])
    assert as_floats.observations.dtype == np.float32 and as_floats.observation_dtype is None


def image_streams(n_actors: int, n_steps: int, offset: int) -> Streams:
    """Streams whose observations are drawn from 6 distinct 8x8 images, as a gridworld's views repeat."""
    views = np.random.default_rng(99).integers(0, 256, size=(6, 8, 8, 3), dtype=np.uint8)
    plain = make_streams(n_actors, n_steps, offset)
    return Streams(views[plain.observations[..., 0] % 6], plain.actions, plain.rewards, plain.episode_starts)


def test_image_histories_are_held_coded_and_give_the_windows_laid_out_ones_would(tmp_path):
    runs = [image_streams(3, 60, 0), image_streams(2, 80, 1)]
    for name, run in zip("ab", runs, strict=True):
        write_run(tmp_path / f"{name}.h5", run, {"env_id": "x"})
    flat = FlatHistories.load(tmp_path, n_actions=5)
    assert isinstance(flat.observations, CodedObservations) and len(flat.observations.table) == 6
    laid_out = FlatHistories.from_streams(runs, 5, flat.metadata)
    viewed = FlatHistories.load(tmp_path, n_actions=5, last_episodes=2)
    laid_out_viewed = FlatHistories.from_streams([v for r in runs for v in last_episodes(r, 2)], 5, flat.metadata)
    with LazyHistories.open(tmp_path, n_actions=5) as lazy:
        for other, coded in ((laid_out, flat), (lazy, flat), (laid_out_viewed, viewed)):
            a = coded.sample_windows(np.random.default_rng(3), 16, 20)
            b = other.sample_windows(np.random.default_rng(3), 16, 20)
            for key in a:
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)
            assert a["observations"].shape == (16, 20, 8, 8, 3)


def test_in_memory_bytes_counts_images_as_the_rows_loading_holds_when_their_table_bounds_them(tmp_path):
    for name, run in zip("ab", [image_streams(3, 60, 0), image_streams(2, 80, 1)], strict=True):
        write_run(tmp_path / f"{name}.h5", run, {"env_id": "x"})
    flat = FlatHistories.load(tmp_path, n_actions=5)
    assert isinstance(flat.observations, CodedObservations)
    held = (flat.observations.codes, flat.observations.table, flat.actions, flat.prev_actions)
    held += (flat.prev_rewards, flat.episode_starts)
    assert in_memory_bytes(tmp_path, 5, image_rows=6) == sum(a.nbytes for a in held)  # every one of 6 rows used
    assert in_memory_bytes(tmp_path, 5, image_rows=300) > in_memory_bytes(tmp_path, 5, image_rows=6)  # a bound
    assert in_memory_bytes(tmp_path, 5) == sum(a.nbytes for a in held[2:]) + 340 * 8 * 8 * 3  # images as stored


def test_a_run_is_verified_once_per_process_until_it_changes(tmp_path, monkeypatch):
    from ad_agent.histories import runfile

    path = write_run(tmp_path / "a.h5", make_streams(2, 30), {"env_id": "x"})
    reads = []
    real = runfile._verify
    monkeypatch.setattr(runfile, "_verify", lambda p: reads.append(p) or real(p))
    assert verify_run(path) == verify_run(path) and len(reads) == 1
    _corrupt_dataset_bytes(path, "rewards")
    os.utime(path, ns=(0, 12345))  # a change the file's version shows, whatever the clock's resolution
    with pytest.raises(CorruptRunError, match="rewards"):
        verify_run(path)
    write_run(path, make_streams(2, 30, offset=1), {"env_id": "x"})  # replaced: read again
    verify_run(path)
    assert len(reads) == 3


def test_extras_round_trip_are_checksummed_and_named(tmp_path):
    streams = make_streams(2, 30)
    ends = np.zeros((2, 30), dtype=bool)
    ends[0, 9] = ends[1, 19] = True
    extras = {
        "terminated": ends,
        "truncated": np.zeros_like(ends),
        "terminal_observations": np.array([[1, 2], [3, 4]]),
        "learner_steps": np.arange(1, 31) * 2,
    }
    path = write_run(tmp_path / "a.h5", streams, {"env_id": "x"}, extras)
    back = read_extras(path)
    assert sorted(back) == sorted(extras)
    for name, value in extras.items():
        np.testing.assert_array_equal(back[name], value)
    assert read_extras(write_run(tmp_path / "b.h5", streams, {"env_id": "x"})) == {}
    with h5py.File(path, "r+") as f:
        f["learner_steps"][0] = 99
    with pytest.raises(CorruptRunError, match="a.h5.*learner_steps: SHA-256 mismatch"):
        read_extras(path)
    assert "learner_steps" in scan(tmp_path)[path]
    with pytest.raises(ValueError, match="unknown extra datasets"):
        write_run(tmp_path / "c.h5", streams, {}, {"final_obs": np.zeros(2)})
