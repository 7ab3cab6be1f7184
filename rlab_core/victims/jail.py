"""The jail every uploaded model runs in: a worker process with a memory limit and a time limit per call.

An uploaded ONNX file is somebody else's program. ONNX Runtime runs it without Python, but a graph
of a few hundred bytes can still loop for ever, or ask one kernel for minutes of CPU and tens of GB.
So the app and the CLI never load an upload themselves: a :class:`ModelJail` starts
:mod:`rlab_core.victims.onnx_worker` (its own process, an address-space limit, an empty working
folder), hands it the bytes, and sends it every batch. Each call has a deadline; at the deadline,
or when the worker dies or runs out of memory, the worker is killed and the call raises one
:class:`ModelStopped`. The next call starts a new worker and loads the model again.

The limits are :class:`JailLimits`, read from the environment by :meth:`JailLimits.from_env`
(``RLAB_MODEL_FLOOR_SECONDS``, ``RLAB_MODEL_SECONDS_PER_INPUT``, ``RLAB_MODEL_CAP_SECONDS``,
``RLAB_MODEL_MEMORY_MB``), so a server's operator sets them once for the app and its workers.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlab_core.victims.onnx_worker import FRAME, MAX_SCORES_PER_INPUT
from rlab_core.victims.profiles import VictimError

WORKER = Path(__file__).with_name("onnx_worker.py")
MAX_HEADER_BYTES = 1 << 20  # a reply's JSON header is a few hundred bytes
WORKER_ENVIRONMENT = ("PATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL", "TMPDIR", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class ModelStopped(VictimError):
    """The jailed model was stopped: it took too long, needed too much memory or crashed.

    ``queries`` is what the :class:`~rlab_core.victims.blackbox.BlackBox` had counted when it
    happened (the batch that was stopped included), or ``None`` outside a black box.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.queries: int | None = None


@dataclass(frozen=True)
class JailLimits:
    """How long one call may take and how much memory the worker may map.

    A call on ``n`` inputs may take ``seconds_per_input * n`` seconds, but never less than
    ``floor_seconds`` nor more than ``cap_seconds``; loading the model and the first probe get the cap.
    """

    floor_seconds: float = 1.0
    seconds_per_input: float = 0.25
    cap_seconds: float = 30.0
    memory_mb: int = 4096
    input_bytes_per_call: int = 16 * 2**20  # larger batches are split: memory grows with the batch

    ENVIRONMENT = {"floor_seconds": "RLAB_MODEL_FLOOR_SECONDS", "seconds_per_input": "RLAB_MODEL_SECONDS_PER_INPUT",
                   "cap_seconds": "RLAB_MODEL_CAP_SECONDS", "memory_mb": "RLAB_MODEL_MEMORY_MB"}

    def __post_init__(self) -> None:
        if not 0 < self.floor_seconds <= self.cap_seconds or self.seconds_per_input <= 0 or self.memory_mb < 256:
            raise ValueError(f"inconsistent model limits: {self}")

    @classmethod
    def from_env(cls) -> JailLimits:
        """The defaults, with any limit the environment sets (see the module's docstring)."""
        given: dict[str, Any] = {}
        for name, variable in cls.ENVIRONMENT.items():
            if os.environ.get(variable):
                try:
                    given[name] = type(getattr(cls, name))(os.environ[variable])  # the default's type
                except ValueError:
                    raise VictimError(f"{variable}={os.environ[variable]!r} is not a number") from None
        return cls(**given)

    def seconds_for(self, inputs: int) -> float:
        return min(self.cap_seconds, max(self.floor_seconds, self.seconds_per_input * inputs))

    def inputs_per_call(self, input_bytes: int) -> int:
        """How many inputs of ``input_bytes`` each go into one call: within the byte bound and the cap."""
        by_time = int(self.cap_seconds / self.seconds_per_input)
        return max(1, min(by_time, self.input_bytes_per_call // max(1, input_bytes)))


class _Deadline(Exception):
    pass


class _Died(Exception):
    pass


class ModelJail:
    """One worker process serving one uploaded model (see the module's docstring).

    Thread-safe: calls from several threads (a Streamlit server's sessions sharing a cached model)
    take turns. The worker is killed when the jail is closed or garbage-collected.
    """

    def __init__(self, limits: JailLimits | None = None, filename: str = "model.onnx") -> None:
        self.limits = limits or JailLimits.from_env()
        self.filename = filename
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._model: bytes | None = None
        self.restarts = 0  # workers started again after a stop (for tests and the benchmark)
        self._finalizer: weakref.finalize | None = None

    # ------------------------------------------------------------------------------ public calls
    def load(self, data: bytes) -> dict:
        """Load ``data`` in a fresh worker: the model's inputs (``name``, ``type``, ``shape``) and
        output names. Raises ``VictimError`` for a file the worker refuses, ``ModelStopped`` past a limit."""
        with self._lock:
            self._stop()
            self._model = None
            reply = self._load(data)
            self._model = data
            return reply

    def run(self, batch: np.ndarray, seconds: float | None = None) -> np.ndarray:
        """The model's first output for a float32 ``batch``, as float64, within ``seconds``
        (default: :meth:`JailLimits.seconds_for` the batch). Raises ``ModelStopped``."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        limit = self.limits.seconds_for(len(batch)) if seconds is None else seconds
        with self._lock:
            if self._model is None:
                raise VictimError(f"{self.filename}: no model is loaded")
            if self._process is None:  # stopped by a limit before: start again, with the model
                self.restarts += 1
                self._load(self._model)
            reply, payload = self._exchange({"op": "run", "shape": list(batch.shape)}, batch.tobytes(), limit,
                                            f"to answer {len(batch)} input{'s' * (len(batch) != 1)}",
                                            max_payload=8 * MAX_SCORES_PER_INPUT * max(1, len(batch)))
            shape = reply.get("shape")
            if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
                    or int(np.prod(shape)) * 8 != len(payload)):
                raise self._stopped(f"{self.filename} gave a malformed answer")
            return np.frombuffer(payload, dtype=np.float64).reshape(shape).copy()  # writable, as torch wants

    def close(self) -> None:
        with self._lock:
            self._stop()

    # ------------------------------------------------------------------------------- the worker
    def _load(self, data: bytes) -> dict:
        cap = self.limits.cap_seconds
        self._start(cap)
        reply, _ = self._exchange({"op": "load"}, data, cap, "to load")
        return reply

    def _start(self, seconds: float) -> None:
        # -I: no user site, no PYTHON* variables, no current folder on the path. The environment is only
        # what a process needs (the server's may hold secrets), with one thread for BLAS.
        env = {name: os.environ[name] for name in WORKER_ENVIRONMENT if name in os.environ}
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self._process = subprocess.Popen([sys.executable, "-I", str(WORKER), str(self.limits.memory_mb)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         env=env, start_new_session=True)
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _kill, [self._process])  # a worker never outlives its jail
        try:
            self._receive(time.monotonic() + max(seconds, 10.0), 0)  # "ready": the imports took their time
        except (_Deadline, _Died):
            raise self._stopped(f"{self.filename}: the model's worker did not start") from None

    def _exchange(self, header: dict, payload: bytes, seconds: float, doing: str,
                  max_payload: int = 0) -> tuple[dict, bytes]:
        """Send one request and wait for its reply until ``seconds`` have passed; on a refusal raise
        ``VictimError`` (the worker goes on), past a limit ``ModelStopped`` (the worker is killed)."""
        deadline = time.monotonic() + seconds
        encoded = json.dumps(header).encode()
        try:
            self._send(FRAME.pack(len(encoded), len(payload)) + encoded + payload, deadline)  # one write, mostly
            reply, answer = self._receive(deadline, max_payload)
        except _Deadline:
            raise self._stopped(f"{self.filename} took longer than {seconds:g} s {doing}, and was stopped") from None
        except _Died:
            raise self._stopped(self._death(doing)) from None
        if reply.get("ok"):
            return reply, answer
        message = f"{self.filename} {reply.get('message', 'was refused')}"
        if reply.get("kind") == "memory":
            self._stop()  # its memory may be in a bad state: start afresh next time
            raise self._stopped(f"{self.filename} needed more than {self.limits.memory_mb} MB of memory {doing}, "
                                f"and was stopped")
        if header["op"] == "load":
            self._stop()
        raise VictimError(message)

    def _death(self, doing: str) -> str:
        code = self._stop(grace=1.0)  # let a dying worker finish, so that its own signal is the one reported
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"{self.filename} crashed ONNX Runtime ({name}) {doing}, and was stopped"
        return f"{self.filename}: the model's worker ended (exit code {code}) {doing}"

    def _stopped(self, message: str) -> ModelStopped:
        self._stop()
        return ModelStopped(message)

    def _stop(self, grace: float = 0.0) -> int | None:
        """Kill the worker (if any), after ``grace`` seconds to end by itself, and return its exit code."""
        process, self._process = self._process, None
        return _kill([process], grace)

    # ----------------------------------------------------------------------- pipes, with deadlines
    def _pipe(self, name: str) -> int:
        """The file descriptor of the worker's ``stdin`` or ``stdout``."""
        stream = getattr(self._process, name, None)
        if stream is None:
            raise _Died
        return stream.fileno()

    def _send(self, data: bytes, deadline: float) -> None:
        fd = self._pipe("stdin")
        view = memoryview(data)
        os.set_blocking(fd, False)
        while view:
            _wait(fd, deadline, write=True)
            try:
                sent = os.write(fd, view[:1 << 20])
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise _Died from None
            view = view[sent:]

    def _receive(self, deadline: float, max_payload: int) -> tuple[dict, bytes]:
        fd = self._pipe("stdout")
        header_size, payload_size = FRAME.unpack(_read(fd, FRAME.size, deadline))
        if header_size > MAX_HEADER_BYTES or payload_size > max_payload:
            raise _Died
        try:
            reply = json.loads(_read(fd, header_size, deadline))
        except ValueError:  # the worker is ours, but it runs somebody else's model: trust no byte of it
            raise _Died from None
        if not isinstance(reply, dict):
            raise _Died
        return reply, _read(fd, payload_size, deadline)


def _wait(fd: int, deadline: float, write: bool = False) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Deadline
    poller = select.poll()  # not select.select: a busy server's descriptors pass its limit of 1024
    poller.register(fd, select.POLLOUT if write else select.POLLIN)
    if not poller.poll(left * 1000):
        raise _Deadline


def _read(fd: int, size: int, deadline: float) -> bytes:
    chunks, left = [], size
    while left:
        _wait(fd, deadline)
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise _Died
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _kill(holder: list[subprocess.Popen | None], grace: float = 0.0) -> int | None:
    """Kill the process in ``holder`` (a list, so that a finalizer can hold it) and reap it."""
    process = holder[0]
    if process is None:
        return None
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
    code = process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()
    return code
