"""Workers die with their parent: a real ``kill -9`` of ``ad-agent collect`` leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
# Two runs far too long to finish during the test: the workers are busy when their parent dies.
LONG_COLLECTION = ["--num-tasks", "2", "--runs-per-task", "1", "--steps", "10000000", "--workers", "2"]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    """Running or sleeping, not gone and not a zombie waiting for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        return 0


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextmanager
def _session(command: list[str]) -> Iterator[subprocess.Popen]:
    """``command`` in a session of its own; whatever of it survives the test is killed."""
    parent = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        yield parent
    finally:
        with suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)


def _pool_workers(pid: int) -> list[int]:
    return [c for c in _children(pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


@pytest.mark.skipif(sys.platform != "linux", reason="finds the parent's children in /proc")
def test_kill_9_of_the_collect_parent_ends_its_workers_and_resource_tracker(tmp_path):
    command = [sys.executable, "-m", "ad_agent.cli", "collect", *LONG_COLLECTION, "--out", str(tmp_path / "h")]
    with _session(command) as parent:
        assert _wait(lambda: len(_pool_workers(parent.pid)) == 2, 60), "the pool's workers did not start"
        workers = _pool_workers(parent.pid)
        _wait(lambda: all(_threads(w) > 1 for w in workers), 30)  # past start-up, into the runs
        descendants = _children(parent.pid)  # the workers and multiprocessing's resource tracker
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert _wait(lambda: not any(map(_alive, descendants)), 20), [p for p in descendants if _alive(p)]


def watch_parent_then_sleep() -> None:
    """A child that relies on the portable watcher alone (no prctl), as on macOS or Windows."""
    import multiprocessing as mp
    import threading

    from ad_agent.collection.processes import _exit_when_gone

    threading.Thread(target=_exit_when_gone, args=(mp.parent_process(),), daemon=True).start()
    time.sleep(60)


@pytest.mark.skipif(sys.platform != "linux", reason="finds the parent's children in /proc")
def test_the_portable_watcher_alone_ends_an_orphaned_child():
    script = (
        "import multiprocessing as mp, time\n"
        "from tests.ad_agent.test_hardening_processes import watch_parent_then_sleep\n"
        "if __name__ == '__main__':\n"
        "    mp.get_context('spawn').Process(target=watch_parent_then_sleep).start()\n"
        "    time.sleep(60)\n"
    )
    with _session([sys.executable, "-c", script]) as parent:
        assert _wait(lambda: len(_pool_workers(parent.pid)) == 1, 30), "the child did not start"
        child = _pool_workers(parent.pid)[0]
        assert _wait(lambda: _threads(child) > 1, 30), "the watcher did not start"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert _wait(lambda: not _alive(child), 10)
