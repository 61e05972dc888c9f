"""The ablation scripts (paper Figs. 3, 5-7, 10, 12, 14; action heads) end to end in --quick mode, and shared pieces."""

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from ad_agent.deployment.policy import InContextPolicy
from ad_agent.presets import PRESETS, get_preset
from ad_agent.sources import GridSearchConfig
from benchmarks import (
    ablation_common,
    action_heads,
    bandit,
    context_size,
    depth_vs_steps,
    label_smoothing,
    prompting,
    subsampling,
    training_tasks,
    transformer_vs_lstm,
)
from benchmarks.ablation_common import QUICK_MODEL, Budget, eval_tasks, shipped_as_preset, variant

SCRIPTS = {
    "context_size": context_size,
    "training_tasks": training_tasks,
    "prompting": prompting,
    "subsampling": subsampling,
    "bandit": bandit,
    "transformer_vs_lstm": transformer_vs_lstm,
    "label_smoothing": label_smoothing,
    "depth_vs_steps": depth_vs_steps,
    "action_heads": action_heads,
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One cache for every script, so the quick Dark Room data is collected once."""
    return tmp_path_factory.mktemp("ablations")


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS)
def test_quick_mode_writes_a_record_and_a_figure(name: str, workdir: Path) -> None:
    if name == "label_smoothing" and label_smoothing.ENV not in PRESETS:
        pytest.skip(f"no {label_smoothing.ENV} pipeline preset yet")
    results = workdir / "results"
    SCRIPTS[name].main(["--quick", "--seed", "0", "--workdir", str(workdir), "--results", str(results)])
    record = json.loads((results / f"{name}_quick.json").read_text())
    assert record["mode"] == "quick" and record["seed"] == 0
    assert record["title"] and record["summary"].startswith("Quick (CI) mode")
    (found,) = record["findings"]
    assert found["claim"] and isinstance(found["reproduced"], bool) and found["evidence"] in record["summary"]
    assert len(record["curves"]) >= 2
    assert all(len(curve["mean"]) == record["budgets"]["episodes"] for curve in record["curves"])
    assert record["plots"][0] == f"{name}_quick.png"
    for plot in record["plots"]:
        assert (results / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_training_task_subsets_link_the_default_runs(workdir: Path) -> None:
    if not (workdir / "results" / "training_tasks_quick.json").exists():
        pytest.skip("needs the quick training_tasks run")
    subset = next((workdir / "DarkRoom-v0").glob("quick-tasks1-seed0"))
    files = list(subset.glob("*.h5"))
    assert len(files) == 1 and files[0].stat().st_nlink >= 2
    assert (workdir / "DarkRoom-v0" / "quick-histories-seed0" / files[0].name).samefile(files[0])


def test_noise_free_demonstrations_are_optimal_for_each_trials_task() -> None:
    """Row i of the prompts must be a demonstration of the task trial i plays."""
    preset = get_preset("DarkRoom-v0")
    plan = Budget(train_steps=None, eval_tasks=3, trials=2, episodes=5)
    demo = prompting.demonstrations(preset, plan, epsilon=0.0, seed=0)
    tasks = eval_tasks(preset, plan)
    returns = demo["rewards"].reshape(len(tasks), prompting.PROMPT_EPISODES, -1).sum(axis=2)
    optimal = np.array([preset.optimal_return(task) for task in tasks])
    np.testing.assert_array_equal(returns, np.repeat(optimal[:, None], prompting.PROMPT_EPISODES, axis=1))
    np.testing.assert_array_equal(demo["observations"][:, 0], np.full((len(tasks), 2), 4))


def test_variants_override_the_quick_shape_and_leave_the_full_preset_equal() -> None:
    quick = variant("DarkRoom-v0", argparse.Namespace(quick=True), model={"context_len": 20}, label_smoothing=0.1)
    assert quick.model.context_len == 20 and quick.model.d_model == QUICK_MODEL["d_model"]
    assert quick.train.label_smoothing == 0.1
    # default_policy reuses the shipped policy only for the unchanged preset
    full = argparse.Namespace(quick=False)
    assert variant("DarkRoom-v0", full) == get_preset("DarkRoom-v0")
    assert variant("DarkRoom-v0", full, model={"context_len": 40}) != get_preset("DarkRoom-v0")


def test_the_shipped_policy_stands_in_for_the_default_only_when_trained_as_the_preset():
    shipped, preset = InContextPolicy.load("pretrained:DarkRoom-v0"), get_preset("DarkRoom-v0")
    assert shipped_as_preset(shipped, preset)
    assert not shipped_as_preset(shipped, preset.customised(train={"steps": 2400}))
    assert not shipped_as_preset(shipped, preset.customised(model={"n_layers": 4}))
    assert not shipped_as_preset(shipped, dataclasses.replace(preset, source=GridSearchConfig()))


@pytest.mark.parametrize(("quick", "steps"), [(True, ablation_common.QUICK_TRAIN_STEPS), (False, None)])
def test_the_default_policy_trains_the_quick_budget_under_quick_and_the_presets_steps_otherwise(
    quick: bool, steps: int | None, monkeypatch, tmp_path
) -> None:
    trained = []

    def trained_policy(preset, data_dir, seed, workdir, name, steps=None):
        trained.append(steps)
        return "policy"

    monkeypatch.setattr(ablation_common, "source_data", lambda env_id, args: tmp_path)
    monkeypatch.setattr(ablation_common, "trained_policy", trained_policy)
    args = argparse.Namespace(quick=quick, seed=1, workdir=tmp_path)  # seed 1: never the shipped policy
    assert ablation_common.default_policy(args, variant("DarkRoom-v0", args)) == ("policy", "ad")
    assert trained == [steps]
