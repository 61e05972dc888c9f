"""No litter in the system temp folder: an SB3 learner's run leaves no ``SB3-<date>`` folder."""

import tempfile

from ad_agent.sources import SourceConfig, record


def test_an_sb3_source_run_leaves_nothing_in_the_temp_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # what tempfile.gettempdir() answers
    config = SourceConfig(algo="PPO", n_envs=2, total_timesteps=40, hyperparams={"n_steps": 20, "batch_size": 20})
    record(config, "DarkRoom-v0", {"task": (1, 1)}, seed=0)
    config = SourceConfig(algo="DQN", n_envs=2, total_timesteps=40, hyperparams={"learning_starts": 10})
    record(config, "DarkRoom-v0", {"task": (1, 1)}, seed=0)
    # torch makes one fixed, reused cache folder per user (torchinductor_<user>): not per-run litter
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("torchinductor_")] == []


def test_rl2_meta_training_leaves_nothing_in_the_temp_folder(tmp_path, monkeypatch):
    from ad_agent.baselines.rl2 import RL2Config, train_rl2

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = RL2Config(
        n_envs=2, total_timesteps=40, episodes_per_trial=1, hyperparams={"n_steps": 20, "batch_size": 20}
    )
    train_rl2(config, "DarkRoom-v0", [(1, 1)], seed=0)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("torchinductor_")] == []
