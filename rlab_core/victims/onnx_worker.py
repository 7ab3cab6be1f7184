"""The jail's inside: one uploaded ONNX model, run in a process of its own under a memory limit.

:mod:`rlab_core.victims.jail` starts this file as a script (``python -I onnx_worker.py MB``), so it
imports nothing of the project: only the standard library, NumPy, ONNX Runtime and ONNX's protobuf
classes (read from their file, without the 1.4 s ``import onnx``). Before anything else it limits its
own address space to ``MB`` megabytes, starts a thread that ends it when its parent dies, and moves
to an empty folder of its own, so that a path inside a model resolves to nothing.

It answers messages on stdin with replies on its own copy of stdout (fd 1 itself goes to stderr, so
that nothing a native library prints can corrupt a reply). A message and a reply are a frame:
``<IQ`` (header length, payload length), a JSON header, the payload bytes.

- ``{"op": "load"}`` + the model's bytes: parse them (no external data is ever loaded), refuse any
  tensor stored outside the file, and build the session from the re-serialised bytes that were
  checked. Reply: ``{"ok": true, "inputs": [...], "outputs": [...]}``, each input's
  ``name``, ``type`` and ``shape`` (an axis is a length, or the name or ``null`` of a dynamic one).
- ``{"op": "run", "shape": [B, ...]}`` + float32 bytes: reply ``{"ok": true, "shape": [...]}`` +
  float64 bytes of the first output.

A refusal is ``{"ok": false, "kind": "refused" | "memory" | "failed", "message": ...}``, the message
to follow the file's name; the worker goes on serving. A time limit is the parent's to enforce: it kills this process.
"""
from __future__ import annotations

import importlib.util
import json
import os
import resource
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

FRAME = struct.Struct("<IQ")  # header length, payload length
MAX_SCORES_PER_INPUT = 100_000  # more is not a classifier's answer (and could flood the parent)
PARENT_CHECK_SECONDS = 0.5


def onnx_protos() -> Any:
    """ONNX's generated protobuf module, loaded from its file (``import onnx`` costs 1.4 s here)."""
    found = importlib.util.find_spec("onnx")
    if found is None or not found.submodule_search_locations:
        raise ImportError("the onnx package is not installed")
    path = Path(next(iter(found.submodule_search_locations))) / "onnx_ml_pb2.py"
    spec = importlib.util.spec_from_file_location("rlab_onnx_ml_pb2", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def external_tensors(model: Any) -> list[str]:
    """Where ``model`` (a parsed ``ModelProto``) keeps a tensor outside the file: one line per tensor.

    Every message field of the whole tree is walked, not a list of known places, so initializers,
    sparse initializers, node attributes (``Constant`` included), subgraphs of ``Loop``/``If``/``Scan``,
    model-local functions and their default attributes, and training graphs are all covered.
    """
    from google.protobuf.message import Message

    found: list[str] = []
    stack: list[tuple[Any, str]] = [(model, "model")]
    while stack:
        message, where = stack.pop()
        if message.DESCRIPTOR.full_name == "onnx.TensorProto":
            if message.data_location == 1 or len(message.external_data):  # TensorProto.EXTERNAL
                location = next((e.value for e in message.external_data if e.key == "location"), "?")
                found.append(f"tensor {message.name or '(unnamed)'!r} at {where} points to the file {location!r}")
            continue  # a tensor holds no further tensors
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            repeated = not isinstance(value, Message)  # a repeated field is a container of messages
            for index, item in enumerate(value if repeated else [value]):
                name = getattr(item, "name", "")
                label = f"{field.name}[{index}]" if repeated else field.name
                stack.append((item, f"{where}.{label}" + (f" ({name!r})" if name else "")))
    return found


class Worker:
    """One model at a time: what ``load`` builds, ``run`` answers with."""

    def __init__(self, empty_folder: str) -> None:
        import numpy
        import onnxruntime

        self.np, self.ort, self.protos = numpy, onnxruntime, onnx_protos()
        self.empty_folder = empty_folder
        self.session: Any = None

    def load(self, data: bytes) -> dict:
        model = self.protos.ModelProto()
        try:
            model.ParseFromString(data)
        except Exception as err:  # noqa: BLE001  (protobuf's DecodeError, or RecursionError on deep nesting)
            return refusal("refused", f"is not an ONNX model ONNX Runtime can run: {type(err).__name__}")
        if not model.HasField("graph"):
            return refusal("refused", "is not an ONNX model ONNX Runtime can run: it holds no graph")
        outside = external_tensors(model)
        if outside:
            return refusal("refused", "keeps weights outside the file, and a server file is never read for an upload: "
                           + "; ".join(outside[:3]) + (f" (and {len(outside) - 3} more)" if len(outside) > 3 else ""))
        model.DiscardUnknownFields()  # ONNX Runtime sees exactly the fields that were checked
        self.session = None
        try:
            self.session = build_session(self.ort, model.SerializeToString(), self.empty_folder)
        except MemoryError:
            return refusal("memory", "needs more memory to load than the limit")
        except Exception as err:  # noqa: BLE001  (ONNX Runtime raises one class per status code)
            return refusal(memory_or("refused", err), f"is not an ONNX model ONNX Runtime can run: {first_line(err)}")
        describe = [{"name": a.name, "type": a.type, "shape": list(a.shape)} for a in self.session.get_inputs()]
        return {"ok": True, "inputs": describe, "outputs": [a.name for a in self.session.get_outputs()]}

    def run(self, header: dict, payload: bytes) -> tuple[dict, bytes]:
        if self.session is None:
            return refusal("failed", "is not loaded"), b""
        batch = self.np.frombuffer(payload, dtype=self.np.float32).reshape(header["shape"])
        try:
            scores = self.session.run(None, {self.session.get_inputs()[0].name: batch})[0]
        except MemoryError:
            return refusal("memory", "needs more memory to answer than the limit"), b""
        except Exception as err:  # noqa: BLE001  (ONNX Runtime raises one class per status code)
            return refusal(memory_or("failed", err), f"fails: {first_line(err)}"), b""
        scores = self.np.asarray(scores)
        if scores.dtype.kind not in "fiub" or scores.ndim == 0:
            return refusal("failed", f"gives {scores.dtype} values of shape {scores.shape}, not scores"), b""
        if scores.size > MAX_SCORES_PER_INPUT * max(1, len(batch)):
            return refusal("failed", f"gives {scores.size:,} values for {len(batch)} input(s), not one score "
                                     "per class"), b""
        answer = self.np.ascontiguousarray(scores, dtype=self.np.float64).tobytes()
        return {"ok": True, "shape": list(scores.shape)}, answer


def build_session(ort: Any, data: bytes, empty_folder: str) -> Any:
    """An ONNX Runtime session from the model's bytes only, one thread, external data (were any left)
    looked for in ``empty_folder``: the second defence behind :func:`external_tensors`."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the machines have two cores; attacks query one input at a time
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.load_model_format", "ONNX")
    options.add_session_config_entry("session.model_external_initializers_file_folder_path", empty_folder)
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def refusal(kind: str, message: str) -> dict:
    return {"ok": False, "kind": kind, "message": message}


def memory_or(kind: str, err: Exception) -> str:
    """``"memory"`` when ONNX Runtime's error says an allocation failed (the address-space limit), else ``kind``."""
    text = str(err).lower()
    return "memory" if "alloc" in text or "bad_alloc" in text or "out of memory" in text else kind


def first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def read_exact(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_frame(stream: BinaryIO, header: dict, payload: bytes = b"") -> None:
    encoded = json.dumps(header).encode()
    stream.write(FRAME.pack(len(encoded), len(payload)) + encoded + payload)
    stream.flush()


def confine(memory_mb: int) -> str:
    """Limit this process, tie its life to its parent's, and return the empty folder it now works in."""
    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file of the server's memory
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
    folder = tempfile.mkdtemp(prefix="rlab-jail-")
    os.chdir(folder)
    return folder


def exit_with_parent(parent: int) -> None:
    """End this process soon after its parent ends, even in the middle of a kernel (ONNX Runtime
    releases the GIL while it runs). Not ``PR_SET_PDEATHSIG``: that fires when the *thread* that
    started the worker ends, and a Streamlit page's thread ends after every run."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def main() -> None:
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    folder = confine(int(sys.argv[1]))
    requests = sys.stdin.buffer
    try:
        worker = Worker(folder)
        write_frame(replies, {"ok": True, "ready": True})
        while True:
            try:
                header_size, payload_size = FRAME.unpack(read_exact(requests, FRAME.size))
                header = json.loads(read_exact(requests, header_size))
                payload = read_exact(requests, payload_size)
            except EOFError:
                return  # the parent closed the pipe: it is done with this model
            try:
                reply = worker.load(payload) if header["op"] == "load" else worker.run(header, payload)
            except Exception as err:  # noqa: BLE001  (whatever a hostile file provokes is a refusal, not a crash)
                reply = refusal("failed", f"could not be handled: {type(err).__name__}: {first_line(err)}")
            write_frame(replies, *(reply if isinstance(reply, tuple) else (reply,)))
    finally:
        os.rmdir(folder)


if __name__ == "__main__":
    main()
