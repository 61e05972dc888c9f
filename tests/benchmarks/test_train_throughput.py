"""The shared timing helper of the training-throughput benchmarks."""

import torch

from ad_agent.presets import TRAIN_PRESETS, model_config_for
from benchmarks.train_throughput import alternate_rounds, synthetic_histories, timed_training


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


def test_rounds_alternate_the_variants_and_keep_warm_up_steps_apart():
    order = []

    def variant(name: str, seconds: list[float]):
        def run(data, steps, seed):
            order.append(name)
            return seconds, 100

        return run

    chosen = {"a": variant("a", [9.0, 1.0, 3.0]), "b": variant("b", [8.0, 2.0, 2.0])}
    timed = alternate_rounds(chosen, None, 2, 0, rounds=2)
    assert order == ["a", "b", "a", "b"]
    assert timed.median == {"a": 2.0, "b": 2.0} and timed.first_step == {"a": [9.0, 9.0], "b": [8.0, 8.0]}
    assert timed.steps_per_window == {"a": 100, "b": 100} and len(timed.loads) == 4
