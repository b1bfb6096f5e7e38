"""Reading many files as one frame (``profile.read_frames``): the eager concat of in-memory
files gives the frame the lazy concat gives, widening and uniting columns the same way."""

from __future__ import annotations

import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from workbench.data import profile
from workbench.errors import DataError


def write(folder: Path, name: str, text: str) -> tuple[str, Path]:
    path = folder / name
    path.write_text(text)
    return f"data/{name}", path


def test_in_memory_files_concatenate_as_the_lazy_concat_does(tmp_path: Path) -> None:
    files = [
        write(tmp_path, "a.csv", "x,y\n1,a\n2,b\n"),
        write(tmp_path, "b.csv", "x,y,z\n3.5,c,true\n"),  # x widens to float, z only here
        write(tmp_path, "c.csv", "y,x\nd,NA\n"),  # columns in another order, a null token
    ]
    eager = profile.read_frames(files).collect()
    lazy = profile.combine(profile.lazy_frames(files)).collect()
    assert_frame_equal(eager, lazy)
    assert eager.schema == {"x": pl.Float64, "y": pl.String, "z": pl.Boolean}
    assert eager["x"].to_list() == [1.0, 2.0, 3.5, None]
    assert eager["z"].to_list() == [None, None, True, None]


def test_files_that_cannot_be_combined_name_the_fix(tmp_path: Path) -> None:
    a = tmp_path / "a.parquet"
    b = tmp_path / "b.parquet"
    pl.DataFrame({"when": [datetime.date(2024, 1, 1)]}).write_parquet(a)
    pl.DataFrame({"when": [[1, 2]]}).write_parquet(b)  # a list where the other has a date
    with pytest.raises(DataError) as e:
        profile.read_frames([("data/a.parquet", a), ("data/b.parquet", b)]).collect()
    assert "cannot be combined" in e.value.message
    assert "same type in every file" in (e.value.hint or "")
