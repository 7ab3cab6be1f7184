"""The layout issue 14 set: the library imports neither Streamlit nor Plotly (the app, in
``rlab_app``, builds on it), and no module grows past a length one reads in a sitting."""
from __future__ import annotations

import subprocess
import sys

from rlab_core import ROOT

MAX_LINES = 450

# Every module of rlab_core imported with Streamlit and Plotly unimportable: any ImportError names
# the module and what it reached for. __main__ runs the command line when imported, so it is skipped.
IMPORT_ALL_WITHOUT_THE_APP = """
import importlib, pkgutil, sys, traceback
sys.modules["streamlit"] = None
sys.modules["plotly"] = None
import rlab_core
failed = []
for module in pkgutil.walk_packages(rlab_core.__path__, "rlab_core.", onerror=failed.append):
    if module.name.endswith(".__main__"):
        continue
    try:
        importlib.import_module(module.name)
    except ImportError:
        failed.append(module.name + ": " + traceback.format_exc(limit=-1).strip().splitlines()[-1])
print("\\n".join(map(str, failed)))
"""


def test_rlab_core_and_every_submodule_import_without_streamlit_or_plotly() -> None:
    out = subprocess.run([sys.executable, "-c", IMPORT_ALL_WITHOUT_THE_APP], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"modules that need Streamlit or Plotly:\n{out.stdout}"


def test_no_module_of_the_library_or_the_app_is_longer_than_450_lines() -> None:
    lengths = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
               for package in ("rlab_core", "rlab_app") for path in sorted((ROOT / package).rglob("*.py"))}
    too_long = {path: n for path, n in lengths.items() if n > MAX_LINES}
    assert not too_long, f"over {MAX_LINES} lines: {too_long}"
