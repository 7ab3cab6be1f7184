"""Hostile files, made by hand as an attacker would: ONNX models that read the server's files, never
answer or ask for too much, and data files that declare far more than they hold.

The reliability benchmark (``benchmarks/reliability.py``) and the tests (``tests/test_jail.py``,
``tests/test_bombs.py``) throw these at RLAB. Every model is a classifier of ``image-cnn``'s shape,
``(batch, 1, 28, 28) -> (batch, 10)``, so that only its hostility stops it.
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from onnx import ModelProto, TensorProto, helper, numpy_helper

SHAPE = (1, 28, 28)
CLASSES = 10
OPSET = 17
FEATURES = int(np.prod(SHAPE))


# --------------------------------------------------------------------------------- models
def external_tensor(name: str, location: str, dims: tuple[int, ...] = (FEATURES, CLASSES)) -> TensorProto:
    """A float tensor whose bytes are to be read from ``location``, a file beside the model."""
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(dims), data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", "0"), ("length", str(4 * int(np.prod(dims))))):
        tensor.external_data.add(key=key, value=value)
    return tensor


def classifier(nodes: list, initializers: list | None = None, weights: str = "W", **graph_parts) -> ModelProto:
    """``scores = flatten(x) @ weights``, after ``nodes`` (which may make ``weights``)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *SHAPE])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", CLASSES])
    body = [*nodes, helper.make_node("Flatten", ["x"], ["flat"]),
            helper.make_node("MatMul", ["flat", weights], ["scores"])]
    graph = helper.make_graph(body, "hostile", [x], [scores], initializer=initializers or [], **graph_parts)
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("rlab.local", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=9)


def reads_top_level(location: str) -> ModelProto:
    """The weights are an initializer stored in ``location``."""
    return classifier([], [external_tensor("W", location)])


def reads_sparse(location: str) -> ModelProto:
    """The weights are a sparse initializer whose values are stored in ``location``."""
    values = external_tensor("W", location, (CLASSES,))  # a sparse tensor is named by its values
    indices = numpy_helper.from_array(np.arange(CLASSES, dtype=np.int64) * (CLASSES + 1), "W_indices")
    sparse = helper.make_sparse_tensor(values, indices, [FEATURES, CLASSES])
    return classifier([], sparse_initializer=[sparse])


def reads_attribute(location: str) -> ModelProto:
    """The weights come from a ``Constant`` node whose tensor attribute is stored in ``location``."""
    return classifier([helper.make_node("Constant", [], ["W"], value=external_tensor("value", location))])


def reads_subgraph(location: str) -> ModelProto:
    """The weights come out of an ``If`` whose taken branch has an initializer stored in ``location``."""
    out = helper.make_tensor_value_info("branch_w", TensorProto.FLOAT, [FEATURES, CLASSES])
    then = helper.make_graph([helper.make_node("Identity", ["secret"], ["branch_w"])], "then", [], [out],
                             initializer=[external_tensor("secret", location)])
    zeros = numpy_helper.from_array(np.zeros((FEATURES, CLASSES), np.float32), "zeros")
    other = helper.make_graph([helper.make_node("Identity", ["zeros"], ["branch_w"])], "else", [], [out],
                              initializer=[zeros])
    condition = numpy_helper.from_array(np.array(True), "condition")
    return classifier([helper.make_node("If", ["condition"], ["W"], then_branch=then, else_branch=other)], [condition])


def reads_function(location: str) -> ModelProto:
    """The weights come from a model-local function whose ``Constant`` is stored in ``location``."""
    function = helper.make_function("rlab.local", "Weights", [], ["w"],
                                    [helper.make_node("Constant", [], ["w"], value=external_tensor("value", location))],
                                    [helper.make_opsetid("", OPSET)])
    model = classifier([helper.make_node("Weights", [], ["W"], domain="rlab.local")])
    model.functions.append(function)
    return model


READERS = {"top-level initializer": reads_top_level, "sparse initializer": reads_sparse,
           "node attribute (Constant)": reads_attribute, "subgraph (If branch)": reads_subgraph,
           "model-local function": reads_function}


def honest(seed: int = 0) -> ModelProto:
    """A plain linear classifier: what a user's upload looks like."""
    weights = np.random.default_rng(seed).normal(size=(FEATURES, CLASSES)).astype(np.float32)
    return classifier([], [numpy_helper.from_array(weights, "W")])


def never_answers(steps: int = 10**12) -> ModelProto:
    """A valid classifier that first runs a ``Loop`` of ``steps`` iterations."""
    state = helper.make_tensor_value_info("state", TensorProto.FLOAT, [1])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["state", "one"], ["next"])],
        "spin", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []), state],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("next", TensorProto.FLOAT, [1])],
        initializer=[numpy_helper.from_array(np.ones(1, np.float32), "one")])
    constants = [numpy_helper.from_array(np.array(steps, np.int64), "steps"),
                 numpy_helper.from_array(np.array(True), "go"),
                 numpy_helper.from_array(np.zeros(1, np.float32), "start"),
                 numpy_helper.from_array(np.zeros((FEATURES, CLASSES), np.float32), "W0")]
    nodes = [helper.make_node("Loop", ["steps", "go", "start"], ["spun"], body=body),
             helper.make_node("Mul", ["W0", "spun"], ["W"])]
    return classifier(nodes, constants)


def one_huge_kernel(side: int, rounds: int = 8) -> ModelProto:
    """A valid classifier that first multiplies a ``side x side`` matrix made by ``Expand`` by
    itself ``rounds`` times: kernels that ``RunOptions.terminate`` cannot interrupt. ``side`` 6,000
    asks for 3.5 TFLOP (most of a minute on one fast core, so no CPU passes the 3 s cap) in about
    450 MB; 200,000 asks for 160 GB."""
    constants = [numpy_helper.from_array(np.ones((1, 1), np.float32), "one"),
                 numpy_helper.from_array(np.array([side, side], np.int64), "square"),
                 numpy_helper.from_array(np.zeros((FEATURES, CLASSES), np.float32), "W0")]
    nodes = [helper.make_node("Expand", ["one", "square"], ["product0"])]
    nodes += [helper.make_node("MatMul", [f"product{i}", "product0"], [f"product{i + 1}"]) for i in range(rounds)]
    nodes += [helper.make_node("ReduceMin", [f"product{rounds}"], ["least"], keepdims=0),
              helper.make_node("Mul", ["W0", "least"], ["W"])]
    return classifier(nodes, constants)


# ------------------------------------------------------------------------------ data bombs
def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width x height`` pixels, followed by one small compressed row."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" + b"\x00" * 3 * min(width, 1024))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def gif_of_frames(frames: int, side: int = 8) -> bytes:
    """An animated GIF of ``frames`` tiny frames."""
    from PIL import Image

    images = []
    for k in range(frames):  # one pixel moves, so that no frame repeats the one before (GIF would merge them)
        image = Image.new("L", (side, side))
        image.putpixel((k % side, (k // side) % side), 255)
        images.append(image)
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=10, loop=0)
    return out.getvalue()


def mp4_declaring(width: int, height: int, frames: int = 2) -> bytes:
    """An MP4 (MPEG-4 Part 2) of ``frames`` frames whose stream declares ``width x height``."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()

