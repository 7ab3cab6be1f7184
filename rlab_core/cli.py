"""``python -m rlab_core``: the command line. Bad input exits with code 2 and one line on stderr."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rlab_core.attacks.runner import DEFAULT_BUDGET
from rlab_core.decode import InputError
from rlab_core.io import MAX_BYTES, load_input
from rlab_core.run_record import run_record
from rlab_core.sample import Sample
from rlab_core.victims import (
    DEFAULT_VICTIM,
    MODALITIES,
    VictimError,
    get_profile,
    predict_proba,
)
from rlab_core.victims.jail import ModelStopped

if TYPE_CHECKING:
    from rlab_core.attacks.result import StepRecord

TOP_K = 5


class UsageError(Exception):
    """A bad command line: reported like a bad input."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage and exits; we want one line and code 2
        raise UsageError(f"{self.prog}: {message}")


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The modality, the victim and the input (a test sample or a file) of a command."""
    parser.add_argument("--modality", required=True, choices=MODALITIES)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help="an ECG (.csv/.npy), image or video file")
    source.add_argument("--sample", type=int, help="item N of the victim's test split")
    parser.add_argument("--victim", help="default: the modality's default victim")
    parser.add_argument("--fs", type=float, help="ECG sampling rate in Hz, when the file has no time column")
    parser.add_argument("--beat", type=int, default=0, help="which heartbeat of a longer ECG recording (from 0)")


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path,
                        help="your own classifier as ONNX, in place of the victim's network: it takes the victim's "
                             "input (batch, *shape) in [0, 1] and gives one score per victim class")


def add_weights_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", choices=("shipped", "hardened", "last-run"), default="shipped",
                        help="the victim's shipped weights, the hardened ones shipped with RLAB, or the ones the "
                             "Robustness page's last run hardened")


def build_parser() -> Parser:
    parser = Parser(prog="rlab_core", description="Probe black-box classifiers of ECG, images and video.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    predict = commands.add_parser("predict", help="classify one input with a victim")
    add_input_arguments(predict)
    add_model_argument(predict)
    add_weights_argument(predict)
    predict.add_argument("--json", action="store_true", help="print one JSON object")

    attack = commands.add_parser("attack", help="attack one input with the victim's RL agent")
    add_input_arguments(attack)
    add_model_argument(attack)
    attack.add_argument("--filter", default="mix", help="a filter name, 'mix' (the agent picks per step) or a comma list")
    attack.add_argument("--strength", type=float, help="the filter's strength (one filter only)")
    attack.add_argument("--filter-module", action="append", default=[], help="import a module that registers filters")
    attack.add_argument("--attacker", choices=("rl", "adaptive", "random"), default="rl",
                        help="rl: the victim's shipped agent; adaptive: the agent trained again against the hardened "
                             "--weights (see the robustness command); random: random order, the reference")
    add_weights_argument(attack)
    attack.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="queries, the clean prediction included")
    attack.add_argument("--max-patches", type=int, help="patch cap (default: 20%% of the grid)")
    attack.add_argument("--seed", type=int, default=0)
    attack.add_argument("--out", type=Path, help="write trajectory.json, result.json, the adversarial input and the mask here")
    attack.add_argument("--json", action="store_true", help="print one JSON object")

    explain = commands.add_parser("explain", help="explain the victim's decision: RL maps beside Captum's")
    add_input_arguments(explain)
    add_model_argument(explain)
    add_weights_argument(explain)
    explain.add_argument("--methods", help="comma list of rl, rl_hard, saliency, ig, gradcam, occlusion (default: all; "
                                           "with --model, the black-box ones: rl, rl_hard, occlusion)")
    explain.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="queries of each RL attack")
    explain.add_argument("--seed", type=int, default=0)
    explain.add_argument("--out", type=Path, help="write each map as .npy and a viewable overlay here")
    explain.add_argument("--json", action="store_true", help="print one JSON object")

    bench = commands.add_parser("bench", help="many test inputs x many attacks -> one results table (local or on Ray)")
    bench.add_argument("--modality", required=True, choices=MODALITIES)
    bench.add_argument("--victim", help="default: the modality's default victim")
    bench.add_argument("--attacks", required=True, help="comma list of rl, greedy, random, square, square_linf, simba")
    add_model_argument(bench)
    bench.add_argument("--n", type=int, default=100, help="the first N correctly classified test inputs")
    bench.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="queries per attack, the clean prediction included")
    bench.add_argument("--seed", type=int, default=0, help="each input's seed is derived from it and the input's index")
    bench.add_argument("--filter", default="mix", help="the patch attacks' filter: a name, 'mix' or a comma list")
    where = bench.add_mutually_exclusive_group()
    where.add_argument("--ray", action="store_true", help="run the inputs as tasks on a local Ray (ray.init())")
    where.add_argument("--ray-address", help="run the inputs as tasks on an existing Ray cluster (HEAD:6379)")
    bench.add_argument("--resume", action="store_true", help="continue the run in FILE.jsonl, skipping finished inputs")
    bench.add_argument("--out", type=Path, required=True, help="FILE.json; FILE.jsonl, FILE.md and FILE.png beside it")
    bench.add_argument("--progress", type=Path, help="keep the run's progress in this JSON file (the app polls it)")

    robust = commands.add_parser("robustness", help="adversarial fine-tuning against the RL agent; the before/after report")
    robust.add_argument("--modality", required=True, choices=MODALITIES)
    robust.add_argument("--victim", help="default: the modality's default victim")
    size = robust.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a small run for checks (minutes); weights beside --out")
    size.add_argument("--full", action="store_true", help="the published figures' settings (long)")
    robust.add_argument("--seed", type=int, default=0)
    robust.add_argument("--out", type=Path, help="write the report here (FILE.json, and FILE.md beside it)")
    robust.add_argument("--weights", type=Path, help="where the hardened weights go (default: assets/victims/"
                                                       "<victim>-hardened.pt; with --quick, beside --out or in runs/)")
    robust.add_argument("--progress", type=Path, help="keep the run's progress in this JSON file (the app polls it)")
    robust.add_argument("--json", action="store_true", help="print the report as one JSON object")

    agent = commands.add_parser("train-agent", help="train a victim's RL agent and save it in assets/agents/")
    agent.add_argument("--victim", required=True)
    agent.add_argument("--steps", type=int, help="PPO steps (default: the victim's recipe)")
    agent.add_argument("--seed", type=int, default=0)

    train = commands.add_parser("train-victim", help="train a built-in victim and save its weights in assets/")
    train.add_argument("--victim", required=True)
    train.add_argument("--seed", type=int, default=0)
    return parser


def resolve_victim(modality: str, name: str | None) -> str:
    name = name or DEFAULT_VICTIM[modality]
    spec = get_profile(name)
    if spec.modality != modality:
        raise UsageError(f"victim {name} is for {spec.modality}, not {modality}")
    return name


def read_input(path: Path, modality: str) -> bytes:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES[modality]:
        raise InputError(f"{path}: the file is {path.stat().st_size / 2**20:.0f} MB; the limit for {modality} is "
                         f"{MAX_BYTES[modality] // 2**20} MB")
    return path.read_bytes()


def chosen_input(args: argparse.Namespace, victim: str) -> Sample:
    """The ``--sample`` or ``--input`` of a command, as the victim's input."""
    if args.sample is not None:
        return test_sample(victim, args.sample)
    data = read_input(args.input, args.modality)
    return load_input(data, args.input.name, get_profile(victim), fs=args.fs, beat=args.beat).sample


def uploaded_model(args: argparse.Namespace, victim: str):
    """The ``--model`` ONNX classifier, shaped like ``victim`` (``None`` without ``--model``)."""
    from rlab_core.victims.onnx_model import load_onnx_file

    return None if args.model is None else load_onnx_file(args.model, get_profile(victim))


def chosen_network(args: argparse.Namespace, victim: str):
    """``(network, uploaded)``: the ``--model`` ONNX classifier (then also ``uploaded``) or the
    victim with ``--weights``; raises ``RobustnessError`` for hardened weights that do not exist."""
    from rlab_core import robustness

    if args.model is not None and args.weights != "shipped":
        raise UsageError("--model replaces the victim's network: it does not go with --weights")
    uploaded = uploaded_model(args, victim)
    return (uploaded if uploaded is not None else robustness.network(victim, args.weights)), uploaded


def network_record(args: argparse.Namespace, victim: str, uploaded, seed: int | None = None) -> dict:
    """The ``run`` record and the network entries of a command's JSON, for the network it used."""
    from rlab_core import robustness

    return {"run": run_record(seed, victim, robustness.network_sha256(victim, args.weights, uploaded)),
            **({} if uploaded is None else uploaded.record()), "weights": "onnx" if uploaded else args.weights}


def stopped_summary(stopped: ModelStopped) -> dict:
    """What a command's JSON says of a run that a model's jail stopped."""
    return {"stopped": str(stopped), "queries_at_stop": stopped.queries}


def write_stopped(args: argparse.Namespace, record: dict, name: str, more: dict | None = None) -> None:
    """A stopped run's record: printed with ``--json``, and written as ``name`` (and ``more``'s
    files) in ``--out``. The caller then re-raises, and :func:`main` says why in one line."""
    if args.json:
        print(json.dumps(record))
    if args.out:
        from rlab_core.background import write_json

        for file, content in {name: record, **(more or {})}.items():
            write_json(args.out / file, content)


def test_sample(victim: str, index: int) -> Sample:
    dataset = get_profile(victim).dataset("test")
    if not 0 <= index < len(dataset):
        raise UsageError(f"--sample {index} is out of range: {victim}'s test split has {len(dataset)} items (0-{len(dataset) - 1})")
    return dataset[index]


def cmd_predict(args: argparse.Namespace) -> int:
    from rlab_core.robustness import RobustnessError

    victim = resolve_victim(args.modality, args.victim)
    spec = get_profile(victim)
    try:
        model, uploaded = chosen_network(args, victim)
    except RobustnessError as err:
        raise UsageError(str(err)) from None
    sample = chosen_input(args, victim)
    probs = predict_proba(victim, sample.x, model)
    top = probs.topk(min(TOP_K, len(probs)))
    label = int(top.indices[0])
    result = {
        **network_record(args, victim, uploaded),
        "modality": args.modality,
        "victim": victim,
        "input": sample.name,
        "true_label": sample.y,
        "label": label,
        "label_name": spec.class_names[label],
        "top": [[spec.class_names[int(i)], round(float(p), 6)] for p, i in zip(top.values, top.indices)],
        "notices": list(sample.notices),
    }
    if args.json:
        print(json.dumps(result))
    else:
        by = victim if uploaded is None else f"{args.model.name} (shaped like {victim})"
        by += "" if args.weights == "shipped" else f" ({args.weights} weights)"
        print(f"{sample.name}: {result['label_name']} ({float(top.values[0]):.1%}) by {by}")
        for name, p in result["top"][1:]:
            print(f"  {name}: {p:.1%}")
        for notice in sample.notices:
            print(f"  note: {notice}")
    return 0


def cmd_attack(args: argparse.Namespace) -> int:
    from rlab_core import robustness as rb
    from rlab_core.agents.agent import AgentError, load_agent
    from rlab_core.attacks.output import write_attack
    from rlab_core.attacks.runner import attack
    from rlab_core.attacks import random_attack
    from rlab_core.filters import FilterError, load_filter_modules, resolve_filters

    victim = resolve_victim(args.modality, args.victim)
    if args.budget < 2:
        raise UsageError("--budget must be at least 2 (the clean prediction and one step)")
    try:
        load_filter_modules(args.filter_module)
        resolve_filters(args.filter)
        sample = chosen_input(args, victim)
        if args.model is not None and args.attacker == "adaptive":
            raise UsageError("--attacker adaptive attacks hardened --weights, not a --model")
        model, uploaded = chosen_network(args, victim)  # a model stopped while loading is refused: no run yet
        agent = (None if args.attacker == "random" else load_agent(victim, warn=warn) if args.attacker == "rl"
                 else rb.adaptive_agent(victim, args.weights, warn))
    except (FilterError, AgentError, rb.RobustnessError) as err:
        raise UsageError(str(err)) from None
    head = {**network_record(args, victim, uploaded, args.seed), "modality": args.modality, "victim": victim,
            "input": sample.name, "attacker": args.attacker, "filter": args.filter, "budget": args.budget}
    steps: list[StepRecord] = []
    options = {"strength": args.strength, "model": model, "on_step": steps.append}
    try:
        if agent is None:
            result = random_attack(victim, sample.x, sample.y, args.filter, args.budget, args.max_patches, args.seed,
                                   **options)
        else:
            result = attack(victim, sample.x, sample.y, agent, args.filter, args.budget, args.max_patches, args.seed,
                            **options)
    except ModelStopped as stopped:
        write_stopped(args, {**head, **stopped_summary(stopped)}, "result.json",
                      {"trajectory.json": [step.to_dict() for step in steps]})
        raise
    summary = {**head, **result.summary()}
    if args.out:
        write_attack(args.out, result, sample, summary, get_profile(victim))
    if args.json:
        print(json.dumps(summary))
    else:
        if result.already_misclassified:
            print(f"{sample.name}: already misclassified as {result.adversarial_label_name}; nothing to attack")
        else:
            verdict = f"fooled: {result.label_name} -> {result.adversarial_label_name}" if result.success else "not fooled"
            print(f"{sample.name}: {verdict} after {result.queries} queries ({result.queries_total} with pruning), "
                  f"{result.l0_patches} patches, L2 {result.l2:.3f}, Linf {result.linf:.3f}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from rlab_core.agents.agent import AgentError
    from rlab_core.explanations import BLACK_BOX, METHODS, explain, parse_methods
    from rlab_core.explanations.output import write_explanation
    from rlab_core.robustness import RobustnessError

    victim = resolve_victim(args.modality, args.victim)
    if args.budget < 2:
        raise UsageError("--budget must be at least 2 (the clean prediction and one step)")
    try:
        methods = parse_methods(args.methods or ",".join(METHODS if args.model is None else BLACK_BOX))
    except ValueError as err:
        raise UsageError(str(err)) from None
    sample = chosen_input(args, victim)
    try:
        model, uploaded = chosen_network(args, victim)  # a model stopped while loading is refused: no run yet
    except RobustnessError as err:
        raise UsageError(str(err)) from None
    head = {**network_record(args, victim, uploaded, args.seed), "modality": args.modality, "input": sample.name,
            "true_label": sample.y, "budget": args.budget}
    running = ["the clean prediction"]
    try:
        explanation = explain(victim, sample.x, sample.y, methods, args.budget, args.seed, truth=sample.mask,
                              model=model, on_progress=lambda what, _done: running.append(what))
    except ModelStopped as stopped:
        write_stopped(args, {**head, "stopped_in": running[-1], **stopped_summary(stopped)}, "explanation.json")
        raise
    except (AgentError, RobustnessError, ValueError) as err:
        raise UsageError(str(err)) from None
    summary = {**head, "ground_truth": explanation.scores is not None, **explanation.summary()}
    if args.out:
        write_explanation(args.out, explanation, sample, summary, get_profile(victim))
    if args.json:
        print(json.dumps(summary))
        return 0
    by = victim if uploaded is None else f"{args.model.name} (shaped like {victim})"
    print(f"{sample.name}: {explanation.label_name} by {by}; gradient methods are white-box")
    for name, entry in summary["methods"].items():
        scores = "" if explanation.scores is None else (
            f"  dice {entry['dice']:.3f}  iou {entry['iou']:.3f}  pointing {entry['pointing']}")
        queries = "white-box" if entry["white_box"] else f"{entry['queries']} queries"
        print(f"  {name:10s} {queries}{scores}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from rlab_core.agents.agent import AgentError
    from rlab_core.background import Progress, write_json
    from rlab_core.bench import BenchConfig, BenchError, command, rows_table, run_bench
    from rlab_core.filters import FilterError, resolve_filters

    victim = resolve_victim(args.modality, args.victim)
    if args.out.suffix != ".json":
        raise UsageError(f"--out must name a .json file, got {args.out}")
    config = BenchConfig(victim, tuple(a.strip() for a in args.attacks.split(",") if a.strip()), args.n, args.budget,
                         args.seed, args.filter, None if args.model is None else str(args.model))
    progress = (None if args.progress is None
                else Progress(args.progress, victim=victim, command=command(config, args.out)))
    try:
        config.check()
        resolve_filters(args.filter)
        report = run_bench(config, args.out, resume=args.resume, use_ray=args.ray, ray_address=args.ray_address,
                           log=lambda line: print(line, file=sys.stderr, flush=True), progress=progress)
    except (BenchError, FilterError, AgentError) as err:
        if progress is not None:
            progress.finish("failed", error=str(err))
        raise UsageError(str(err)) from None
    except ModelStopped as stopped:
        if progress is not None:
            progress.finish("failed", error=str(stopped))
        record = {"run": run_record(args.seed, victim), "victim": victim, "command": command(config, args.out),
                  **stopped_summary(stopped),
                  "note": f"the inputs finished before the stop are in {args.out.with_suffix('.jsonl')}; --resume "
                          "goes on from there"}
        write_json(args.out, record)
        raise
    except BaseException as err:
        if progress is not None:
            progress.finish("failed", error=f"{type(err).__name__}: {err}")
        raise
    if progress is not None:
        progress.finish("done", report=str(args.out))
    print(f"{victim}: {report['inputs']} inputs, budget {report['budget']}, seed {report['seed']}")
    print(rows_table(report))
    print(f"wrote {args.out}, {args.out.with_suffix('.md')}, {args.out.with_suffix('.png')} and {args.out.with_suffix('.jsonl')}")
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    from rlab_core import robustness as rb
    from rlab_core.agents.agent import AgentError

    victim = resolve_victim(args.modality, args.victim)
    if args.out is not None and args.out.suffix != ".json":
        raise UsageError(f"--out must name a .json file, got {args.out}")
    preset = "quick" if args.quick else "full" if args.full else "default"
    try:
        config = rb.config_for(victim, preset, args.seed)
    except rb.RobustnessError as err:
        raise UsageError(str(err)) from None
    quick_folder = args.out.parent if args.out is not None else rb.run_folder(victim) / "quick"
    weights = args.weights or rb.hardened_path(victim, quick_folder if preset == "quick" else None)
    progress = rb.Progress(args.progress, bars=True, log=lambda line: print(line, file=sys.stderr, flush=True),
                           victim=victim, preset=preset, command=config.command())
    try:
        report = rb.run_robustness(config, weights, progress)
    except (rb.RobustnessError, AgentError) as err:
        progress.finish("failed", error=str(err))
        raise UsageError(str(err)) from None
    except BaseException as err:
        progress.finish("failed", error=f"{type(err).__name__}: {err}")
        raise
    if args.out is not None:
        rb.save_report(report, args.out)
    progress.finish("done", report=str(args.out) if args.out is not None else None)
    if args.json:
        print(json.dumps(report))
    else:
        print(rb.markdown(report))
        if args.out is not None:
            print(f"wrote {args.out} and {args.out.with_suffix('.md')}; hardened weights: {report['hardened_weights']}")
    return 0


def cmd_train_agent(args: argparse.Namespace) -> int:
    from rlab_core.agents.agent import recipe, train_agent

    get_profile(args.victim)
    try:
        config = recipe(args.victim, args.steps, args.seed)
    except ValueError as err:
        raise UsageError(str(err)) from None
    agent = train_agent(config, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps({"victim": args.victim, "validation": agent.meta["validation"], "chosen": agent.meta["chosen"]}))
    return 0


def cmd_train_victim(args: argparse.Namespace) -> int:
    from rlab_core.victims.train import config_for, train_victim

    get_profile(args.victim)
    try:
        config = config_for(args.victim, args.seed)
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        summary = train_victim(config, log=lambda line: print(line, file=sys.stderr))
    except FileNotFoundError as err:  # training data that must be installed first
        raise UsageError(str(err)) from None
    print(json.dumps(summary))
    return 0


COMMANDS = {"predict": cmd_predict, "attack": cmd_attack, "explain": cmd_explain, "bench": cmd_bench, "robustness": cmd_robustness, "train-agent": cmd_train_agent, "train-victim": cmd_train_victim}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except (UsageError, InputError, VictimError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
