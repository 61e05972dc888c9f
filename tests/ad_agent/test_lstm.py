"""The LSTM variant (paper App. K): trains by the same loop, carries its state, and is a drop-in policy."""

import json

import numpy as np
import pytest
import torch

from ad_agent import evaluate
from ad_agent.deployment.policy import InContextPolicy, PolicySpec
from ad_agent.deployment.policy_file import CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE
from ad_agent.histories import FlatHistories, Streams
from ad_agent.model import ADLSTM, ARCHS, ADTransformer, ModelConfig, build_model
from ad_agent.presets import TRAIN_PRESETS
from ad_agent.training.loop import TrainConfig, train
from tests.ad_agent.test_encoders import N_ACTIONS, OBS_CONFIGS, observations_and_actions
from tests.ad_agent.test_policy import act_step_by_step, full_recomputation, play

LSTM = {"arch": "lstm", "d_model": 16, "n_layers": 2, "lstm_hidden": 24, "d_ff": 32}


@pytest.fixture
def lstm_policy() -> InContextPolicy:
    """An untrained DarkRoom LSTM policy with the same short context as the transformer fixture."""
    torch.manual_seed(0)
    config = ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=12, **LSTM)
    return InContextPolicy(build_model(config), PolicySpec(config, "DarkRoom-v0", max_episode_steps=20), "cpu")


def histories(kind: str) -> FlatHistories:
    """Streams whose every action is decided by its observation (see ``observations_and_actions``)."""
    obs, actions = observations_and_actions(kind, batch=4, steps=40, g=torch.Generator().manual_seed(0))
    streams = Streams(
        observations=obs.numpy(),
        actions=actions.numpy(),
        rewards=np.zeros((4, 40), np.float32),
        episode_starts=np.broadcast_to(np.arange(40) % 10 == 0, (4, 40)).copy(),
    )
    return FlatHistories.from_streams([streams], n_actions=N_ACTIONS, metadata=[{}])


@pytest.mark.parametrize(("kind", "steps"), [("discrete", 80), ("vector", 80), ("image", 25)])
def test_lstm_trains_with_the_train_loop_on_every_observation_kind(kind, steps):
    config = ModelConfig(**OBS_CONFIGS[kind], n_actions=N_ACTIONS, context_len=8, dropout=0.0, **LSTM)
    model, log = train(histories(kind), config, TrainConfig(steps=steps, batch_size=8, warmup_steps=1, peak_lr=1e-2))
    assert isinstance(model, ADLSTM) and not model.training
    first, last = np.mean([r["loss"] for r in log[:5]]), np.mean([r["loss"] for r in log[-5:]])
    assert last < 0.5 * first, [r["loss"] for r in log]


def test_every_arch_builds_its_model_and_an_unknown_one_is_refused():
    built = {
        arch: build_model(ModelConfig(obs_nvec=(9,), n_actions=5, arch=arch, d_model=16, n_heads=2)) for arch in ARCHS
    }
    assert isinstance(built["transformer"], ADTransformer) and isinstance(built["lstm"], ADLSTM)
    with pytest.raises(ValueError, match=r"arch must be one of \('transformer', 'lstm'\), got 'gru'"):
        ModelConfig(obs_nvec=(9,), n_actions=5, arch="gru")
    with pytest.raises(ValueError, match="lstm_hidden"):
        ModelConfig(obs_nvec=(9,), n_actions=5, arch="lstm", lstm_hidden=0)


def test_lstm_step_by_step_act_equals_a_full_sequence_forward(lstm_policy):
    """Carrying (h, c) one step at a time computes what one pass over the whole trial does."""
    steps = 5 * lstm_policy.context_len + 7
    obs, actions, rewards, probs = act_step_by_step(lstm_policy, steps)
    expected = full_recomputation(lstm_policy, obs, actions, rewards, np.arange(steps) % 20 == 0)
    assert np.abs(probs - expected).max() <= 1e-5
    assert lstm_policy.context_steps == steps  # the state reflects every step, not a window


def test_lstm_memory_reaches_past_the_training_window_unlike_the_transformer(lstm_policy, policy):
    """A change at step 0 still moves the LSTM's prediction 4 windows later; the transformer's window forgot it.

    Untrained, the LSTM's forget gates sit near 1/2 and would wash the change out to float noise;
    opening them (as training does for what must be remembered) shows nothing else cuts the memory.
    """
    hidden = lstm_policy.spec.model.lstm_hidden
    with torch.no_grad():
        for layer in range(lstm_policy.spec.model.n_layers):
            getattr(lstm_policy.model.lstm, f"bias_ih_l{layer}")[hidden : 2 * hidden] = 10.0  # gates i, f, g, o
    steps = 4 * lstm_policy.context_len
    rng = np.random.default_rng(4)
    obs, actions = rng.integers(0, 9, size=(steps, 2)), rng.integers(0, 5, size=steps)
    rewards, starts = (rng.random(steps) < 0.3).astype(float), np.arange(steps) % 20 == 0
    changed = obs.copy()
    changed[0] = (changed[0] + 4) % 9
    for p, remembers in ((lstm_policy, True), (policy, False)):
        base = full_recomputation(p, obs, actions, rewards, starts)[-1]
        other = full_recomputation(p, changed, actions, rewards, starts)[-1]
        assert (np.abs(base - other).max() > 1e-7) == remembers


def test_lstm_prime_carries_the_state_as_if_the_history_had_been_played(lstm_policy):
    rng = np.random.default_rng(3)
    steps = 40
    obs, actions = rng.integers(0, 9, size=(steps + 1, 2)), rng.integers(0, 5, size=steps + 1)
    rewards = (rng.random(steps + 1) < 0.3).astype(float)
    lstm_policy.reset(batch_size=2)
    lstm_policy.prime(obs[:steps], actions[:steps], rewards[:steps])
    lstm_policy.act(np.stack([obs[steps]] * 2), reward=123.0)
    expected = full_recomputation(lstm_policy, obs, actions, rewards, np.arange(steps + 1) % 20 == 0)[-1]
    np.testing.assert_allclose(lstm_policy.action_probabilities(), np.stack([expected] * 2), atol=1e-5)


def test_lstm_batched_act_equals_per_task_act(lstm_policy):
    rng = np.random.default_rng(1)
    obs, rewards = rng.integers(0, 9, size=(30, 3, 2)), (rng.random((30, 3)) < 0.3).astype(float)
    lstm_policy.reset(batch_size=3)
    batched = [lstm_policy.act(obs[t], rewards[t], deterministic=True) for t in range(30)]
    for task in range(3):
        lstm_policy.reset()
        single = [lstm_policy.act(obs[t, task], rewards[t, task], deterministic=True) for t in range(30)]
        assert single == [int(b[task]) for b in batched]


def test_lstm_policy_file_round_trips_with_its_arch(lstm_policy, tmp_path):
    path = lstm_policy.save(tmp_path / "p")
    saved = json.loads((path / CONFIG_FILE).read_text())
    assert saved["format_version"] == FORMAT_VERSION and saved["model"]["arch"] == "lstm"
    loaded = InContextPolicy.load(path, device="cpu")
    assert isinstance(loaded.model, ADLSTM)
    assert play(loaded, 40, seed=3) == play(lstm_policy, 40, seed=3)

    (path / WEIGHTS_FILE).write_bytes((path / WEIGHTS_FILE).read_bytes()[:-1] + b"\0")
    with pytest.raises(ValueError, match="SHA-256 mismatch"):  # the weights hash still guards LSTM files
        InContextPolicy.load(path)


def test_policy_files_with_a_wrong_or_unknown_arch_are_refused(lstm_policy, tmp_path):
    path = lstm_policy.save(tmp_path / "p")
    config = (path / CONFIG_FILE).read_text()
    for arch, match in (("transformer", "does not match the model"), ("gru", "arch must be one of")):
        (path / CONFIG_FILE).write_text(config.replace('"arch": "lstm"', f'"arch": "{arch}"'))
        with pytest.raises(ValueError, match=match):
            InContextPolicy.load(path)


def test_version_2_policy_files_still_load_as_transformers(policy, tmp_path):
    """Files written before model.arch existed (format 2, like the shipped DarkRoom policy) mean a transformer."""
    path = policy.save(tmp_path / "p")
    config = json.loads((path / CONFIG_FILE).read_text())
    config["format_version"] = 2
    del config["model"]["arch"], config["model"]["lstm_hidden"]
    (path / CONFIG_FILE).write_text(json.dumps(config))
    loaded = InContextPolicy.load(path, device="cpu")
    assert isinstance(loaded.model, ADTransformer) and loaded.spec.model == policy.spec.model
    assert play(loaded, 30, seed=1) == play(policy, 30, seed=1)
    shipped = InContextPolicy.load("pretrained:DarkRoom-v0")
    assert shipped.spec.model.arch == "transformer" and isinstance(shipped.model, ADTransformer)


def test_evaluate_runs_an_lstm_policy_over_many_tasks(lstm_policy):
    returns = evaluate(lstm_policy, "DarkRoom-v0", [(4, 4), (0, 0), (4, 4)], episodes=3, seed=0)
    assert returns.shape == (3, 3) and (returns >= 0).all() and (returns <= 20).all()
    assert lstm_policy.context_steps == 3 * 20


def test_the_lstm_train_preset_makes_an_lstm():
    config = ModelConfig(obs_nvec=(9, 9), n_actions=5, **TRAIN_PRESETS["lstm"].model.choices())
    assert isinstance(build_model(config), ADLSTM)


def test_cli_trains_the_lstm_preset(tmp_path):
    from ad_agent.cli import main
    from tests.ad_agent.synthetic import write_learnable_histories

    write_learnable_histories(tmp_path / "data")
    (tmp_path / "config.json").write_text('{"model": {"context_len": 10}}')
    argv = ["train", "--data", str(tmp_path / "data"), "--policy", str(tmp_path / "policy"), "--train-preset", "lstm"]
    assert main([*argv, "--config", str(tmp_path / "config.json"), "--train-steps", "2", "--device", "cpu"]) == 0
    assert InContextPolicy.load(tmp_path / "policy").spec.model.arch == "lstm"
