"""``rlab`` (``python -m rlab_core``): the command line. Bad input exits with code 2 and one line on stderr.

One module per command, in :data:`COMMANDS`. Each declares its options (``add_arguments``) with
nothing heavier than argparse imported, and imports what it needs only when it runs (``run``): so
``predict`` starts without Stable-Baselines3, gymnasium, ART or ``torchvision.models``.
"""
from __future__ import annotations

import importlib
import sys

from rlab_core.cli.common import Parser, UsageError

# name -> (module, help). The modules are imported to declare their options, not to run.
COMMANDS = {
    "predict": ("rlab_core.cli.predict", "classify one input with a victim"),
    "attack": ("rlab_core.cli.attack", "attack one input (the victim's RL agent, or another attack)"),
    "explain": ("rlab_core.cli.explain", "explain the victim's decision: RL maps beside Captum's"),
    "bench": ("rlab_core.cli.bench", "many test inputs x many attacks -> one results table (local or on Ray)"),
    "robustness": ("rlab_core.cli.robustness", "adversarial fine-tuning against the RL agent; the before/after report"),
    "train-agent": ("rlab_core.cli.train_agent", "train a victim's RL agent and save it in assets/agents/"),
    "train-victim": ("rlab_core.cli.train_victim", "train a built-in victim and save its weights in assets/"),
}


def build_parser() -> Parser:
    parser = Parser(prog="rlab", description="Probe black-box classifiers of ECG, images and video.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, (module, help) in COMMANDS.items():
        importlib.import_module(module).add_arguments(commands.add_parser(name, help=help))
    return parser


def main(argv: list[str] | None = None) -> int:
    from rlab_core.decode import InputError
    from rlab_core.victims.profiles import VictimError

    try:
        args = build_parser().parse_args(argv)
        return int(importlib.import_module(COMMANDS[args.command][0]).run(args))
    except (UsageError, InputError, VictimError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
