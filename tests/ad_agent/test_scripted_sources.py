"""The scripted sources (UCB, noisy expert) learn as claimed and write what the SB3 recorder writes."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the env ids)
from ad_agent.histories import Streams, episode_returns, read_run, write_run
from ad_agent.sources.noisy_expert import NoisyExpertConfig, epsilon_schedule, run_noisy_expert, step_toward
from ad_agent.sources.ucb import UCBConfig, run_ucb
from envs.bandit import split_tasks

BANDIT = "AdversarialBandit-v0"
EASY = (0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1)  # best arm 3, far above the rest
GRID_CASES = [
    ("DarkRoom-v0", (6, 2)),
    ("DarkRoomHard-v0", (14, 3)),
    ("DarkKeyToDoor-v0", ((1, 7), (6, 2))),
    ("DarkKeyToDoor-v0", ((3, 3), (3, 3))),  # key on the door: two no-ops in a row pay twice
]


def assert_recorder_format(streams: Streams, obs_shape: tuple[int, ...]) -> None:
    """Dtypes and shapes as HistoryRecorder stores them for the env's spaces."""
    n, t = streams.actions.shape
    assert streams.observations.shape == (n, t, *obs_shape) and streams.observations.dtype == np.int64
    assert streams.actions.dtype == np.int64
    assert streams.rewards.dtype == np.float32 and streams.rewards.shape == (n, t)
    assert streams.episode_starts.dtype == bool and streams.episode_starts[:, 0].all()


def episode_matrix(streams: Streams) -> np.ndarray:
    """Per-actor episode returns, cut to the episodes every actor completed (the last may be cut off)."""
    returns = [episode_returns(r, s)[:-1] for r, s in zip(streams.rewards, streams.episode_starts, strict=True)]
    n = min(len(r) for r in returns)
    return np.stack([r[:n] for r in returns])


# --- UCB -------------------------------------------------------------------------------


def test_ucb_streams_are_one_pull_episodes():
    streams = run_ucb(UCBConfig(n_actors=8, n_pulls=30), BANDIT, {"task": split_tasks("train")[0]}, seed=0)
    assert_recorder_format(streams, ())
    assert streams.actions.shape == (8, 30)
    assert (streams.observations == 0).all() and streams.episode_starts.all()
    assert set(np.unique(streams.rewards)) <= {0.0, 1.0}


def test_ucb_pulls_every_arm_once_first_in_random_order():
    streams = run_ucb(UCBConfig(n_actors=16, n_pulls=12), BANDIT, {"task": EASY}, seed=1)
    np.testing.assert_array_equal(np.sort(streams.actions[:, :10], axis=1), np.tile(np.arange(10), (16, 1)))
    assert len({tuple(row) for row in streams.actions[:, :10]}) > 1  # ties broken at random per actor


def test_ucb_finds_the_best_arm_of_an_easy_task():
    streams = run_ucb(UCBConfig(n_actors=400, n_pulls=100), BANDIT, {"task": EASY}, seed=2)
    best = (streams.actions == 3).mean(axis=0)
    assert best[-20:].mean() > 0.7 > best[:20].mean()


def test_ucb_regret_falls_along_the_history_of_a_train_task():
    task = np.asarray(split_tasks("train")[1])
    streams = run_ucb(UCBConfig(n_actors=400, n_pulls=100), BANDIT, {"task": tuple(task)}, seed=2)
    regret = (task.max() - task[streams.actions]).mean(axis=0)
    blocks = [block.mean() for block in np.array_split(regret, 5)]
    assert (np.diff(blocks) < 0).all()
    assert blocks[-1] < 0.3 * blocks[0]


def test_ucb_rewards_come_from_the_env():
    deterministic = (1.0, 0.0) * 5
    streams = run_ucb(UCBConfig(n_actors=20, n_pulls=50), BANDIT, {"task": deterministic}, seed=3)
    np.testing.assert_array_equal(streams.rewards, np.asarray(deterministic, dtype=np.float32)[streams.actions])
    task = np.asarray(split_tasks("train")[0])
    streams = run_ucb(UCBConfig(n_actors=500, n_pulls=100), BANDIT, {"task": tuple(task)}, seed=4)
    for arm in range(10):
        paid = streams.rewards[streams.actions == arm]
        assert abs(paid.mean() - task[arm]) < 4 * np.sqrt(task[arm] * (1 - task[arm]) / len(paid)) + 0.01


def test_ucb_refuses_non_bandits_and_missing_tasks():
    with pytest.raises(ValueError, match="bandit"):
        run_ucb(UCBConfig(n_actors=2, n_pulls=5), "DarkRoom-v0", {"task": (1, 1)}, seed=0)
    with pytest.raises(ValueError, match="one task"):
        run_ucb(UCBConfig(n_actors=2, n_pulls=5), BANDIT, {}, seed=0)


# --- noisy expert ----------------------------------------------------------------------


def test_step_toward_uses_the_env_moves():
    centre = np.full((5, 2), 4)
    targets = np.array([[4, 4], [4, 1], [4, 7], [1, 4], [7, 4]])
    np.testing.assert_array_equal(step_toward(centre, targets), [0, 1, 2, 3, 4])  # no-op, up, down, left, right


def test_epsilon_anneals_from_one_to_zero():
    eps = epsilon_schedule(100, 0.8)
    assert eps[0] == 1.0 and eps[79] > 0 and (eps[80:] == 0).all() and (np.diff(eps) <= 0).all()


@pytest.mark.parametrize(("env_id", "task"), GRID_CASES)
def test_noisy_expert_goes_from_random_to_optimal(env_id, task):
    streams = run_noisy_expert(NoisyExpertConfig(n_actors=128, episodes=20), env_id, {"task": task}, seed=0)
    env = gym.make(env_id, task=task).unwrapped
    assert_recorder_format(streams, (2,))
    assert streams.n_steps == 20 * env.episode_length
    returns = episode_matrix(streams)
    optimal, random = env.optimal_return(env.task), env.random_return(env.task)
    assert (returns[:, -1] == optimal).all()  # epsilon is 0 for the last 20% of the history
    assert (returns[:, 0].mean() - random) / (optimal - random) < 0.1
    blocks = [block.mean() for block in np.array_split(returns, 5, axis=1)]
    assert (np.diff(blocks) >= 0).all()


def test_dark_room_episodes_have_the_env_length():
    streams = run_noisy_expert(NoisyExpertConfig(n_actors=4, episodes=3), "DarkRoom-v0", {"goal": (0, 0)}, seed=0)
    np.testing.assert_array_equal(streams.episode_starts, np.tile(np.arange(60) % 20 == 0, (4, 1)))
    assert (streams.observations[streams.episode_starts] == 4).all()  # every episode starts at the centre


def test_noisy_expert_on_the_bandit_ends_on_the_best_arm():
    config = NoisyExpertConfig(n_actors=200, episodes=100)
    streams = run_noisy_expert(config, BANDIT, {"task": EASY}, seed=0)
    assert_recorder_format(streams, ())
    assert (streams.actions[:, 80:] == 3).all()
    assert (streams.actions[:, :10] == 3).mean() < 0.2


@pytest.mark.parametrize("goal", [(1, 1), (6, 5), (5, 9)])
def test_maze_expert_reads_its_pose_off_the_pixels_and_repeats_a_shortest_path(goal):
    config = NoisyExpertConfig(n_actors=16, episodes=10, anneal_fraction=0.5)
    streams = run_noisy_expert(config, "PixelWatermaze-v0", {"task": goal}, seed=0)
    env = gym.make("PixelWatermaze-v0", task=goal).unwrapped
    assert streams.observations.shape[2:] == (55, 55, 3)
    returns = episode_matrix(streams)
    assert (returns[:, -3:] == env.optimal_return(goal)).all()  # epsilon is 0 from halfway
    assert returns[:, 0].mean() < 0.5 * env.optimal_return(goal)


def test_unknown_env_is_refused():
    with pytest.raises(ValueError, match="no scripted expert"):
        run_noisy_expert(NoisyExpertConfig(), "PointRobot-v0", {"task": (0.5, 0.5)}, seed=0)


# --- both ------------------------------------------------------------------------------

RUNS = [
    (run_ucb, UCBConfig(n_actors=6, n_pulls=40), BANDIT, {"task": EASY}),
    (run_noisy_expert, NoisyExpertConfig(n_actors=6, episodes=5), "DarkKeyToDoor-v0", {"task": ((0, 0), (8, 8))}),
]


@pytest.mark.parametrize(("run", "config", "env_id", "kwargs"), RUNS)
def test_same_seed_same_streams(run, config, env_id, kwargs):
    first, again, other = (run(config, env_id, kwargs, seed) for seed in (7, 7, 8))
    for name in ("observations", "actions", "rewards", "episode_starts"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.actions, other.actions)


@pytest.mark.parametrize(("run", "config", "env_id", "kwargs"), RUNS)
def test_streams_round_trip_through_a_run_file(tmp_path, run, config, env_id, kwargs):
    streams = run(config, env_id, kwargs, 0)
    loaded, meta = read_run(write_run(tmp_path / "run.h5", streams, {"env_id": env_id}))
    assert meta["env_id"] == env_id
    for name in ("observations", "actions", "rewards", "episode_starts"):
        original, back = getattr(streams, name), getattr(loaded, name)
        assert back.dtype == original.dtype
        np.testing.assert_array_equal(back, original)
