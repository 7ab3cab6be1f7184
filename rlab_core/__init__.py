"""RLAB: probe black-box classifiers of ECG, images and video with reinforcement learning."""
from pathlib import Path

__version__ = "0.1.0"

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"


def relative_to_root(path: Path) -> str:
    """``path`` as reports and pages show it: relative to the repository when it lies inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
