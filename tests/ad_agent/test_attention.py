"""Attention maps (paper Fig. 15): they are the model's real attention, over the window it really sees."""

import numpy as np
import pytest
import torch

from ad_agent.cli import main
from ad_agent.deployment.attention import Trial, attention_maps, play_trial
from ad_agent.deployment.evaluation import evaluate
from ad_agent.deployment.policy import InContextPolicy, PolicySpec
from ad_agent.model import ADLSTM, ModelConfig
from ad_agent.plots import plot_attention

TASK = (2, 6)


def test_a_played_trial_is_what_evaluate_measures_with_the_same_seed(policy) -> None:
    trial = play_trial(policy, "DarkRoom-v0", TASK, episodes=3, seed=5)
    assert len(trial.actions) == 60 and trial.episode_starts.sum() == 3
    assert np.flatnonzero(trial.episode_starts).tolist() == [0, 20, 40]
    played = evaluate(policy, "DarkRoom-v0", [TASK], episodes=3, seed=5)[0]
    np.testing.assert_array_equal(trial.episode_returns, played)


def test_attention_maps_are_the_weights_the_model_attends_with(policy) -> None:
    trial = play_trial(policy, "DarkRoom-v0", TASK, episodes=2, seed=0)  # 40 steps, context 12
    maps = attention_maps(policy, trial)
    layers, heads, window = policy.spec.model.n_layers, policy.spec.model.n_heads, policy.context_len
    assert maps.shape == (layers, heads, window, window)
    np.testing.assert_allclose(maps.sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(maps, k=1) == 0)  # causal

    # Each layer's weights, applied to its values, give back the layer's own (fused-kernel) output.
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def check(module, args, output) -> None:
        x, positions, rope, _ = args
        _, _, v = module._project(x, rope)
        weights = torch.as_tensor(maps[len(seen)])[None]
        mixed = (weights @ v).transpose(1, 2).reshape(x.shape)
        seen.append((module.proj(mixed), output))

    hooks = [block.attn.register_forward_hook(check) for block in policy.model.blocks]
    attention_maps(policy, trial)
    for hook in hooks:
        hook.remove()
    assert len(seen) == layers
    for rebuilt, output in seen:
        torch.testing.assert_close(rebuilt, output, atol=1e-5, rtol=1e-4)


def test_attention_plot_marks_a_trial_and_refuses_recurrent_policies(policy, tmp_path) -> None:
    trial = play_trial(policy, "DarkRoom-v0", TASK, episodes=2, seed=0)
    png = plot_attention(trial, attention_maps(policy, trial), tmp_path / "attention.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = ModelConfig(obs_nvec=(9, 9), n_actions=5, arch="lstm", d_model=16, lstm_hidden=16, d_ff=32)
    lstm = InContextPolicy(ADLSTM(config), PolicySpec(config, "DarkRoom-v0", max_episode_steps=20), "cpu")
    with pytest.raises(ValueError, match="attention maps need a transformer policy; this one is a ADLSTM"):
        attention_maps(lstm, trial)
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        play_trial(policy, "DarkRoom-v0", TASK, episodes=0)


def test_trial_returns_add_up_each_episode() -> None:
    starts = np.array([1, 0, 0, 1, 0, 1], dtype=bool)
    trial = Trial("DarkRoom-v0", TASK, np.zeros((6, 2)), np.zeros(6), np.array([0, 1, 1, 0, 0, 1.0]), starts)
    np.testing.assert_array_equal(trial.episode_returns, [2, 0, 1])


def test_attention_command_plots_a_held_out_task_and_names_bad_input(policy, tmp_path, capsys) -> None:
    policy.save(tmp_path / "policy")
    plot = tmp_path / "attention.png"
    argv = ["attention", "--policy", str(tmp_path / "policy"), "--episodes", "2", "--plot", str(plot)]
    assert main(argv) == 0 and plot.exists()
    assert "held-out task" in capsys.readouterr().out
    assert main([*argv, "--task-index", "999"]) == 2
    assert "--task-index 999: DarkRoom-v0 has 17 held-out tasks" in capsys.readouterr().err
    demo = ["demo", "--policy", str(tmp_path / "policy"), "--episodes", "2", "--tasks", "3", "--plot", str(plot)]
    assert main(demo) == 0 and "3 held-out tasks the policy never trained on" in capsys.readouterr().out
    assert main(["demo", "--env", "DarkRoom-v0", "--policy", str(tmp_path / "policy")]) == 2
    assert "give --policy or --env, not both" in capsys.readouterr().err
    assert main(["demo", "--env", "NoSuchEnv-v0"]) == 2
    assert "no pretrained policy for 'NoSuchEnv-v0'" in capsys.readouterr().err
