"""Add a newly shipped agent to ``agents.json``, recorded as the older ones were: the RL attack
with the mixture, budget 60, on test items 0 and 1 of its victim (seed = the item's index), every
step's action, filter and patch. From then on ``tests/test_behaviour.py`` replays it.

Usage: python -m benchmarks.behaviour.record_agent image-grid-cnn.zip --victim image-grid-cnn [--weights shipped]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlab_core.agents.agent import AGENTS, load_agent
from rlab_core.attacks import RLAttack
from rlab_core.victims import Victim

RECORD = Path(__file__).resolve().parent / "agents.json"
BUDGET, FILTER, ITEMS = 60, "mix", (0, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="the agent's file name in assets/agents/")
    parser.add_argument("--victim", required=True)
    parser.add_argument("--weights", default="shipped")
    args = parser.parse_args(argv)
    victim = Victim.builtin(args.victim, args.weights)
    agent = load_agent(victim, path=AGENTS / args.file)
    attacks = []
    for index in ITEMS:
        sample = victim.dataset("test")[index]
        result = RLAttack(agent, FILTER).run(victim, sample.x, sample.y, budget=BUDGET, seed=index)
        attacks.append({"index": index, "success": result.success, "queries": result.queries,
                        "queries_total": result.queries_total,
                        "steps": [[t.action, t.filter, t.patch] for t in result.trajectory]})
    record = json.loads(RECORD.read_text())
    record[args.file] = {"victim": args.victim, "weights": args.weights, "budget": BUDGET, "filter": FILTER,
                         "attacks": attacks}
    RECORD.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
