"""Measure every built-in victim on its test split; write benchmarks/victims.json and victims.md.

Trained victims: accuracy, macro-F1 and the confusion matrix over the whole test split.
ImageNet victims (pretrained, and our natural test inputs carry no labels): the top-1 class and
probability of every built-in natural test image and clip.

Usage: python -m benchmarks.victims        (deterministic: the splits are fixed and seeded)
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, f1_score

from rlab_core.run_record import run_record
from rlab_core.victims import PROFILES, Victim, get_profile

OUT = Path(__file__).resolve().parent
BATCH = 250


def measure_trained(name: str) -> dict:
    spec = get_profile(name)
    x, y = spec.dataset("test").arrays()
    started = time.time()
    victim = Victim.builtin(name)
    predicted = np.concatenate([victim.probabilities(x[i:i + BATCH]).argmax(-1) for i in range(0, len(x), BATCH)])
    seconds = time.time() - started
    y = y.numpy()
    return {
        "test_items": len(y),
        "accuracy": round(float((predicted == y).mean()), 4),
        "macro_f1": round(float(f1_score(y, predicted, average="macro")), 4),
        "per_class_recall": {c: round(float((predicted[y == k] == k).mean()), 4) for k, c in enumerate(spec.class_names)},
        "confusion_matrix": confusion_matrix(y, predicted, labels=range(len(spec.class_names))).tolist(),
        "ms_per_input": round(1000 * seconds / len(y), 3),
        "weights_sha256": run_record(victim=name)["victim_weights_sha256"],
    }


def measure_pretrained(name: str) -> dict:
    spec = get_profile(name)
    data = spec.dataset("test")
    rows = []
    for i in range(len(data)):
        sample = data[i]
        probs = Victim.builtin(name).probabilities(sample.x)
        rows.append({"input": sample.name, "top1": spec.class_names[int(probs.argmax())],
                     "probability": round(float(probs.max()), 4)})
    return {"test_items": len(rows), "predictions": rows, "weights_sha256": run_record(victim=name)["victim_weights_sha256"]}


def markdown(results: dict) -> str:
    lines = ["# Victims on their test splits", "", f"Made by `python -m benchmarks.victims` on {results['machine']}.", "",
             "| victim | test set | items | accuracy | macro-F1 | ms / input |", "|---|---|---|---|---|---|"]
    for name, r in results["victims"].items():
        if "accuracy" in r:
            lines.append(f"| `{name}` | {PROFILES[name].description} | {r['test_items']} | {r['accuracy']:.4f} | "
                         f"{r['macro_f1']:.4f} | {r['ms_per_input']} |")
    for name, r in results["victims"].items():
        spec = PROFILES[name]
        if "confusion_matrix" in r:
            lines += ["", f"## `{name}` confusion matrix (rows: true, columns: predicted)", "",
                      "| true \\ predicted | " + " | ".join(spec.class_names) + " |",
                      "|---" * (len(spec.class_names) + 1) + "|"]
            lines += [f"| {spec.class_names[k]} | " + " | ".join(str(v) for v in row) + " |"
                      for k, row in enumerate(r["confusion_matrix"])]
        else:
            lines += ["", f"## `{name}` (pretrained; natural test inputs are unlabelled)", "",
                      "| input | top-1 | probability |", "|---|---|---|"]
            lines += [f"| {p['input']} | {p['top1']} | {p['probability']:.3f} |" for p in r["predictions"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    torch.manual_seed(0)
    results: dict[str, Any] = {"run": run_record(seed=0),
                               "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads", "victims": {}}
    for name, spec in PROFILES.items():
        results["victims"][name] = measure_trained(name) if spec.trained_here else measure_pretrained(name)
        print(name, {k: v for k, v in results["victims"][name].items() if k in ("accuracy", "macro_f1", "test_items")})
    (OUT / "victims.json").write_text(json.dumps(results, indent=2) + "\n")
    (OUT / "victims.md").write_text(markdown(results))


if __name__ == "__main__":
    main()
