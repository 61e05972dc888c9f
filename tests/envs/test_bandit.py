"""Adversarial Bandit: pulls, one-step episodes, the parity-biased task rule, fixed splits, vector version."""

import math
import warnings

import dm_env
import gymnasium as gym
import numpy as np
import pytest
from absl.testing import absltest
from dm_env import test_utils
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import envs
from envs.bandit import NUM_ARMS, AdversarialBanditEnv, AdversarialBanditVectorEnv, sample_tasks, split_tasks

TASK = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.05)
# A mean of 0 never pays and a mean of 1 always does, so rewards on such tasks are known exactly.
arm_means = st.lists(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)), min_size=10, max_size=10)


def one_hot(arm: int) -> tuple[float, ...]:
    """A deterministic task: only ``arm`` pays, and always."""
    return tuple(float(i == arm) for i in range(NUM_ARMS))


def within(estimate: float, p: float, n: int, sigmas: float = 5.0) -> bool:
    """Is a Bernoulli(p) frequency over n draws within ``sigmas`` standard errors of p?"""
    return abs(estimate - p) <= sigmas * math.sqrt(p * (1 - p) / n) + 1e-12


def test_registered_and_defined_as_documented():
    env = gym.make("AdversarialBandit-v0", task=TASK)
    obs, info = env.reset(seed=0)
    assert env.action_space == gym.spaces.Discrete(10)
    assert env.observation_space == gym.spaces.Discrete(1)
    assert obs == 0 and info["task"] == TASK and isinstance(info["task"], tuple)
    obs, reward, terminated, truncated, info = env.step(8)
    assert obs == 0 and reward in (0.0, 1.0) and terminated and not truncated and info["task"] == TASK
    assert env.unwrapped.episode_length == 1 and env.unwrapped.split == "train"
    assert gym.make("AdversarialBandit-v0", split="test").unwrapped.split == "test"


@pytest.mark.parametrize("task", [TASK, None])
def test_passes_gymnasium_and_sb3_env_checkers_without_warnings(task):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("AdversarialBandit-v0", task=task).unwrapped, skip_render_check=False)
        sb3_check_env(gym.make("AdversarialBandit-v0", task=task).unwrapped)


@settings(max_examples=40, deadline=None)
@given(task=arm_means, actions=st.lists(st.integers(0, 9), min_size=1, max_size=30), seed=st.integers(0, 2**16))
def test_every_episode_is_one_terminated_pull_paying_by_the_rule(task, actions, seed):
    env = gym.make("AdversarialBandit-v0", task=task).unwrapped
    obs, info = env.reset(seed=seed)
    for action in actions:
        assert env.observation_space.contains(obs) and info["task"] == tuple(task)
        obs, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(obs) and reward in (0.0, 1.0)
        if task[action] in (0.0, 1.0):
            assert reward == task[action]
        assert terminated and not truncated and info["task"] == tuple(task)
        obs, info = env.reset()  # sticky task: a plain reset keeps it


@pytest.mark.parametrize("split", ["train", "test"])
def test_same_seed_same_task_and_trajectory(split):
    def rollout(seed):
        env = gym.make("AdversarialBandit-v0", split=split)
        _, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        pulls = []
        for _ in range(25):
            pulls.append(env.step(env.action_space.sample())[1])
            env.reset()
        return info["task"], pulls

    assert rollout(5) == rollout(5)
    assert rollout(5)[0] != rollout(6)[0]


def test_task_drawn_from_np_random_once_and_kept_until_asked():
    env = AdversarialBanditEnv(split="test")
    first = env.reset(seed=123)[1]["task"]
    for _ in range(5):
        assert env.reset()[1]["task"] == first
    assert AdversarialBanditEnv(split="test").reset(seed=123)[1]["task"] == first
    assert AdversarialBanditEnv().reset(seed=123)[1]["task"] != first  # the split changes the distribution
    assert env.reset(options={"task": np.array(TASK)})[1]["task"] == TASK
    assert env.reset()[1]["task"] == TASK and env.task == TASK
    assert AdversarialBanditEnv(task=list(TASK)).reset()[1]["task"] == TASK


@pytest.mark.parametrize("split, favoured_parity", [("train", 1), ("test", 0)])
def test_sampling_rule_puts_the_best_arm_on_the_favoured_parity_95_percent_of_the_time(split, favoured_parity):
    n = 40_000
    means = sample_tasks(np.random.default_rng(0), split, n)
    best = means.argmax(axis=1)
    assert within(np.mean(best % 2 == favoured_parity), 0.95, n)
    for arm in range(NUM_ARMS):  # uniform within each parity: 0.95 / 5 or 0.05 / 5 per arm
        assert within(np.mean(best == arm), (0.95 if arm % 2 == favoured_parity else 0.05) / 5, n)
    others = np.where(np.arange(NUM_ARMS) == best[:, None], np.nan, means)
    assert (means.max(axis=1) >= 0.5).all() and (means.max(axis=1) < 1).all()
    assert (np.nanmin(others, axis=1) >= 0).all() and (np.nanmax(others, axis=1) < 0.5).all()
    env = AdversarialBanditEnv(split=split)
    drawn = [env.sample_task(np.random.default_rng(seed)) for seed in range(3)]
    assert drawn == [tuple(sample_tasks(np.random.default_rng(seed), split, 1)[0]) for seed in range(3)]


def test_split_lists_are_fixed_follow_their_split_and_differ():
    env = gym.make("AdversarialBandit-v0").unwrapped
    train, test = env.tasks("train"), env.tasks("test")
    assert len(train) == len(test) == 100 and not set(train) & set(test)
    assert train == list(split_tasks.__wrapped__("train", 100)) and test == list(split_tasks.__wrapped__("test", 100))
    assert train == AdversarialBanditEnv(split="test").tasks("train")  # the env's own split plays no part
    # Pinned, so a change to the rule, the seeds or numpy's streams cannot silently change the benchmark.
    assert np.argmax(train[:8], axis=1).tolist() == [1, 7, 5, 5, 5, 3, 1, 7]
    assert np.argmax(test[:8], axis=1).tolist() == [2, 4, 2, 4, 6, 0, 4, 2]
    assert env.tasks("train", n=7) == train[:7] and env.tasks("all", n=3) == train[:3] + test[:3]
    assert all(env.check_task(t) == t for t in train + test)
    assert np.mean(np.argmax(train, axis=1) % 2 == 1) > 0.88
    assert np.mean(np.argmax(test, axis=1) % 2 == 0) > 0.88
    with pytest.raises(ValueError, match="split must be"):
        env.tasks("validation")
    with pytest.raises(ValueError, match="n must be >= 1"):
        env.tasks("train", n=0)


def test_scripted_optimal_policy_attains_optimal_return():
    for arm in range(NUM_ARMS):  # exact, on deterministic tasks
        env = AdversarialBanditEnv(task=one_hot(arm))
        env.reset(seed=arm)
        assert env.step(int(np.argmax(env.task)))[1] == env.optimal_return(env.task) == 1.0
        assert env.random_return(env.task) == 0.1
    task, n = AdversarialBanditEnv().tasks("test")[0], 20_000  # statistical, on a benchmark task
    vec = AdversarialBanditVectorEnv(n, tasks=task)
    vec.reset(seed=0)
    rewards = vec.step(np.full(n, np.argmax(task)))[1]
    assert within(rewards.mean(), max(task), n) and AdversarialBanditEnv().optimal_return(task) == max(task)


@pytest.mark.parametrize("task", [TASK, AdversarialBanditEnv().tasks("train")[0], one_hot(3)])
def test_random_return_matches_monte_carlo(task):
    n = 20_000
    vec = gym.make_vec("AdversarialBandit-v0", num_envs=n, vectorization_mode="vector_entry_point", tasks=task)
    vec.reset(seed=0)
    rewards = vec.step(np.random.default_rng(0).integers(0, NUM_ARMS, size=n))[1]
    exact = AdversarialBanditEnv().random_return(task)
    assert exact == pytest.approx(np.mean(task)) and within(rewards.mean(), exact, n)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: AdversarialBanditEnv(task=TASK[:9]), r"10 arm means, got shape \(9,\)"),
        (lambda: AdversarialBanditEnv(task=(1.5,) + TASK[1:]), r"in \[0, 1\]"),
        (lambda: AdversarialBanditEnv(task=(-0.1,) + TASK[1:]), r"in \[0, 1\]"),
        (lambda: AdversarialBanditEnv(task=(math.nan,) + TASK[1:]), "NaN"),
        (lambda: AdversarialBanditEnv(task="abcdefghij"), "must be arm means"),
        (lambda: AdversarialBanditEnv(split="eval"), "split must be 'train' or 'test'"),
        (lambda: AdversarialBanditEnv().reset(options={"goal": TASK}), "unknown reset options"),
        (lambda: AdversarialBanditEnv().reset(options={"task": TASK[1:]}), "10 arm means"),
        (lambda: AdversarialBanditEnv().optimal_return(TASK + (0.5,)), "10 arm means"),
        (lambda: AdversarialBanditVectorEnv(3, tasks=[TASK, TASK]), r"shape \(3, 10\) or \(10,\)"),
        (lambda: AdversarialBanditVectorEnv(2, tasks=[TASK, (2.0,) * 10]), r"in \[0, 1\]"),
        (lambda: AdversarialBanditVectorEnv(2, split="all"), "split must be 'train' or 'test'"),
        (lambda: AdversarialBanditVectorEnv(2).reset(options={"task": TASK}), "unknown reset options"),
        (lambda: AdversarialBanditVectorEnv(2, autoreset_mode="Disabled"), "NEXT_STEP and SAME_STEP"),
    ],
)
def test_bad_task_split_or_option_is_refused_clearly(make, error):
    with pytest.raises(ValueError, match=error):
        make()


@pytest.mark.parametrize("action", [10, -1, 2.5, "up"])
def test_action_outside_space_is_refused(action):
    env = AdversarialBanditEnv(task=TASK)
    env.reset()
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(action)
    vec = AdversarialBanditVectorEnv(2, tasks=TASK)
    vec.reset()
    with pytest.raises(ValueError, match="2 ints in"):
        vec.step(np.array([0, action]))


def test_step_before_reset_is_refused():
    with pytest.raises(gym.error.ResetNeeded):
        AdversarialBanditEnv().step(0)
    with pytest.raises(gym.error.ResetNeeded):
        AdversarialBanditVectorEnv(2).step(np.array([0, 1]))


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_vector_env_matches_single_envs_exactly_on_deterministic_tasks(mode):
    task_list = [one_hot(0), one_hot(7), (0.0,) * 5 + (1.0,) * 5, (1.0,) * 10]
    vec = gym.make_vec(
        "AdversarialBandit-v0",
        num_envs=4,
        vectorization_mode="vector_entry_point",
        tasks=task_list,
        autoreset_mode=mode,
    )
    ref = gym.vector.SyncVectorEnv(
        [lambda t=t: gym.make("AdversarialBandit-v0", task=t) for t in task_list], autoreset_mode=mode
    )
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(vec.reset(seed=0)[0], ref.reset(seed=0)[0])
    for _ in range(30):
        actions = rng.integers(0, NUM_ARMS, size=4)
        out_v, out_r = vec.step(actions), ref.step(actions)
        for a, b in zip(out_v[:4], out_r[:4], strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(out_v[4]["task"], np.array(task_list))
        assert ("final_obs" in out_v[4]) == ("final_obs" in out_r[4])
        if "final_obs" in out_r[4]:
            mask = out_r[4]["_final_obs"]
            np.testing.assert_array_equal(out_v[4]["_final_obs"], mask)
            np.testing.assert_array_equal(out_v[4]["final_obs"][mask], np.stack(out_r[4]["final_obs"][mask]))


def test_vector_env_draws_its_own_tasks_from_its_split():
    vec = AdversarialBanditVectorEnv(4_000, split="test")
    tasks = vec.reset(seed=0)[1]["task"]
    assert tasks.shape == (4_000, NUM_ARMS) and within(np.mean(tasks.argmax(axis=1) % 2 == 0), 0.95, 4_000)
    np.testing.assert_array_equal(vec.reset()[1]["task"], tasks)
    new = vec.reset(options={"tasks": TASK})[1]["task"]
    np.testing.assert_array_equal(new, np.tile(TASK, (4_000, 1)))


def test_sb3_learner_trains_on_it_without_wrappers():
    from stable_baselines3 import PPO

    env = gym.make("AdversarialBandit-v0", task=TASK)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=128)
    assert model.num_timesteps == 128


class TestAdversarialBanditDmEnvContract(test_utils.EnvironmentTestMixin, absltest.TestCase):
    """dm_env's reusable checks over many one-step episodes: every pull is a LAST with discount 0."""

    def make_object_under_test(self) -> dm_env.Environment:
        return envs.as_dm_env(gym.make("AdversarialBandit-v0", task=TASK), seed=0)

    def make_action_sequence(self):
        rng = np.random.default_rng(0)
        for _ in range(30):
            yield np.int64(rng.integers(NUM_ARMS))

    def test_pull_is_a_termination(self):
        env = self.make_object_under_test()
        self.assertTrue(env.reset().first())
        step = env.step(np.int64(8))
        self.assertTrue(step.last())
        self.assertEqual(step.discount, 0.0)
