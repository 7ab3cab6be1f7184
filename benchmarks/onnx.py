"""Bring your own model: each trained victim exported to ONNX and probed in place of its network.

For every trained victim: the exported file's size; on the first ``--n`` test items, how often the
ONNX model's top-1 equals the shipped network's and the largest probability difference; the time
of one query (one input, as an attack sends them) through each, as a ratio measured in the same
run; and the RL attack (the victim's shipped agent, mixture, budget 1,000) on the first
``--attacks`` correctly classified test items against each, counting the attacks whose outcome and
query count are the same. One torch thread, one ONNX Runtime thread.

Usage: python -m benchmarks.onnx [--n 500] [--attacks 20] [--victims ecg-cnn,image-cnn,video-cnn]
Writes benchmarks/onnx.json and onnx.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from rlab_core.agents.agent import load_agent
from rlab_core.attacks import RLAttack
from rlab_core.robustness import shipped_copy
from rlab_core.run_record import run_record
from rlab_core.victims import Victim, get_profile

OUT = Path(__file__).resolve().parent
TIMED_QUERIES = 200


def export(victim: str, path: Path, network: torch.nn.Module | None = None) -> None:
    """The victim's shipped network (or ``network``, which takes the victim's input) as ONNX at ``path``."""
    spec = get_profile(victim)
    module = shipped_copy(victim) if network is None else network
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        # The stub wants a tuple of inputs; torch.onnx.export takes one bare tensor too (and wraps it itself).
        torch.onnx.export(module.eval(), torch.rand(1, *spec.input_shape),  # type: ignore[arg-type]
                          path, dynamo=False, input_names=["x"], output_names=["scores"], dynamic_axes={"x": {0: "batch"}})


def query_ms(victim: Victim, inputs: torch.Tensor) -> float:
    """Median milliseconds of one single-input query."""
    times = []
    for x in inputs:
        started = time.perf_counter()
        victim.probabilities(x)
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def measure(victim: str, n: int, n_attacks: int) -> dict:
    spec = get_profile(victim)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{victim}.onnx"
        export(victim, path)
        model = Victim.from_onnx(path, like=victim)
        size = path.stat().st_size
    shipped_victim = Victim.builtin(victim)
    data = spec.dataset("test")
    items = [data[i] for i in range(min(n, len(data)))]
    x = torch.stack([item.x for item in items])
    shipped = torch.cat([torch.from_numpy(shipped_victim.probabilities(chunk)) for chunk in x.split(50)])
    onnx = torch.cat([torch.from_numpy(model.probabilities(chunk)) for chunk in x.split(50)])
    timed = x[:TIMED_QUERIES]
    torch_ms, onnx_ms = query_ms(shipped_victim, timed), query_ms(model, timed)

    attack = RLAttack(load_agent(victim))
    targets = [item for item, probs in zip(items, shipped) if int(probs.argmax()) == item.y][:n_attacks]
    same, seconds = 0, {"torch": 0.0, "onnx": 0.0}
    for item in targets:
        started = time.perf_counter()
        on_torch = attack.run(shipped_victim, item.x, item.y)
        seconds["torch"] += time.perf_counter() - started
        started = time.perf_counter()
        on_onnx = attack.run(model, item.x, item.y)
        seconds["onnx"] += time.perf_counter() - started
        same += (on_torch.success, on_torch.queries) == (on_onnx.success, on_onnx.queries)
    return {
        "onnx_bytes": size,
        "inputs": len(items),
        "top1_agreement": round(float((shipped.argmax(-1) == onnx.argmax(-1)).float().mean()), 4),
        "max_probability_difference": float(f"{(shipped - onnx).abs().max():.2e}"),
        "query_ms": {"torch": round(torch_ms, 3), "onnx": round(onnx_ms, 3), "ratio": round(onnx_ms / torch_ms, 2)},
        "attacks": len(targets),
        "attacks_with_the_same_outcome_and_queries": same,
        "attack_seconds": {k: round(v, 2) for k, v in seconds.items()},
    }


def markdown(report: dict) -> str:
    lines = ["# Your own model: the trained victims exported to ONNX", "",
             f"Made by `{report['command']}` on {report['machine']} (seed-free: the splits and the agents are fixed).", "",
             ("| victim | ONNX file | inputs | same top-1 | largest prob. difference | ms per query: torch / ONNX (ratio) "
              "| RL attacks with the same outcome and queries |"), "|---|---|---|---|---|---|---|"]
    for victim, r in report["victims"].items():
        q = r["query_ms"]
        lines.append(f"| `{victim}` | {r['onnx_bytes'] / 2**10:.0f} KB | {r['inputs']} | {r['top1_agreement']:.2%} | "
                     f"{r['max_probability_difference']:.1e} | {q['torch']:.2f} / {q['onnx']:.2f} ({q['ratio']:.2f}x) | "
                     f"{r['attacks_with_the_same_outcome_and_queries']} of {r['attacks']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="test items compared")
    parser.add_argument("--attacks", type=int, default=20, help="RL attacks run against each network")
    parser.add_argument("--victims", default="ecg-cnn,image-cnn,video-cnn")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    victims = args.victims.split(",")
    report = {"run": run_record(), "command": "python -m benchmarks.onnx" + "".join(
                  f" --{k} {v}" for k, v in vars(args).items() if v != parser.get_default(k)),
              "machine": f"{platform.machine()}, 1 torch thread, 1 ONNX Runtime thread",
              "victims": {victim: measure(victim, args.n, args.attacks) for victim in victims}}
    (OUT / "onnx.json").write_text(json.dumps(report, indent=1))
    (OUT / "onnx.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
