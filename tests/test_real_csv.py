"""CSV files as they come in the wild, through the real CLI: types from the whole file, missing
values written as text, and one column-kind classifier for the profile, validation and features.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import configure, cut_sample, store_of
from workbench.errors import ExitCode


@pytest.fixture
def small(project: Path) -> Path:
    cut_sample(project, 3000)
    configure(project)
    return project


def latest_profile(root: Path) -> dict:
    with store_of(root).read() as s:
        return s.snapshot(s.latest_snapshot_id()).profile


def kinds_of(profile: dict) -> dict[str, str]:
    return {c["name"]: c["kind"] for c in profile["columns"]}


def serving_spec(root: Path) -> dict:
    return json.loads((root / ".workbench" / "serving" / "model.json").read_text())["spec"]


# ------------------------------------------------------------------ one column-kind classifier


def test_a_boolean_column_has_one_kind_in_the_profile_validation_and_the_model(small, cli) -> None:
    """has_partner as true/false is Boolean: "boolean" in the profile and the model's spec; a
    batch where it turned into text is a kind change validation fails (it was "text" for
    validation before, so boolean -> text passed with a warning and scored as all-missing)."""
    data = small / "data" / "batch_000.csv"
    frame = pl.read_csv(data).with_columns(pl.col("has_partner") == "yes")
    frame.write_csv(data)
    cli("train", cwd=small, check=True)
    assert kinds_of(latest_profile(small))["has_partner"] == "boolean"
    assert serving_spec(small)["kinds"]["has_partner"] == "boolean"

    same = cli("validate", "--json", cwd=small)
    assert same.returncode == 0, same.stdout + same.stderr

    text = frame.head(400).with_columns(
        pl.when(pl.col("has_partner"))
        .then(pl.lit("yes"))
        .otherwise(pl.lit("no"))
        .alias("has_partner")
    )
    text.write_csv(small / "data" / "batch_001.csv")
    proc = cli("validate", "--json", cwd=small)
    assert proc.returncode == ExitCode.DATA, proc.stdout + proc.stderr
    checks = json.loads(proc.stdout)["checks"]
    failed = [c for c in checks if c["status"] == "fail" and c["column"] == "has_partner"]
    assert failed and "kind boolean -> categorical" in failed[0]["message"], checks
