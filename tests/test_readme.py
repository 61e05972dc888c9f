"""The README's Python examples run as written, in order, against the shipped pretrained policy."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_the_documented_loops():
    blocks = python_blocks()
    assert len(blocks) >= 3
    assert any("make_vec" in b for b in blocks) and any("as_dm_env" in b for b in blocks)


@pytest.mark.slow
def test_readme_examples_run(capsys):
    namespace: dict = {}
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own documentation
    first, last = (eval(expr, namespace) for expr in ("returns[:5]", "returns[-6:-1]"))  # noqa: S307
    assert sum(last) > sum(first)  # the documented claim: low at first, better later
