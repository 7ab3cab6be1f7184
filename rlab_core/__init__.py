"""RLAB: probe black-box classifiers of ECG, images and video with reinforcement learning."""
from pathlib import Path

__version__ = "0.1.0"

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
