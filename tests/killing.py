"""Kill a process outright (SIGKILL, so it can run no ``finally``) once it reaches a given point:
the tests' way of checking that a killed run loses nothing."""
from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float, ended: Callable[[], str],
              poll: float = 0.05) -> None:
    """SIGKILL ``process`` as soon as ``ready()`` holds; fail with ``ended()`` if it ends first, and
    never leave it running (after ``timeout`` seconds it is killed all the same, and the test fails)."""
    try:
        deadline = time.monotonic() + timeout
        while process.poll() is None and not ready() and time.monotonic() < deadline:
            time.sleep(poll)
        assert process.poll() is None, ended()
        assert ready(), f"not ready after {timeout} s"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
