"""Distillation loop: learns, is reproducible under a seed, follows its schedule."""

import dataclasses

import numpy as np
import pytest
import torch

from ad_agent.histories import FlatHistories
from ad_agent.model import ADTransformer, ModelConfig
from ad_agent.presets import TRAIN_PRESETS
from ad_agent.training.loop import (
    TrainConfig,
    batch_to_tensors,
    learning_rate,
    mask_inputs,
    train,
    validation_scores,
    validation_windows,
)

CONFIG = ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=16, d_model=32, n_layers=1, n_heads=2, d_ff=64)


def test_training_lowers_the_loss(tiny_data):
    _, log = train(tiny_data, CONFIG, TrainConfig(steps=150, batch_size=16, warmup_steps=10, peak_lr=3e-3))
    first, last = np.mean([r["loss"] for r in log[:10]]), np.mean([r["loss"] for r in log[-10:]])
    assert last < 0.5 * first and log[-1]["accuracy"] > 0.6


def test_same_seed_same_model_other_seed_other_model(tiny_data):
    config = TrainConfig(steps=5, batch_size=8, seed=3)
    a, _ = train(tiny_data, CONFIG, config)
    b, _ = train(tiny_data, CONFIG, config)
    c, _ = train(tiny_data, CONFIG, TrainConfig(steps=5, batch_size=8, seed=4))
    _assert_same_weights(a, b)
    assert any(not torch.equal(t, c.state_dict()[n]) for n, t in a.state_dict().items())
    assert not a.training  # returned ready for inference


def test_schedule_warms_up_then_cosine_decays():
    config = TrainConfig(steps=100, warmup_steps=10, initial_lr=1e-6, peak_lr=1e-3)
    lrs = [learning_rate(s, config) for s in range(100)]
    assert lrs[0] == 1e-6 and max(lrs) == pytest.approx(1e-3)
    assert np.all(np.diff(lrs[:10]) > 0) and np.all(np.diff(lrs[10:]) <= 0)
    assert lrs[-1] < 1e-5


def test_a_run_shorter_than_its_warm_up_still_peaks_and_decays():
    config = TrainConfig(steps=100, warmup_steps=200, initial_lr=1e-6, peak_lr=1e-3)
    lrs = [learning_rate(s, config) for s in range(100)]
    assert max(lrs) == pytest.approx(1e-3) and int(np.argmax(lrs)) == 50
    assert lrs[-1] < 1e-5


def test_bandit_histories_with_discrete_observations_train():
    """UCB streams carry one int per step (Discrete(1)); the model sees them as one component."""
    from ad_agent.sources import UCBConfig, run_ucb

    task = (0.1,) * 9 + (0.9,)
    streams = run_ucb(UCBConfig(n_actors=8, n_pulls=40), "AdversarialBandit-v0", {"task": task}, seed=0)
    assert streams.observations.shape == (8, 40)
    data = FlatHistories.from_streams([streams], n_actions=10, metadata=[{}])
    config = ModelConfig(obs_nvec=(1,), n_actions=10, context_len=20, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    model, log = train(data, config, TrainConfig(steps=30, batch_size=8, warmup_steps=5, device="cpu"))
    assert log[-1]["loss"] < log[0]["loss"]


def test_masking_replaces_feedback_only_and_only_when_asked(tiny_data):
    batch = tiny_data.sample_windows(np.random.default_rng(0), 4, 16)
    assert mask_inputs(batch, np.random.default_rng(0), 0.0, 5) is batch
    masked = mask_inputs(batch, np.random.default_rng(0), 1.0, 5)
    assert np.all(masked["prev_actions"] == 5) and np.all(masked["prev_rewards"] == 0)
    for key in ("observations", "episode_starts", "actions"):
        assert np.array_equal(masked[key], batch[key])


def test_regularisers_act_in_training_but_validation_sees_plain_inputs(tiny_data, monkeypatch):
    """With mask_prob=1 every training input is masked; validation inputs never are."""
    seen = []
    original = ADTransformer.forward

    def spy(self, observations, prev_actions, prev_rewards, episode_starts, cache=None):
        seen.append((self.training, prev_actions.clone()))
        return original(self, observations, prev_actions, prev_rewards, episode_starts, cache)

    monkeypatch.setattr(ADTransformer, "forward", spy)
    config = TrainConfig(
        steps=2, batch_size=4, mask_prob=1.0, label_smoothing=0.5, eval_every=1, val_windows=4, device="cpu"
    )
    model, log = train(tiny_data, CONFIG, config, val_data=tiny_data)
    assert all(bool((p == 5).all()) for training, p in seen if training)
    assert any(bool((p != 5).any()) for training, p in seen if not training)
    monkeypatch.setattr(ADTransformer, "forward", original)
    windows = validation_windows(tiny_data, 4, CONFIG.context_len)
    scores = validation_scores(model, windows, 4, torch.device("cpu"))
    assert scores == {k: log[-1][k] for k in ("val_loss", "val_accuracy")}
    logits = model(**batch_to_tensors(windows, torch.device("cpu")))
    plain = torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch.as_tensor(windows["actions"]).flatten())
    assert log[-1]["val_loss"] == pytest.approx(plain.item(), rel=1e-5)


def test_validation_is_recorded_when_due_and_model_stays_in_training(tiny_data):
    records = []
    config = TrainConfig(steps=5, batch_size=4, eval_every=2, val_windows=8)
    _, log = train(tiny_data, CONFIG, config, on_progress=records.append, val_data=tiny_data)
    assert [r["step"] for r in log if "val_loss" in r] == [2, 4, 5]
    assert records == log and all(0 <= r.get("val_accuracy", 0) <= 1 for r in log)


def _timeless(log):
    return [{k: v for k, v in r.items() if k not in ("seconds", "tokens_per_s")} for r in log]


def _crash_at(step):
    """A progress callback that interrupts training once ``step`` is done, as Ctrl-C would."""

    def crash(record):
        if record["step"] == step:
            raise KeyboardInterrupt

    return crash


def _assert_same_weights(expected, actual):
    for name, tensor in expected.state_dict().items():
        assert torch.equal(tensor, actual.state_dict()[name]), name


@pytest.mark.parametrize("amp", ["off", "bf16"])
def test_resume_after_a_crash_is_bit_identical(tiny_data, tmp_path, amp):
    config = TrainConfig(
        steps=20, batch_size=4, warmup_steps=3, mask_prob=0.3, checkpoint_every=10, eval_every=5, amp=amp
    )
    folder = tmp_path / "checkpoints"
    straight, straight_log = train(tiny_data, CONFIG, config, val_data=tiny_data)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_data, CONFIG, config, _crash_at(13), val_data=tiny_data, checkpoint_dir=folder)
    torch.manual_seed(999)  # resuming must not depend on the process's RNG state
    resumed, resumed_log = train(tiny_data, CONFIG, config, val_data=tiny_data, checkpoint_dir=folder, resume=True)
    _assert_same_weights(straight, resumed)
    assert _timeless(resumed_log) == _timeless(straight_log)
    assert sorted(p.name for p in folder.iterdir()) == ["step_00000010", "step_00000020"]


def test_kept_checkpoints_are_the_latest_and_resume_exactly(tiny_data, tmp_path):
    config = TrainConfig(steps=8, batch_size=4, warmup_steps=2, checkpoint_every=2, keep_checkpoints=1)
    folder = tmp_path / "checkpoints"
    straight, _ = train(tiny_data, CONFIG, config)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_data, CONFIG, config, _crash_at(5), checkpoint_dir=folder)
    assert [p.name for p in folder.iterdir()] == ["step_00000004"]
    keep_two = dataclasses.replace(config, keep_checkpoints=2)  # how many stay is no setting of the weights
    resumed, _ = train(tiny_data, CONFIG, keep_two, checkpoint_dir=folder, resume=True)
    _assert_same_weights(straight, resumed)
    assert sorted(p.name for p in folder.iterdir()) == ["step_00000006", "step_00000008"]


def test_resume_refuses_other_settings_and_names_them(tiny_data, tmp_path):
    config = TrainConfig(steps=2, batch_size=4, checkpoint_every=1)
    train(tiny_data, CONFIG, config, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"other settings \(steps\)"):
        train(tiny_data, CONFIG, TrainConfig(steps=3, batch_size=4), checkpoint_dir=tmp_path, resume=True)
    wider = ModelConfig(**{**CONFIG.to_dict(), "d_ff": 32})
    with pytest.raises(ValueError, match=r"other settings \(model.d_ff\)"):
        train(tiny_data, wider, config, checkpoint_dir=tmp_path, resume=True)


def test_resume_refuses_other_histories(tiny_data, tmp_path):
    config = TrainConfig(steps=2, batch_size=4, checkpoint_every=1)
    train(tiny_data, CONFIG, config, checkpoint_dir=tmp_path / "ckpt")
    other = FlatHistories.load(tmp_path, n_actions=5, last_episodes=2)  # fewer steps per stream
    with pytest.raises(ValueError, match="trained on other histories"):
        train(other, CONFIG, config, checkpoint_dir=tmp_path / "ckpt", resume=True)


def test_resume_refuses_weights_that_do_not_fit_the_described_model(tiny_data, tmp_path):
    from safetensors.torch import load_file, save_file

    config = TrainConfig(steps=3, batch_size=4, checkpoint_every=1)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_data, CONFIG, config, _crash_at(2), checkpoint_dir=tmp_path)
    weights = sorted(tmp_path.glob("step_*"))[-1] / "model.safetensors"
    tensors = load_file(weights)
    save_file({**tensors, next(iter(tensors)): torch.zeros(1, 1)}, weights)
    with pytest.raises(ValueError, match="weights do not fit the model it describes"):
        train(tiny_data, CONFIG, config, checkpoint_dir=tmp_path, resume=True)


def test_resume_needs_a_checkpoint_folder(tiny_data):
    with pytest.raises(ValueError, match="resume needs the checkpoint folder"):
        train(tiny_data, CONFIG, TrainConfig(steps=1, batch_size=4), resume=True)


def test_resume_at_another_checkpoint_and_validation_pace_is_exact(tiny_data, tmp_path):
    config = TrainConfig(steps=6, batch_size=4, warmup_steps=2, checkpoint_every=2, eval_every=3)
    straight, _ = train(tiny_data, CONFIG, config, val_data=tiny_data)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_data, CONFIG, config, _crash_at(3), val_data=tiny_data, checkpoint_dir=tmp_path)
    other_pace = dataclasses.replace(config, checkpoint_every=1, eval_every=1)
    resumed, log = train(tiny_data, CONFIG, other_pace, val_data=tiny_data, checkpoint_dir=tmp_path, resume=True)
    _assert_same_weights(straight, resumed)
    assert [r["step"] for r in log if "val_loss" in r] == [3, 4, 5, 6]  # steps 1-2 ran before, at the old pace


def test_tensorboard_events_are_written(tiny_data, tmp_path):
    pytest.importorskip("tensorboard")
    train(tiny_data, CONFIG, TrainConfig(steps=2, batch_size=4), log_dir=tmp_path)
    assert list(tmp_path.glob("events.out.tfevents.*"))


@pytest.mark.parametrize("setting", ["eval_every", "checkpoint_every", "keep_checkpoints"])
def test_negative_paces_and_counts_are_refused(setting):
    with pytest.raises(ValueError, match=f"{setting}.* must be >= 0"):
        TrainConfig(**{setting: -1})


def test_presets_build_valid_configs():
    paper = TRAIN_PRESETS["paper"]
    assert paper.train.batch_size == 128 and paper.train.peak_lr == 3e-4 and paper.train.mask_prob == 0.3
    for preset in TRAIN_PRESETS.values():
        ModelConfig(obs_nvec=(9, 9), n_actions=5, **preset.model.choices())


def test_in_context_probe_runs_when_due_in_eval_mode_and_leaves_training_unchanged(tiny_data):
    calls = []

    def probe(model):
        calls.append(model.training)
        return {"in_context_last": 1.5}

    config = TrainConfig(steps=5, batch_size=4, warmup_steps=1, device="cpu", in_context_every=2)
    probed_model, log = train(tiny_data, CONFIG, config, in_context_eval=probe)
    plain_model, _ = train(tiny_data, CONFIG, config)
    assert calls == [False, False, False]  # steps 2, 4 and the last, each in eval mode
    assert [r["step"] for r in log if "in_context_last" in r] == [2, 4, 5]
    _assert_same_weights(plain_model, probed_model)


@pytest.mark.parametrize(
    ("setting", "value"), [("mask_prob", 1.5), ("label_smoothing", 1.0), ("label_smoothing", -0.1)]
)
def test_probabilities_out_of_range_are_refused_before_training(setting, value):
    with pytest.raises(ValueError, match=f"{setting} must be in"):
        TrainConfig(**{setting: value})
