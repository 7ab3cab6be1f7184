"""Bring your own model: a classifier uploaded as ONNX, probed as a black box.

An uploaded model is never unpickled, and never runs in the server's process: ONNX is a protobuf
graph, and a :class:`~rlab_core.victims.jail.ModelJail` runs it with ONNX Runtime in a worker
process of its own, under a memory limit and a time limit per call, after refusing any weights kept
outside the file. The model takes the same input as a built-in victim, its *template*: one input
tensor ``(B, *template.input_shape)`` in ``[0, 1]`` (an ECG beat, an image, a clip, as the
template's test split and the upload loader give them), and gives one score per template class,
``(B, K)``: logits, log-probabilities or probabilities. The template also gives the class names,
the patch grid, the filters' strengths and the RL agent that attacks it.

:func:`load_onnx` checks all of this once, on a probe batch of two, and raises one
:class:`~rlab_core.victims.profiles.VictimError` with a readable message for anything else
(:class:`~rlab_core.victims.jail.ModelStopped` when the model hits a limit).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rlab_core.victims.jail import JailLimits, ModelJail, ModelStopped
from rlab_core.victims.profiles import VictimError, VictimProfile

MAX_MODEL_BYTES = 500 * 2**20


class OnnxClassifier(nn.Module):
    """An ONNX classifier as a module: float batch ``(B, *input_shape)`` -> scores ``(B, K)`` that
    a softmax turns into its probabilities (probabilities from the model are returned as their
    logarithm). Every batch goes to the model's jail, split into calls it can bound. Made by
    :func:`load_onnx`, which checks the model first."""

    def __init__(self, jail: ModelJail, outputs_probabilities: bool, batch_size: int | None, filename: str,
                 sha256: str) -> None:
        super().__init__()
        self.jail, self.filename, self.sha256 = jail, filename, sha256
        self.outputs_probabilities, self.batch_size = outputs_probabilities, batch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A model exported with a fixed batch of 1 gets one input per call; others as many as the jail bounds.
        step = self.batch_size or self.jail.limits.inputs_per_call(x[0].numel() * 4)
        rows = [self.jail.run(chunk.detach().cpu().numpy()) for chunk in x.split(step)]
        scores = torch.from_numpy(np.concatenate(rows))
        return scores.clamp_min(1e-12).log() if self.outputs_probabilities else scores

    def record(self) -> dict:
        """What a JSON output says of the model."""
        return {"model": {"file": self.filename, "sha256": self.sha256, "format": "onnx"}}


def load_onnx(data: bytes, template: VictimProfile, filename: str = "model.onnx",
              limits: JailLimits | None = None) -> OnnxClassifier:
    """The uploaded ONNX model ``data`` as a victim shaped like ``template``, running in its own
    jail (``limits``: :meth:`JailLimits.from_env`); raises ``VictimError``."""
    if not data:
        raise VictimError(f"{filename}: the file is empty")
    if len(data) > MAX_MODEL_BYTES:
        raise VictimError(f"{filename}: the file is {len(data) / 2**20:.0f} MB; the limit is {MAX_MODEL_BYTES // 2**20} MB")
    jail = ModelJail(limits, filename)
    try:
        return _checked(jail, data, template, filename)
    except BaseException:
        jail.close()
        raise


def _checked(jail: ModelJail, data: bytes, template: VictimProfile, filename: str) -> OnnxClassifier:
    signature = jail.load(data)
    inputs = signature["inputs"]
    if len(inputs) != 1:
        raise VictimError(f"{filename} takes {len(inputs)} inputs; a classifier here takes one, "
                          f"(batch, {', '.join(map(str, template.input_shape))}) like {template.name}")
    batch_size = check_input(inputs[0], template, filename)
    probe = torch.rand(2, *template.input_shape, generator=torch.Generator().manual_seed(0))
    model = OnnxClassifier(jail, False, batch_size, filename, hashlib.sha256(data).hexdigest()[:16])
    try:
        # The probe may take the whole cap: the first run of a graph is its slowest.
        scores = torch.cat([torch.from_numpy(jail.run(chunk.numpy(), jail.limits.cap_seconds))
                            for chunk in probe.split(batch_size or 2)])
    except ModelStopped:
        raise
    except VictimError as err:  # shapes inside the graph that do not fit the template's input
        raise VictimError(f"{err} (on an input like {template.name}'s {tuple(template.input_shape)})") from None
    classes = len(template.class_names)
    if scores.shape != (2, classes):
        raise VictimError(f"{filename} gives scores of shape {tuple(scores.shape[1:])} per input; {template.name} "
                          f"has {classes} classes, so the model must give {classes}")
    if not torch.isfinite(scores).all():
        raise VictimError(f"{filename} gives NaN or infinite scores")
    model.outputs_probabilities = bool(((scores >= 0) & (scores <= 1)).all() and
                                       torch.allclose(scores.sum(dim=1), torch.ones(2, dtype=scores.dtype), atol=1e-3))
    return model


def load_onnx_file(path: Path, template: VictimProfile, limits: JailLimits | None = None) -> OnnxClassifier:
    """:func:`load_onnx` of the file at ``path``, which must be an ``.onnx`` file within the size limit."""
    path = Path(path)
    if not path.is_file():
        raise VictimError(f"{path}: no such file")
    if path.suffix.lower() != ".onnx":
        raise VictimError(f"{path}: a model is loaded from an .onnx file only (never unpickled)")
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise VictimError(f"{path}: the file is {path.stat().st_size / 2**20:.0f} MB; the limit is "
                          f"{MAX_MODEL_BYTES // 2**20} MB")
    return load_onnx(path.read_bytes(), template, path.name, limits)


def check_input(arg: dict, template: VictimProfile, filename: str) -> int | None:
    """The model's fixed batch size (``None``: any), after checking its input (``name``, ``type``,
    ``shape`` as the jail describes it: a length, or a dynamic axis's name or ``None``) against the template's."""
    if arg["type"] != "tensor(float)":
        raise VictimError(f"{filename} takes {arg['type']}; inputs here are float32 in [0, 1]")
    shape = list(arg["shape"])
    fixed = [d if isinstance(d, int) else None for d in shape]
    expected = (None, *template.input_shape)
    if len(shape) != len(expected) or any(d is not None and d != e for d, e in zip(fixed[1:], expected[1:])):
        wanted = ", ".join(map(str, template.input_shape))
        raise VictimError(f"{filename} takes inputs of shape ({', '.join(str(d) for d in shape)}); "
                          f"{template.name}'s are (batch, {wanted})")
    if fixed[0] not in (None, 1):
        raise VictimError(f"{filename} was exported for batches of exactly {fixed[0]}; export it with a batch of 1 "
                          "or a dynamic batch axis")
    return fixed[0]
