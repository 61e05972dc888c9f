"""The whole pipeline through the CLI, at toy scale: collect -> train -> evaluate."""

import json
import shutil

import pytest

from ad_agent.cli import main
from ad_agent.deployment.policy import InContextPolicy


@pytest.mark.slow
def test_cli_run_then_steps_resume_and_reload(tmp_path, capsys):
    workdir = tmp_path / "run"
    toy = ["--num-tasks", "2", "--runs-per-task", "1", "--steps", "14080", "--workers", "1"]
    assert main(["run", *toy, "--train-steps", "3", "--episodes", "6", "--trials", "1", "--workdir", str(workdir)]) == 0
    result = json.loads((workdir / "results.json").read_text())
    assert list(result["block_means"]) == ["1-5", "6-6"] and len(result["per_episode_mean"]) == 6
    assert len(list((workdir / "histories").glob("*.h5"))) == 2
    assert "1-5 |" in capsys.readouterr().out

    # collect again: nothing is redone; evaluate the saved policy from its folder
    assert main(["collect", *toy, "--out", str(workdir / "histories")]) == 0
    assert "(2 were already there)" in capsys.readouterr().out
    policy = InContextPolicy.load(workdir / "policy")
    assert policy.spec.provenance["n_runs"] == 2 and policy.spec.env_id == "DarkRoom-v0"
    out_json = tmp_path / "eval.json"
    assert main(["evaluate", "--policy", str(workdir / "policy"), "--episodes", "2", "--json", str(out_json)]) == 0
    assert len(json.loads(out_json.read_text())["per_episode_mean"]) == 2


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    assert main(["evaluate", "--policy", str(tmp_path / "missing")]) == 2
    assert "error: not a saved policy" in capsys.readouterr().err
    assert main(["collect", "--env", "NoSuchEnv-v0", "--out", str(tmp_path)]) == 2
    assert "no preset for 'NoSuchEnv-v0'" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--policy", str(tmp_path / "p")]) == 2
    assert "history dataset folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["collect", "--runs-per-task", "0", "--out", str(tmp_path / "h")])
    assert exit_info.value.code == 2 and "--runs-per-task" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--episodes", "--trials"])
def test_cli_refuses_zero_episodes_or_trials_naming_the_flag(policy_dir, capsys, option):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--policy", str(policy_dir), option, "0"])
    assert exit_info.value.code == 2 and option in capsys.readouterr().err


@pytest.fixture
def policy_dir(tmp_path):
    from ad_agent.deployment.policy import PolicySpec
    from ad_agent.model import ADTransformer, ModelConfig

    config = ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=8, d_model=16, n_layers=1, n_heads=2, d_ff=16)
    return InContextPolicy(ADTransformer(config), PolicySpec(config, "DarkRoom-v0", 20), "cpu").save(tmp_path / "p")


def test_cli_demo_prints_a_curve_and_writes_a_png(policy_dir, tmp_path, capsys):
    plot = tmp_path / "demo.png"
    assert main(["demo", "--policy", str(policy_dir), "--episodes", "3", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "17 held-out tasks" in out and "episode   3" in out and "optimal 16.24" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_cli_train_with_validation_checkpoints_resume_and_tensorboard(tmp_path, capsys):
    import torch

    from ad_agent.histories import write_run
    from ad_agent.sources import NoisyExpertConfig, run_noisy_expert

    for split, goal in (("train", (1, 1)), ("val", (2, 6))):
        streams = run_noisy_expert(NoisyExpertConfig(n_actors=4, episodes=12), "DarkRoom-v0", {"task": goal}, 0)
        write_run(tmp_path / split / "run.h5", streams, {"env_id": "DarkRoom-v0"})
    common = ["--data", str(tmp_path / "train"), "--val-data", str(tmp_path / "val"), "--policy", str(tmp_path / "p")]
    common += ["--checkpoint-dir", str(tmp_path / "ckpt"), "--log-dir", str(tmp_path / "tb")]
    assert main(["train", *common, "--train-steps", "3", "--in-context-every", "2"]) == 0
    assert "icl_last=" in capsys.readouterr().err  # the probe's figure shows in the progress bar
    first = InContextPolicy.load(tmp_path / "p").model.state_dict()
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["step_00000003"]
    assert main(["train", *common, "--train-steps", "3", "--in-context-every", "2", "--resume"]) == 0  # done
    for name, value in InContextPolicy.load(tmp_path / "p").model.state_dict().items():
        assert torch.equal(value, first[name])
    assert main(["train", *common, "--train-steps", "4", "--resume"]) == 2  # not the run it checkpointed
    assert "other settings (steps); cannot resume" in capsys.readouterr().err
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    with pytest.raises(SystemExit):
        main(["train", *common, "--train-preset", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_cli_checkpoints_at_the_asked_pace_and_resumes_at_another(tmp_path):
    import torch

    from ad_agent.histories import write_run
    from ad_agent.sources import NoisyExpertConfig, run_noisy_expert

    streams = run_noisy_expert(NoisyExpertConfig(n_actors=2, episodes=4), "DarkRoom-v0", {"task": (1, 1)}, 0)
    write_run(tmp_path / "data" / "run.h5", streams, {"env_id": "DarkRoom-v0"})
    tiny = {"context_len": 20, "n_layers": 1, "d_model": 16, "n_heads": 2, "d_ff": 32}
    (tmp_path / "tiny.json").write_text(json.dumps({"model": tiny, "train": {"batch_size": 4}}))
    ckpt = tmp_path / "ckpt"
    common = ["--data", str(tmp_path / "data"), "--config", str(tmp_path / "tiny.json"), "--train-steps", "5"]
    common += ["--checkpoint-dir", str(ckpt)]

    def train(policy: str, *options: str) -> list[str]:
        assert main(["train", *common, "--policy", str(tmp_path / policy), *options]) == 0
        return sorted(p.name for p in ckpt.iterdir())

    assert train("whole", "--checkpoint-every", "2") == ["step_00000002", "step_00000004", "step_00000005"]
    for lost in ("step_00000004", "step_00000005"):  # as if it had crashed in step 5
        shutil.rmtree(ckpt / lost)
    resumed_at_3 = train("resumed", "--checkpoint-every", "3", "--resume")
    assert resumed_at_3 == ["step_00000002", "step_00000003", "step_00000005"]
    whole = InContextPolicy.load(tmp_path / "whole")
    resumed = InContextPolicy.load(tmp_path / "resumed")
    for name, value in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value)
    shutil.rmtree(ckpt)
    assert train("default") == ["step_00000005"]  # every 100 steps by default, and the last
    assert InContextPolicy.load(tmp_path / "default").spec.provenance["train"]["checkpoint_every"] == 100


@pytest.mark.parametrize(
    ("env", "train_preset", "steps"),
    [("DarkRoom-v0", None, 4800), ("DarkRoom-v0", "paper", 3000), ("DarkRoomHard-v0", "fast", 1200)],
)
def test_cli_trains_for_the_chosen_presets_steps(tmp_path, monkeypatch, env, train_preset, steps):
    from ad_agent import cli

    asked = []

    def fake_distill(preset, data, seed, steps, *args, **kwargs):
        asked.append(steps)
        raise ValueError("stop here")  # reported as a one-line error: nothing trains

    monkeypatch.setattr(cli, "distill", fake_distill)
    chosen = ["--train-preset", train_preset] if train_preset else []
    assert main(["train", "--env", env, "--data", str(tmp_path), "--policy", str(tmp_path / "p"), *chosen]) == 2
    assert asked == [steps]


def test_cli_refuses_a_policy_path_it_could_not_write_before_training(tmp_path, monkeypatch, capsys):
    from ad_agent import cli

    monkeypatch.setattr(cli, "distill", lambda *args, **kwargs: pytest.fail("trained although the output is bad"))
    (tmp_path / "taken").write_text("a file")
    assert main(["train", "--data", str(tmp_path), "--policy", str(tmp_path / "taken")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path), "--policy", str(tmp_path / "taken" / "p")]) == 2
    assert "a parent of it is a file" in capsys.readouterr().err


def test_settings_override_in_order_preset_then_config_file_then_flags(tmp_path, monkeypatch) -> None:
    import json as json_

    from ad_agent import cli

    seen = []

    def fake_distill(preset, data, seed, steps, *args, **kwargs):
        seen.append((steps, preset.model_config(), preset.train))
        raise ValueError("stop here")

    monkeypatch.setattr(cli, "distill", fake_distill)
    config = tmp_path / "config.json"
    config.write_text(json_.dumps({"model": {"d_model": 32}, "train": {"steps": 50, "batch_size": 8, "amp": "bf16"}}))
    argv = ["train", "--env", "DarkRoom-v0", "--data", str(tmp_path), "--policy", str(tmp_path / "p")]
    assert main(argv) == 2  # the preset alone
    assert main([*argv, "--config", str(config)]) == 2  # the file over the preset
    flags = ["--train-steps", "7", "--amp", "off", "--keep-checkpoints", "3"]
    assert main([*argv, "--config", str(config), *flags]) == 2  # flags over the file
    (preset_steps, preset_model, preset_train), (file_steps, file_model, file_train), (flag_steps, _, flag_train) = seen
    assert (preset_steps, preset_model.d_model, preset_train.batch_size, preset_train.amp) == (4800, 64, 64, "auto")
    assert (file_steps, file_model.d_model, file_train.batch_size, file_train.amp) == (50, 32, 8, "bf16")
    assert (flag_steps, flag_train.batch_size, flag_train.amp, flag_train.keep_checkpoints) == (7, 8, "off", 3)
    assert file_model.n_layers == preset_model.n_layers == 2  # what the file leaves alone stays the preset's


def test_cli_evaluates_and_demos_at_a_temperature_and_refuses_a_bad_one(policy_dir, tmp_path, capsys):
    out_json = tmp_path / "eval.json"
    evaluate = ["evaluate", "--policy", str(policy_dir), "--episodes", "2", "--trials", "1"]
    assert main([*evaluate, "--temperature", "1.5", "--json", str(out_json)]) == 0
    assert json.loads(out_json.read_text())["temperature"] == 1.5
    plot = tmp_path / "demo.png"
    demo = ["demo", "--policy", str(policy_dir), "--episodes", "2", "--plot", str(plot)]
    assert main([*demo, "--temperature", "0.5"]) == 0
    assert plot.exists()
    for bad in ("0", "-1", "nan", "inf", "hot"):
        with pytest.raises(SystemExit) as exit_info:
            main([*evaluate, "--temperature", bad])
        assert exit_info.value.code == 2 and "--temperature" in capsys.readouterr().err
