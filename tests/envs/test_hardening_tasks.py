"""Every env's task check refuses non-integer coordinates instead of truncating them."""

import gymnasium as gym
import pytest

import envs  # noqa: F401  (registers the envs)

BAD_TASKS = {
    "DarkRoom-v0": [(1.5, 2), ("1", 2), (True, 2), (1.0, 2)],
    "DarkRoomHard-v0": [(1.5, 2)],
    "PixelWatermaze-v0": [(1.5, 2), (2.0, 3)],
    "DarkKeyToDoor-v0": [((1.5, 2), (3, 4)), ((1, 2), (3, 4.5))],
}
CASES = [(env_id, task) for env_id, tasks in BAD_TASKS.items() for task in tasks]


@pytest.mark.parametrize("env_id, task", CASES)
def test_a_non_integer_task_is_refused_by_the_env_and_its_vector_form(env_id, task):
    with pytest.raises(ValueError, match="ints"):
        gym.make(env_id, task=task)
    with pytest.raises(ValueError, match="ints"):
        gym.make(env_id).reset(options={"task": task})
    with pytest.raises(ValueError, match="ints"):
        gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", tasks=[task, task])


def test_dark_room_accepts_numpy_ints_and_refuses_the_goal_alias_as_a_float():
    import numpy as np

    assert gym.make("DarkRoom-v0", goal=(np.int64(1), 2)).unwrapped.goal == (1, 2)
    with pytest.raises(ValueError, match="goal must be a pair of ints"):
        gym.make("DarkRoom-v0", goal=(1.5, 2))


@pytest.mark.parametrize(
    "env_id, goal", [("DarkRoom-v0", (1, 1)), ("PixelWatermaze-v0", (1, 1)), ("PointRobot-v0", (0.0, 1.0))]
)
def test_a_task_given_both_as_task_and_as_goal_is_refused(env_id, goal):
    with pytest.raises(ValueError, match="give either goal= or task=, not both"):
        gym.make(env_id, goal=goal, task=goal)
