"""Continuous (Box) actions through the model, the training windows and the policy, on a tiny budget."""

import dataclasses
import json
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ad_agent
from ad_agent import InContextPolicy
from ad_agent.actions import ActionCoding
from ad_agent.collection import collect, make_jobs
from ad_agent.deployment.policy import PolicySpec
from ad_agent.histories import FlatHistories, LazyHistories, Streams, write_run
from ad_agent.model import ADLSTM, ADTransformer, ModelConfig
from ad_agent.pipeline import distill
from ad_agent.presets import get_preset, model_config_for
from ad_agent.training.loop import mask_inputs

BOX = ActionCoding(21, (-1.0, -1.0), (1.0, 1.0))
SMALL = dict(context_len=12, d_model=16, n_layers=1, n_heads=2, d_ff=32, dropout=0.0)


@settings(max_examples=50, deadline=None)
@given(classes=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=8))
def test_bin_values_encode_back_to_their_bins(classes):
    classes = np.array(classes)
    values = BOX.decode(classes)
    assert values.dtype == np.float32 and (np.abs(values) <= 1).all()
    np.testing.assert_array_equal(BOX.encode(values), classes)


def test_encoding_clips_rounds_and_refuses_what_it_cannot_mean():
    np.testing.assert_array_equal(BOX.encode(np.array([[-5.0, 0.04], [0.06, 1.0]])), [[0, 10], [11, 20]])
    assert (BOX.components, BOX.null, BOX.shape) == (2, 21, (2,))
    with pytest.raises(ValueError, match="continuous"):
        ActionCoding(5).encode(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="end in 2 dimensions"):
        BOX.encode(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="finite low < high"):
        ActionCoding(21, (1.0,), (1.0,))


def test_a_box_model_config_needs_bounds_and_no_discrete_actions():
    config = model_config_for("PointRobot-v0", **SMALL)
    assert config.n_actions == 0 and config.action_coding == BOX
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="n_actions 0"):
        ModelConfig(obs_nvec=(), obs_kind="vector", obs_shape=(2,), n_actions=0)
    with pytest.raises(ValueError, match="n_actions 5"):
        dataclasses.replace(config, n_actions=5)


@pytest.mark.parametrize("model_cls", [ADTransformer, ADLSTM])
def test_the_model_predicts_every_dimension_over_its_bins(model_cls):
    config = model_config_for("PointRobot-v0", **SMALL, **({"arch": "lstm"} if model_cls is ADLSTM else {}))
    model = model_cls(config)
    prev = torch.tensor([[[21, 21], [0, 20]]])  # "no action yet", then a first action's bins
    logits = model(torch.zeros(1, 2, 2), prev, torch.zeros(1, 2), torch.tensor([[True, False]]))
    assert logits.shape == (1, 2, 2, 21)
    other = model(torch.zeros(1, 2, 2), torch.tensor([[[21, 21], [20, 0]]]), torch.zeros(1, 2), torch.tensor([[1, 0]]))
    assert not torch.allclose(logits[0, 1], other[0, 1])  # each dimension of the previous action is read


def continuous_run(tmp_path, seed: int = 0) -> Streams:
    rng = np.random.default_rng(seed)
    n, t = 2, 30
    streams = Streams(
        rng.normal(size=(n, t, 2)).astype(np.float32),
        rng.uniform(-1, 1, size=(n, t, 2)).astype(np.float32),
        (rng.random((n, t)) < 0.3).astype(np.float32),
        np.arange(t)[None].repeat(n, 0) % 10 == 0,
    )
    write_run(tmp_path / f"run{seed}.h5", streams, {"env_id": "PointRobot-v0"})
    return streams


def test_flat_and_lazy_windows_hold_the_same_bins(tmp_path):
    streams = continuous_run(tmp_path)
    flat = FlatHistories.load(tmp_path, BOX)
    np.testing.assert_array_equal(flat.actions, BOX.encode(streams.actions).reshape(-1, 2))
    np.testing.assert_array_equal(flat.prev_actions[0], [21, 21])  # a stream begins with "no action yet"
    np.testing.assert_array_equal(flat.prev_actions[1:30], flat.actions[:29])
    with LazyHistories.open(tmp_path, BOX) as lazy:
        a, b = (data.sample_windows(np.random.default_rng(4), 8, 10) for data in (flat, lazy))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    with pytest.raises(ValueError, match="continuous"):
        FlatHistories.load(tmp_path, n_actions=5)  # a Discrete model cannot read them


def test_input_masking_hides_every_dimension_of_a_masked_step(tmp_path):
    continuous_run(tmp_path)
    batch = FlatHistories.load(tmp_path, BOX).sample_windows(np.random.default_rng(0), 4, 10)
    masked = mask_inputs(batch, np.random.default_rng(1), 0.5, BOX.null)["prev_actions"]
    hidden = masked == BOX.null
    assert hidden.any() and (hidden.all(-1) == hidden.any(-1)).all()  # whole steps, not single dimensions
    np.testing.assert_array_equal(masked[~hidden], batch["prev_actions"][~hidden])


def box_policy(**model: Any) -> InContextPolicy:
    """A small untrained point-robot policy (``model``: more settings, e.g. its action head)."""
    torch.manual_seed(0)
    config = model_config_for("PointRobot-v0", **SMALL, **model)
    return InContextPolicy(ADTransformer(config), PolicySpec(config, "PointRobot-v0", 20), "cpu")


def full_recomputation(policy: InContextPolicy, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray):
    """The model's output at every step of one trial ``(T, ...)``, recomputed from the whole history at
    once (episodes of 20 steps; ``actions`` as the env received them, ``rewards[t]`` what followed step t)."""
    coding = policy.spec.model.action_coding
    prev = np.concatenate([[[coding.null] * coding.components], coding.encode(actions[:-1])])
    with torch.no_grad():
        return policy.model(
            torch.as_tensor(obs)[None],
            torch.as_tensor(prev)[None],
            torch.as_tensor(np.concatenate([[0.0], rewards[:-1]]), dtype=torch.float32)[None],
            torch.as_tensor(np.arange(len(obs)) % 20 == 0)[None],
        )[0]


def test_cached_act_equals_full_recomputation_with_continuous_inputs():
    policy, rng, steps = box_policy(), np.random.default_rng(2), 5 * 12 + 7
    obs = rng.uniform(-2, 2, size=(steps, 2)).astype(np.float32)
    rewards = (rng.random(steps) < 0.3).astype(float)
    policy.reset(seed=0)
    actions, probs = [], []
    for t in range(steps):
        actions.append(policy.act(obs[t], rewards[t - 1] if t else 0.0))
        probs.append(policy.action_probabilities()[0])
    actions = np.array(actions)
    assert actions.shape == (steps, 2) and actions.dtype == np.float32 and (np.abs(actions) <= 1).all()
    logits = full_recomputation(policy, obs, actions, rewards)
    assert np.abs(np.array(probs) - torch.softmax(logits, -1).numpy()).max() <= 1e-5


def test_prime_takes_the_envs_float_actions_and_refuses_others():
    policy = box_policy()
    history = (np.zeros((20, 2), np.float32), np.full((20, 2), 0.5, np.float32), np.zeros(20))
    policy.prime(*history)
    np.testing.assert_array_equal(policy._last_actions, [[15, 15]])
    policy.reset()
    with pytest.raises(ValueError, match="finite floats in"):
        policy.prime(history[0], np.full((20, 2), 1.5), history[2])
    with pytest.raises(ValueError, match="expected \\(20, 2\\)"):
        policy.prime(history[0], np.zeros(20), history[2])


def test_collect_distill_evaluate_save_and_load_on_the_point_robot(tmp_path):
    preset = get_preset("PointRobot-v0").customised(model=SMALL, train={"batch_size": 4, "mask_prob": 0.3})
    source = dataclasses.replace(
        preset.source, n_envs=2, total_timesteps=200, hyperparams={**preset.source.hyperparams, "batch_size": 40}
    )
    collect(make_jobs("PointRobot-v0", preset.train_tasks[:2], 1, 0, "train"), source, tmp_path / "data", workers=1)
    policy, log = distill(preset, tmp_path / "data", seed=0, steps=5)
    assert np.isfinite(log[-1]["loss"]) and 0 <= log[-1]["accuracy"] <= 1
    returns = ad_agent.evaluate(policy, "PointRobot-v0", preset.test_tasks[:3], episodes=2, seed=0)
    assert returns.shape == (3, 2) and (returns >= 0).all()
    loaded = InContextPolicy.load(policy.save(tmp_path / "policy"))
    assert loaded.spec.model.action_coding == BOX
    loaded.reset(batch_size=3, seed=1)
    actions = loaded.act(np.zeros((3, 2), np.float32), np.zeros(3))
    assert actions.shape == (3, 2) and loaded.action_probabilities().shape == (3, 2, 21)
    assert gym_box_contains(actions)


def gym_box_contains(actions: np.ndarray) -> bool:
    import gymnasium as gym

    space = gym.make("PointRobot-v0").action_space
    return all(space.contains(a) for a in actions)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"action_low": "ab"}, "action_low must be a list"),
        ({"action_high": [1.0, float("nan")]}, "action_high must be a list of at most 256 finite numbers"),
        ({"action_low": [], "action_high": []}, "n_actions must be an integer in \\[1"),
        ({"n_actions": -1}, "n_actions must be an integer in \\[0"),
    ],
)
def test_a_box_policy_file_with_bad_bounds_is_refused(change, match):
    from ad_agent.deployment.policy_file import check_model_config

    good = json.loads(json.dumps(model_config_for("PointRobot-v0", **SMALL).to_dict()))  # as policy.json holds it
    check_model_config(good)
    with pytest.raises(ValueError, match=match):
        check_model_config({**good, **change})


def test_the_policy_file_describes_the_box_and_attention_keeps_float_actions(tmp_path):
    import json as json_

    from ad_agent.deployment.attention import attention_maps, play_trial

    policy = box_policy()
    description = json_.loads((policy.save(tmp_path / "p") / "policy.json").read_text())
    assert description["action_space"] == {
        "type": "Box", "shape": [2], "low": [-1.0, -1.0], "high": [1.0, 1.0], "dtype": "float32"
    }  # fmt: skip
    trial = play_trial(policy, "PointRobot-v0", (0.0, 1.0), episodes=2, seed=0)
    assert trial.actions.dtype == np.float32 and trial.actions.shape == (40, 2)
    assert len(np.unique(trial.actions)) > 3  # bin values, not truncated to -1, 0, 1
    assert attention_maps(policy, trial).shape[0] == 1


def test_nan_actions_have_no_bin():
    with pytest.raises(ValueError, match="finite"):
        BOX.encode(np.array([[np.nan, 0.0]]))
