"""RLAB: probe black-box classifiers of ECG, images and video with reinforcement learning.

The public API, for a notebook or a script::

    import rlab_core as rlab

    victim = rlab.Victim.from_torch(my_module, like="image-cnn")  # or Victim.builtin("image-cnn")
    result = rlab.attack(victim, x)                                # the RL agent; method="random", ...
    maps = rlab.explain(victim, x, methods=("rl", "occlusion"))
    report = rlab.benchmark("image-cnn", ("rl", "random"), n=20, out="bench.json")
    hardened = rlab.harden("image-cnn", preset="quick")
"""
from pathlib import Path

__version__ = "0.1.0"

ROOT: Path = Path(__file__).resolve().parents[1]
ASSETS: Path = ROOT / "assets"


def relative_to_root(path: Path) -> str:
    """``path`` as reports and pages show it: relative to the repository when it lies inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# After ROOT and ASSETS, which the victims read while they load.
from rlab_core.api import attack, benchmark, explain, harden  # noqa: E402
from rlab_core.callbacks import Callback, Log, Record  # noqa: E402
from rlab_core.victims import BlackBox, Victim, VictimError  # noqa: E402

__all__ = ["ASSETS", "ROOT", "BlackBox", "Callback", "Log", "Record", "Victim", "VictimError", "__version__", "attack",
           "benchmark", "explain", "harden", "relative_to_root"]
