"""Write an attack's outcome to a folder: what ``attack --out DIR`` promises."""
from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from rlab_core.attacks.result import AttackResult
from rlab_core.files import atomic_path, atomic_write_text
from rlab_core.sample import Sample
from rlab_core.victims import Victim


def write_attack(out: Path, result: AttackResult, sample: Sample, summary: dict, victim: Victim) -> None:
    """``trajectory.json``, ``result.json``, ``adversarial.npy``/``mask.npy`` and viewable copies:
    ``.csv`` for an ECG (in the recording's units), ``.png`` for an image, ``.mp4`` for a video."""
    atomic_write_text(out / "trajectory.json", json.dumps([step.to_dict() for step in result.trajectory], indent=1))
    atomic_write_text(out / "result.json", json.dumps(summary, indent=2))
    save_npy(out / "adversarial.npy", result.x_adv.numpy())
    save_npy(out / "mask.npy", result.element_mask.numpy())
    if victim.modality == "ecg":
        low, high = sample.scale or (0.0, 1.0)
        signal = low + result.x_adv.numpy()[0] * (high - low)
        with atomic_path(out / "adversarial.csv") as partial:
            np.savetxt(partial, signal, delimiter=",", header="ecg", comments="")
        with atomic_path(out / "mask.csv") as partial:
            np.savetxt(partial, result.element_mask.numpy().astype(int), fmt="%d", header="distorted", comments="")
    elif victim.modality == "image":
        save_png(out / "adversarial.png", result.x_adv)
        save_png(out / "mask.png", result.element_mask[None].float())
    else:
        save_mp4(out / "adversarial.mp4", result.x_adv)
        save_mp4(out / "mask.mp4", result.element_mask[None].float())


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(C, ...)`` in ``[0, 1]`` -> channels-last uint8 RGB (gray repeated)."""
    array = (x.clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    array = np.moveaxis(array, 0, -1)
    return np.repeat(array, 3, axis=-1) if array.shape[-1] == 1 else array


def save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as partial:
        np.save(partial, array)


def save_png(path: Path, image: torch.Tensor) -> None:
    with atomic_path(path) as partial:
        Image.fromarray(to_uint8(image)).save(partial)


def save_mp4(path: Path, clip: torch.Tensor, fps: int = 8) -> None:
    """``(C, T, H, W)`` -> an MPEG-4 file (sides padded to even numbers, as the codec needs)."""
    frames = to_uint8(clip)  # (T, H, W, 3)
    height, width = frames.shape[1] + frames.shape[1] % 2, frames.shape[2] + frames.shape[2] % 2
    with atomic_path(path) as partial, av.open(str(partial), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            padded = np.zeros((height, width, 3), np.uint8)
            padded[:frame.shape[0], :frame.shape[1]] = frame
            container.mux(stream.encode(av.VideoFrame.from_ndarray(padded, format="rgb24")))
        container.mux(stream.encode())
