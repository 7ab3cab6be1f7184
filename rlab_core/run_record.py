"""The ``run`` record every JSON output carries: enough to know what produced a number."""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from rlab_core import ROOT, __version__

PACKAGES = ("torch", "torchvision", "numpy", "stable-baselines3", "sb3-contrib", "captum", "adversarial-robustness-toolbox")


@lru_cache(maxsize=1)
def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5,
                             check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def run_record(seed: int | None = None, victim: str | None = None, weights_sha256: str | None = None) -> dict:
    """``weights_sha256``: the hash of the network used (``Victim.sha256``; by default the built-in
    victim's shipped weights)."""
    from rlab_core.victims import file_sha256, get_profile

    return {
        "rlab_core": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "seed": seed,
        "victim": victim,
        "victim_weights_sha256": weights_sha256 or (file_sha256(get_profile(victim).weights_path) if victim else None),
    }
