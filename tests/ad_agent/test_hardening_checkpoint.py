"""A damaged or tampered checkpoint is a ValueError naming the file and field, not a KeyError or traceback."""

import json

import numpy as np
import pytest
import torch

from ad_agent.training.checkpoint import STATE_FILE, load_checkpoint, save_checkpoint


@pytest.fixture
def folder(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    return save_checkpoint(tmp_path, 3, model, optimizer, np.random.default_rng(0), {}, {}, [])


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda state: state.pop("log"), "log must be a list"),
        (lambda state: state.update(step="3"), "step must be a int"),
        (lambda state: state.update(step=-1), "step must be >= 0"),
        (lambda state: state.update(model_config=[1]), "model_config must be a dict"),
    ],
)
def test_a_tampered_state_names_the_field(folder, change, match):
    state = json.loads((folder / STATE_FILE).read_text())
    change(state)
    (folder / STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(ValueError, match=match):
        load_checkpoint(folder)


def test_damaged_files_are_named(folder):
    (folder / "rng.safetensors").write_bytes(b"cut")
    with pytest.raises(ValueError, match="rng.safetensors is missing or not a valid safetensors file"):
        load_checkpoint(folder)
    (folder / STATE_FILE).write_text("{half")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_checkpoint(folder)
