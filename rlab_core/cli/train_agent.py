"""``rlab train-agent``: train a built-in victim's RL agent (its profile's recipe) and save it in ``assets/agents/``."""
from __future__ import annotations

import argparse
import json

from rlab_core.cli.common import STDERR, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--victim", required=True)
    parser.add_argument("--steps", type=int, help="PPO steps (default: the victim's recipe)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from rlab_core.agents.agent import recipe, train_agent
    from rlab_core.victims.profiles import get_profile

    get_profile(args.victim)
    try:
        config = recipe(args.victim, args.steps, args.seed)
    except ValueError as err:
        raise UsageError(str(err)) from None
    agent = train_agent(config, [STDERR])
    print(json.dumps({"victim": args.victim, "validation": agent.meta["validation"], "chosen": agent.meta["chosen"]}))
    return 0
