"""Every shipped policy loads, is for its env, names the record that measured it, and the set stays small."""

import json

import pytest

from ad_agent.deployment.policy import InContextPolicy, PolicySpec
from ad_agent.deployment.policy_file import PRETRAINED_DIR
from ad_agent.model import ADTransformer, ModelConfig
from benchmarks.common import RESULTS_DIR
from benchmarks.ship_pretrained import MAX_TOTAL_BYTES, SOURCE_FILE, ship, shipped_bytes

SHIPPED = sorted(p.name for p in PRETRAINED_DIR.iterdir() if p.is_dir())


@pytest.mark.parametrize("env_id", SHIPPED)
def test_a_shipped_policy_loads_acts_and_has_its_record(env_id) -> None:
    policy = InContextPolicy.load(f"pretrained:{env_id}")
    assert policy.spec.env_id == env_id
    source = json.loads((PRETRAINED_DIR / env_id / SOURCE_FILE).read_text())
    record = json.loads((RESULTS_DIR / source["record"]).read_text())
    assert record["env_id"] == env_id and record["command"] == source["command"]


def test_the_shipped_set_stays_package_sized() -> None:
    assert "DarkRoom-v0" in SHIPPED and shipped_bytes() < MAX_TOTAL_BYTES


def test_ship_copies_a_valid_policy_and_refuses_another_envs(tmp_path) -> None:
    config = ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=12, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    policy = InContextPolicy(ADTransformer(config), PolicySpec(config, "DarkRoom-v0", max_episode_steps=20), "cpu")
    policy.save(tmp_path / "policy")
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"env_id": "DarkRoom-v0", "command": "python -m x", "title": "t"}))
    target = ship("DarkRoom-v0", tmp_path / "policy", record, root=tmp_path / "shipped")
    assert sorted(p.name for p in target.iterdir()) == ["model.safetensors", "policy.json", SOURCE_FILE]
    assert json.loads((target / SOURCE_FILE).read_text())["record"] == "record.json"
    with pytest.raises(ValueError, match="is a policy for DarkRoom-v0, not DarkKeyToDoor-v0"):
        ship("DarkKeyToDoor-v0", tmp_path / "policy", record, root=tmp_path / "shipped")
    (tmp_path / "policy" / "model.safetensors").write_bytes(b"tampered")
    with pytest.raises(ValueError):
        ship("DarkRoom-v0", tmp_path / "policy", record, root=tmp_path / "shipped")
