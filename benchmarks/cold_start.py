"""How fast the command line starts: ``predict --json`` against ``python -c "import torch"``.

Five fresh processes of each, interleaved (so that the machine's noise hits both alike); the
figure is the ratio of their medians. Also lists which heavy packages ``predict`` imports (it must
import neither Stable-Baselines3, gymnasium, ART nor ``torchvision.models``).

    python -m benchmarks.cold_start      # writes benchmarks/cold-start.json and .md
"""
from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rlab_core import ROOT
from rlab_core.run_record import run_record

OUT = Path(__file__).resolve().parent
RUNS = 5
PREDICT = [sys.executable, "-m", "rlab_core", "predict", "--modality", "image", "--sample", "0", "--json"]
TORCH = [sys.executable, "-c", "import torch"]
HEAVY = ("stable_baselines3", "sb3_contrib", "gymnasium", "art", "torchvision.models", "captum", "streamlit")


def seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def imported(command: list[str]) -> list[str]:
    """The heavy packages a run of ``command`` imports (from ``python -X importtime``)."""
    out = subprocess.run([command[0], "-X", "importtime", *command[1:]], cwd=ROOT, check=True, capture_output=True,
                         text=True).stderr
    names = {line.rsplit("|", 1)[-1].strip() for line in out.splitlines() if line.startswith("import time:")}
    return sorted(h for h in HEAVY if h in names)


def main() -> None:
    seconds(PREDICT)  # the first run fills the page cache for both: every measured run is a fresh process
    predict, torch_only = [], []
    for _ in range(RUNS):
        predict.append(seconds(PREDICT))
        torch_only.append(seconds(TORCH))
    report: dict[str, Any] = {
        "run": run_record(seed=None),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "command": "python -m benchmarks.cold_start",
        "predict_seconds": [round(s, 3) for s in predict],
        "import_torch_seconds": [round(s, 3) for s in torch_only],
        "median_predict": round(statistics.median(predict), 3),
        "median_import_torch": round(statistics.median(torch_only), 3),
        "ratio": round(statistics.median(predict) / statistics.median(torch_only), 2),
        "goal": 1.5,
        "heavy_imports_of_predict": imported(PREDICT),
    }
    (OUT / "cold-start.json").write_text(json.dumps(report, indent=1) + "\n")
    (OUT / "cold-start.md").write_text("\n".join([
        "# Cold start of the command line", "",
        f"`{' '.join(['python', *PREDICT[1:]])}` against `python -c \"import torch\"`, {RUNS} fresh processes of each, "
        f"interleaved, on {report['machine']}. Made by `{report['command']}`.", "",
        "| | median seconds | runs |", "|---|---|---|",
        f"| `predict --json` | {report['median_predict']} | {', '.join(map(str, report['predict_seconds']))} |",
        f"| `import torch` | {report['median_import_torch']} | {', '.join(map(str, report['import_torch_seconds']))} |",
        "",
        f"Ratio of the medians: **{report['ratio']}x** (goal: at most {report['goal']}x; before the redesign 2.2x, "
        "8.5 s against 3.9 s). Heavy packages `predict` imports: "
        f"{', '.join(report['heavy_imports_of_predict']) or 'none of ' + ', '.join(HEAVY)}.", ""]))
    print(json.dumps({k: report[k] for k in ("median_predict", "median_import_torch", "ratio")}))


if __name__ == "__main__":
    main()
