"""``rlab predict``: classify one input with a victim (or your ONNX model)."""
from __future__ import annotations

import argparse
import json

from rlab_core.cli.common import (
    TOP_K,
    add_input_arguments,
    add_model_argument,
    add_weights_argument,
    chosen_input,
    chosen_victim,
    described,
    network_record,
    resolve_victim,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    add_model_argument(parser)
    add_weights_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    name = resolve_victim(args.modality, args.victim)
    victim = chosen_victim(args, name)
    sample = chosen_input(args, name)
    probs = victim.probabilities(sample.x)
    top = np.argsort(probs, kind="stable")[::-1][:TOP_K]
    label = int(top[0])
    result = {
        **network_record(victim, name),
        "modality": args.modality,
        "victim": name,
        "input": sample.name,
        "true_label": sample.y,
        "label": label,
        "label_name": victim.class_names[label],
        "top": [[victim.class_names[int(k)], round(float(probs[k]), 6)] for k in top],
        "notices": list(sample.notices),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{sample.name}: {result['label_name']} ({float(probs[label]):.1%}) by {described(victim, name)}")
    for class_name, p in result["top"][1:]:
        print(f"  {class_name}: {p:.1%}")
    for notice in sample.notices:
        print(f"  note: {notice}")
    return 0
