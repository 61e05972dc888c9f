"""Child processes that die with their parent.

A pool worker blocked in a long job does not notice that the process that started it is gone:
after a ``kill -9`` of ``ad-agent collect`` its workers went on writing run files and then sat
on their memory indefinitely. :func:`die_with_parent` is a pool ``initializer`` that ends the
worker as soon as its parent ends, however it ends:

- on Linux the kernel does it: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, which works even while the
  worker is busy in C code holding the GIL;
- on every platform a daemon thread waits on multiprocessing's parent sentinel (a pipe on POSIX,
  a process handle on Windows, both readable once the parent is gone) and exits the worker.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
#: Exit status of a worker ended because its parent died (128 + SIGKILL, as a shell reports a kill -9).
ORPHANED_EXIT = 128 + 9


def die_with_parent(parent_pid: int) -> None:
    """Initializer for ``ProcessPoolExecutor`` / ``multiprocessing.Pool`` workers (pass ``os.getpid()``
    of the parent): end this process when ``parent_pid`` ends."""
    if sys.platform.startswith("linux"):
        _kernel_kills_on_parent_death()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(ORPHANED_EXIT)
    parent = mp.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_when_gone, args=(parent,), name="die-with-parent", daemon=True).start()


def _kernel_kills_on_parent_death() -> None:
    """Ask Linux to SIGKILL this process when its parent thread exits (best effort: no libc, no signal)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the watcher thread below still covers this process


def _exit_when_gone(parent: mp.process.BaseProcess) -> None:
    parent.join()  # returns once the parent's sentinel is readable: it has exited
    os._exit(ORPHANED_EXIT)
