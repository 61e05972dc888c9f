"""InContextPolicy: the act contract, rolling context, safe files and clear errors."""

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ad_agent import evaluate
from ad_agent.deployment.policy import InContextPolicy
from ad_agent.deployment.policy_file import CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE, sha256


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
    rng = np.random.default_rng(0)
    obs, rewards = rng.integers(0, 9, size=(45, 2)), (rng.random(45) < 0.3).astype(float)
    policy.reset()
    inferred = []
    for t in range(45):
        policy.act(obs[t], rewards[t], deterministic=True)
        inferred.append(policy.action_probabilities())
    assert policy.context_steps == policy.context_len == 12
    policy.reset()
    for t in range(45):  # max_episode_steps = 20: episodes start at steps 0, 20 and 40
        policy.act(obs[t], rewards[t], episode_start=t in (0, 20, 40), deterministic=True)
        np.testing.assert_array_equal(policy.action_probabilities(), inferred[t])
    policy.reset()
    policy.act(obs[0], rewards[0])
    policy.act(obs[1], rewards[1], episode_start=True)
    assert not np.array_equal(policy.action_probabilities(), inferred[1])  # the flag is seen


def test_reward_on_first_call_after_reset_is_ignored(policy):
    policy.reset(seed=0)
    policy.act([4, 4], 1.0)
    ignored = policy.action_probabilities()
    policy.reset(seed=0)
    policy.act([4, 4], 0.0)
    np.testing.assert_array_equal(policy.action_probabilities(), ignored)


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


def test_a_save_interrupted_while_writing_weights_leaves_the_old_policy_loadable(policy, tmp_path, monkeypatch):
    from ad_agent.deployment import policy_file

    policy.save(tmp_path)
    before = InContextPolicy.load(tmp_path).model.state_dict()

    def crash_midway(tensors, filename):
        Path(filename).write_bytes(b"half a safetensors file")
        raise KeyboardInterrupt

    monkeypatch.setattr(policy_file, "save_file", crash_midway)
    with torch.no_grad():
        next(policy.model.parameters()).add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        policy.save(tmp_path)
    for name, value in InContextPolicy.load(tmp_path).model.state_dict().items():
        assert torch.equal(value, before[name])


def test_load_refuses_missing_corrupted_tampered_and_pickled_files(policy, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        InContextPolicy.load(tmp_path / "nowhere")
    path = policy.save(tmp_path / "p")
    config = (path / CONFIG_FILE).read_text()
    weights = (path / WEIGHTS_FILE).read_bytes()

    (path / WEIGHTS_FILE).write_bytes(weights[: len(weights) // 2])
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        InContextPolicy.load(path)
    (path / WEIGHTS_FILE).write_bytes(weights[:-1] + bytes([weights[-1] ^ 1]))  # one flipped bit
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        InContextPolicy.load(path)

    marker = tmp_path / "executed"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (path / WEIGHTS_FILE).write_bytes(pickle.dumps(Exploit()))  # with a matching hash: the format check refuses it
    (path / CONFIG_FILE).write_text(config.replace(json.loads(config)["weights_sha256"], sha256(path / WEIGHTS_FILE)))
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        InContextPolicy.load(path)
    assert not marker.exists()

    (path / WEIGHTS_FILE).write_bytes(weights)
    for bad, match in [
        (config.replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99'), "format_version 99"),
        (config.replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 1'), "format_version 1 is not"),
        (config.replace('"d_model": 32', '"d_model": 48'), "does not match"),
        (config.replace('"n": 5', '"n": 4'), "action_space .* does not match its model config"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "format_version None"),
    ]:
        (path / CONFIG_FILE).write_text(bad)
        with pytest.raises(ValueError, match=match):
            InContextPolicy.load(path)
    with pytest.raises(ValueError, match="is a file"):
        InContextPolicy.load(path / WEIGHTS_FILE)
    with pytest.raises(ValueError, match="no pretrained policy for 'Nope-v0'"):
        InContextPolicy.load("pretrained:Nope-v0")


def full_recomputation(policy: InContextPolicy, obs, actions, rewards, starts) -> np.ndarray:
    """Action probabilities at every step from one forward pass over the whole history, no cache."""
    prev_actions = np.concatenate([[policy.spec.model.n_actions], actions[:-1]])
    prev_rewards = np.concatenate([[0.0], rewards[:-1]])
    with torch.no_grad():
        logits = policy.model(
            torch.as_tensor(obs)[None],
            torch.as_tensor(prev_actions)[None],
            torch.as_tensor(prev_rewards, dtype=torch.float32)[None],
            torch.as_tensor(starts)[None],
        )
    return torch.softmax(logits[0], -1).numpy()


def act_step_by_step(policy: InContextPolicy, steps: int) -> tuple[np.ndarray, ...]:
    """Play ``steps`` random Dark Room steps through ``act``: observations, actions, rewards, probabilities."""
    rng = np.random.default_rng(2)
    obs, rewards = rng.integers(0, 9, size=(steps, 2)), (rng.random(steps) < 0.3).astype(float)
    policy.reset(seed=0)
    actions, probs = [], []
    for t in range(steps):
        actions.append(policy.act(obs[t], rewards[t - 1] if t else 0.0))
        probs.append(policy.action_probabilities()[0])
    return obs, np.array(actions), rewards, np.array(probs)


def test_cached_act_equals_full_recomputation_over_several_context_lengths(policy):
    steps = 5 * policy.context_len + 7
    obs, actions, rewards, probs = act_step_by_step(policy, steps)
    starts = np.arange(steps) % 20 == 0
    expected = full_recomputation(policy, obs, actions, rewards, starts)
    assert np.abs(probs - expected).max() <= 1e-5


def test_prime_fills_the_context_as_if_the_history_had_been_played(policy):
    rng = np.random.default_rng(3)
    steps = 40  # two whole episodes, longer than the context of 12
    obs, actions = rng.integers(0, 9, size=(steps + 1, 2)), rng.integers(0, 5, size=steps + 1)
    rewards = (rng.random(steps + 1) < 0.3).astype(float)
    policy.reset(batch_size=2)
    policy.prime(obs[:steps], actions[:steps], rewards[:steps])
    policy.act(np.stack([obs[steps]] * 2), reward=123.0)  # ignored: the history holds the last reward
    expected = full_recomputation(policy, obs, actions, rewards, np.arange(steps + 1) % 20 == 0)[-1]
    np.testing.assert_allclose(policy.action_probabilities(), np.stack([expected] * 2), atol=1e-5)


@pytest.mark.parametrize(
    "history, match",
    [
        ((np.zeros((5, 3)), np.zeros(5, int), np.zeros(5)), "observations have shape"),
        ((np.zeros((5, 2)), np.zeros(4, int), np.zeros(5)), "actions have shape"),
        ((np.zeros((5, 2)), np.full(5, 7), np.zeros(5)), "actions must be ints"),
        ((np.zeros((5, 2)), np.zeros(5, int), np.full(5, np.nan)), "rewards must be finite"),
        ((np.full((5, 2), 9), np.zeros(5, int), np.zeros(5)), "outside the observation space"),
    ],
)
def test_bad_prime_history_names_the_problem(policy, history, match):
    policy.reset()
    with pytest.raises(ValueError, match=match):
        policy.prime(*history)


def test_prime_only_on_an_empty_context(policy):
    policy.reset()
    policy.act([4, 4])
    with pytest.raises(ValueError, match="right after reset"):
        policy.prime(np.zeros((3, 2), int), np.zeros(3, int), np.zeros(3))


def test_evaluate_plays_whole_episodes_with_frozen_weights(policy):
    before = {k: v.clone() for k, v in policy.model.state_dict().items()}
    returns = evaluate(policy, "DarkRoom-v0", [(4, 4), (0, 0), (4, 4)], episodes=3, seed=0)
    assert returns.shape == (3, 3)
    assert (returns >= 0).all() and (returns[:, :] <= 20).all() and (returns[1] <= 13).all()
    for k, v in policy.model.state_dict().items():
        assert torch.equal(v, before[k])
    as_array = evaluate(policy, "DarkRoom-v0", np.array([(4, 4), (0, 0), (4, 4)]), episodes=3, seed=0)
    np.testing.assert_array_equal(as_array, returns)


def test_sampled_actions_follow_the_action_probabilities(policy):
    n = 20_000
    policy.reset(batch_size=n, seed=0)
    actions = policy.act(np.full((n, 2), 4), np.zeros(n))
    probs = policy.action_probabilities()[0]
    frequencies = np.bincount(actions, minlength=5) / n
    assert np.all(np.abs(frequencies - probs) < 5 * np.sqrt(probs * (1 - probs) / n))


def test_image_and_vector_policies_act_validate_and_round_trip(tmp_path):
    from ad_agent.deployment.policy import PolicySpec
    from ad_agent.model import ADTransformer
    from ad_agent.presets import model_config_for

    torch.manual_seed(0)
    image = model_config_for("PixelWatermaze-v0", context_len=8, d_model=16, n_layers=1, n_heads=2, d_ff=16)
    assert image.obs_kind == "image" and image.obs_shape == (55, 55, 3)
    policy = InContextPolicy(ADTransformer(image), PolicySpec(image, "PixelWatermaze-v0", 50), "cpu")
    goals = [(1, 1), (9, 9), (3, 7)]
    returns = evaluate(policy, "PixelWatermaze-v0", goals, episodes=1, seed=0)
    assert returns.shape == (3, 1)
    policy.reset()
    with pytest.raises(ValueError, match="uint8 pixels"):
        policy.act(np.zeros((55, 55, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="observation has shape"):
        policy.act(np.zeros((55, 55), dtype=np.uint8))
    loaded = InContextPolicy.load(policy.save(tmp_path / "img"), device="cpu")
    assert loaded.spec.to_dict()["observation_space"] == {"type": "Box", "shape": [55, 55, 3], "dtype": "uint8"}

    from ad_agent.model import ModelConfig

    vector = ModelConfig(
        obs_kind="vector",
        obs_nvec=(),
        obs_shape=(3,),
        n_actions=2,
        context_len=8,
        d_model=16,
        n_layers=1,
        n_heads=2,
        d_ff=16,
    )
    policy = InContextPolicy(ADTransformer(vector), PolicySpec(vector, "Custom-v0", None), "cpu")
    policy.reset(batch_size=2, seed=0)
    assert policy.act(np.array([[0.1, -2.0, 3.0], [0.0, 0.0, 1.0]]), np.zeros(2)).shape == (2,)
    with pytest.raises(ValueError, match="finite numbers"):
        policy.act(np.array([[np.nan, 0, 0], [0, 0, 0]]), np.zeros(2))


def test_temperature_one_is_the_default_and_a_bad_temperature_is_refused(policy):
    obs = np.array([[4, 4], [1, 2]])
    policy.reset(batch_size=2, seed=3)
    default = [policy.act(obs, np.zeros(2)) for _ in range(5)]
    policy.reset(batch_size=2, seed=3)
    at_one = [policy.act(obs, np.zeros(2), temperature=1.0) for _ in range(5)]
    np.testing.assert_array_equal(default, at_one)
    for bad in (0, -1.0, float("nan"), float("inf"), "hot", True):
        with pytest.raises(ValueError, match="temperature"):
            policy.act(obs, np.zeros(2), temperature=bad)
    with pytest.raises(ValueError, match="temperature"):
        evaluate(policy, "DarkRoom-v0", [(1, 1)], 1, temperature=0)


def test_a_cold_evaluation_plays_as_the_most_likely_actions_do(policy):
    cold = evaluate(policy, "DarkRoom-v0", [(1, 1), (7, 2)], 3, seed=0, temperature=1e-4)
    policy.reset(batch_size=2, seed=0)
    greedy = evaluate_greedy(policy, [(1, 1), (7, 2)], 3)
    np.testing.assert_array_equal(cold, greedy)


def evaluate_greedy(policy: InContextPolicy, tasks: list, episodes: int) -> np.ndarray:
    """``evaluate``'s loop with the most likely action at every step."""
    from ad_agent.deployment.evaluation import make_task_vector_env

    env = make_task_vector_env("DarkRoom-v0", tasks)
    obs, _ = env.reset(seed=0)
    policy.reset(batch_size=len(tasks), seed=0)
    returns, reward, start = np.zeros((len(tasks), episodes)), np.zeros(len(tasks)), np.ones(len(tasks), bool)
    for step in range(episodes * 20):
        actions = policy.act(obs, reward, episode_start=start, deterministic=True)
        obs, reward, terminated, truncated, _ = env.step(actions)
        returns[:, step // 20] += reward
        start = terminated | truncated
    return returns
