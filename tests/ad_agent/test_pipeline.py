"""pipeline.distill: training on views of the histories (subsampled, expert-only) as the baselines need."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from ad_agent import pipeline
from ad_agent.histories import CorruptHistoryWarning, FlatHistories, Streams, in_memory_bytes, write_run
from ad_agent.pipeline import distill
from ad_agent.presets import get_preset
from envs.core import observation_table
from tests.ad_agent.synthetic import write_learnable_histories


@pytest.mark.parametrize(
    ("views", "steps_kept"),
    [
        ({}, 4 * 60),
        ({"last_episodes": 1}, 4 * 20),
        ({"every_kth_episode": 2}, 4 * 40),
        ({"every_kth_episode": 3}, 4 * 20),
    ],
)
def test_distill_trains_on_the_asked_view_and_records_it(tmp_path, views, steps_kept):
    write_learnable_histories(tmp_path)  # 4 streams of 3 episodes x 20 steps
    base = get_preset("DarkRoom-v0")
    preset = dataclasses.replace(base, model=dataclasses.replace(base.model, context_len=10))
    policy, log = distill(preset, tmp_path, seed=0, steps=2, device="cpu", **views)
    provenance = policy.spec.provenance
    assert provenance["n_steps"] == steps_kept
    assert provenance["views"] == {"every_kth_episode": 1, "last_episodes": None, **views}
    assert len(log) >= 1


def test_in_memory_bytes_is_what_loading_would_hold(tmp_path):
    write_learnable_histories(tmp_path)
    data = FlatHistories.load(tmp_path, n_actions=5)
    arrays = (data.observations, data.actions, data.prev_actions, data.prev_rewards, data.episode_starts)
    assert in_memory_bytes(tmp_path, 5) == sum(array.nbytes for array in arrays)
    assert in_memory_bytes(tmp_path) > in_memory_bytes(tmp_path, 5)  # without the coding: 8 bytes per class


def test_an_unreadable_run_file_is_skipped_with_a_warning_not_fatal(tmp_path):
    write_learnable_histories(tmp_path)
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    base = get_preset("DarkRoom-v0")
    preset = dataclasses.replace(base, model=dataclasses.replace(base.model, context_len=10))
    with pytest.warns(CorruptHistoryWarning, match="bad.h5"):
        policy, _ = distill(preset, tmp_path, seed=0, steps=1, device="cpu")
    assert policy.spec.provenance["n_runs"] == 1


def test_a_dataset_too_large_for_memory_trains_from_disk_to_the_same_model(tmp_path, monkeypatch):
    write_learnable_histories(tmp_path)
    base = get_preset("DarkRoom-v0")
    preset = dataclasses.replace(base, model=dataclasses.replace(base.model, context_len=10))
    in_memory, _ = distill(preset, tmp_path, seed=0, steps=3, device="cpu")
    opened = []
    monkeypatch.setattr(pipeline, "LAZY_ABOVE_BYTES", 0)
    monkeypatch.setattr(pipeline.LazyHistories, "close", lambda self: opened.append(self))
    from_disk, _ = distill(preset, tmp_path, seed=0, steps=3, device="cpu")
    assert len(opened) == 1  # read lazily, and its files closed after training
    for name, weights in in_memory.model.state_dict().items():
        torch.testing.assert_close(from_disk.model.state_dict()[name], weights, rtol=0, atol=0)
    viewed, _ = distill(preset, tmp_path, seed=0, steps=1, device="cpu", last_episodes=1)
    assert len(opened) == 1 and viewed.spec.provenance["n_steps"] == 4 * 20  # a view loads into memory


def test_images_that_the_envs_table_bounds_train_in_memory_though_too_large_as_stored(tmp_path, monkeypatch):
    env = gym.make("PixelWatermaze-v0")
    table = observation_table(env)
    env.close()
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(table), size=(4, 500))  # 2,000 steps: as images, 6x the table of 324 views
    no_reward, no_starts = np.zeros(rows.shape, np.float32), np.zeros(rows.shape, bool)
    streams = Streams(table[rows], rng.integers(0, 3, size=rows.shape), no_reward, no_starts)
    write_run(tmp_path / "run.h5", streams, {"env_id": "PixelWatermaze-v0"})
    base = get_preset("PixelWatermaze-v0")
    preset = dataclasses.replace(base, model=dataclasses.replace(base.model, context_len=10))
    opened = []
    monkeypatch.setattr(pipeline.LazyHistories, "close", lambda self: opened.append(self))
    monkeypatch.setattr(pipeline, "LAZY_ABOVE_BYTES", in_memory_bytes(tmp_path) // 2)  # too large as images
    distill(preset, tmp_path, seed=0, steps=1, device="cpu")
    assert opened == []  # held as the rows of the maze's 324 views, in memory
    monkeypatch.setattr(pipeline, "LAZY_ABOVE_BYTES", 0)
    distill(preset, tmp_path, seed=0, steps=1, device="cpu")
    assert len(opened) == 1  # too large even as rows: read from disk


def test_a_disk_backed_dataset_is_closed_when_training_fails(tmp_path, monkeypatch):
    write_learnable_histories(tmp_path)
    base = get_preset("DarkRoom-v0")
    preset = dataclasses.replace(base, model=dataclasses.replace(base.model, context_len=10))
    closed = []
    monkeypatch.setattr(pipeline, "LAZY_ABOVE_BYTES", 0)
    monkeypatch.setattr(pipeline.LazyHistories, "close", lambda self: closed.append(self))

    def failing_train(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of training

    monkeypatch.setattr(pipeline, "train", failing_train)
    with pytest.raises(KeyboardInterrupt):
        distill(preset, tmp_path, seed=0, steps=1, device="cpu")
    assert len(closed) == 1


def test_training_on_held_out_tasks_runs_warns(tmp_path):
    import shutil
    import warnings

    from ad_agent.histories import read_run, write_run

    write_learnable_histories(tmp_path)
    streams, meta = read_run(tmp_path / "run.h5")
    base = get_preset("DarkRoom-v0")
    preset = dataclasses.replace(base, model=dataclasses.replace(base.model, context_len=10))
    with warnings.catch_warnings():
        warnings.simplefilter("error", pipeline.HeldOutTasksWarning)  # train-split (or untagged) runs: silent
        distill(preset, tmp_path, seed=0, steps=1, device="cpu")
    shutil.copy(tmp_path / "run.h5", tmp_path / "train.h5")
    write_run(tmp_path / "run.h5", streams, {**meta, "split": "test"})
    with pytest.warns(pipeline.HeldOutTasksWarning, match="holds runs on test tasks"):
        distill(preset, tmp_path, seed=0, steps=1, device="cpu")
