"""A seeded, bounded fuzz run over the upload loaders (ECG, image, video, ONNX): mutated valid
files may only raise the loaders' own errors, each within a few seconds (benchmarks/fuzz.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz import CASE_SECONDS, FuzzStats, corpus, mutated, run_case, warm_up

CASES = 180


@pytest.fixture(scope="module")
def files() -> dict[str, tuple[str, bytes]]:
    files = corpus()
    warm_up(files)
    return files


def test_mutated_uploads_raise_only_the_loaders_errors_in_bounded_time(files: dict[str, tuple[str, bytes]]) -> None:
    stats = FuzzStats()

    @settings(max_examples=CASES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(name=st.sampled_from(sorted(files)), seed=st.integers(0, 2**32 - 1))
    def case(name: str, seed: int) -> None:
        modality, data = files[name]
        run_case(name, modality, mutated(modality, data, np.random.default_rng(seed)), stats)

    case()
    assert sum(stats.cases.values()) >= CASES // 2 and set(stats.cases) == set(files)
    assert stats.findings == []  # escapes and slow cases
    assert max(stats.slowest.values()) <= CASE_SECONDS
    # Most cases get past the magic-number checks, or the run would only test those.
    assert stats.share_decoded() > 0.4, stats.decoded
    print(f"fuzz: {sum(stats.cases.values())} cases, {stats.share_decoded():.0%} reached a decoder, "
          f"{len(stats.findings)} escapes")
