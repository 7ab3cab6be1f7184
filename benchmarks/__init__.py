"""Scripts that make every published figure; run each from the repository root as ``python -m benchmarks.NAME``."""
