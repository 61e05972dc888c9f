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


def architecture_block() -> str:
    text = README.read_text()
    return text[text.index("The data path runs one way") : text.index("Choices, and why")]


def test_the_architecture_section_names_every_module_and_only_modules_that_exist():
    """The README's map of the package cannot drift from the tree: every module of ``ad_agent`` is named
    under its folder (or, top-level ones, on their own), and every folder it names exists."""
    block, package = architecture_block(), README.parent / "ad_agent"
    named_folders = set(re.findall(r"ad_agent/(\w+)/", block))
    assert named_folders and all((package / folder / "__init__.py").exists() for folder in named_folders)
    modules = [p for p in package.rglob("*.py") if p.name != "__init__.py"]
    missing = [str(p.relative_to(package)) for p in modules if p.name not in block]
    assert missing == []
    for folder in (p for p in package.iterdir() if (p / "__init__.py").exists() and p.name != "pretrained"):
        assert folder.name in named_folders or folder.name in block, folder.name
