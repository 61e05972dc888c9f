"""A learner of one's own: one dataclass with ``record`` and one decorator make it a source collection runs."""

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from ad_agent.collection.runner import collect, make_jobs, plan_collection
from ad_agent.histories import Streams, read_run
from ad_agent.sources import SOURCES, SourceConfig, UCBConfig, record, register_source


@register_source
@dataclass
class CoinFlipLearner:
    """Plays uniformly random moves: a learner that never learns, enough to exercise the contract."""

    n_actors: int = 2
    steps: int = 40

    def record(self, env_id: str, env_kwargs: dict[str, Any], seed: int):
        rng = np.random.default_rng(seed)
        columns: dict[str, list] = {"observations": [], "actions": [], "rewards": [], "episode_starts": []}
        for actor in range(self.n_actors):
            env = gym.make(env_id, **env_kwargs)
            obs, _ = env.reset(seed=seed + actor)
            start, rows = True, []
            for _ in range(self.steps):
                action = int(rng.integers(env.action_space.n))
                next_obs, reward, terminated, truncated, _ = env.step(action)
                rows.append((obs, action, reward, start))
                obs, start = next_obs, terminated or truncated
                if start:
                    obs, _ = env.reset()
            for name, column in zip(columns, zip(*rows, strict=True), strict=True):
                columns[name].append(np.asarray(column))
        streams = Streams(**{name: np.stack(value) for name, value in columns.items()})
        return streams, {}


def test_a_registered_learner_is_recorded_collected_and_resumed_like_the_built_in_ones(tmp_path) -> None:
    assert SOURCES["CoinFlipLearner"] is CoinFlipLearner and SOURCES["SourceConfig"] is SourceConfig
    streams, extras = record(CoinFlipLearner(), "DarkRoom-v0", {"task": (1, 6)}, seed=3)
    assert streams.observations.shape == (2, 40, 2) and extras == {}

    jobs = make_jobs("DarkRoom-v0", [(1, 6), (8, 3)], runs_per_task=1, seed=0, split="train")
    summaries = collect(jobs, CoinFlipLearner(), tmp_path, workers=1)
    assert len(summaries) == 2
    run, metadata = read_run(tmp_path / jobs[0].filename)
    assert metadata["source"] == {"kind": "CoinFlipLearner", "n_actors": 2, "steps": 40}
    assert plan_collection(jobs, tmp_path, CoinFlipLearner()).todo == []  # resumes: nothing left to do


def test_only_registered_dataclasses_with_record_are_sources() -> None:
    with pytest.raises(TypeError, match="not a registered source"):
        record(object(), "DarkRoom-v0", {"task": (1, 6)}, 0)

    class NotADataclass:
        def record(self, env_id, env_kwargs, seed): ...

    with pytest.raises(TypeError, match="must be a dataclass with a record"):
        register_source(NotADataclass)
    with pytest.raises(TypeError, match="must be a dataclass with a record"):
        register_source(dataclass(type("NoRecord", (), {})))
    impostor = dataclass(type("UCBConfig", (), {"record": lambda self, *a: None, "__module__": "someone.else"}))
    with pytest.raises(ValueError, match="a source named UCBConfig is already registered"):
        register_source(impostor)
    assert SOURCES["UCBConfig"] is UCBConfig
    with pytest.raises(TypeError, match="not a registered source"):  # same name, not the registered class
        record(impostor(), "DarkRoom-v0", {"task": (1, 6)}, 0)
