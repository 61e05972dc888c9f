"""InContextPolicy: the act contract, rolling context, safe files and clear errors."""

import os
import pickle

import numpy as np
import pytest
import torch

from ad_agent import evaluate
from ad_agent.policy import CONFIG_FILE, WEIGHTS_FILE, InContextPolicy


def play(policy: InContextPolicy, steps: int, seed: int, batch: int = 1) -> list:
    rng = np.random.default_rng(0)
    policy.reset(batch_size=batch, seed=seed)
    out = []
    for _ in range(steps):
        obs = rng.integers(0, 9, size=(batch, 2)) if batch > 1 else rng.integers(0, 9, size=2)
        out.append(policy.act(obs, float(rng.random() < 0.3)))
    return out


def test_save_load_gives_identical_actions(policy, tmp_path):
    policy.save(tmp_path / "p")
    loaded = InContextPolicy.load(tmp_path / "p", device="cpu")
    assert play(loaded, 40, seed=3) == play(policy, 40, seed=3)
    assert loaded.spec.to_dict() == policy.spec.to_dict()


def test_single_act_returns_int_and_batch_returns_array(policy):
    policy.reset()
    assert isinstance(policy.act([4, 4], 0.0), int)
    policy.reset(batch_size=3)
    actions = policy.act(np.full((3, 2), 4), np.zeros(3))
    assert isinstance(actions, np.ndarray) and actions.shape == (3,)


def test_batched_act_equals_per_task_act(policy):
    rng = np.random.default_rng(1)
    obs = rng.integers(0, 9, size=(30, 3, 2))
    rewards = (rng.random((30, 3)) < 0.3).astype(float)
    policy.reset(batch_size=3)
    batched = [policy.act(obs[t], rewards[t], deterministic=True) for t in range(30)]
    for task in range(3):
        policy.reset()
        single = [policy.act(obs[t, task], rewards[t, task], deterministic=True) for t in range(30)]
        assert single == [int(b[task]) for b in batched]


def test_context_rolls_at_trained_length_and_episodes_are_inferred(policy):
    policy.reset()
    starts = []
    for _ in range(45):
        policy.act([4, 4], 0.0)
        starts.append(bool(policy._starts[0, -1]))
    assert policy._obs.shape[1] == policy.context_len == 12
    assert [i for i, s in enumerate(starts) if s] == [0, 20, 40]  # max_episode_steps = 20


def test_reward_on_first_call_after_reset_is_ignored(policy):
    policy.reset(seed=0)
    a = policy.act([4, 4], 1.0)
    policy.reset(seed=0)
    assert policy.act([4, 4], 0.0) == a and policy._prev_rewards[0, 0] == 0


@pytest.mark.parametrize(
    "obs, reward, match",
    [
        ([4, 4, 4], 0.0, "shape"),
        ([[4, 4], [4, 4]], 0.0, "shape"),
        ([9, 0], 0.0, "outside the observation space"),
        ([-1, 0], 0.0, "outside the observation space"),
        ([4.5, 4], 0.0, "integers"),
        ([4, 4], float("nan"), "finite"),
        ([4, 4], [0.0, 1.0], "reward has shape"),
    ],
)
def test_bad_act_input_names_the_problem(policy, obs, reward, match):
    policy.reset()
    with pytest.raises(ValueError, match=match):
        policy.act(obs, reward)


def test_load_refuses_missing_corrupted_tampered_and_pickled_files(policy, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        InContextPolicy.load(tmp_path / "nowhere")
    path = policy.save(tmp_path / "p")

    weights = (path / WEIGHTS_FILE).read_bytes()
    (path / WEIGHTS_FILE).write_bytes(weights[: len(weights) // 2])
    with pytest.raises(ValueError, match="safetensors"):
        InContextPolicy.load(path)

    marker = tmp_path / "executed"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (path / WEIGHTS_FILE).write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ValueError, match="safetensors"):
        InContextPolicy.load(path)
    assert not marker.exists()

    policy.save(path)
    config = (path / CONFIG_FILE).read_text()
    (path / CONFIG_FILE).write_text(config.replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(ValueError, match="format_version 99"):
        InContextPolicy.load(path)
    (path / CONFIG_FILE).write_text(config.replace('"d_model": 32', '"d_model": 48'))
    with pytest.raises(ValueError, match="does not match"):
        InContextPolicy.load(path)
    (path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        InContextPolicy.load(path)


def test_evaluate_plays_whole_episodes_with_frozen_weights(policy):
    before = {k: v.clone() for k, v in policy.model.state_dict().items()}
    returns = evaluate(policy, "DarkRoom-v0", [(4, 4), (0, 0), (4, 4)], episodes=3, seed=0)
    assert returns.shape == (3, 3)
    assert (returns >= 0).all() and (returns[:, :] <= 20).all() and (returns[1] <= 13).all()
    for k, v in policy.model.state_dict().items():
        assert torch.equal(v, before[k])
