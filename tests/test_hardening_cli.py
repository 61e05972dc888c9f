"""The CLI under bad values: each is one line on stderr naming the flag, exit code 2; --version; defaults in --help."""

from __future__ import annotations

import argparse

import pytest
import torch

from ad_agent import __version__
from ad_agent.cli import build_parser, main


def _exit_code_and_error(argv: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr of ``main(argv)``, whether the parser or a command refused the value."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["collect", "--seed", "-1"], "--seed"),
        (["train", "--data", "d", "--policy", "p", "--seed", "-1"], "--seed"),
        (["evaluate", "--policy", "p", "--seed", "-3"], "--seed"),
        (["demo", "--seed", "-1"], "--seed"),
        (["collect", "--workers", "0"], "--workers"),
        (["collect", "--num-tasks", "1000"], "--num-tasks"),
        (["collect", "--num-tasks", "20", "--tasks", "test"], "--num-tasks"),
        (["collect", "--num-tasks", "0"], "--num-tasks"),
        (["collect", "--steps", "x"], "--steps"),
        (["train", "--data", "d", "--policy", "p", "--in-context-every", "-1"], "--in-context-every"),
        (["train", "--data", "d", "--policy", "p", "--checkpoint-every", "-5"], "--checkpoint-every"),
        (["train", "--data", "d", "--policy", "p", "--keep-checkpoints", "-1"], "--keep-checkpoints"),
        (["train", "--data", "d", "--policy", "p", "--train-steps", "0"], "--train-steps"),
        (["evaluate", "--policy", "p", "--device", "banana"], "--device"),
        (["demo", "--device", "banana"], "--device"),
        (["demo", "--episodes", "0"], "--episodes"),
        (["collect", "--device", "cpu"], "--device"),  # removed from collect: it did nothing there
    ],
)
def test_a_bad_value_is_one_line_naming_the_flag_with_exit_code_2(argv, flag, capsys, tmp_path):
    argv = argv if argv[0] != "collect" else [*argv, "--out", str(tmp_path / "h")]
    code, err = _exit_code_and_error(argv, capsys)
    assert code == 2 and flag in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "h").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_refused_naming_the_flag(capsys):
    code, err = _exit_code_and_error(["evaluate", "--policy", "pretrained:DarkRoom-v0", "--device", "cuda"], capsys)
    assert code == 2 and "argument --device" in err and "CUDA is not available" in err


def test_a_file_given_as_the_data_folder_is_named(tmp_path, capsys):
    (tmp_path / "f").write_text("not a dataset")
    code, err = _exit_code_and_error(["train", "--data", str(tmp_path / "f"), "--policy", str(tmp_path / "p")], capsys)
    assert code == 2 and "--data" in err and "is a file" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"ad-agent {__version__}"


def test_help_shows_every_default():
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in subcommands.items():
        text = " ".join(sub.format_help().split())
        for action in sub._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                assert f"default: {action.default}" in text or f"default {action.default}" in text, (name, action.dest)
