"""Dark Key-to-Door: dynamics, reward rule, random starts, sticky task, split, score scales, vector version."""

import itertools
import warnings
from functools import cache

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
from envs.darkkeytodoor import DarkKeyToDoorEnv, DarkKeyToDoorVectorEnv, all_cells, optimal_return

# The action meanings, written out independently of envs.darkroom.MOVES.
DELTAS = {0: (0, 0), 1: (0, -1), 2: (0, 1), 3: (-1, 0), 4: (1, 0)}
SAMPLE_TASKS = [((4, 4), (4, 4)), ((0, 0), (8, 8)), ((8, 0), (0, 8)), ((3, 5), (3, 6)), ((0, 8), (0, 8))]

cells = st.tuples(st.integers(0, 8), st.integers(0, 8))
tasks = st.tuples(cells, cells)


def reference_step(pos, has_key, action, task, size=9):
    """The documented rule, re-implemented: ``(pos, has_key, reward, terminated)`` after one step."""
    dx, dy = DELTAS[action]
    pos = (min(max(pos[0] + dx, 0), size - 1), min(max(pos[1] + dy, 0), size - 1))
    key, door = task
    if has_key and pos == door:
        return pos, True, 1.0, True
    if not has_key and pos == key:
        return pos, True, 1.0, False
    return pos, has_key, 0.0, False


def scripted_optimal(pos, target) -> int:
    """Walk straight to ``target``; on it, a no-op (the step that collects it)."""
    dx, dy = target[0] - pos[0], target[1] - pos[1]
    return 4 if dx > 0 else 3 if dx < 0 else 2 if dy > 0 else 1 if dy < 0 else 0


def best_return_by_backward_induction(task, size=9, horizon=50) -> float:
    """Optimal return over the uniform start by value iteration over (time, cell, key held): no shortcut formula."""
    value = np.zeros((2, size, size))  # [has_key, x, y], value of the remaining steps
    xs, ys = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    (kx, ky), (dx, dy) = task
    for _ in range(horizon):
        new = np.full_like(value, -np.inf)
        for mx, my in DELTAS.values():
            nx, ny = np.clip(xs + mx, 0, size - 1), np.clip(ys + my, 0, size - 1)
            on_key, on_door = (nx == kx) & (ny == ky), (nx == dx) & (ny == dy)
            new[0] = np.maximum(new[0], np.where(on_key, 1 + value[1, nx, ny], value[0, nx, ny]))
            new[1] = np.maximum(new[1], np.where(on_door, 1.0, value[1, nx, ny]))
        value = new
    return float(value[0].mean())


@cache
def seed_for_each_start() -> dict[tuple[int, int], int]:
    """A reset seed that starts the agent on each cell: how the tests reach every start through the public API.

    With the task given, the start is the first draw after seeding, so the map holds for any task and size 9."""
    env, found = DarkKeyToDoorEnv(task=((0, 0), (0, 0))), {}
    for seed in itertools.count():
        found.setdefault(tuple(env.reset(seed=seed)[0].tolist()), seed)
        if len(found) == 81:
            return found


def test_registered_and_defined_as_documented():
    env = gym.make("DarkKeyToDoor-v0", task=((2, 3), (7, 1)))
    obs, info = env.reset(seed=0)
    assert env.action_space == gym.spaces.Discrete(5)
    assert env.observation_space == gym.spaces.MultiDiscrete([9, 9])
    assert env.observation_space.contains(obs) and info["task"] == ((2, 3), (7, 1))
    assert env.unwrapped.episode_length == 50
    everything = env.unwrapped.tasks()
    assert len(everything) == len(set(everything)) == 81**2 and ((4, 4), (4, 4)) in everything


def test_passes_gymnasium_and_sb3_env_checkers_without_warnings():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("DarkKeyToDoor-v0", task=((1, 1), (6, 2))).unwrapped, skip_render_check=False)
        sb3_check_env(gym.make("DarkKeyToDoor-v0", task=((1, 1), (6, 2))).unwrapped)


@settings(max_examples=60, deadline=None)
@given(task=tasks, actions=st.lists(st.integers(0, 4), min_size=50, max_size=150), seed=st.integers(0, 2**16))
def test_dynamics_reward_rule_termination_and_truncation(task, actions, seed):
    env = gym.make("DarkKeyToDoor-v0", task=task).unwrapped
    obs, _ = env.reset(seed=seed)
    pos, has_key, t = tuple(obs.tolist()), False, 0
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        pos, has_key, expected_reward, expected_terminated = reference_step(pos, has_key, action, task)
        t += 1
        assert obs.tolist() == list(pos) and env.observation_space.contains(obs)
        assert (reward, terminated, truncated) == (expected_reward, expected_terminated, t == 50)
        assert info["task"] == task
        if terminated or truncated:
            obs, info = env.reset()
            pos, has_key, t = tuple(obs.tolist()), False, 0
            assert env.observation_space.contains(obs) and info["task"] == task  # sticky task


def test_starts_are_uniform_draws_from_np_random():
    env = DarkKeyToDoorEnv(task=((0, 0), (8, 8)))
    assert env.reset(seed=7)[0].tolist() == env.reset(seed=7)[0].tolist()
    counts = np.zeros((9, 9))
    for _ in range(8100):
        x, y = env.reset()[0]
        counts[y, x] += 1
    assert counts.min() > 50 and counts.max() < 150  # 100 expected per cell, sd 10
    assert len(seed_for_each_start()) == 81


def test_key_pays_only_from_a_step_and_key_on_door_needs_one_more_step():
    start = (3, 5)
    seed = seed_for_each_start()[start]

    def rewards(task, actions):
        env = DarkKeyToDoorEnv(task=task)
        assert tuple(env.reset(seed=seed)[0].tolist()) == start
        return [env.step(a)[1:3] for a in actions]

    assert rewards((start, (0, 0)), [0, 0]) == [(1.0, False), (0.0, False)]  # no-op on the key collects it, once
    assert rewards((start, start), [0, 0]) == [(1.0, False), (1.0, True)]  # key == door: a second step opens
    assert rewards(((0, 0), start), [0, 3, 4]) == [(0.0, False)] * 3  # the door does nothing before the key
    assert rewards(((2, 5), start), [3, 4]) == [(1.0, False), (1.0, True)]  # key, then back to the door


def test_same_seed_same_task_and_trajectory():
    def rollout(seed):
        env = gym.make("DarkKeyToDoor-v0")
        _, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        steps = [env.step(env.action_space.sample())[:3] for _ in range(40)]
        return info["task"], [(o.tolist(), r, term) for o, r, term in steps]

    assert rollout(5) == rollout(5)
    assert rollout(5) != rollout(6)


def test_task_drawn_from_np_random_once_and_kept_until_asked():
    env = DarkKeyToDoorEnv()
    first = env.reset(seed=123)[1]["task"]
    for _ in range(5):
        assert env.reset()[1]["task"] == first
    assert DarkKeyToDoorEnv().reset(seed=123)[1]["task"] == first
    assert env.reset(options={"task": [[0, 8], [8, 0]]})[1]["task"] == ((0, 8), (8, 0))
    assert env.reset()[1]["task"] == ((0, 8), (8, 0))
    assert DarkKeyToDoorEnv(task=np.array([[2, 2], [2, 2]])).reset()[1]["task"] == ((2, 2), (2, 2))


def test_split_is_deterministic_disjoint_about_80_20_and_covers_every_cell():
    env = gym.make("DarkKeyToDoor-v0").unwrapped
    train, test = set(env.tasks("train")), set(env.tasks("test"))
    assert train | test == set(env.tasks()) and not train & test
    assert len(test) == 1313 and 0.19 < len(test) / 81**2 < 0.21
    assert env.tasks("test") == gym.make("DarkKeyToDoor-v0").unwrapped.tasks("test")
    for split in (train, test):  # every key cell and every door cell in both splits
        assert {key for key, _ in split} == {door for _, door in split} == set(all_cells())
    assert 0 < sum(key == door for key, door in test) < 81
    with pytest.raises(ValueError, match="split must be"):
        env.tasks("validation")


@pytest.mark.parametrize("task", SAMPLE_TASKS)
@pytest.mark.parametrize("episode_length", [50, 9])
def test_scripted_optimal_policy_attains_optimal_return_over_all_starts(task, episode_length):
    env = DarkKeyToDoorEnv(task=task, episode_length=episode_length)
    returns = []
    for seed in seed_for_each_start().values():
        obs, _ = env.reset(seed=seed)
        total, done, has_key = 0.0, False, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(scripted_optimal(obs, task[1] if has_key else task[0]))
            total, done, has_key = total + reward, terminated or truncated, has_key or reward > 0
        returns.append(total)
    expected = env.optimal_return(task)
    assert np.mean(returns) == pytest.approx(expected)
    assert expected == pytest.approx(best_return_by_backward_induction(task, horizon=episode_length))
    if episode_length == 50:
        assert expected == optimal_return(task) == 2.0


@pytest.mark.parametrize("task", [((4, 4), (4, 4)), ((1, 6), (2, 6)), ((0, 0), (8, 8))])
def test_random_return_matches_monte_carlo(task):
    n = 20_000
    vec = gym.make_vec("DarkKeyToDoor-v0", num_envs=n, vectorization_mode="vector_entry_point", tasks=task)
    vec.reset(seed=0)
    rng = np.random.default_rng(0)
    total, running = np.zeros(n), np.ones(n, dtype=bool)
    for _ in range(50):
        _, rewards, terminated, truncated, _ = vec.step(rng.integers(0, 5, size=n))
        total += rewards * running
        running &= ~(terminated | truncated)
    assert not running.any()
    exact = DarkKeyToDoorEnv().random_return(task)
    assert abs(total.mean() - exact) < 4 * total.std() / np.sqrt(n) + 1e-9
    assert 0 < exact < DarkKeyToDoorEnv().optimal_return(task)


@pytest.mark.parametrize("task", [((0, 0), (1, 1)), ((1, 0), (1, 0)), ((0, 1), (0, 0))])
def test_random_return_equals_enumeration_of_every_action_sequence_in_a_tiny_room(task):
    env = DarkKeyToDoorEnv(size=2, episode_length=4)
    returns = []
    for start, actions in itertools.product(all_cells(2), itertools.product(range(5), repeat=4)):
        pos, has_key, total = start, False, 0.0
        for action in actions:
            pos, has_key, reward, terminated = reference_step(pos, has_key, action, task, size=2)
            total += reward
            if terminated:
                break
        returns.append(total)
    assert env.random_return(task) == pytest.approx(np.mean(returns))


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: DarkKeyToDoorEnv(task=((9, 0), (0, 0))), r"key \(9, 0\) .* outside the 9x9 room"),
        (lambda: DarkKeyToDoorEnv(task=((0, 0), (0, -1))), r"door \(0, -1\) .* outside"),
        (lambda: DarkKeyToDoorEnv(task=(1, 2, 3, 4)), "shape"),
        (lambda: DarkKeyToDoorEnv(task=((1, 2),)), "shape"),
        (lambda: DarkKeyToDoorEnv(task=((1, 2), (3,))), "of ints"),
        (lambda: DarkKeyToDoorEnv(task=((1.5, 2), (3, 4))), "of ints"),
        (lambda: DarkKeyToDoorEnv(task="ab"), "of ints"),
        (lambda: DarkKeyToDoorEnv(size=1), "size >= 2"),
        (lambda: DarkKeyToDoorEnv().reset(options={"goal": (1, 1)}), "unknown reset options"),
        (lambda: DarkKeyToDoorEnv().reset(options={"task": ((1, 1), (9, 9))}), "outside"),
        (lambda: DarkKeyToDoorVectorEnv(2, tasks=[((0, 0), (1, 1))] * 3), r"shape \(2, 2, 2\)"),
        (lambda: DarkKeyToDoorVectorEnv(2, tasks=[((0, 0), (1, 1)), ((0, 9), (1, 1))]), "outside"),
        (lambda: DarkKeyToDoorVectorEnv(2).reset(options={"task": ((0, 0), (1, 1))}), "unknown reset options"),
        (lambda: DarkKeyToDoorVectorEnv(2, autoreset_mode="Disabled"), "NEXT_STEP and SAME_STEP"),
    ],
)
def test_bad_task_or_option_is_refused_clearly(make, error):
    with pytest.raises(ValueError, match=error):
        make()


@pytest.mark.parametrize("action", [7, -1, 2.5, "up"])
def test_action_outside_space_is_refused(action):
    env = DarkKeyToDoorEnv(task=((1, 1), (2, 2)))
    env.reset()
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(action)


@pytest.mark.parametrize("actions", [[0, 5], [0.0, 1.5], [0, 1, 2]])
def test_vector_actions_outside_space_are_refused(actions):
    vec = DarkKeyToDoorVectorEnv(2, tasks=((1, 1), (2, 2)))
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="actions must be 2 ints"):
        vec.step(np.array(actions))


def test_render_shows_key_until_collected_door_and_agent():
    start = (3, 5)
    env = DarkKeyToDoorEnv(task=(start, (0, 0)), render_mode="ansi")
    env.reset(seed=seed_for_each_start()[start])
    board = env.render().splitlines()
    assert board[0][0] == "D" and board[5][3] == "A"  # the agent covers the key
    env.step(4)  # off the key without collecting it: a start does not count
    assert env.render().splitlines()[5][3:5] == "KA"
    env.step(3)  # back onto the key: collected
    env.step(4)
    assert env.render().splitlines()[5][3:5] == ".A"
    rgb = DarkKeyToDoorEnv(task=(start, (0, 0)), render_mode="rgb_array")
    rgb.reset(seed=0)
    assert rgb.render().shape == (144, 144, 3)


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
@pytest.mark.parametrize("given_tasks", [True, False])
def test_vector_env_matches_single_envs_step_for_step(mode, given_tasks):
    task_list = [((4, 4), (4, 4)), ((4, 4), (4, 5)), ((0, 0), (8, 8)), ((2, 6), (3, 6))] * 2
    kwargs = {"tasks": task_list} if given_tasks else {}
    vec = gym.make_vec(
        "DarkKeyToDoor-v0", num_envs=8, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs
    )
    ref = gym.vector.SyncVectorEnv(
        [lambda t=t: gym.make("DarkKeyToDoor-v0", task=t if given_tasks else None) for t in task_list],
        autoreset_mode=mode,
    )
    obs, info = vec.reset(seed=3)
    np.testing.assert_array_equal(obs, ref.reset(seed=3)[0])
    assert info["task"].tolist() == [list(map(list, e.unwrapped.task)) for e in ref.envs]
    # Envs 0-3 act at random (they end by truncation), envs 4-7 mostly head for the key, then the door.
    rng, has_key, ends = np.random.default_rng(0), np.zeros(8, dtype=bool), np.zeros(2, dtype=int)
    for _ in range(160):
        targets = np.where(has_key[:, None], info["task"][:, 1], info["task"][:, 0])
        greedy = np.array([scripted_optimal(o, t) for o, t in zip(obs, targets, strict=True)])
        actions = np.where((np.arange(8) >= 4) & (rng.random(8) < 0.8), greedy, rng.integers(0, 5, size=8))
        out_v, out_r = vec.step(actions), ref.step(actions)
        for a, b in zip(out_v[:4], out_r[:4], strict=True):
            np.testing.assert_array_equal(a, b)
        obs, rewards, terminated, truncated, info = out_v
        has_key = (has_key | (rewards > 0)) & ~(terminated | truncated)
        ends += [terminated.sum(), truncated.sum()]
        if mode == "SameStep" and "final_obs" in out_r[4]:
            mask = out_r[4]["_final_obs"]
            np.testing.assert_array_equal(info["_final_obs"], mask)
            np.testing.assert_array_equal(info["final_obs"][mask], np.stack(out_r[4]["final_obs"][mask]))
    assert ends.min() > 0  # both terminations and truncations were exercised


def test_vector_reset_option_changes_tasks_and_keeps_them():
    vec = DarkKeyToDoorVectorEnv(2)
    sampled = vec.reset(seed=0)[1]["task"]
    assert sampled.shape == (2, 2, 2) and (vec.reset()[1]["task"] == sampled).all()
    new = [((0, 0), (1, 1)), ((8, 8), (8, 8))]
    assert vec.reset(options={"tasks": new})[1]["task"].tolist() == np.array(new).tolist()
    assert vec.step(np.zeros(2, dtype=int))[4]["task"].tolist() == np.array(new).tolist()


def test_sb3_learner_trains_on_it_without_wrappers():
    from stable_baselines3 import PPO

    env = gym.make("DarkKeyToDoor-v0", task=((3, 3), (5, 5)))
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=128)
    assert model.num_timesteps == 128


class TestDarkKeyToDoorDmEnvContract(test_utils.EnvironmentTestMixin, absltest.TestCase):
    """dm_env's reusable checks, over steps that cross both kinds of episode end (discount 0 and 1)."""

    def make_object_under_test(self) -> dm_env.Environment:
        return envs.as_dm_env(gym.make("DarkKeyToDoor-v0", task=((0, 0), (0, 1))), seed=0)

    def make_action_sequence(self):
        """Random steps, then 8 ups and 8 lefts reach the key in the corner from any start, and down opens the door;
        the long random stretch after it runs into the 50-step truncation."""
        rng = np.random.default_rng(0)
        for _ in range(2):
            for action in [*rng.integers(5, size=10), *[1] * 8, *[3] * 8, 2, 0, *rng.integers(5, size=60)]:
                yield np.int64(action)
