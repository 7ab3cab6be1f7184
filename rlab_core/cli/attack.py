"""``rlab attack``: attack one input with any attack of the registry (default: the victim's RL agent)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlab_core.attacks.registry import ATTACKS, parameters, required_parameters
from rlab_core.cli.common import (
    STDERR,
    UsageError,
    add_budget_argument,
    add_input_arguments,
    add_model_argument,
    add_weights_argument,
    check_budget,
    chosen_input,
    chosen_victim,
    network_record,
    resolve_victim,
    stopped_summary,
    write_stopped,
)

if TYPE_CHECKING:
    from rlab_core.attacks import Attack
    from rlab_core.victims import Victim

# Options that set an attack's own parameter, by parameter: an attack that does not declare it refuses it.
PARAMETER_OPTIONS = {"strength": "--strength", "eps": "--eps", "l2_limit": "--l2-limit"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    add_model_argument(parser)
    parser.add_argument("--attacker", choices=tuple(ATTACKS), default="rl",
                        help="rl: the victim's shipped agent; adaptive: the agent trained again against the hardened "
                             "--weights (see the robustness command); random: random order, the reference; greedy: "
                             "the published search; square, square_linf, simba: ART's attacks")
    parser.add_argument("--filter", default="mix",
                        help="the patch attacks' filter: a name, 'mix' (the attack picks per step) or a comma list")
    parser.add_argument("--strength", type=float, help="the filter's strength (one filter only)")
    parser.add_argument("--filter-module", action="append", default=[], help="import a module that registers filters")
    parser.add_argument("--eps", type=float, help="square: the L2 radius (required); square_linf: the Linf radius "
                                                  "(default 0.05); in [0, 1] input scale")
    parser.add_argument("--l2-limit", type=float, help="simba: stop past this L2 distance (required)")
    add_weights_argument(parser)
    add_budget_argument(parser)
    parser.add_argument("--max-patches", type=int, help="patch cap of the patch attacks (default: 20%% of the grid)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write trajectory.json, result.json, the adversarial input and the "
                                                 "mask here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def chosen_attack(args: argparse.Namespace, victim: Victim) -> Attack:
    """The ``--attacker`` built with the options it declares; an option it does not take is refused."""
    from rlab_core.agents.agent import load_adaptive_agent, load_agent
    from rlab_core.attacks import make_attack

    declared = parameters(args.attacker)
    given = {name: getattr(args, name) for name in PARAMETER_OPTIONS if getattr(args, name) is not None}
    refused = [PARAMETER_OPTIONS[name] for name in given if name not in declared]
    if refused:
        raise UsageError(f"--attacker {args.attacker} takes no {', '.join(refused)}")
    params: dict[str, Any] = dict(given)
    if "filter" in declared:
        params["filter"] = args.filter
    if args.attacker == "rl":
        params["agent"] = load_agent(victim, [STDERR])
    elif args.attacker == "adaptive":
        params["agent"] = load_adaptive_agent(victim, [STDERR])
    if args.max_patches is not None and not ATTACKS[args.attacker].uses_patches:
        raise UsageError(f"--attacker {args.attacker} has no patch cap: it does not take --max-patches")
    missing = [PARAMETER_OPTIONS[p] for p in required_parameters(args.attacker) if p not in params]
    if missing:
        raise UsageError(f"--attacker {args.attacker} needs {', '.join(missing)}")
    try:
        return make_attack(args.attacker, **params)
    except ValueError as err:  # a value the attack refuses (a negative --eps)
        raise UsageError(f"--attacker {args.attacker}: {err}") from None


def run(args: argparse.Namespace) -> int:
    from rlab_core.agents.agent import AgentError
    from rlab_core.attacks.output import write_attack
    from rlab_core.callbacks import Record
    from rlab_core.filters import FilterError, load_filter_modules, resolve_filters
    from rlab_core.victims.jail import ModelStopped

    name = resolve_victim(args.modality, args.victim)
    check_budget(args.budget)
    try:
        load_filter_modules(args.filter_module)
        resolve_filters(args.filter)
        sample = chosen_input(args, name)
        if args.model is not None and args.attacker == "adaptive":
            raise UsageError("--attacker adaptive attacks hardened --weights, not a --model")
        victim = chosen_victim(args, name)  # a model stopped while loading is refused: no run yet
        attack = chosen_attack(args, victim)
    except (FilterError, AgentError) as err:
        raise UsageError(str(err)) from None
    head = {**network_record(victim, name, args.seed), "modality": args.modality, "victim": name,
            "input": sample.name, "attacker": args.attacker, "filter": args.filter, "budget": args.budget}
    steps = Record()
    try:
        result = attack.run(victim, sample.x, sample.y, budget=args.budget, max_patches=args.max_patches,
                            seed=args.seed, callbacks=[steps])
    except ModelStopped as stopped:
        write_stopped(args, {**head, **stopped_summary(stopped)}, "result.json",
                      {"trajectory.json": [step.to_dict() for step in steps.steps]})
        raise
    summary = {**head, **result.summary()}
    if args.out:
        write_attack(args.out, result, sample, summary, victim)
    if args.json:
        print(json.dumps(summary))
    elif result.already_misclassified:
        print(f"{sample.name}: already misclassified as {result.adversarial_label_name}; nothing to attack")
    else:
        verdict = f"fooled: {result.label_name} -> {result.adversarial_label_name}" if result.success else "not fooled"
        print(f"{sample.name}: {verdict} after {result.queries} queries ({result.queries_total} with pruning), "
              f"{result.l0_patches} patches, L2 {result.l2:.3f}, Linf {result.linf:.3f}")
    return 0
