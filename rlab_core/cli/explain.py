"""``rlab explain``: explain the victim's decision, the RL maps beside Captum's, scored where ground truth exists."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlab_core.cli.common import (
    UsageError,
    add_budget_argument,
    add_input_arguments,
    add_model_argument,
    add_weights_argument,
    check_budget,
    chosen_input,
    chosen_victim,
    described,
    network_record,
    resolve_victim,
    stopped_summary,
    write_stopped,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    add_model_argument(parser)
    add_weights_argument(parser)
    parser.add_argument("--methods", help="comma list of rl, rl_hard, saliency, ig, gradcam, occlusion, the black-box "
                                          "peers feature_ablation, shapley, kernel_shap, lime, rise, and the controls "
                                          "model_free, edges, random, model_free_in_cell (default: the methods, black-box "
                                          "ones only with --model, and the controls; model_free_in_cell only with ground "
                                          "truth, which it reads)")
    add_budget_argument(parser, help="queries of each RL attack, and the most each budgeted peer (shapley, "
                                     "kernel_shap, lime, rise) spends")
    parser.add_argument("--target", help="the class to explain, by name or index (default: the input's true class, "
                                         "or the victim's top-1 on a mosaic or an unlabelled input)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write each map as .npy and a viewable overlay here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from rlab_core.agents.agent import AgentError
    from rlab_core.callbacks import Record
    from rlab_core.explanations import class_index, default_methods, explain, parse_methods, target_of
    from rlab_core.explanations.output import write_explanation
    from rlab_core.victims.jail import ModelStopped

    name = resolve_victim(args.modality, args.victim)
    check_budget(args.budget)
    try:
        methods = parse_methods(args.methods) if args.methods else None
    except ValueError as err:
        raise UsageError(str(err)) from None
    sample = chosen_input(args, name)
    victim = chosen_victim(args, name)  # a model stopped while loading is refused: no run yet
    try:
        target = target_of(victim, sample, None if args.target is None else class_index(args.target, victim.class_names))
    except ValueError as err:
        raise UsageError(str(err)) from None
    methods = methods or default_methods(victim.white_box, target.truth is not None)
    head = {**network_record(victim, name, args.seed), "modality": args.modality, "input": sample.name,
            "true_label": sample.y, "present": [part.label for part in sample.parts] or None, "budget": args.budget}
    running = Record()  # its last message names the method that was running
    try:
        explanation = explain(victim, sample.x, target.label, methods, args.budget, args.seed, truth=target.truth,
                              cell=target.cell, callbacks=[running])
    except ModelStopped as stopped:
        stopped_in = running.messages[-1] if running.messages else "the clean prediction"
        write_stopped(args, {**head, "stopped_in": stopped_in, **stopped_summary(stopped)}, "explanation.json")
        raise
    except (AgentError, ValueError) as err:
        raise UsageError(str(err)) from None
    summary = {**head, "ground_truth": explanation.scores is not None, **explanation.summary(), "victim": name}
    if args.out:
        write_explanation(args.out, explanation, sample, summary, victim)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{sample.name}: {explanation.label_name} by {described(victim, name)}; gradient methods are white-box")
    for method, entry in summary["methods"].items():
        scores = "" if explanation.scores is None else (
            f"  dice {entry['dice']:.3f}  iou {entry['iou']:.3f}  pointing {entry['pointing']}")
        queries = ("white-box" if entry["white_box"] else "control, reads the ground truth"
                   if entry["uses_ground_truth"] else f"{entry['queries']} queries")
        print(f"  {method:18s} {queries}{scores}")
    return 0
