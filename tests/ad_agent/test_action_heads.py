"""The squashed-Gaussian action head for Box actions, beside the categorical one, on tiny models."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import distributions as D

from ad_agent import InContextPolicy
from ad_agent.actions import ActionCoding
from ad_agent.model import ADLSTM, ADTransformer, ModelConfig
from ad_agent.model.heads import CategoricalHead, SquashedGaussianHead, make_head
from ad_agent.pipeline import distill
from ad_agent.presets import get_preset, model_config_for
from ad_agent.training.loop import TrainConfig, train
from tests.ad_agent.test_continuous_actions import SMALL, box_policy, continuous_run, full_recomputation

CODING = ActionCoding(21, (-2.0, 0.0), (2.0, 1.0))  # unequal bounds: the scaling is per dimension


def gaussian_config(**extra) -> ModelConfig:
    return model_config_for("PointRobot-v0", **SMALL, action_head="gaussian", **extra)


def test_heads_are_chosen_by_name_and_a_gaussian_needs_a_box():
    assert isinstance(make_head("categorical", CODING), CategoricalHead)
    assert isinstance(make_head("gaussian", CODING), SquashedGaussianHead)
    with pytest.raises(ValueError, match="action_head must be one of"):
        make_head("beta", CODING)
    with pytest.raises(ValueError, match="needs a Box action space"):
        ModelConfig(obs_nvec=(9, 9), n_actions=5, action_head="gaussian")
    assert ModelConfig.from_dict(gaussian_config().to_dict()).action_head == "gaussian"


def test_the_gaussian_loss_is_the_probability_of_the_recorded_bin_under_the_squashed_gaussian():
    head = SquashedGaussianHead(CODING)
    raw = 0.3 * torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0))  # no bin beyond doubles' reach
    raw.requires_grad_()
    out = head.arrange(raw)
    targets = torch.randint(0, 21, (3, 5, 2), generator=torch.Generator().manual_seed(1))
    targets[0, 0] = torch.tensor([0, 20])  # the outer bins reach to the bounds
    # reference: the bin's interval of actions, mapped back through the scaling and tanh, under the Gaussian
    low, high = np.array(CODING.low), np.array(CODING.high)
    values = CODING.decode(targets.numpy())
    width = (high - low) / 20
    edges = [np.clip(values - width / 2, low, high), np.clip(values + width / 2, low, high)]
    with np.errstate(divide="ignore"):  # the bounds' edges are +-infinity before tanh
        pre = [torch.as_tensor(np.arctanh(np.clip(2 * (e - low) / (high - low) - 1, -1, 1))) for e in edges]
    normal = D.Normal(out[..., 0].double(), out[..., 1].double().exp())
    expected = -(normal.cdf(pre[1]) - normal.cdf(pre[0])).log().mean()
    loss = head.loss(out, targets)
    torch.testing.assert_close(loss.double(), expected, rtol=1e-4, atol=1e-4)
    loss.backward()
    assert torch.isfinite(raw.grad).all()  # the bounds' infinite edges do not poison the gradient
    step = out[:1, :1].detach()
    pairs = [torch.tensor([[[i, j]]]) for i in range(21) for j in range(21)]  # every (bin, bin) of one step
    mass = sum((-head.loss(step, pair, reduction="sum")).exp() for pair in pairs)
    torch.testing.assert_close(mass, torch.tensor(1.0))  # a distribution over the bins
    with pytest.raises(ValueError, match="label smoothing"):
        head.loss(out, targets, label_smoothing=0.1)


def test_the_gaussian_head_draws_within_the_bounds_around_its_mode():
    head = SquashedGaussianHead(CODING)
    out = torch.tensor([[[0.5, np.log(0.2)], [-1.0, np.log(0.2)]]] * 4000)  # (4000, d=2, 2)
    mode, mode_bins = head.choose(out[:1], np.random.default_rng(0), deterministic=True)
    np.testing.assert_allclose(mode[0], [2 * np.tanh(0.5), 0.5 + 0.5 * np.tanh(-1.0)], rtol=1e-6)
    np.testing.assert_array_equal(mode_bins, CODING.encode(mode))
    assert head.hits(out[:1], torch.as_tensor(mode_bins)).all()
    draws, bins = head.choose(out, np.random.default_rng(0), deterministic=False)
    assert draws.dtype == np.float32 and (draws >= CODING.low).all() and (draws <= CODING.high).all()
    pre = np.arctanh(2 * (draws - CODING.low) / np.subtract(CODING.high, CODING.low) - 1)
    np.testing.assert_allclose(pre.mean(0), [0.5, -1.0], atol=0.02)
    np.testing.assert_allclose(pre.std(0), [0.2, 0.2], atol=0.01)
    np.testing.assert_array_equal(bins, CODING.encode(draws))


@pytest.mark.parametrize("model_cls", [ADTransformer, ADLSTM])
def test_a_gaussian_model_gives_a_mean_and_a_bounded_log_std_per_dimension(model_cls):
    config = gaussian_config(**({"arch": "lstm"} if model_cls is ADLSTM else {}))
    out = model_cls(config)(torch.zeros(2, 3, 2), torch.full((2, 3, 2), 21), torch.zeros(2, 3), torch.zeros(2, 3))
    assert out.shape == (2, 3, 2, 2) and (out[..., 1] >= -5).all() and (out[..., 1] <= 2).all()


def gaussian_policy() -> InContextPolicy:
    return box_policy(action_head="gaussian")


def test_cached_gaussian_act_equals_full_recomputation():
    policy, rng, steps = gaussian_policy(), np.random.default_rng(3), 3 * 12 + 5
    obs = rng.uniform(-2, 2, size=(steps, 2)).astype(np.float32)
    rewards = (rng.random(steps) < 0.3).astype(float)
    policy.reset(seed=0)
    actions = np.array([policy.act(obs[t], rewards[t - 1] if t else 0.0, deterministic=True) for t in range(steps)])
    out = full_recomputation(policy, obs, actions, rewards)
    np.testing.assert_allclose(actions, np.tanh(out[:, :, 0].numpy()), atol=1e-5)  # bounds are -1, 1
    assert policy.action_distribution().shape == (1, 2, 2)
    with pytest.raises(ValueError, match="action_distribution"):
        policy.action_probabilities()


def test_sampled_gaussian_actions_are_seeded_and_not_bin_values():
    runs = []
    for _ in range(2):
        policy = gaussian_policy()
        policy.reset(batch_size=3, seed=5)
        runs.append(np.stack([policy.act(np.zeros((3, 2), np.float32), np.zeros(3)) for _ in range(4)]))
    np.testing.assert_array_equal(runs[0], runs[1])
    coding = gaussian_policy().spec.model.action_coding
    assert not np.allclose(runs[0], coding.decode(coding.encode(runs[0])))  # continuous, not snapped to bins


def test_a_gaussian_model_trains_and_round_trips_through_a_policy_file(tmp_path):
    continuous_run(tmp_path / "data")
    preset = get_preset("PointRobot-v0").customised(model={**SMALL, "action_head": "gaussian"}, train={"batch_size": 4})
    policy, log = distill(preset, tmp_path / "data", seed=0, steps=30)
    assert log[-1]["loss"] < log[0]["loss"] and 0 <= log[-1]["accuracy"] <= 1
    loaded = InContextPolicy.load(policy.save(tmp_path / "policy"))
    assert loaded.spec.model.action_head == "gaussian"
    for p in (policy, loaded):
        p.reset(batch_size=2, seed=1)
    first = policy.act(np.zeros((2, 2), np.float32), np.zeros(2))
    np.testing.assert_array_equal(first, loaded.act(np.zeros((2, 2), np.float32), np.zeros(2)))


def test_label_smoothing_is_refused_for_a_gaussian_head_before_training(tmp_path):
    from ad_agent.histories import FlatHistories

    continuous_run(tmp_path)
    config = gaussian_config()
    data = FlatHistories.load(tmp_path, config.action_coding)
    with pytest.raises(ValueError, match="label smoothing is for a categorical action head"):
        train(data, config, dataclasses.replace(TrainConfig(steps=1), label_smoothing=0.1))


def test_a_preset_refuses_a_head_its_env_or_training_cannot_take_before_any_work():
    with pytest.raises(ValueError, match="needs a Box action space"):
        get_preset("DarkRoom-v0").customised(model={"action_head": "gaussian"})
    with pytest.raises(ValueError, match="label smoothing is for a categorical action head"):
        get_preset("PointRobot-v0").customised(model={"action_head": "gaussian"}, train={"label_smoothing": 0.1})
    with pytest.raises(ValueError, match="action_head must be one of"):
        get_preset("PointRobot-v0").customised(model={"action_head": "Gaussian"})


def test_temperature_sharpens_or_flattens_what_each_head_samples():
    categorical = CategoricalHead(ActionCoding(classes=3))
    scores = torch.log(torch.tensor([[0.7, 0.2, 0.1]])).repeat(20000, 1)

    def shares(temperature: float) -> np.ndarray:
        _, classes = categorical.choose(scores, np.random.default_rng(0), False, temperature)
        return np.bincount(classes, minlength=3) / len(classes)

    expected = {t: np.array([0.7, 0.2, 0.1]) ** (1 / t) for t in (0.5, 1.0, 2.0)}
    for temperature, weights in expected.items():
        np.testing.assert_allclose(shares(temperature), weights / weights.sum(), atol=0.01)
    np.testing.assert_array_equal(shares(1e-300), [1, 0, 0])  # the most likely class, not NaN
    np.testing.assert_allclose(shares(1e300), [1 / 3] * 3, atol=0.01)
    gaussian = SquashedGaussianHead(CODING)
    out = torch.tensor([[[0.5, np.log(0.2)], [-1.0, np.log(0.2)]]] * 4000)
    draws, _ = gaussian.choose(out, np.random.default_rng(0), deterministic=False, temperature=0.5)
    pre = np.arctanh(2 * (draws - CODING.low) / np.subtract(CODING.high, CODING.low) - 1)
    np.testing.assert_allclose(pre.std(0), [0.1, 0.1], atol=0.005)  # half the model's spread of 0.2
