"""Baselines: the RL^2 trial wrapper, RL^2 training and evaluation, the source from scratch."""

import gymnasium as gym
import numpy as np
import pytest

import envs
from ad_agent.baselines import RL2Config, TrialWrapper, evaluate_rl2, learn_from_scratch, single_stream, train_rl2
from ad_agent.presets import DARKROOM_PPO

GOALS = [(0, 0), (8, 8), (2, 7)]
EPISODE = 20  # Dark Room's episode length


def trial_env(episodes: int = 3, tasks=GOALS) -> TrialWrapper:
    env = TrialWrapper(gym.make("DarkRoom-v0"), tasks, episodes)
    return env


def play_trial(env: TrialWrapper, actions: list[int], **reset_kwargs):
    """Every (obs, reward, terminated, truncated, info) of one trial, actions cycled."""
    obs, info = env.reset(**reset_kwargs)
    steps = [(obs, 0.0, False, False, info)]
    t = 0
    while not (steps[-1][2] or steps[-1][3]):
        steps.append(env.step(actions[t % len(actions)]))
        t += 1
    return steps


def test_observation_is_position_one_hot_then_previous_action_reward_and_episode_start() -> None:
    env = trial_env(tasks=[(5, 4)])  # one step right of the start (4, 4)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == (9 + 9 + 5 + 2,)
    expected_start = np.zeros(25, dtype=np.float32)
    expected_start[[4, 9 + 4, 23, 24]] = [1, 1, 0, 1]  # x=4, y=4, no previous action, reward 0, start
    np.testing.assert_array_equal(obs, expected_start)
    obs, reward, *_ = env.step(4)  # right: onto the goal
    expected = np.zeros(25, dtype=np.float32)
    expected[[5, 9 + 4, 18 + 4, 23]] = [1, 1, 1, 1.0]  # x=5, y=4, action 4, reward 1, not a start
    assert reward == 1.0
    np.testing.assert_array_equal(obs, expected)
    assert env.observation_space.contains(obs)


def test_a_continuous_action_is_carried_as_it_was_taken() -> None:
    env = TrialWrapper(gym.make("PointRobot-v0"), [(0.0, 1.0)], episodes_per_trial=2)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == (2 + 2 + 2,)
    np.testing.assert_array_equal(obs, [0, 0, 0, 0, 0, 1])  # at the origin, no previous action, a start
    obs, *_ = env.step(np.array([0.5, -1.0], np.float32))
    np.testing.assert_allclose(obs, [0.1, -0.2, 0.5, -1.0, 0, 0])
    square = gym.spaces.Box(-1, 1, (2, 2), np.float32)  # a 2-D Box: no flat previous-action slot
    with pytest.raises(TypeError, match="Discrete or a 1-D Box"):
        TrialWrapper(gym.wrappers.TransformAction(gym.make("PointRobot-v0"), lambda a: a[0], square), [(0.0, 1.0)], 1)


def test_a_trial_is_k_episodes_with_start_flags_at_each_episode_boundary() -> None:
    env = trial_env(episodes=3)
    steps = play_trial(env, [1, 4], seed=0)
    assert len(steps) - 1 == 3 * EPISODE
    flags = np.array([s[0][-1] for s in steps])
    np.testing.assert_array_equal(np.flatnonzero(flags), [0, EPISODE, 2 * EPISODE])
    terminated = [s[2] for s in steps]
    assert terminated[-1] and not any(terminated[:-1]) and not any(s[3] for s in steps)
    assert [s[4]["trial_episode"] for s in steps[1:]] == np.repeat([0, 1, 2], EPISODE).tolist()
    returns = [s[4]["episode_return"] for s in steps[1:] if "episode_return" in s[4]]
    rewards = np.array([s[1] for s in steps[1:]]).reshape(3, EPISODE).sum(axis=1)
    np.testing.assert_allclose(returns, rewards)
    # a new episode restarts at the centre, with the last action and reward of the episode before
    new_episode, last_action = steps[EPISODE][0], [1, 4][(EPISODE - 1) % 2]
    assert new_episode[4] == 1 and new_episode[9 + 4] == 1 and new_episode[18 + last_action] == 1


def test_task_is_fixed_within_a_trial_and_redrawn_across_trials() -> None:
    env = trial_env(episodes=2, tasks=list(envs.TRAIN_GOALS))
    tasks_per_trial = []
    for trial in range(8):
        steps = play_trial(env, [0], seed=3 if trial == 0 else None)
        tasks = {s[4]["task"] for s in steps}
        assert len(tasks) == 1  # one task through both episodes
        tasks_per_trial.append(tasks.pop())
    assert len(set(tasks_per_trial)) > 1
    assert set(tasks_per_trial) <= set(envs.TRAIN_GOALS)


def test_reset_option_pins_the_task_and_unknown_options_are_refused() -> None:
    env = trial_env()
    assert {s[4]["task"] for s in play_trial(env, [0], options={"task": (3, 3)})} == {(3, 3)}
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"goal_x": 1})


def test_single_stream_keeps_the_preset_but_one_actor_and_a_rollout_sized_batch() -> None:
    config = single_stream(DARKROOM_PPO, total_timesteps=1_000)
    assert (config.n_envs, config.total_timesteps) == (1, 1_000)
    assert config.hyperparams["batch_size"] == DARKROOM_PPO.hyperparams["n_steps"]
    for key in ("n_steps", "n_epochs", "learning_rate", "gamma", "ent_coef"):
        assert config.hyperparams[key] == DARKROOM_PPO.hyperparams[key]
    assert DARKROOM_PPO.n_envs == 64  # the preset itself is untouched


def test_learn_from_scratch_returns_one_curve_per_task_of_whole_episodes() -> None:
    config = single_stream(DARKROOM_PPO, total_timesteps=200)
    returns = learn_from_scratch(config, "DarkRoom-v0", GOALS[:2], seed=0)
    assert returns.shape == (2, 200 // EPISODE - 1)  # the last, possibly cut, episode dropped
    assert returns.min() >= 0 and returns.max() <= EPISODE
    with pytest.raises(ValueError, match="n_envs=1"):
        learn_from_scratch(DARKROOM_PPO, "DarkRoom-v0", GOALS, seed=0)


def test_rl2_trains_briefly_and_plays_one_trial_per_task() -> None:
    config = RL2Config(episodes_per_trial=2, total_timesteps=256, n_envs=2)
    config.hyperparams.update(n_steps=64, batch_size=64, n_epochs=1)
    model = train_rl2(config, "DarkRoom-v0", list(envs.TRAIN_GOALS), seed=0)
    assert model.num_timesteps >= 256
    returns = evaluate_rl2(model, "DarkRoom-v0", GOALS, episodes=3, seed=0)
    assert returns.shape == (3, 3)
    optimal = [envs.optimal_return(goal) for goal in GOALS]
    assert np.all(returns >= 0) and np.all(returns <= np.array(optimal)[:, None])
    again = evaluate_rl2(model, "DarkRoom-v0", GOALS, episodes=3, seed=0)
    np.testing.assert_array_equal(returns, again)  # seeded
