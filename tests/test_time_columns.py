"""Time columns as real files store them (tz-aware Parquet, fractional years, text dates) and
``init``'s guesses on files shaped as R and pandas write them (issue: ML correctness)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.conftest import copy_sample
from tests.helpers import configure
from workbench import config
from workbench.data.times import as_time, parsed_share
from workbench.model.split import split_indices


def _project(tmp_path: Path, frame: pl.DataFrame, suffix: str = ".csv") -> Path:
    root = copy_sample(tmp_path / "proj")
    (root / "data" / "batch_000.csv").unlink()
    _write(frame, root / "data" / f"batch_000{suffix}")
    configure(root, rounds=15)
    return root


def _write(frame: pl.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)


def _sample(n: int) -> pl.DataFrame:
    return pl.read_csv(
        Path(__file__).parent.parent / "sample_project" / "data" / "batch_000.csv",
        try_parse_dates=True,
        n_rows=n,
    )


@pytest.mark.parametrize(
    "values",
    [
        ["2012/01/01", "2012/03/01"],
        ["2010/01/01 00:00", "2010/01/02 13:05"],
        ["Jan 1 2000", "Feb 3 2001"],
        ["2012-01-01 00:00:00+00:00", "2012-01-01 05:00:00+02:00"],
        ["Nov 2006", "Jan 2010"],
        ["13/02/2020", "01/03/2020"],
    ],
)
def test_text_times_read_in_time_order(values: list[str]) -> None:
    parsed = as_time(pl.Series(values))
    assert parsed.null_count() == 0 and parsed[0] < parsed[1]
    assert parsed_share(pl.Series([*values, "not a time"])) == pytest.approx(2 / 3)


def test_a_timezone_aware_parquet_time_column_trains_drifts_and_watches(
    tmp_path: Path, cli
) -> None:
    rows = _sample(3000).with_columns(pl.col("event_time").dt.replace_time_zone("UTC"))
    root = _project(tmp_path, rows.head(2000), ".parquet")
    assert cli("train", cwd=root).returncode == 0
    _write(rows.tail(1000), root / "data" / "batch_001.parquet")
    drift = cli("drift", "--json", cwd=root)
    assert drift.returncode == 0, drift.stderr
    assert json.loads(drift.stdout)["current_rows"] == 1000
    watch = cli("watch", "--once", "--json", cwd=root)
    assert watch.returncode == 0, watch.stdout + watch.stderr


def test_a_fractional_year_time_column_orders_the_split_and_finds_new_rows(
    tmp_path: Path, cli
) -> None:
    rows = _sample(3000)
    year = 2000 + (pl.col("event_time").dt.epoch("s") - 1735689600) / (365.25 * 86400)
    rows = rows.with_columns(year.alias("event_time"))
    assert rows.schema["event_time"] == pl.Float64
    root = _project(tmp_path, rows.head(2000))
    settings = config.load(root)
    shuffled = rows.sample(fraction=1.0, shuffle=True, seed=1)
    _, _, hold = split_indices(shuffled, settings)
    cutoff = shuffled["event_time"].sort()[shuffled.height - len(hold)]
    assert (shuffled[hold]["event_time"] >= cutoff).all()
    assert cli("train", cwd=root).returncode == 0
    (root / "data" / "batch_001.csv").write_text(rows.tail(1000).write_csv())
    drift = cli("drift", "--json", cwd=root)
    assert drift.returncode == 0, drift.stderr
    out = json.loads(drift.stdout)
    assert out["current_rows"] == 1000 and out["note"] is None


def test_a_text_time_column_is_split_by_time_not_by_text(tmp_path: Path) -> None:
    """``%b %d %Y`` text sorted as text puts Nov 2006 after Feb 2010; as time, it is older."""
    rows = _sample(600).with_columns(
        pl.col("event_time")
        .dt.offset_by(pl.format("{}d", pl.int_range(pl.len()) * 10))
        .dt.strftime("%b %d %Y")
    )
    root = _project(tmp_path, rows)
    settings = config.load(root)
    _, _, hold = split_indices(rows, settings)
    times = as_time(rows["event_time"])
    newest = np.argsort(times.to_numpy(), kind="stable")[-len(hold) :]
    assert sorted(hold.tolist()) == sorted(newest.tolist())
    by_text = np.argsort(rows["event_time"].to_numpy(), kind="stable")[-len(hold) :]
    assert sorted(hold.tolist()) != sorted(by_text.tolist())


# ------------------------------------------------------------------ init's guesses


def _init(tmp_path: Path, frame: pl.DataFrame, target: str, cli) -> tuple[str, str]:
    root = tmp_path / "new"
    (root / "data").mkdir(parents=True)
    frame.write_csv(root / "data" / "first.csv")
    proc = cli("init", str(root), "--target", target, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return (root / "workbench.toml").read_text(), proc.stdout + proc.stderr


def test_init_recognises_a_text_time_and_excludes_a_row_index(tmp_path: Path, cli) -> None:
    rows = _sample(300)
    frame = rows.select(
        pl.int_range(1, pl.len() + 1).alias(""),  # R's write.csv row names
        pl.col("event_time").dt.strftime("%Y/%m/%d %H:%M").alias("when"),
        "tenure_months",
        "contract",
        "churned",
    )
    toml, out = _init(tmp_path, frame, "churned", cli)
    assert 'time_column = "when"' in toml and 'split = "time"' in toml
    assert 'exclude = [""]' in toml and "row index" in out
    assert "next: `workbench train`" in out


def test_init_guesses_classes_written_as_floats_and_warns_on_unique_text(
    tmp_path: Path, cli
) -> None:
    rows = _sample(300)
    frame = rows.select(
        "tenure_months",
        pl.col("customer_id").alias("ref_code"),  # text, one value per row, not named *_id
        (pl.col("num_support_tickets").clip(0, 2).cast(pl.Float64)).alias("label"),
    )
    toml, out = _init(tmp_path, frame, "label", cli)
    assert 'task = "multiclass"' in toml
    assert "ref_code" in out and "one distinct value per row" in out
