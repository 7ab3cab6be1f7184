"""What a long run writes for whoever follows it: its progress file, and JSON written whole.

``python -m rlab_core robustness ... --progress FILE`` and ``... bench ... --progress FILE`` report
through :class:`Progress` (a :class:`~rlab_core.callbacks.Callback`): ``status`` ``"running"``, then
``"done"`` or ``"failed"`` with an ``error``; ``pid``; per phase ``done`` / ``total``. The app
starts such runs in the background and follows their files (``rlab_app.jobs``); :func:`write_json`
never lets a reader see half a file.
Nothing here imports torch.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

from rlab_core.callbacks import Callback
from rlab_core.files import atomic_write_text

PROGRESS = "progress.json"


class Progress(Callback):
    """A :class:`~rlab_core.callbacks.Callback` that keeps where a run is (its phase, how far in
    it, the last message) in a JSON file at ``path``, for a page to poll: written at most every
    ``every`` seconds, and at every phase change and message. ``bars``: tqdm bars on stderr too
    (only on a terminal). ``labels`` names the phases; ``info`` goes into the file as is.
    :meth:`finish` ends the file: ``"done"``, or ``"failed"`` with an ``error``.
    """

    def __init__(self, path: Path | None = None, bars: bool = False, every: float = 1.0,
                 labels: dict[str, str] | None = None, **info) -> None:
        self.path, self.bars, self.every, self.labels = path, bars, every, labels or {}
        self.state = {"status": "running", "pid": os.getpid(), "started": time.time(), "phase": None,
                      "phases": {}, "message": "", "error": None, **info}
        self._bar = None
        self._written = 0.0
        self._write(force=True)

    def on_phase(self, phase: str, total: int, message: str = "") -> None:
        self._close_bar()
        self.state["phase"] = phase
        self.state["phases"][phase] = {"done": 0, "total": int(total), "started": time.time(), "seconds": 0.0}
        if self.bars:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.labels.get(phase, phase), file=sys.stderr, disable=None, leave=False)
        self.on_message(message or f"{self.labels.get(phase, phase)}…")

    def on_advance(self, n: int = 1, message: str | None = None) -> None:
        if self.state["phase"] is None:  # no phase started: nothing to count
            return
        entry = self.state["phases"][self.state["phase"]]
        entry["done"] = min(entry["total"], entry["done"] + n)
        entry["seconds"] = round(time.time() - entry["started"], 1)
        if self._bar is not None:
            self._bar.update(n)
        if message is not None:
            self.on_message(message)
        else:
            self._write()

    def on_phase_end(self) -> None:
        if self.state["phase"] is None:
            return
        entry = self.state["phases"][self.state["phase"]]
        entry["done"], entry["seconds"] = entry["total"], round(time.time() - entry["started"], 1)
        self._close_bar()
        self._write(force=True)

    def on_resume(self, phase: str, done: int, total: int, seconds: float, message: str) -> None:
        self._close_bar()
        self.state["phase"] = phase
        self.state["phases"][phase] = {"done": done, "total": total, "seconds": seconds,
                                       "started": time.time() - seconds}  # its clock goes on from there
        self.on_message(message)

    def on_message(self, message: str, warning: bool = False) -> None:
        self.state["message"] = f"warning: {message}" if warning else message
        if self.state["phase"] is not None:
            entry = self.state["phases"][self.state["phase"]]
            entry["seconds"] = round(time.time() - entry["started"], 1)
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
