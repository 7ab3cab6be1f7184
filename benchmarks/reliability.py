"""Hostile uploads, measured: what happens to each hostile model, what the jail costs per query,
how fast and how lean each data bomb is refused, and a longer fuzz run than CI's.

- **Hostile models** (``benchmarks/hostile.py``): each through ``load_onnx`` with the default limits
  but a 10 s cap (so the run ends sooner), its outcome and seconds. A canary file is planted where
  the readers point, and the run checks that its bytes appear in no message.
- **Jail cost**: each trained victim exported to ONNX, the same NumPy batch sent to ONNX Runtime in
  this process and to the model's jail (``ModelJail.run``: one call to the worker), one input and
  batches of 64, median over repeated calls, as a ratio in one run. (What a query costs through the
  whole ``OnnxClassifier`` module, against the torch network, is ``benchmarks/onnx.md``'s.)
- **Bombs**: each refused in a fresh process; its seconds and the growth of the peak resident
  memory over the loader's imports.
- **Fuzz** (``benchmarks/fuzz.py``): ``--cases`` mutations of each corpus file, seeded.

Usage: python -m benchmarks.reliability [--cases 200] [--seed 0]
Writes benchmarks/reliability.json and the measured part of reliability.md.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from numpy.lib import format as npy
from onnx import ModelProto
from PIL import Image

from benchmarks import hostile
from benchmarks.fuzz import fuzz
from benchmarks.onnx import export
from rlab_core import ROOT
from rlab_core.decode import InputError
from rlab_core.io import load_input
from rlab_core.run_record import run_record
from rlab_core.victims import DEFAULT_VICTIM, VictimError, get_profile
from rlab_core.victims.jail import JailLimits
from rlab_core.victims.onnx_model import load_onnx

OUT = Path(__file__).resolve().parent
CANARY = b"CANARY-" + bytes(range(65, 91)) * 1600
MODEL_LIMITS = JailLimits(cap_seconds=10.0)
REPEATS = {1: 200, 64: 20}


def hostile_models() -> list[dict]:
    kinds: dict[str, ModelProto | bytes] = {
        **{f"reads a server file: {place}": make("secret.bin") for place, make in hostile.READERS.items()},
        "reads a server file: absolute path": hostile.reads_top_level("/etc/hostname"),
        "never answers (Loop of 10^12 steps)": hostile.never_answers(),
        "one huge kernel, CPU (6,000^2 MatMul)": hostile.one_huge_kernel(6_000, rounds=1),
        "one huge kernel, memory (200,000^2, 160 GB)": hostile.one_huge_kernel(200_000),
        "not a model (bytes)": b"\x08\x07" + os.urandom(4000)}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        Path("secret.bin").write_bytes(CANARY)
        for kind, model in kinds.items():
            data = model if isinstance(model, bytes) else model.SerializeToString()
            started = time.perf_counter()
            try:
                load_onnx(data, get_profile("image-cnn"), "hostile.onnx", MODEL_LIMITS)
                outcome = "accepted"
            except VictimError as err:
                outcome = f"{type(err).__name__}: {err}"
            rows.append({"kind": kind, "bytes": len(data), "seconds": round(time.perf_counter() - started, 2),
                         "outcome": outcome[:240], "canary_leaked": b"ABCDEFGHIJKLMNOP" in outcome.encode()})
        os.chdir(ROOT)
    return rows


def median_ms(call, x: np.ndarray, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(x)
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def jail_cost() -> list[dict]:
    rows = []
    for victim in ("ecg-cnn", "image-cnn", "video-cnn"):
        spec = get_profile(victim)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{victim}.onnx"
            export(victim, path)
            data = path.read_bytes()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        jailed = load_onnx(data, spec, path.name)
        for batch, repeats in REPEATS.items():
            x = torch.rand(batch, *spec.input_shape).numpy()
            in_process = median_ms(lambda b, s=session: s.run(None, {"x": b}), x, repeats)
            through_jail = median_ms(jailed.jail.run, x, repeats)  # the same call, sent to the worker
            rows.append({"victim": victim, "batch": batch, "in_process_ms": round(in_process, 3),
                         "jail_ms": round(through_jail, 3), "ratio": round(through_jail / in_process, 2)})
    return rows


def resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def measure_bomb(modality: str, path: Path, name: str) -> dict:
    """Load one bomb as an upload, in this (fresh) process: seconds, and the growth of the resident
    memory sampled while it loads (the peak is a high-water mark of the imports already)."""
    data = path.read_bytes()
    spec = get_profile(DEFAULT_VICTIM[modality])
    sine = ("ecg\n" + "\n".join(str(np.sin(t / 9)) for t in range(140))).encode()
    warm = {"image": (black_png(8), "warm.png"), "video": (hostile.mp4_declaring(16, 16, 2), "warm.mp4"),
            "ecg": (sine, "warm.csv")}[modality]
    load_input(*warm, spec)  # the decoder's own first-use cost is not the bomb's
    before, peak, done = resident_mb(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident_mb())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    try:
        loaded = load_input(data, name, spec)
        outcome = "read: " + ("; ".join(loaded.sample.notices) or "no notice")
    except InputError as err:
        outcome = "refused: " + str(err)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {"bytes": len(data), "seconds": round(seconds, 3),
            "peak_mb_growth": round(max(peak[0], resident_mb()) - before, 1), "outcome": outcome}



def black_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side)).save(out, "PNG")
    return out.getvalue()


def npy_declaring(values: int) -> bytes:
    out = io.BytesIO()
    npy.write_array_header_1_0(out, {"descr": "<f8", "fortran_order": False, "shape": (values,)})
    return out.getvalue() + bytes(64)


BOMBS = {
    "PNG declaring 50,000 x 50,000 pixels": ("image", lambda: hostile.png_declaring(50_000, 50_000), "bomb.png"),
    "GIF of 10,000 frames": ("image", lambda: hostile.gif_of_frames(10_000), "bomb.gif"),
    "MP4 declaring 4,200 x 4,200 frames": ("video", lambda: hostile.mp4_declaring(4_200, 4_200), "bomb.mp4"),
    "MP4 of 600 frames of 1280 x 720": ("video", lambda: hostile.mp4_declaring(1280, 720, 600), "long.mp4"),
    "PNG of 7,000 x 7,000 black pixels (140 KB)": ("image", lambda: black_png(7_000), "black.png"),
    ".npy declaring 10^11 float64 values": ("ecg", lambda: npy_declaring(10**11), "bomb.npy"),
}


def bombs() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, (modality, make, name) in BOMBS.items():
            path = Path(folder) / name
            path.write_bytes(make())
            # A fresh process each, made to read the file the parent made: making it sets no peak.
            out = subprocess.run([sys.executable, "-m", "benchmarks.reliability", "--bomb", modality, str(path), name],
                                 cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
            rows.append({"kind": kind, **json.loads(out.stdout.strip().splitlines()[-1])})
    return rows


def markdown(report: dict) -> str:
    lines = [f"Measured by `{report['command']}` (seed {report['seed']}) on {report['machine']}, "
             f"commit {report['run']['git_commit'][:10]}.", "", "### Hostile models",
             "", f"Default limits with a {MODEL_LIMITS.cap_seconds:g} s cap: {MODEL_LIMITS.memory_mb} MB of address "
             f"space, {MODEL_LIMITS.floor_seconds:g} s to {MODEL_LIMITS.cap_seconds:g} s per call.", "",
             "| model | bytes | seconds | what happened | canary leaked |", "|---|---|---|---|---|"]
    lines += [f"| {r['kind']} | {r['bytes']:,} | {r['seconds']} | {r['outcome'].replace('|', '/')} | "
              f"{'YES' if r['canary_leaked'] else 'no'} |" for r in report["models"]]
    lines += ["", "### The jail's cost per query", "",
              "Median milliseconds per call, the same batch to ONNX Runtime in this process and to the same "
              "model in its jail (`ModelJail.run`, one call to the worker; one thread each), same run:", "",
              "| victim | batch | in process (ms) | jail (ms) | ratio |",
              "|---|---|---|---|---|"]
    lines += [f"| `{r['victim']}` | {r['batch']} | {r['in_process_ms']} | {r['jail_ms']} | {r['ratio']}x |"
              for r in report["jail_cost"]]
    lines += ["", "### Data bombs", "", "Each in a fresh process: seconds to answer, and how much the peak resident "
              "memory grew while the file was loaded (sampled every 2 ms), over the loader's own imports.", "",
              "| file | bytes | seconds | peak memory growth (MB) | what happened |", "|---|---|---|---|---|"]
    lines += [f"| {r['kind']} | {r['bytes']:,} | {r['seconds']} | {r['peak_mb_growth']} | {r['outcome']} |"
              for r in report["bombs"]]
    f = report["fuzz"]
    lines += ["", "### Fuzz", "", f"{f['cases_per_file']} mutations of each of {len(f['cases'])} valid files: "
              f"{sum(f['cases'].values()):,} cases, {f['share_decoded']:.0%} reached a decoder, "
              f"{len(f['findings'])} escapes or slow cases; the slowest case took {max(f['slowest'].values()):.2f} s.",
              "", "| file | cases | reached a decoder | slowest (s) |", "|---|---|---|---|"]
    lines += [f"| {name} | {f['cases'][name]} | {f['decoded'][name]} | {f['slowest'][name]:.2f} |"
              for name in f["cases"]]
    lines += [f"- finding: {finding}" for finding in f["findings"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200, help="mutations of each corpus file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bomb", nargs=3, metavar=("MODALITY", "PATH", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bomb:  # one bomb, in the fresh process bombs() starts
        modality, path, name = args.bomb
        print(json.dumps(measure_bomb(modality, Path(path), name)))
        return
    torch.set_num_threads(1)
    report = {"run": run_record(args.seed), "seed": args.seed,
              "command": f"python -m benchmarks.reliability --cases {args.cases} --seed {args.seed}",
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
              "models": hostile_models(), "jail_cost": jail_cost(), "bombs": bombs()}
    stats = fuzz(args.cases, args.seed)
    report["fuzz"] = {"cases_per_file": args.cases, "cases": stats.cases, "decoded": stats.decoded,
                      "slowest": {k: round(v, 3) for k, v in stats.slowest.items()}, "findings": stats.findings,
                      "share_decoded": round(stats.share_decoded(), 4)}
    (OUT / "reliability.json").write_text(json.dumps(report, indent=1))
    measured = markdown(report)
    page = OUT / "reliability.md"
    head = page.read_text().split(MEASURED)[0] if page.exists() else ""  # the prose above the figures stays
    page.write_text(head + MEASURED + "\n\n" + measured)
    print(measured)


MEASURED = "## Measured"

if __name__ == "__main__":
    main()
