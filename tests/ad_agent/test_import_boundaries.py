"""Loading and driving a policy imports neither the learners, the dataset format nor the training code."""

import os
import subprocess
import sys

import ad_agent

HEAVY = (
    "stable_baselines3",
    "sb3_contrib",
    "h5py",
    "minigrid",
    "pygame",
    "ad_agent.training.loop",
    "ad_agent.training.distributed",
    "ad_agent.training.checkpoint",
    "ad_agent.histories",
    "ad_agent.sources",
    "ad_agent.pipeline",
)

ACT_WITH_A_SHIPPED_POLICY = """
import sys
from ad_agent import InContextPolicy
policy = InContextPolicy.load("pretrained:DarkRoom-v0")
policy.act([4, 4], 0.0)
policy.act([4, 5], 1.0)
print(" ".join(sorted(sys.modules)))
"""


def test_acting_with_a_policy_imports_no_learner_dataset_or_training_code() -> None:
    out = subprocess.run([sys.executable, "-c", ACT_WITH_A_SHIPPED_POLICY], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert "ad_agent.deployment.policy" in loaded
    assert sorted(loaded & set(HEAVY)) == []


def test_the_public_names_resolve_and_no_module_is_shadowed() -> None:
    from ad_agent.deployment import evaluation
    from ad_agent.sources.sb3 import HistoryRecorder

    assert ad_agent.evaluate is evaluation.evaluate and callable(ad_agent.evaluate)
    assert ad_agent.HistoryRecorder is HistoryRecorder  # imported on first use
    submodules = {name.rsplit(".", 1)[-1] for name in sys.modules if name.startswith("ad_agent.")}
    assert not submodules & {
        name for name in vars(ad_agent) if not name.startswith("_") and callable(vars(ad_agent)[name])
    }


def test_another_envs_package_first_on_the_path_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "__init__.py").write_text("GRID = 'a user project of its own'\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    command = [sys.executable, "-c", "import ad_agent"]
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode != 0
    assert "another package named 'envs' comes first on sys.path" in out.stderr
