"""Mutation fuzzing of the upload loaders, from a corpus of valid files.

Every case takes a valid file (an ECG table, an image, a clip, an ONNX classifier), mutates a few
of its bytes (flips, insertions, deletions, a cut, a repeated run) so that most cases still pass
the magic-number checks, and hands it to the loader a user's upload goes through. A model is
mostly mutated through its parsed graph instead (:func:`mutate_model`): changed bytes rarely get
past protobuf's framing. A loader may
answer or raise its own error (``InputError``, or ``VictimError`` for models); anything else
escaping, or a case slower than :data:`CASE_SECONDS`, is a finding.

``tests/test_fuzz.py`` runs a seeded, bounded sample in CI; ``benchmarks/reliability.py`` a longer one.
"""
from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Literal
from unittest import mock

import av
import numpy as np
from onnx import ModelProto, TensorProto, helper, numpy_helper
from PIL import Image

from rlab_core.decode import InputError
from rlab_core.io import load_input
from rlab_core.victims import VictimError, get_profile
from rlab_core.victims.jail import JailLimits
from rlab_core.victims.onnx_model import load_onnx

CASE_SECONDS = 5.0
VICTIM_OF = {"ecg": "ecg-cnn", "image": "image-cnn", "video": "video-cnn", "onnx": "image-cnn"}
FUZZ_LIMITS = JailLimits(floor_seconds=1.0, seconds_per_input=0.05, cap_seconds=3.0, memory_mb=1024)


def corpus() -> dict[str, tuple[str, bytes]]:
    """Valid files of every accepted kind: ``{name: (modality, bytes)}``."""
    from rlab_core.attacks.output import save_mp4

    beat = get_profile("ecg-cnn").dataset("test")[0].x[0].numpy()
    garment = (get_profile("image-cnn").dataset("test")[0].x[0].numpy() * 255).astype(np.uint8)
    files = {"beat.csv": ("ecg", ("ecg\n" + "\n".join(f"{v:.5f}" for v in beat)).encode()),
             "recording.csv": ("ecg", ("time,lead\n" + "\n".join(
                 f"{t / 250:.4f},{np.sin(t / 10):.4f}" for t in range(2000))).encode())}
    npy = io.BytesIO()
    np.save(npy, beat)
    files["beat.npy"] = ("ecg", npy.getvalue())
    for fmt, suffix in (("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("BMP", "bmp"), ("WEBP", "webp")):
        out = io.BytesIO()
        Image.fromarray(garment).convert("RGB" if fmt == "JPEG" else "L").save(out, format=fmt)
        files[f"garment.{suffix}"] = ("image", out.getvalue())
    clip = get_profile("video-cnn").dataset("test")[0].x[:, :8]
    for suffix in ("mp4", "avi", "webm"):
        files[f"clip.{suffix}"] = ("video", _clip_bytes(clip, suffix, save_mp4))
    files["model.onnx"] = ("onnx", small_classifier().SerializeToString())
    return files


def small_classifier() -> ModelProto:
    """A classifier of ``image-cnn``'s shape with few weights, so that most of its bytes are graph
    structure (in a large model, nearly every mutation lands in the weights)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 28, 28])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 10])
    weights = np.random.default_rng(0).normal(size=(1, 10)).astype(np.float32)
    nodes = [helper.make_node("MaxPool", ["x"], ["pooled"], kernel_shape=[28, 28]),
             helper.make_node("Flatten", ["pooled"], ["flat"]), helper.make_node("MatMul", ["flat", "W"], ["raw"]),
             helper.make_node("Add", ["raw", "b"], ["scores"])]
    graph = helper.make_graph(nodes, "small", [x], [scores], initializer=[
        numpy_helper.from_array(weights, "W"), numpy_helper.from_array(np.zeros(10, np.float32), "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def _clip_bytes(clip, suffix: str, save_mp4: Callable) -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip.{suffix}"
        if suffix == "mp4":
            save_mp4(path, clip)
        else:
            codec: Literal["mpeg4", "libvpx"] = "mpeg4" if suffix == "avi" else "libvpx"
            with av.open(str(path), mode="w") as container:
                stream = container.add_stream(codec, rate=8)
                stream.width, stream.height, stream.pix_fmt = clip.shape[-1], clip.shape[-2], "yuv420p"
                for frame in (clip.expand(3, -1, -1, -1).permute(1, 2, 3, 0).numpy() * 255).astype(np.uint8):
                    container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
                container.mux(stream.encode(None))
        return path.read_bytes()


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """``data`` with one to four random edits; the first bytes (the magic number) are left alone
    in most cases, so that the case reaches the decoder."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        keep = 0 if rng.random() < 0.1 else min(16, len(out) // 4)
        if len(out) <= keep + 1:
            break
        at = int(rng.integers(keep, len(out)))
        kind = rng.choice(5, p=[0.4, 0.15, 0.15, 0.15, 0.15])
        if kind == 0:  # flip bytes (lengths stay true: the likeliest way deep into a decoder)
            for i in range(at, min(len(out), at + int(rng.integers(1, 9)))):
                out[i] = int(rng.integers(256))
        elif kind == 1:  # insert
            out[at:at] = rng.integers(0, 256, int(rng.integers(1, 64))).astype(np.uint8).tobytes()
        elif kind == 2:  # delete a run
            del out[at:at + int(rng.integers(1, 256))]
        elif kind == 3:  # cut short
            del out[at:]
        else:  # repeat a run (a length field now lies)
            out[at:at] = out[at:at + int(rng.integers(1, 512))] * int(rng.integers(2, 9))
    return bytes(out)


OPERATORS = ("Relu", "MatMul", "Add", "Reshape", "Conv", "MaxPool", "Flatten", "Gather", "Expand", "Loop", "If",
             "Softmax", "Concat", "Transpose", "Cast", "Identity", "NotAnOperator")


def mutate_model(data: bytes, rng: np.random.Generator) -> bytes:
    """A structure-aware mutation of an ONNX model: one to three edits of the parsed graph (an
    operator, a wiring, a shape, a type, an attribute, the weights' bytes, a node dropped or
    repeated, the opset), then serialised again, so that the case gets past protobuf's parser and
    into ONNX Runtime's checks and kernels."""
    model = ModelProto()
    model.ParseFromString(data)
    graph = model.graph
    names = [*(t.name for t in graph.initializer), *(i.name for i in graph.input),
             *(o for n in graph.node for o in n.output)]
    for _ in range(int(rng.integers(1, 4))):
        node = graph.node[int(rng.integers(len(graph.node)))] if len(graph.node) else None
        tensor = graph.initializer[int(rng.integers(len(graph.initializer)))] if len(graph.initializer) else None
        kind = int(rng.integers(9))
        if kind == 0 and node is not None:
            node.op_type = str(rng.choice(OPERATORS))
        elif kind == 1 and node is not None and len(node.input):
            node.input[int(rng.integers(len(node.input)))] = str(rng.choice([*names, "nowhere"]))
        elif kind == 2 and tensor is not None:
            tensor.dims[:] = [int(d) for d in rng.choice([0, 1, 2, 10, -1, 2**31, 2**40], int(rng.integers(0, 4)))]
        elif kind == 3 and tensor is not None:
            tensor.data_type = int(rng.integers(0, 26))
        elif kind == 4 and tensor is not None:
            cut = int(rng.integers(0, len(tensor.raw_data) + 1))
            tensor.raw_data = tensor.raw_data[:cut] + rng.bytes(int(rng.integers(0, 16)))
        elif kind == 5 and len(graph.input):
            dims = graph.input[0].type.tensor_type.shape.dim
            if len(dims):
                dims[int(rng.integers(len(dims)))].dim_value = int(rng.choice([0, 1, 3, 28, 2**20]))
        elif kind == 6 and node is not None and len(node.attribute):
            attribute = node.attribute[int(rng.integers(len(node.attribute)))]
            attribute.ints[:] = [int(v) for v in rng.integers(-2, 64, int(rng.integers(0, 4)))]
            attribute.i = int(rng.integers(-2, 2**20))
        elif kind == 7 and node is not None:
            if rng.random() < 0.5:
                graph.node.remove(node)
            else:
                graph.node.append(node)
        elif kind == 8 and len(model.opset_import):
            model.opset_import[0].version = int(rng.integers(0, 30))
    return model.SerializeToString()


def mutated(modality: str, data: bytes, rng: np.random.Generator) -> bytes:
    """A case for a file of ``modality``: a model's graph edited in most cases, else a few bytes changed."""
    return mutate_model(data, rng) if modality == "onnx" and rng.random() < 0.75 else mutate(data, rng)


@dataclass
class FuzzStats:
    """What a fuzz run saw, per corpus file: cases, cases that reached a decoder, the slowest case,
    and findings (an escape or a slow case, described)."""

    cases: dict[str, int] = field(default_factory=dict)
    decoded: dict[str, int] = field(default_factory=dict)
    slowest: dict[str, float] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)

    def share_decoded(self) -> float:
        return sum(self.decoded.values()) / max(1, sum(self.cases.values()))


@contextmanager
def decoder_spies(reached: list[bool]) -> Iterator[None]:
    """Mark ``reached[0]`` once a data file gets past identification into its decoder."""
    def spy(target: Callable) -> Callable:
        def wrapped(*args, **kwargs):
            result = target(*args, **kwargs)
            reached[0] = True
            return result
        return wrapped

    with ExitStack() as stack:
        for where, target in (("rlab_core.decode.Image.open", Image.open), ("rlab_core.decode.av.open", av.open),
                              ("rlab_core.decode.csv.reader", csv.reader),
                              ("rlab_core.decode.np.load", np.load)):
            stack.enter_context(mock.patch(where, spy(target)))
        yield


def run_case(name: str, modality: str, data: bytes, stats: FuzzStats) -> None:
    """Load one mutated file as its upload would be; count it, and note any finding."""
    reached = [False]
    started = time.perf_counter()
    try:
        if modality == "onnx":
            try:
                load_onnx(data, get_profile(VICTIM_OF["onnx"]), name, FUZZ_LIMITS)
                reached[0] = True
            except VictimError as err:
                reached[0] = "DecodeError" not in str(err) and "holds no graph" not in str(err)
        else:
            with decoder_spies(reached):
                try:
                    load_input(data, name, get_profile(VICTIM_OF[modality]), fs=250.0)
                except InputError:
                    pass
    except Exception as err:  # noqa: BLE001  (any other error type is exactly what the fuzzer looks for)
        stats.findings.append(f"{name}: {type(err).__name__}: {str(err)[:200]}")
    seconds = time.perf_counter() - started
    if seconds > CASE_SECONDS:
        stats.findings.append(f"{name}: a case took {seconds:.1f} s")
    stats.cases[name] = stats.cases.get(name, 0) + 1
    stats.decoded[name] = stats.decoded.get(name, 0) + bool(reached[0])
    stats.slowest[name] = max(stats.slowest.get(name, 0.0), seconds)


def warm_up(files: dict[str, tuple[str, bytes]]) -> None:
    """Load each valid file once, untimed: a loader's first use imports its decoder (neurokit2 alone
    takes 3 s), which is no case's cost."""
    for name, (modality, data) in files.items():
        run_case(name, modality, data, FuzzStats())


def fuzz(cases_per_file: int, seed: int = 0, files: dict[str, tuple[str, bytes]] | None = None) -> FuzzStats:
    """``cases_per_file`` mutations of every corpus file, seeded."""
    stats, files = FuzzStats(), files or corpus()
    warm_up(files)
    for offset, (name, (modality, data)) in enumerate(sorted(files.items())):
        rng = np.random.default_rng([seed, offset])
        for _ in range(cases_per_file):
            run_case(name, modality, mutated(modality, data, rng), stats)
    return stats
