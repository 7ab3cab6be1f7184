"""The background runs the Robustness and Benchmark pages start and follow: a command line in a
process of its own, and its files.

:func:`start_bench` and :func:`start_robustness` start ``python -m rlab_core bench ...`` and
``... robustness ...`` through :func:`start_worker`: a process in its own session, writing its log
to ``FOLDER/log.txt`` and its progress to ``FOLDER/progress.json`` through
:class:`rlab_core.background.Progress` (``status`` ``"running"``, then ``"done"`` or ``"failed"``
with an ``error``; ``pid``; per phase ``done`` / ``total``). The page polls :func:`worker_state`,
which also tells a run whose process ended without saying so (``"stopped"``); :func:`stop_worker`
ends the process group. Everything is on disk, so a reload, a second browser tab or a restarted
app finds the run where it is.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, cast

from rlab_core import ROOT, bench, robustness
from rlab_core.background import PROGRESS, read_json, write_json
from rlab_core.files import atomic_write_bytes
from rlab_core.victims import hardened_path

LOG = "log.txt"

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
    """Run ``command`` (which writes ``folder/progress.json`` through ``Progress``) in the
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


# ---------------------------------------------------------------------------------- the pages' runs
def start_bench(config: bench.BenchConfig, folder: Path | None = None, model: bytes | None = None) -> Path:
    """Start ``python -m rlab_core bench`` with ``config`` in the background (in-process, no Ray):
    it writes ``live.json`` (and ``.jsonl``, ``.md``, ``.png``), ``progress.json`` and its log in
    ``folder`` (default ``runs/bench/<victim>``). ``model``: the bytes of an uploaded ONNX model,
    kept there as ``model.onnx`` and attacked instead of the victim's network. Raises
    :class:`~rlab_core.bench.BenchError` on bad settings or while a run is going on there.
    Returns the folder."""
    folder = Path(folder or bench.run_folder(config.victim))
    if worker_state(folder)[0] == "running":
        raise bench.BenchError(f"a benchmark of {config.victim} is already running in {folder}")
    if model is not None:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / bench.MODEL_FILE, model)
        config = replace(config, model=folder / bench.MODEL_FILE)
    config.check()
    out = folder / bench.LIVE
    command = [sys.executable, "-m", "rlab_core", "bench", *config.argv(), "--out", str(out),
               "--progress", str(folder / PROGRESS)]
    clear = [out.name, *(out.with_suffix(suffix).name for suffix in (".jsonl", ".md", ".png"))]
    return start_worker(command, folder, clear=clear, victim=config.victim, settings=asdict(config))


def start_robustness(victim: str, preset: str = "default", folder: Path | None = None) -> Path:
    """Start ``python -m rlab_core robustness`` for ``victim`` in the background; it writes
    ``progress.json``, ``report.json`` (its steps in ``report.phases/``), its log and the hardened
    weights in ``folder`` (default ``runs/robustness/<victim>``). A stopped run of the same
    settings there is resumed (``--resume``) from its last finished step. Raises
    :class:`~rlab_core.robustness.RobustnessError` for a victim or preset that cannot run, or
    while a run is going on there. Returns the folder."""
    config = robustness.config_for(victim, preset)  # a clear error before anything starts
    folder = Path(folder or robustness.run_folder(victim))
    status = worker_state(folder)[0]
    if status == "running":
        raise robustness.RobustnessError(f"a robustness run of {victim} is already running in {folder}")
    out = folder / "report.json"
    command = [sys.executable, "-m", "rlab_core", "robustness", *config.argv(), "--out", str(out),
               "--progress", str(folder / PROGRESS), "--weights", str(hardened_path(victim, folder))]
    if status == "stopped" and robustness.resumable(robustness.phases_folder(out), config):
        command.append("--resume")
    return start_worker(command, folder, clear=("report.json", "report.md"), victim=victim, preset=preset)
