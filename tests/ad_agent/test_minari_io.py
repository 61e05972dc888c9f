"""Minari export/import: a history dataset survives the round trip exactly, images included."""

import numpy as np
import pytest

from ad_agent.histories import Streams, read_run, write_run

pytest.importorskip("minari", reason="Minari export/import needs `pip install 'minari>=0.5'`")

from ad_agent.histories.minari_io import export_minari, import_minari  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:minari.utils")  # "set an author" advice


@pytest.fixture(autouse=True)
def minari_home(tmp_path, monkeypatch):
    """Keep test datasets out of the user's ~/.minari."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))


def image_run(offset: int, n_steps: int = 14) -> Streams:
    """Two actors of 4x4 RGB frames; actor 1's stream opens mid-episode, and episodes differ in length."""
    rng = np.random.default_rng(offset)
    starts = np.zeros((2, n_steps), dtype=bool)
    starts[0, [0, 5, 9]] = True
    starts[1, [3, 4, 10]] = True
    return Streams(
        observations=rng.integers(0, 256, size=(2, n_steps, 4, 4, 3), dtype=np.uint8),
        actions=rng.integers(0, 4, size=(2, n_steps)),
        rewards=rng.random((2, n_steps)).astype(np.float32),
        episode_starts=starts,
    )


def test_round_trip_is_exact(tmp_path):
    metas = [{"env_id": "Img-v0", "task": {"goal": [i, 1]}, "seed": i} for i in range(2)]
    for i, meta in enumerate(metas):
        write_run(tmp_path / "runs" / f"run{i}.h5", image_run(i, n_steps=14 + i), meta)
    dataset = export_minari(tmp_path / "runs", "ad/images-test-v0", n_actions=4, algorithm_name="PPO")
    assert dataset.total_episodes == 2 * (3 + 4)  # per run: actor 0 has 3 episodes, actor 1 has 4
    episode = next(dataset.iterate_episodes([0]))
    assert len(episode.observations) == len(episode.rewards) + 1 and episode.truncations[-1]

    imported = list(import_minari("ad/images-test-v0"))
    assert len(imported) == 2
    for i, (streams, meta) in enumerate(imported):
        original, original_meta = read_run(tmp_path / "runs" / f"run{i}.h5")
        assert meta == original_meta
        for name in ("observations", "actions", "rewards", "episode_starts"):
            got, want = getattr(streams, name), getattr(original, name)
            assert got.dtype == want.dtype, name
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_runs_can_be_given_in_memory_and_empty_input_is_refused():
    export_minari([(image_run(0), {"env_id": "Img-v0"})], "ad/mem-test-v0", n_actions=4)
    (streams, meta), *rest = import_minari("ad/mem-test-v0")
    assert not rest and meta == {"env_id": "Img-v0"}
    np.testing.assert_array_equal(streams.episode_starts, image_run(0).episode_starts)
    with pytest.raises(ValueError, match="no runs"):
        export_minari([], "ad/empty-test-v0", n_actions=4)


def test_a_foreign_dataset_imports_as_one_stream():
    import gymnasium as gym
    import minari
    from minari.data_collector import EpisodeBuffer

    episodes = [
        EpisodeBuffer(
            observations=np.arange(n + 1, dtype=np.float32)[:, None] + 10 * n,
            actions=np.ones(n, np.int64),
            rewards=np.ones(n, np.float32),
            terminations=np.arange(n) == n - 1,
            truncations=np.zeros(n, bool),
        )
        for n in (2, 3)
    ]
    space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    minari.create_dataset_from_buffers(
        "ext/foreign-test-v0", episodes, observation_space=space, action_space=gym.spaces.Discrete(2)
    )
    (streams, meta), *rest = import_minari("ext/foreign-test-v0")
    assert not rest and meta == {"minari_dataset_id": "ext/foreign-test-v0"}
    assert streams.observations[0, :, 0].tolist() == [20, 21, 30, 31, 32]  # final observations dropped
    assert streams.episode_starts[0].tolist() == [True, False, True, False, False]


def test_continuous_actions_round_trip_with_their_box_and_refuse_a_discrete_space(tmp_path):
    import gymnasium as gym

    rng = np.random.default_rng(0)
    starts = np.zeros((2, 10), dtype=bool)
    starts[:, [0, 5]] = True
    run = Streams(
        rng.normal(size=(2, 10, 2)).astype(np.float32),
        rng.uniform(-1, 1, size=(2, 10, 2)).astype(np.float32),
        rng.random((2, 10)).astype(np.float32),
        starts,
    )
    box = gym.spaces.Box(-1, 1, (2,), np.float32)
    with pytest.raises(ValueError, match="continuous: pass the env's Box"):
        export_minari([(run, {"env_id": "PointRobot-v0"})], "ad/box-bad-v0", n_actions=5)
    dataset = export_minari([(run, {"env_id": "PointRobot-v0"})], "ad/box-test-v0", n_actions=box)
    assert dataset.spec.action_space == box
    ((streams, _),) = import_minari("ad/box-test-v0")
    np.testing.assert_array_equal(streams.actions, run.actions)
