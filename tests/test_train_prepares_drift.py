"""``workbench train`` builds a new champion's drift reference before it exits (as a watch
cycle does after its last event), so the first ``workbench drift`` against it does not read
and score the training rows again."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tests.helpers import configure, cut_sample, store_of


def reference_of(root: Path, number: int) -> tuple[str, int] | None:
    with store_of(root).read() as s:
        ref = s.drift_reference(number)
    return None if ref is None else (ref.object_hash, ref.rows)


def test_a_promotion_leaves_the_drift_reference_ready(project: Path, cli) -> None:
    cut_sample(project, 2000)
    configure(project)
    out = json.loads(cli("train", "--json", cwd=project, check=True).stdout)
    version = out["version"]
    assert version["status"] == "champion"
    number = int(version["version"].lstrip("v"))
    ready = reference_of(project, number)
    assert ready is not None
    digest, rows = ready
    assert rows == version["rows"] == 2000
    assert store_of(project).objects.exists(digest)

    batch = pl.read_csv(project / "data" / "batch_000.csv").head(500)
    later = pl.col("event_time").str.to_datetime() + pl.duration(days=366)  # new rows: later
    batch.with_columns(later.dt.to_string("%Y-%m-%d %H:%M:%S")).write_csv(
        project / "data" / "batch_001.csv"
    )
    drift = json.loads(cli("drift", "--json", cwd=project, check=True).stdout)
    assert drift["reference_rows"] == 2000 and drift["current_rows"] == 500
    assert reference_of(project, number) == ready  # used as it was: not built again

    again = json.loads(cli("train", "--force", "--json", cwd=project, check=True).stdout)
    candidate = again["version"]
    if candidate["status"] != "champion":  # kept: a version that is not the champion gets none
        assert reference_of(project, int(candidate["version"].lstrip("v"))) is None
