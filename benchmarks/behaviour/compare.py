"""Compare a new ``bench`` run with the record made before the core's redesign, record by record.

    python -m rlab_core bench --modality ecg --victim ecg-cnn --attacks rl,greedy,random,square,square_linf,simba \\
        --n 20 --seed 0 --out runs/after/bench-ecg-cnn.json      # and the same for image-cnn
    python -m benchmarks.behaviour.compare runs/after            # prints what differs, if anything
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RECORD = Path(__file__).resolve().parent
FIELDS = ("success", "already_misclassified", "queries", "queries_total", "l0_patches", "l0_elements", "l2", "linf",
          "label", "adversarial_label")


def records(path: Path) -> dict[tuple[int, str], dict]:
    lines = path.read_text().splitlines()[1:]  # the first line holds the run's settings
    return {(r["index"], r["attack"]): r for r in map(json.loads, lines)}


def compare(after: Path) -> dict[str, dict]:
    out = {}
    for before_file in sorted(RECORD.glob("bench-*.jsonl")):
        before, now = records(before_file), records(after / before_file.name)
        differ = [f"{key}: {field} {before[key].get(field)} -> {now.get(key, {}).get(field)}"
                  for key in before for field in FIELDS if key not in now or before[key].get(field) != now[key].get(field)]
        out[before_file.stem] = {"records": len(before), "compared": len(set(before) & set(now)), "differences": differ}
    return out


if __name__ == "__main__":
    result = compare(Path(sys.argv[1]))
    print(json.dumps(result, indent=1))
    sys.exit(1 if any(r["differences"] or r["compared"] != r["records"] for r in result.values()) else 0)
