"""The tabular searcher: every actor finds its goal by itself, then goes straight back to it."""

import numpy as np
import pytest

import envs  # noqa: F401  (registers the env ids)
from ad_agent.sources import SOURCES, GridSearchConfig, record, run_grid_search
from ad_agent.sources.grid_search import GridSearcher
from envs.darkroom import optimal_return
from tests.ad_agent.test_scripted_sources import assert_recorder_format, episode_matrix


@pytest.mark.parametrize(
    "env_id, goal, size, reward_once", [("DarkRoom-v0", (1, 7), 9, False), ("DarkRoomHard-v0", (14, 3), 17, True)]
)
def test_without_noise_each_actor_finds_its_goal_then_plays_optimally(env_id, goal, size, reward_once) -> None:
    streams = run_grid_search(GridSearchConfig(n_actors=8, episodes=30, epsilon=0.0), env_id, {"goal": goal}, seed=0)
    assert_recorder_format(streams, (2,))
    assert streams.actions.shape == (8, 30 * 20)
    returns = episode_matrix(streams)
    found = returns > 0
    assert found.any(axis=1).all()  # every actor finds it, within 30 episodes
    first = found.argmax(axis=1)
    best = optimal_return(goal, size, reward_once=reward_once)
    for actor, episode in enumerate(first):
        np.testing.assert_array_equal(returns[actor, episode + 1 :], best)  # straight back every time after
    assert len(set(first.tolist())) > 1  # ties broken at random: the actors search apart


def test_a_first_episode_covers_new_ground_far_faster_than_a_random_walk() -> None:
    def cells_seen(epsilon: float) -> np.ndarray:
        config = GridSearchConfig(n_actors=32, episodes=1, epsilon=epsilon)
        streams = run_grid_search(config, "DarkRoomHard-v0", {"goal": (0, 0)}, seed=3)
        return np.array([len({tuple(cell) for cell in path}) for path in streams.observations])

    searching, wandering = cells_seen(0.0), cells_seen(1.0)  # 20 positions per episode
    assert searching.min() >= 18 and wandering.mean() < 14


def test_each_actor_remembers_only_what_it_was_paid() -> None:
    searcher = GridSearcher(9, 20, False, n_actors=2, epsilon=0.0, rng=np.random.default_rng(0))
    searcher.act(np.array([[4, 4], [4, 4]]), 0)
    searcher.observe(np.array([4, 3]), np.array([1.0, 0.0]), np.array([False, False]))  # actor 0 paid at (5, 4)
    assert searcher.paid[0, 5, 4] and not searcher.paid[1].any()
    assert searcher.visited[1, 3, 4] and not searcher.visited[0, 3, 4]
    np.testing.assert_array_equal(searcher.targets()[0], [5, 4])  # back to where it was paid


def test_reward_once_rooms_stop_seeking_a_goal_already_paid_this_episode() -> None:
    searcher = GridSearcher(17, 20, True, n_actors=1, epsilon=0.0, rng=np.random.default_rng(0))
    searcher.act(np.array([[8, 8]]), 0)
    searcher.observe(np.array([4]), np.array([1.0]), np.array([False]))  # paid on (9, 8)
    searcher.act(np.array([[9, 8]]), 1)
    assert not (searcher.targets()[0] == [9, 8]).all()  # it explores on instead
    searcher.observe(np.array([0]), np.array([0.0]), np.array([True]))  # the episode ends
    searcher.act(np.array([[8, 8]]), 0)
    np.testing.assert_array_equal(searcher.targets()[0], [9, 8])  # next episode it goes back


def test_config_checks_registry_and_seeding() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        GridSearchConfig(epsilon=1.5)
    with pytest.raises(ValueError, match="plays"):
        run_grid_search(GridSearchConfig(), "DarkKeyToDoor-v0", {"task": ((1, 1), (2, 2))}, 0)
    assert SOURCES["GridSearchConfig"] is GridSearchConfig
    config = GridSearchConfig(n_actors=3, episodes=2)
    (a, extras), (b, _) = (record(config, "DarkRoom-v0", {"goal": (0, 8)}, 5) for _ in range(2))
    assert extras == {} and np.array_equal(a.actions, b.actions) and np.array_equal(a.rewards, b.rewards)
