"""The app served for a browser: ``streamlit run app.py`` on a free local port, headless Chromium's
settings, and the resident memory of the server with its children (the ONNX jail workers).

Shared by the browser tests (``tests/test_browser.py``, ``tests/test_load.py``) and the load
benchmark (``benchmarks/load.py``).
"""
from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rlab_core import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SERVER_START_SECONDS = 60


class ServerFailed(RuntimeError):
    """The server exited, or did not answer in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerFailed(f"streamlit exited with code {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:  # not listening yet
            time.sleep(0.5)
    raise ServerFailed(f"streamlit did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()}")


@contextmanager
def app_server(log: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Streamlit server of the app on a free local port (its URL and process), its output in
    ``log``, with ``env`` added to this process's environment; stopped on exit."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                                  env={**os.environ, **(env or {})})
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, server, log)
            yield url, server
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


# ------------------------------------------------------------------------------------- memory
PAGE_MB = resource.getpagesize() / 2**20


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from ``/proc``; a jail worker is a child in a session of its own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The parent is the 2nd field after the command, which is in parentheses and may hold spaces.
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # ended meanwhile
            continue
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def tree_rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` and its descendants, summed (pages two of them share count twice)."""
    total = 0
    for member in process_tree(pid):
        try:
            total += int(Path(f"/proc/{member}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total * PAGE_MB


class MemorySampler:
    """Samples :func:`tree_rss_mb` of ``pid`` every ``every`` seconds in a thread, from ``start`` to
    ``stop``; ``peak_mb`` is the largest sample, ``processes`` the most processes seen at once."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        self.pid, self.every = pid, every
        self.peak_mb, self.processes = 0.0, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.every)

    def sample(self) -> None:
        self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))
        self.processes = max(self.processes, len(process_tree(self.pid)))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.sample()
