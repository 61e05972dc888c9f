"""The shared timing helper of the training-throughput benchmarks."""

import torch

from ad_agent.presets import TRAIN_PRESETS, model_config_for
from benchmarks.train_throughput import synthetic_histories, timed_training


def test_timed_training_times_every_step_after_a_warm_up_and_follows_the_seed():
    data = synthetic_histories(0, n_streams=4, n_steps=300)
    preset = TRAIN_PRESETS["fast"]
    model_config = model_config_for("DarkRoom-v0", **preset.model.updated({"n_layers": 1}).choices())
    first, seconds = timed_training(data, model_config, preset.train, 3, seed=1, batch_size=4)
    again, _ = timed_training(data, model_config, preset.train, 3, seed=1, batch_size=4)
    other, _ = timed_training(data, model_config, preset.train, 3, seed=2, batch_size=4)
    assert len(seconds) == 4 and all(s > 0 for s in seconds)  # warm-up step, then the 3 timed ones
    weights = [next(iter(model.state_dict().values())) for model in (first, again, other)]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
