"""Our randomisation test beside Quantus's, by hand: do they agree on the same items?

Quantus 0.6's ``MPRT`` (Hedström et al., JMLR 2023) re-initialises the layers one by one, top
down, and ``return_last_correlation`` gives the Spearman correlation once every layer is
re-initialised: Adebayo et al.'s full randomisation, as
:func:`rlab_core.explanations.randomisation_test` does. Both call each layer's own
``reset_parameters``, from different seeds, so per-item figures differ while their means should
agree. Quantus is not a dependency (its pins pull in ``opencv-python`` beside the project's headless
OpenCV), so install it apart, without its dependencies, to run this:

    pip install --no-deps --target /tmp/quantus quantus==0.6.0
    PYTHONPATH=/tmp/quantus python -m benchmarks.quantus_check [--victim image-grid-cnn] [--n 12]

Writes ``benchmarks/quantus-check.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks.explain import scored_inputs
from rlab_core.explanations import explain, randomisation_test
from rlab_core.run_record import run_record
from rlab_core.victims import Victim

OUT = Path(__file__).resolve().parent / "quantus-check.json"
METHODS = ("saliency", "ig", "gradcam", "occlusion")


def quantus_correlations(victim: Victim, xs: torch.Tensor, labels: list[int], method: str) -> list[float]:
    import quantus

    def explain_func(model, inputs, targets, **kwargs) -> np.ndarray:
        """Our map of each input on ``model`` (the trained network or Quantus's randomised copy)."""
        copy = Victim.like(model.eval(), victim.name, name="under test", weights="quantus", sha256=None)
        maps = [explain(copy, torch.as_tensor(x), int(t), (method,), rl_area=False).maps[method].values.numpy()
                for x, t in zip(inputs, targets)]
        return np.stack(maps)[:, None]

    # abs=False: our test ranks the maps as they are (Occlusion's are signed); normalising does not change a ranking.
    metric = quantus.MPRT(return_last_correlation=True, abs=False, disable_warnings=True)
    network = victim.network
    assert isinstance(network, torch.nn.Module)
    return metric(model=network, x_batch=xs.numpy(), y_batch=np.array(labels), a_batch=None, explain_func=explain_func,
                  device="cpu", batch_size=len(labels))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victim", default="image-grid-cnn")
    parser.add_argument("--n", type=int, default=12)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    victim = Victim.builtin(args.victim)
    items = scored_inputs(args.victim, args.n)
    data = victim.dataset("test")
    xs = torch.stack([data[index].x for index, _ in items])
    labels = [label for _, label in items]
    rows = []
    for method in METHODS:
        ours = [randomisation_test(victim, x, label, (method,), budget=0, seed=index)[method]
                for x, (index, label) in zip(xs, items)]
        theirs = quantus_correlations(victim, xs, labels, method)
        counted = [v for v in ours if v is not None]
        rows.append({"method": method, "rlab": round(float(np.mean(counted)), 4), "rlab_counted": len(counted),
                     "quantus": round(float(np.nanmean(theirs)), 4), "quantus_counted": int(np.isfinite(theirs).sum())})
        print(rows[-1], flush=True)
    import quantus

    report = {"run": run_record(seed=0, victim=args.victim), "victim": args.victim, "items": len(items),
              "quantus": quantus.__version__, "command": f"python -m benchmarks.quantus_check --victim {args.victim} "
                                                        f"--n {args.n}", "rows": rows}
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    OUT.with_suffix(".md").write_text(markdown(report))


def markdown(report: dict) -> str:
    rows = report["rows"]
    gap = max(abs(r["rlab"] - r["quantus"]) for r in rows)
    lines = [f"# The randomisation test beside Quantus {report['quantus']}'s MPRT", "",
             f"`{report['command']}` (Quantus installed apart, `--no-deps`): mean Spearman correlation between each "
             f"method's map on `{report['victim']}` and on the same network with every layer re-initialised, over the "
             f"first {report['items']} explanations of the explanation benchmark. Both re-initialise through each "
             "layer's `reset_parameters`, from different seeds, and rank the maps as they are (Quantus's `abs=False`).",
             "", "| method | RLAB (items) | Quantus MPRT, every layer re-initialised (items) |", "|---|---|---|"]
    lines += [f"| {r['method']} | {r['rlab']:.3f} ({r['rlab_counted']}) | {r['quantus']:.3f} ({r['quantus_counted']}) |"
              for r in rows]
    lines += ["", f"The two means differ by at most {gap:.3f}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
