"""Result files written whole or not at all.

Every result file RLAB writes (reports, tables, figures, weights, agents, a run's finished phases)
is first written to a temporary file of its own name, in a hidden folder beside it, then renamed
over it (``os.replace``, atomic on one file system): a reader (the app, a resumed run) sees the
old file or the new one, never half of one, even when the writing process is killed. (A killed
process leaves at most a hidden ``.NAME.*.tmp`` folder beside the file; a power cut is another
matter: nothing here syncs the disk.) Nothing here imports torch.
"""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path for a writer that takes a file name (``torch.save``, ``savefig``, an SB3
    model's ``save``): it becomes ``path`` when the block ends, and is removed if the block raises.

    It has ``path``'s own name, in a hidden folder beside it: such writers choose their format by
    the suffix, and ``torch.save`` records the name in the file (a temporary name would make the
    same weights hash differently)."""
    path = Path(path)
    # The process and thread in the folder's name: two writers of one file never share it.
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    scratch.mkdir(parents=True, exist_ok=True)  # exist_ok: one left by a killed process of the same id
    partial = scratch / path.name
    try:
        yield partial
        os.replace(partial, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as partial:
        partial.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as partial:
        partial.write_text(text)
