"""Checkpoint folders: complete ones are found, half-written ones never are, Adam state round-trips."""

import numpy as np
import torch

from ad_agent.training.checkpoint import latest_checkpoint, load_checkpoint, prune_checkpoints, save_checkpoint


def _trained_adam() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), betas=(0.9, 0.99))
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_round_trip_and_only_complete_folders_count(tmp_path):
    model, optimizer = _trained_adam()
    rng = np.random.default_rng(7)
    save_checkpoint(tmp_path, 3, model, optimizer, rng, {"a": [1, 2]}, {"b": 1}, [{"step": 1, "loss": 0.5}])
    (tmp_path / ".tmp_step_00000009_1").mkdir()  # a crash mid-write
    (tmp_path / "step_00000005").mkdir()  # no state.json: incomplete
    (tmp_path / "step_old").mkdir()  # a folder of the user's, not a checkpoint
    (tmp_path / "step_old" / "state.json").write_text("{}")
    folder = latest_checkpoint(tmp_path)
    assert folder.name == "step_00000003"
    ckpt = load_checkpoint(folder)
    assert ckpt.step == 3 and ckpt.train_config == {"a": [1, 2]} and ckpt.log == [{"step": 1, "loss": 0.5}]
    again = np.random.default_rng()
    again.bit_generator.state = ckpt.rng_state
    assert again.random() == rng.random()
    restored = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    restored.load_state_dict(ckpt.optimizer_state)
    for name, value in optimizer.state_dict()["state"][0].items():
        assert torch.equal(value, restored.state_dict()["state"][0][name])
    assert restored.param_groups[0]["betas"] == (0.9, 0.99)
    assert latest_checkpoint(tmp_path / "missing") is None


def test_grad_scaler_state_round_trips_and_old_checkpoints_have_none(tmp_path):
    model, optimizer = _trained_adam()
    scaler = torch.amp.GradScaler("cpu", init_scale=512.0, growth_interval=7)
    scaler.scale(model(torch.ones(1, 3)).sum()).backward()
    scaler.step(optimizer)
    scaler.update()  # one step without overflow: the growth tracker moves
    rng = np.random.default_rng(0)
    save_checkpoint(tmp_path / "fp16", 1, model, optimizer, rng, {}, {}, [], scaler.state_dict())
    restored = torch.amp.GradScaler("cpu")
    restored.load_state_dict(load_checkpoint(tmp_path / "fp16" / "step_00000001").scaler_state)
    assert restored.state_dict() == scaler.state_dict() and restored.get_scale() == 512.0
    save_checkpoint(tmp_path / "fp32", 1, model, optimizer, rng, {}, {}, [])
    assert load_checkpoint(tmp_path / "fp32" / "step_00000001").scaler_state == {}


def test_pruning_keeps_the_latest_complete_checkpoints_and_leaves_other_folders_alone(tmp_path):
    model, optimizer = _trained_adam()
    for step in (2, 10, 4):
        save_checkpoint(tmp_path, step, model, optimizer, np.random.default_rng(0), {}, {}, [])
    others = [tmp_path / ".tmp_step_00000012_1", tmp_path / "step_00000011", tmp_path / "runs"]
    for folder in others:  # a write in progress, an incomplete checkpoint, the user's own folder
        folder.mkdir()
    assert prune_checkpoints(tmp_path, 0) == []  # 0 keeps all
    assert [p.name for p in prune_checkpoints(tmp_path, 2)] == ["step_00000002"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["step_00000004", "step_00000010", *(p.name for p in others)]
    )
    assert latest_checkpoint(tmp_path).name == "step_00000010"
    assert prune_checkpoints(tmp_path / "missing", 1) == []
