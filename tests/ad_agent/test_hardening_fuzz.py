"""Property-based fuzzing of the public surface: the policy-file loader, ``act`` / ``prime`` and the
env constructors over malformed inputs. Each either works or raises a documented exception type
(``ValueError``; ``FileNotFoundError`` for a missing file); no NaN reaches an action, and memory
stays bounded (a description that sized a 20 GB cache would blow the peak-RSS check)."""

from __future__ import annotations

import json
import resource
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ad_agent.deployment.policy import InContextPolicy, PolicySpec
from ad_agent.deployment.policy_file import CONFIG_FILE
from ad_agent.model import ADTransformer, ModelConfig
from envs import AdversarialBanditEnv, DarkKeyToDoorEnv, DarkRoomEnv, PixelWatermazeEnv

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MEMORY_HEADROOM = 512 * 2**20  # peak RSS may grow this much over a whole fuzz test, no more

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
arrays_ish = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=10,
)


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (Linux reports kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@pytest.fixture(scope="module")
def saved_policy():
    """A valid saved policy folder (its description to tamper with), and a live policy."""
    torch.manual_seed(0)
    config = ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=8, d_model=16, n_layers=1, n_heads=2, d_ff=16)
    policy = InContextPolicy(ADTransformer(config), PolicySpec(config, "DarkRoom-v0", 20), "cpu")
    folder = Path(tempfile.mkdtemp())
    policy.save(folder)
    yield folder, json.loads((folder / CONFIG_FILE).read_text()), policy
    shutil.rmtree(folder)


@st.composite
def tampered(draw, original: dict) -> dict:
    """``original`` with one to three fields (top-level or model) replaced, removed or added."""
    config = json.loads(json.dumps(original))
    for _ in range(draw(st.integers(1, 3))):
        target = config["model"] if draw(st.booleans()) and isinstance(config.get("model"), dict) else config
        key = draw((st.sampled_from(sorted(target)) if target else st.nothing()) | st.text(max_size=6))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(json_values)
    return config


def _load_or_refuse(folder: Path) -> None:
    try:
        policy = InContextPolicy.load(folder, device="cpu")
    except (ValueError, FileNotFoundError):
        return
    policy.reset()  # what loaded must also run
    assert isinstance(policy.act([4, 4]), int) and np.isfinite(policy.action_probabilities()).all()


def test_fuzz_policy_file_loader(saved_policy):
    folder, original, _ = saved_policy
    before = _peak_rss()

    @FUZZ
    @given(data=st.data())
    def check(data):
        config = data.draw(tampered(original))
        (folder / CONFIG_FILE).write_text(json.dumps(config))
        _load_or_refuse(folder)

    check()

    @FUZZ
    @given(raw=st.binary(max_size=256))
    def check_bytes(raw):
        (folder / CONFIG_FILE).write_bytes(raw)
        _load_or_refuse(folder)

    check_bytes()
    (folder / CONFIG_FILE).write_text(json.dumps(original))
    assert _peak_rss() - before < MEMORY_HEADROOM


def _still_sound(policy: InContextPolicy) -> None:
    """After any refused call the policy acts normally, with finite probabilities."""
    policy.act([4, 4], 0.0)
    assert np.isfinite(policy.action_probabilities()).all()


@FUZZ
@given(
    obs=arrays_ish,
    reward=arrays_ish,
    start=arrays_ish,
    deterministic=arrays_ish,
    temperature=arrays_ish | st.floats(allow_nan=True, allow_infinity=True),
)
def test_fuzz_act(saved_policy, obs, reward, start, deterministic, temperature):
    policy = saved_policy[2]
    policy.reset(seed=0)
    policy.act([4, 4])
    try:
        action = policy.act(obs, reward, episode_start=start, deterministic=deterministic, temperature=temperature)
    except ValueError:
        _still_sound(policy)
        return
    assert 0 <= int(action) < 5 and np.isfinite(policy.action_probabilities()).all()


@FUZZ
@given(
    steps=st.integers(1, 12),
    obs=arrays_ish,
    actions=arrays_ish,
    rewards=arrays_ish | st.floats(allow_nan=True, allow_infinity=True),
    starts=arrays_ish,
)
def test_fuzz_prime(saved_policy, steps, obs, actions, rewards, starts):
    policy = saved_policy[2]
    policy.reset(seed=0)
    rng = np.random.default_rng(steps)
    history = {
        "observations": rng.integers(0, 9, (steps, 2)) if obs is None else obs,
        "actions": rng.integers(0, 5, steps) if actions is None else actions,
        "rewards": np.full(steps, rewards) if isinstance(rewards, float) else rewards,
        "episode_starts": starts,
    }
    try:
        policy.prime(**history)
    except ValueError:
        policy.reset(seed=0)
    _still_sound(policy)


ENVS = [DarkRoomEnv, DarkKeyToDoorEnv, PixelWatermazeEnv, AdversarialBanditEnv]


@FUZZ
@given(env_class=st.sampled_from(ENVS), task=arrays_ish)
def test_fuzz_env_constructors(env_class, task):
    try:
        env = env_class(task=task)
    except ValueError:
        return
    _, info = env.reset(seed=0)  # a task of None is drawn here
    assert info["task"] == env.task == env.check_task(env.task)  # what was accepted is a canonical task
    if env_class is not AdversarialBanditEnv:
        assert all(type(v) is int for v in _leaves(env.task))  # Python ints: not floats, bools or numpy


def _leaves(task) -> list:
    return [leaf for part in task for leaf in _leaves(part)] if isinstance(task, tuple) else [task]
