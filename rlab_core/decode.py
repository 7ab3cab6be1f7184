"""Bytes to arrays: ECG tables, images and clips, decoded within caps that bombs meet first.

The datasets read their shipped files here, and :mod:`rlab_core.io` checks uploads on top of it
(file type, size, fitting the victim). Nothing here unpickles: ``.npy`` files are read with
``allow_pickle=False``, images through Pillow, video through PyAV, CSV as text. Every file that
cannot be read becomes one :class:`InputError` with a message for the person who gave it.
"""
from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path
from typing import cast

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from rlab_core.convert import fit_image

MAX_ECG_SAMPLES = 2_000_000
MAX_ECG_LEADS = 16
ECG_FS_RANGE = (20.0, 20_000.0)  # plausible ECG sampling rates, Hz
MAX_IMAGE_PIXELS = 50_000_000  # refuse above this before decoding anything: no decompression bombs
WORKING_IMAGE_SIDE = 2048  # larger images are downscaled to this on decoding
MAX_VIDEO_SIDE = 4096
WORKING_VIDEO_SIDE = 256  # frames are decoded straight to this shorter side
# A clip is read up to whichever comes first: a bomb of many or huge frames costs seconds, not minutes or GB.
MAX_VIDEO_DECODED_PIXELS = 250_000_000  # about 120 frames of 1080p, 270 of 720p, 15 of 4096 x 4096
MAX_VIDEO_KEPT_BYTES = 256 * 2**20  # the frames kept at the working size, as 8-bit RGB


class InputError(ValueError):
    """An input that cannot be used, with a message meant for the person who gave it."""


# ----------------------------------------------------------------------------------------- ECG

def read_ecg_table(data: bytes, filename: str, suffix: str) -> tuple[np.ndarray, float | None]:
    """``(leads, time)`` signal from a CSV or ``.npy``, and the sampling rate if a time column gives it."""
    if suffix == ".npy":
        return _read_npy(data, filename), None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{filename}: not a text CSV file (it holds binary data)") from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text), dialect=_sniff_dialect(text)) if any(c.strip() for c in row)]
    except csv.Error as err:  # e.g. a stray carriage return inside a field
        raise InputError(f"{filename}: not a readable CSV table ({err})") from None
    if not rows:
        raise InputError(f"{filename}: the file holds no rows")
    header = rows[0] if any(not _is_number(cell) for cell in rows[0]) else None
    body = rows[1:] if header else rows
    if not body:
        raise InputError(f"{filename}: the file has a header but no numbers under it")
    table = _numeric_table(body, filename, first_row=2 if header else 1)
    time_column = _time_column_rate(table, header)
    if time_column is not None:
        return table[:, 1:].T.copy(), time_column
    return table.T.copy(), None


def _read_npy(data: bytes, filename: str) -> np.ndarray:
    _check_npy_header(data, filename)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as err:
        reason = "it holds Python objects, which are never unpickled" if "pickle" in str(err) else str(err)
        raise InputError(f"{filename}: cannot read this .npy file: {reason}") from None
    except (OSError, EOFError):
        raise InputError(f"{filename}: not a valid .npy file (truncated or corrupt)") from None
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(f"{filename}: the array holds {array.dtype} values; an ECG needs real numbers")
    if array.ndim == 1:
        return array[None, :].astype(np.float64)
    if array.ndim == 2:
        # A recording is far longer than it has leads: put the short axis first.
        return (array if array.shape[0] <= array.shape[1] else array.T).astype(np.float64)
    raise InputError(f"{filename}: an ECG array must be 1D (time) or 2D (leads x time), got shape {array.shape}")


def _check_npy_header(data: bytes, filename: str) -> None:
    """Refuse a ``.npy`` whose header cannot be read, or declares more values than the file holds
    or an ECG can have, before NumPy allocates the array it declares."""
    from numpy.lib import format as npy

    stream = io.BytesIO(data)
    try:
        version = npy.read_magic(stream)
        shape, _, dtype = (npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0)(stream)
    except Exception:  # noqa: BLE001  (the header is a Python literal: a damaged one raises assorted errors)
        raise InputError(f"{filename}: not a valid .npy file (its header is damaged)") from None
    values = int(np.prod(shape, dtype=object))
    if values > MAX_ECG_SAMPLES * MAX_ECG_LEADS or values * max(1, dtype.itemsize) > len(data):
        raise InputError(f"{filename}: the .npy file declares {values:,} values of shape {shape}, more than it holds "
                         f"or an ECG can have")


def _sniff_dialect(text: str) -> type[csv.Dialect]:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t ")
    except csv.Error:
        return csv.excel


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _numeric_table(rows: list[list[str]], filename: str, first_row: int) -> np.ndarray:
    width = len(rows[0])
    values = np.empty((len(rows), width), dtype=np.float64)
    for r, row in enumerate(rows):
        cells = [cell.strip() for cell in row if cell.strip() != ""] if len(row) != width else row
        if len(cells) != width:
            raise InputError(f"{filename}: row {first_row + r} has {len(cells)} values, the first row has {width}")
        for c, cell in enumerate(cells):
            try:
                values[r, c] = float(cell)
            except ValueError:
                raise InputError(f"{filename}: row {first_row + r}, column {c + 1}: {cell.strip()!r} is not a number") from None
    return values


def _time_column_rate(table: np.ndarray, header: list[str] | None) -> float | None:
    """The sampling rate if the first of several columns is a time axis, else ``None``."""
    if table.shape[1] < 2 or len(table) < 3:
        return None
    steps = np.diff(table[:, 0])
    if not np.all(np.isfinite(steps)) or steps.min() <= 0 or steps.std() > 0.01 * steps.mean():
        return None
    name = header[0].strip().lower() if header else ""
    if name in ("sample", "samples", "index", "n", "i"):
        return None
    candidates = [1000.0 / steps.mean()] if "ms" in name else [1.0 / steps.mean(), 1000.0 / steps.mean()]
    for rate in candidates:
        if ECG_FS_RANGE[0] <= rate <= ECG_FS_RANGE[1]:
            return float(rate)
    return None


# --------------------------------------------------------------------------------------- images

def read_image(data: bytes, filename: str) -> tuple[np.ndarray, list[str]]:
    """``(H, W, 3)`` floats in ``[0, 1]`` from image bytes, and notices of what was changed."""
    notices: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise InputError(f"{filename}: {width}x{height} pixels is too large (limit "
                                 f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels)")
            if getattr(image, "is_animated", False):  # not n_frames: on a GIF it decodes every frame
                notices.append("animated image: its first frame is used")
            if max(width, height) > WORKING_IMAGE_SIDE:
                image.draft("RGB", (WORKING_IMAGE_SIDE, WORKING_IMAGE_SIDE))  # JPEG decodes straight to a smaller size
            image.load()
            image = _reduced(image)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own check, at open
        raise InputError(f"{filename}: the image declares too many pixels (limit {MAX_IMAGE_PIXELS / 1e6:.0f} "
                         "megapixels)") from None
    except UnidentifiedImageError:
        raise InputError(f"{filename}: not a readable image (the content is not PNG, JPEG, GIF, BMP or WebP)") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise InputError(f"{filename}: the image is truncated or corrupt") from None
    pixels = _to_rgb(image, notices)
    if max(pixels.shape[:2]) > WORKING_IMAGE_SIDE:
        factor = WORKING_IMAGE_SIDE / max(pixels.shape[:2])
        pixels = fit_image(pixels, (3, round(pixels.shape[0] * factor), round(pixels.shape[1] * factor))).permute(1, 2, 0).numpy()
    if max(width, height) > WORKING_IMAGE_SIDE:
        notices.append(f"large image ({width}x{height}): downscaled to {pixels.shape[1]}x{pixels.shape[0]}")
    return pixels, notices


def _reduced(image: Image.Image) -> Image.Image:
    """A large image shrunk by a whole factor while still 8-bit, so that the float copy stays small
    (a 7,000 px square would take 600 MB as floats)."""
    factor = -(-max(image.size) // WORKING_IMAGE_SIDE)
    if factor <= 1:
        return image
    if image.mode in ("1", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGBA" if image.mode in ("PA", "P") and image.has_transparency_data else "RGB")
    return image.reduce(factor)


def _to_rgb(image: Image.Image, notices: list[str]) -> np.ndarray:
    """Any Pillow mode -> ``(H, W, 3)`` floats in ``[0, 1]``; 16-bit keeps its full range."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        gray = np.clip(values / peak, 0, 1).astype(np.float32)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        if not np.all(np.isfinite(values)):
            raise InputError("the image holds NaN or infinite values")
        span = values.max() - values.min()
        gray = (values - values.min()) / (span if span > 0 else 1.0)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        if rgba[..., 3].min() < 1.0:
            notices.append("transparent pixels are shown on black")
        return rgba[..., :3] * rgba[..., 3:]
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


# ---------------------------------------------------------------------------------------- video

def read_video(data: bytes | Path, filename: str) -> tuple[np.ndarray, list[str]]:
    """``(T, H, W, 3)`` uint8 RGB frames, decoded to a shorter side of at most 256 px; a long clip
    is cut after :data:`MAX_VIDEO_DECODED_PIXELS` decoded or :data:`MAX_VIDEO_KEPT_BYTES` kept."""
    notices: list[str] = []
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    frames: list[np.ndarray] = []
    decoded = kept = 0
    try:
        # Opened for reading (mode "r"); av.open's overloads narrow only a path, not a BytesIO, to an InputContainer.
        with cast("av.container.InputContainer", av.open(source)) as container:
            if not container.streams.video:
                raise InputError(f"{filename}: the file holds no video stream")
            if container.format.name == "image2" or container.format.name.endswith("_pipe"):
                raise InputError(f"{filename}: this is a still image ({container.format.name}), not a video")
            stream = container.streams.video[0]
            if stream.codec_context is None:  # a stream whose codec FFmpeg cannot open
                raise InputError(f"{filename}: the video stream's codec is unknown or damaged")
            width, height = stream.codec_context.width, stream.codec_context.height
            if max(width, height) > MAX_VIDEO_SIDE:
                raise InputError(f"{filename}: {width}x{height} is too large (limit {MAX_VIDEO_SIDE} px a side)")
            try:
                for frame in container.decode(stream):
                    if max(frame.width, frame.height) > MAX_VIDEO_SIDE:  # the stream said less than it holds
                        raise InputError(f"{filename}: a {frame.width}x{frame.height} frame is too large (limit "
                                         f"{MAX_VIDEO_SIDE} px a side)")
                    decoded += frame.width * frame.height
                    if frames and (decoded > MAX_VIDEO_DECODED_PIXELS or kept > MAX_VIDEO_KEPT_BYTES):
                        notices.append(f"long clip: only its first {len(frames)} frames are used")
                        break
                    scale = min(1.0, WORKING_VIDEO_SIDE / min(frame.width, frame.height))
                    small = frame.reformat(width=max(2, round(frame.width * scale)),
                                           height=max(2, round(frame.height * scale)), format="rgb24")
                    frames.append(small.to_ndarray())
                    kept += frames[-1].nbytes
            except av.FFmpegError:
                if not frames:
                    raise
                notices.append(f"the clip is damaged after frame {len(frames)}: the frames before it are used")
    except InputError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError):
        raise InputError(f"{filename}: not a readable video (truncated, corrupt or an unknown format)") from None
    if not frames:
        raise InputError(f"{filename}: the video holds no frames")
    return np.stack(frames), notices
