"""Long runs in a background process that the app's pages follow: the progress file and the worker.

A page starts a command line (``python -m rlab_core robustness ...``, ``... bench ...``) with
:func:`start_worker`: a process in its own session, writing its log to ``FOLDER/log.txt`` and its
progress to ``FOLDER/progress.json`` through :class:`Progress` (``status`` ``"running"``, then
``"done"`` or ``"failed"`` with an ``error``; ``pid``; per phase ``done`` / ``total``). The page
polls :func:`worker_state`, which also tells a run whose process ended without saying so
(``"stopped"``); :func:`stop_worker` ends the process group. Everything is on disk, so a reload, a
second browser tab or a restarted app finds the run where it is. Nothing here imports torch.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, cast

from rlab_core import ROOT
from rlab_core.files import atomic_write_text

PROGRESS = "progress.json"
LOG = "log.txt"


class Progress:
    """Where a run is: its phase, how far in it, the last message.

    Written as JSON to ``path`` (at most every ``every`` seconds, and at every phase change),
    drawn as tqdm bars on stderr when ``bars`` (only on a terminal), and messages go to ``log``.
    ``labels`` names the phases (a subclass sets it for its run's phases).
    """

    labels: ClassVar[dict[str, str]] = {}

    def __init__(self, path: Path | None = None, bars: bool = False, log: Callable[[str], None] | None = None,
                 every: float = 1.0, **info) -> None:
        self.path, self.bars, self.log, self.every = path, bars, log, every
        self.state = {"status": "running", "pid": os.getpid(), "started": time.time(), "phase": None,
                      "phases": {}, "message": "", "error": None, **info}
        self._bar = None
        self._written = 0.0
        self._write(force=True)

    def start(self, phase: str, total: int, message: str = "") -> None:
        self._close_bar()
        self.state["phase"] = phase
        self.state["phases"][phase] = {"done": 0, "total": int(total), "started": time.time(), "seconds": 0.0}
        if self.bars:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.labels.get(phase, phase), file=sys.stderr, disable=None, leave=False)
        self.note(message or f"{self.labels.get(phase, phase)}…")

    def advance(self, n: int = 1, message: str | None = None) -> None:
        if self.state["phase"] is None:  # no phase started: nothing to count
            return
        entry = self.state["phases"][self.state["phase"]]
        entry["done"] = min(entry["total"], entry["done"] + n)
        entry["seconds"] = round(time.time() - entry["started"], 1)
        if self._bar is not None:
            self._bar.update(n)
        if message is not None:
            self.note(message)
        else:
            self._write()

    def complete(self) -> None:
        """The current phase is over (an early stop skips its remaining steps)."""
        entry = self.state["phases"][self.state["phase"]]
        entry["done"], entry["seconds"] = entry["total"], round(time.time() - entry["started"], 1)
        self._close_bar()
        self._write(force=True)

    def restore(self, phase: str, entry: dict, message: str) -> None:
        """Phase ``phase`` where an earlier run of a resumed one left it (``entry``, a copy of
        ``state["phases"][phase]`` then): its count goes on from there, its clock too."""
        self._close_bar()
        self.state["phase"] = phase
        self.state["phases"][phase] = {**entry, "started": time.time() - entry["seconds"]}
        self.note(message)

    def note(self, message: str) -> None:
        self.state["message"] = message
        if self.state["phase"] is not None:
            entry = self.state["phases"][self.state["phase"]]
            entry["seconds"] = round(time.time() - entry["started"], 1)
        if self.log:
            self.log(message)
        self._write(force=True)

    def finish(self, status: str, error: str | None = None, **info) -> None:
        """``status``: ``"done"`` or ``"failed"`` (with ``error``)."""
        self._close_bar()
        self.state.update(status=status, error=error, finished=time.time(), **info)
        self._write(force=True)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _write(self, force: bool = False) -> None:
        if self.path is None or (not force and time.time() - self._written < self.every):
            return
        self.state["updated"] = time.time()
        write_json(self.path, self.state)
        self._written = time.time()


def write_json(path: Path, data: dict | list, compact: bool = False) -> None:
    """Write ``data`` so that a reader never sees half a file (:mod:`rlab_core.files`);
    ``compact`` puts every innermost list and object on one line (a report's attack records)."""
    text = json.dumps(data, indent=1, default=str)
    atomic_write_text(path, (compact_json(text) if compact else text) + "\n")


def compact_json(text: str) -> str:
    """Indented JSON with its innermost lists, then its objects without nested objects, on one
    line each. Only the line breaks and indentation between tokens go: a JSON string never holds
    a raw line break, so the data is unchanged."""
    def one_line(match: re.Match) -> str:
        return re.sub(r"\n\s*", " ", match.group(0)).replace("[ ", "[").replace(" ]", "]").replace("{ ", "{").replace(" }", "}")

    for _ in range(3):  # lists of lists (a step's top classes)
        text = re.sub(r"\[[^\[\]{}]*\]", one_line, text)
    return re.sub(r"\{[^{}]*\}", one_line, text)


def read_json(path: Path) -> dict | None:
    """The JSON at ``path``; ``None`` if it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------- the worker
_WORKERS: dict[Path, subprocess.Popen] = {}  # the runs this process started (to reap them)


def worker_alive(progress: dict | None, folder: Path | None = None) -> bool:
    """Whether the worker that writes ``progress`` still runs."""
    if not progress or progress.get("status") not in ("starting", "running"):
        return False
    proc = _WORKERS.get(Path(folder)) if folder is not None else None
    if proc is not None and proc.pid == progress.get("pid"):
        return proc.poll() is None
    pid: Any = progress.get("pid")  # None until the run has started: int() raises TypeError, caught below
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    try:  # a finished child that nobody reaped yet is a zombie: not running
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def worker_state(folder: Path) -> tuple[str, dict | None]:
    """``("none" | "running" | "done" | "failed" | "stopped", progress)`` of the run in ``folder``."""
    progress = read_json(Path(folder) / PROGRESS)
    if progress is None:
        return "none", None
    status = cast(str, progress.get("status"))  # every progress file has one (see start_worker and Progress)
    if status in ("starting", "running"):
        return ("running" if worker_alive(progress, folder) else "stopped"), progress
    return status, progress


def start_worker(command: list[str], folder: Path, clear: Iterable[str] = (), **info) -> Path:
    """Run ``command`` (which writes ``folder/progress.json`` through :class:`Progress`) in the
    background, from the repository, one torch thread unless ``OMP_NUM_THREADS`` says otherwise;
    its output goes to ``folder/log.txt``. The files named in ``clear`` (the last run's results)
    are removed first; ``info`` goes into the progress file until the run writes its own.
    Callers check first that no run is going on in ``folder`` (:func:`worker_state`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in clear:
        (folder / name).unlink(missing_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    starting = {"status": "starting", "pid": None, "started": time.time(), **info,
                "phase": None, "phases": {}, "message": "Starting…", "error": None}
    write_json(folder / PROGRESS, starting)
    with open(folder / LOG, "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    _WORKERS[folder] = proc
    if (read_json(folder / PROGRESS) or {}).get("status") == "starting":  # the run has not written yet
        write_json(folder / PROGRESS, {**starting, "pid": proc.pid})
    return folder


def stop_worker(folder: Path) -> None:
    """Stop the run in ``folder`` if it runs (its whole process group) and mark it stopped."""
    status, progress = worker_state(folder)
    if status == "running":
        assert progress is not None  # a "running" state always has its progress
        try:
            os.killpg(int(progress["pid"]), signal.SIGTERM)
        except (OSError, ProcessLookupError):
            pass
        proc = _WORKERS.pop(Path(folder), None)
        if proc is not None:
            proc.wait(timeout=10)
    if status in ("running", "stopped"):  # a finished or failed run keeps its status
        assert progress is not None
        write_json(Path(folder) / PROGRESS, {**progress, "status": "stopped", "finished": time.time()})


def log_tail(folder: Path, lines: int = 12) -> str | None:
    """The last ``lines`` lines of the run's log (``None`` if it has none)."""
    path = Path(folder) / LOG
    if not path.exists():
        return None
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
