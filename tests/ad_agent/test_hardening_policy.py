"""The policy's public surface under bad input: policy files, act / prime / reset arguments, threads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ad_agent.deployment import policy_file
from ad_agent.deployment.policy import MAX_ABS_REWARD, InContextPolicy
from ad_agent.deployment.policy_file import CONFIG_FILE


@pytest.fixture
def saved(policy, tmp_path):
    """A saved policy folder and its description as a dict, to tamper with."""
    path = policy.save(tmp_path / "p")
    return path, json.loads((path / CONFIG_FILE).read_text())


def _write(path, config) -> None:
    (path / CONFIG_FILE).write_text(json.dumps(config))


def _with(config: dict, key: str, value) -> dict:
    """``config`` with ``key`` (``"model.x"`` for a model field) set to ``value``."""
    config = json.loads(json.dumps(config))
    where, _, name = key.rpartition(".")
    (config[where] if where else config)[name] = value
    return config


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("model.context_len", 10_000_000, "model.context_len must be an integer in"),
        ("model.context_len", 1e9, "model.context_len must be an integer in"),
        ("model.d_model", "64", "model.d_model must be an integer"),
        ("model.n_layers", True, "model.n_layers must be an integer"),
        ("model.dropout", float("nan"), "model.dropout must be a number in"),
        ("model.obs_nvec", [9, -9], r"model.obs_nvec\[1\] must be an integer"),
        ("model.obs_nvec", "99", "model.obs_nvec must be a list"),
        ("model.arch", 3, "model.arch must be a string"),
        ("model.arch", "gru", "arch must be one of"),
        ("model.surprise", 1, "unknown model config keys"),
        ("max_episode_steps", -1, "max_episode_steps must be an integer in"),
        ("max_episode_steps", 0, "max_episode_steps must be an integer in"),
        ("max_episode_steps", 2.5, "max_episode_steps must be an integer in"),
        ("max_episode_steps", "x", "max_episode_steps must be an integer in"),
        ("context_len", 13, "context_len 13 disagrees with model.context_len 12"),
        ("env_id", "", "env_id must be a non-empty string"),
        ("provenance", [], "provenance must be a dict"),
        ("weights_sha256", "abc", "weights_sha256 must be 64"),
        ("backdoor", 1, r"unknown fields \['backdoor'\]"),
    ],
)
def test_a_tampered_description_is_refused_naming_the_field(saved, key, value, match):
    path, config = saved
    _write(path, _with(config, key, value))
    with pytest.raises(ValueError, match=match):
        InContextPolicy.load(path)


def test_context_len_of_ten_million_in_both_places_is_refused_before_any_allocation(saved, monkeypatch):
    path, config = saved
    _write(path, _with(_with(config, "model.context_len", 10_000_000), "context_len", 10_000_000))
    monkeypatch.setattr(policy_file, "build_model", lambda *_: pytest.fail("a model was built"))
    with pytest.raises(ValueError, match="model.context_len must be an integer in"):
        InContextPolicy.load(path)


def test_weights_of_another_shape_are_refused_from_the_header_before_reading_them(saved, monkeypatch):
    path, config = saved
    other = _with(config, "model.d_ff", 48)  # same hash: the weights file is untouched
    _write(path, other)
    monkeypatch.setattr(policy_file, "load_file", lambda *_: pytest.fail("the weights were read"))
    with pytest.raises(ValueError, match=r"does not match the model .*\(48,\) described"):
        InContextPolicy.load(path)


@pytest.mark.parametrize(
    "text, match",
    [("[" * 100_000 + "]" * 100_000, "not valid JSON"), (" " * (policy_file.MAX_CONFIG_BYTES + 1), "bytes; a policy")],
)
def test_an_oversized_or_deeply_nested_description_is_refused(saved, text, match):
    path, _ = saved
    (path / CONFIG_FILE).write_text(text)
    with pytest.raises(ValueError, match=match):
        InContextPolicy.load(path)


@pytest.mark.parametrize("name", ["/etc", "../pretrained/DarkRoom-v0", "DarkRoom-v0/..", ".", ""])
def test_pretrained_names_resolve_only_inside_the_shipped_set(name):
    with pytest.raises(ValueError, match="no pretrained policy for"):
        InContextPolicy.load(f"pretrained:{name}")


def test_the_shipped_policy_records_no_build_machine_path():
    provenance = InContextPolicy.load("pretrained:DarkRoom-v0").spec.provenance
    assert not str(provenance.get("data_dir", "")).startswith("/")


@pytest.mark.parametrize(
    "reward, kwargs, match",
    [
        ("abc", {}, "reward must be numbers"),
        (1e30, {}, r"reward must lie in \[-1e\+06, 1e\+06\]"),
        (-float("inf"), {}, "reward must be finite"),
        ([[0.0, 1.0], [0.0]], {}, "reward must be an array of numbers"),
        (0.0, {"episode_start": "False"}, "episode_start must be True/False"),
        (0.0, {"episode_start": [True, False]}, r"episode_start has shape \(2,\)"),
        (0.0, {"episode_start": 2}, "episode_start must be True/False"),
        (0.0, {"deterministic": "False"}, "deterministic must be True or False"),
    ],
)
def test_bad_act_arguments_are_refused_naming_the_argument(policy, reward, kwargs, match):
    policy.reset()
    with pytest.raises(ValueError, match=match):
        policy.act([4, 4], reward, **kwargs)


def test_a_huge_reward_leaves_the_policy_usable_and_the_largest_allowed_gives_finite_probabilities(policy):
    policy.reset(seed=0)
    policy.act([4, 4])
    with pytest.raises(ValueError):
        policy.act([4, 4], 1e30)
    for reward in (MAX_ABS_REWARD, -MAX_ABS_REWARD, 0.0):
        policy.act([4, 4], reward)
        assert np.isfinite(policy.action_probabilities()).all()


def test_a_model_that_overflows_raises_instead_of_sampling_from_nan(policy):
    with torch.no_grad():
        policy.model.prev_reward_embed.weight.fill_(1e38)
    policy.reset()
    policy.act([4, 4])
    with pytest.raises(FloatingPointError, match="not finite"):
        policy.act([4, 4], MAX_ABS_REWARD)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"episode_starts": np.array(["False"] * 5)}, "history episode_starts must be True/False"),
        ({"rewards": np.full(5, 1e30)}, "history rewards must lie in"),
        ({"rewards": ["a"] * 5}, "history rewards must be numbers"),
        ({"actions": np.zeros(5)}, "history actions must be ints"),
        ({"observations": [[1, 2], [3]]}, "history observations must be an array"),
    ],
)
def test_bad_prime_arguments_are_refused_naming_the_argument(policy, kwargs, match):
    history = {"observations": np.zeros((5, 2), int), "actions": np.zeros(5, int), "rewards": np.zeros(5)}
    policy.reset()
    with pytest.raises(ValueError, match=match):
        policy.prime(**{**history, **kwargs})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"batch_size": 2.0}, "batch_size must be an integer >= 1"),
        ({"batch_size": 10**9}, "GiB context"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"seed": "0"}, "seed must be an integer >= 0"),
    ],
)
def test_bad_reset_arguments_are_refused_naming_the_argument(policy, kwargs, match):
    with pytest.raises(ValueError, match=match):
        policy.reset(**kwargs)


@pytest.mark.parametrize("device, match", [("banana", "unknown device 'banana'"), (3, "device must be a string")])
def test_a_bad_device_is_refused_before_loading(device, match):
    with pytest.raises(ValueError, match=match):
        InContextPolicy.load("pretrained:DarkRoom-v0", device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_refused():
    with pytest.raises(ValueError, match="CUDA is not available"):
        InContextPolicy.load("pretrained:DarkRoom-v0", device="cuda")


def _threads_seen(policy: InContextPolicy, batch: int) -> int:
    """The torch thread count the model ran with in one ``act`` at ``batch``."""
    seen, forward = [], policy.model.forward

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return forward(*args, **kwargs)

    policy.model.forward = spy
    policy.reset(batch_size=batch)
    policy.act(np.full((batch, 2), 4) if batch > 1 else [4, 4])
    del policy.model.forward
    return seen[0]


def test_small_batches_act_on_one_thread_large_ones_on_torchs_and_the_caller_keeps_its_count(policy):
    torch.set_num_threads(2)  # the suite runs on one thread (conftest); a caller may use more
    assert _threads_seen(policy, 1) == 1 and torch.get_num_threads() == 2
    assert _threads_seen(policy, 64) == 2
    policy.num_threads = 2
    assert _threads_seen(policy, 1) == 2
    policy.num_threads = 0
    with pytest.raises(ValueError, match="num_threads must be an integer >= 1"):
        _threads_seen(policy, 1)


def test_distill_records_the_data_folder_by_name_and_fingerprint_not_by_path(tmp_path):
    import dataclasses

    from ad_agent.pipeline import distill
    from ad_agent.presets import get_preset
    from tests.ad_agent.synthetic import write_learnable_histories

    data = tmp_path / "histories"
    data.mkdir()
    write_learnable_histories(data)
    base = get_preset("DarkRoom-v0")
    preset = dataclasses.replace(base, model=dataclasses.replace(base.model, context_len=10, n_layers=1))
    policy, _ = distill(preset, data, seed=0, steps=1, device="cpu")
    assert policy.spec.provenance["data_dir"] == "histories"
    assert len(policy.spec.provenance["data_fingerprint"]) == 16
