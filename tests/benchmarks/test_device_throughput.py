"""The device benchmark times learners cut to a few rollouts and prices them at the preset's full run."""

import pytest
import torch

from ad_agent.presets import source_preset
from benchmarks.device_throughput import _cut, devices, full_batch, same_histories, source_rate


def test_cut_learners_do_the_asked_rollouts_and_price_the_full_run():
    config, full_steps = _cut("DarkKeyToDoor-v0", 4, 2)
    preset = source_preset("DarkKeyToDoor-v0", "PPO")
    per_rollout = preset.n_envs * preset.hyperparams["n_steps"]
    assert config.iterations == 2 and config.learners_per_batch == 4
    assert full_steps >= preset.total_timesteps and full_steps % per_rollout == 0
    assert full_steps - preset.total_timesteps < per_rollout


def test_source_rate_prices_its_steps_at_the_full_run_even_with_more_learners_than_train_tasks():
    rate = source_rate("DarkRoom-v0", 65, 1, "cpu", seed=0)  # Dark Room has 64 train tasks
    assert rate["learners"] == 65 and rate["env_steps_per_s"] > 0
    _, full_steps = _cut("DarkRoom-v0", 65, 1)
    assert rate["runs_per_hour"] == rate["env_steps_per_s"] * 3600 / full_steps


def test_one_seed_gives_the_same_histories_and_cpu_is_always_measured():
    assert devices()[0] == "cpu" and ("cuda" in devices()) == torch.cuda.is_available()
    assert same_histories("DarkKeyToDoor-v0", 2, "cpu", seed=1)


def test_a_full_batch_runs_the_whole_budget_and_counts_solved_runs():
    result = full_batch("DarkKeyToDoor-v0", 2, "cpu", seed=0)
    _, full_steps = _cut("DarkKeyToDoor-v0", 2, 1)
    assert result["env_steps_per_second"] * result["seconds"] == pytest.approx(2 * full_steps)
    assert result["solved_fraction"] == 1.0  # the preset solves ~98% of tasks; these two, seeded, both
