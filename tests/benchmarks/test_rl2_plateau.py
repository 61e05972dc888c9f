"""RL^2 meta-trained in chunks to a plateau: the stopping rule, resuming, and the quick run's record."""

import json

from benchmarks import rl2_plateau
from benchmarks.rl2_plateau import Progress, plateaued


def test_the_plateau_needs_three_learned_evaluations_within_five_percent_of_optimal():
    assert not plateaued([0.5, 0.5], optimal=1.0, random=0.0)  # too few evaluations
    assert plateaued([0.1, 0.50, 0.53, 0.54], optimal=1.0, random=0.0)
    assert not plateaued([0.40, 0.50, 0.53], optimal=1.0, random=0.0)  # still climbing
    assert not plateaued([10.0, 10.9, 10.0], optimal=16.0, random=0.0)  # 0.9 >= 0.8 = 5% of 16
    assert not plateaued([0.26, 0.25, 0.27], optimal=16.0, random=0.25)  # flat at random: not learned yet


def test_a_quick_run_writes_its_record_and_a_rerun_resumes_instead_of_retraining(tmp_path, capsys):
    argv = ["--quick", "--env", "DarkRoom-v0", "--workdir", str(tmp_path), "--results", str(tmp_path / "out")]
    rl2_plateau.main(argv)
    record = json.loads((tmp_path / "out" / "rl2_plateau_darkroom_quick.json").read_text())
    assert record["steps"] == 512 and len(record["evaluations"]) == 2 and record["rl2"]["total_timesteps"] == 512
    assert [e["steps"] for e in record["evaluations"]] == [256, 512]
    assert all(len(e["curve"]) == 2 for e in record["evaluations"])  # the quick trial's 2 episodes
    (found,) = record["findings"]
    assert found["reproduced"] is None and found["evidence"] == record["summary"]  # no AD reference in quick mode
    folder = tmp_path / "DarkRoom-v0" / "baselines" / "rl2_plateau_darkroom_quick-chunk256-tasks2x1-seed0"
    assert sorted(p.name for p in folder.glob("model-*.zip")) == ["model-512.zip"]  # only the latest is kept
    capsys.readouterr()
    rl2_plateau.main([*argv, "--max-steps", "768"])  # one more chunk, from the saved model
    assert "RL^2         768 steps" in capsys.readouterr().out
    assert Progress.load(folder).steps == 768 and len(Progress.load(folder).evaluations) == 3
    from sb3_contrib import RecurrentPPO

    assert RecurrentPPO.load(folder / "model-768.zip").num_timesteps == 768  # the count went on from 512


def test_the_ad_reference_is_the_paper_scale_main_result_when_there_is_one(tmp_path):
    def write(name, ad_mean):
        curves = [{"method": "AD", "mean": ad_mean}, {"method": "ED", "mean": [9.0] * 3}]
        (tmp_path / name).write_text(json.dumps({"curves": curves}))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert rl2_plateau.ad_reference("DarkKeyToDoor-v0", 2, tmp_path) is None
    write("main_results_darkkeytodoor.json", [0.1, 0.2, 0.3])
    assert rl2_plateau.ad_reference("DarkKeyToDoor-v0", 2, tmp_path) == ("main_results_darkkeytodoor.json", [0.1, 0.2])
    write("main_results_darkkeytodoor_batched.json", [1.0, 1.5, 2.0])
    expected = ("main_results_darkkeytodoor_batched.json", [1.0, 1.5])
    assert rl2_plateau.ad_reference("DarkKeyToDoor-v0", 2, tmp_path) == expected
    assert rl2_plateau.ad_reference("DarkKeyToDoor-v0", 2, elsewhere, tmp_path) == expected  # a run writing elsewhere
