"""Result files written whole or not at all (rlab_core/files.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlab_core.files import atomic_path, atomic_write_bytes, atomic_write_text


def test_a_file_is_replaced_whole_and_a_failed_write_leaves_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "report.json"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError), atomic_path(path) as partial:
        partial.write_text("half a")
        assert path.read_text() == "old"  # nothing seen before the block ends
        raise RuntimeError("killed midway")
    assert path.read_text() == "old"
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["report.json"]  # no temporary file left


def test_writers_see_the_files_own_name_so_the_same_weights_hash_the_same(tmp_path: Path) -> None:
    state = {"weight": torch.arange(6.0).reshape(2, 3)}
    torch.save(state, tmp_path / "direct.pt")
    with atomic_path(tmp_path / "kept" / "direct.pt") as partial:
        assert partial.name == "direct.pt"
        torch.save(state, partial)
    assert (tmp_path / "kept" / "direct.pt").read_bytes() == (tmp_path / "direct.pt").read_bytes()
