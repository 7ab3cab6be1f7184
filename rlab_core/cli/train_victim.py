"""``rlab train-victim``: train a built-in victim (its profile's settings) and save its weights in ``assets/victims/``."""
from __future__ import annotations

import argparse
import json

from rlab_core.cli.common import STDERR, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--victim", required=True)
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from rlab_core.victims.profiles import get_profile
    from rlab_core.victims.train import config_for, train_victim

    get_profile(args.victim)
    try:
        config = config_for(args.victim, args.seed)
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        summary = train_victim(config, [STDERR])
    except FileNotFoundError as err:  # training data that must be installed first
        raise UsageError(str(err)) from None
    print(json.dumps(summary))
    return 0
