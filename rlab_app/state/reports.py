"""The JSON reports of the Robustness and Benchmark pages, cached and re-read when their file changes."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from rlab_core import robustness
from rlab_core.background import read_json
from rlab_core.bench import BenchReport
from rlab_core.robustness import RobustnessReport


def json_report(path: Path) -> dict | None:
    """The JSON report at ``path`` (``None`` while there is none or it cannot be read), re-read
    when the file changes."""
    path = Path(path)
    return _json_report(str(path), path.stat().st_mtime_ns) if path.exists() else None


@st.cache_data(show_spinner=False, max_entries=32)
def _json_report(path: str, modified: int) -> dict | None:
    return read_json(Path(path))


def robustness_report(path: Path) -> RobustnessReport | None:
    """The robustness report at ``path``, if it is one (:func:`json_report`)."""
    data = json_report(path)
    if not isinstance(data, dict):
        return None
    try:
        return RobustnessReport.from_json(data)
    except (KeyError, TypeError):  # a report missing some of its parts
        return None


@st.cache_data(show_spinner=False, max_entries=64)
def robustness_sample(victim: str, entry: dict):
    """A report's sample rebuilt from the test split and its trajectory (no query)."""
    return robustness.replay_sample(victim, entry)


def bench_report(path: Path) -> BenchReport | None:
    """The benchmark report at ``path``, if it is one (:func:`json_report`): a stopped run's record,
    or any other JSON, is none."""
    data = json_report(path)
    if not isinstance(data, dict) or not {"rows", "curves", "budget"} <= data.keys():
        return None
    try:
        return BenchReport.from_json(data)
    except (KeyError, TypeError):  # a report missing some of its parts
        return None
