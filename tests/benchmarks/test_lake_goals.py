"""A task family added in one file outside envs/: its env keeps the TaskEnv contract, its preset registers
through the public call, and the whole pipeline runs on it."""

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from ad_agent.presets import PRESETS, get_preset, register_preset
from benchmarks import lake_goals


def test_the_family_keeps_the_task_env_contract() -> None:
    env = gym.make(lake_goals.ENV_ID, task=24).unwrapped
    check_env(env, skip_render_check=True)
    assert env.reset()[1]["task"] == 24 and env.reset(options={"task": 3})[1]["task"] == 3
    assert env.tasks("test") == [1, 5, 9, 13, 17, 21] and len(env.tasks("train")) == 18
    with pytest.raises(ValueError, match="other than the start 12"):
        env.reset(options={"task": 12})


def test_random_return_is_exact() -> None:
    env = gym.make(lake_goals.ENV_ID, task=24)
    rng, total, episodes = np.random.default_rng(0), 0.0, 3000
    for _ in range(episodes):
        env.reset()
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(4)))
            total, done = total + reward, terminated or truncated
    p = env.unwrapped.random_return(24)
    assert abs(total / episodes - p) < 4 * np.sqrt(p * (1 - p) / episodes)


def test_register_preset_refuses_what_cannot_work() -> None:
    preset = get_preset(lake_goals.ENV_ID)
    with pytest.raises(ValueError, match="already has a preset"):
        register_preset(preset)
    assert register_preset(preset, replace=True) is preset and PRESETS[lake_goals.ENV_ID] is preset
    with pytest.raises(ValueError, match="is not a registered Gymnasium env"):
        register_preset(dataclasses.replace(preset, env_id="NoSuchEnv-v0"))
    with pytest.raises(ValueError, match="not an envs.TaskEnv"):
        register_preset(dataclasses.replace(preset, env_id="CartPole-v1"))


@pytest.mark.slow
def test_quick_pipeline_on_the_family_writes_its_record(tmp_path) -> None:
    lake_goals.main(["--quick", "--workdir", str(tmp_path / "work"), "--results", str(tmp_path), "--episodes", "3"])
    record = json.loads((tmp_path / "lake_goals_quick.json").read_text())
    assert record["env_id"] == lake_goals.ENV_ID and len(record["curves"][0]["mean"]) == 3
    assert record["findings"][0]["reproduced"] in (True, False)


@pytest.mark.slow
def test_the_cli_collects_the_family_in_worker_processes_after_import(tmp_path, capsys) -> None:
    from ad_agent.cli import main
    from ad_agent.collection.runner import env_modules
    from ad_agent.histories import read_run

    assert env_modules({lake_goals.ENV_ID, "DarkRoom-v0"}) == ["benchmarks.lake_goals"]  # ours need no import
    argv = ["collect", "--env", lake_goals.ENV_ID, "--out", str(tmp_path), "--num-tasks", "2", "--steps", "160"]
    assert main(["--import", "benchmarks.lake_goals", *argv, "--workers", "2"]) == 0  # spawned workers
    assert len(list(tmp_path.glob("*.h5"))) == 4
    _, metadata = read_run(next(tmp_path.glob("*.h5")))
    assert metadata["env_id"] == lake_goals.ENV_ID
    assert main(["--import", "no_such_module_here", *argv]) == 2
    assert "--import no_such_module_here: No module named 'no_such_module_here'" in capsys.readouterr().err
