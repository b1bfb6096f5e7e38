"""Drift read a column at a time (``drift_columns``): the same JSON as read whole, for CSV and
Parquet snapshots, with the temp IPC file gone after the run, and a damaged stored reference
rebuilt. ``STREAM_BYTES`` is lowered to 0 so that the small test data takes the streamed path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.helpers import configure, cut_sample, store_of, train
from workbench import config
from workbench.caches import clear_process_caches
from workbench.monitor import drift as drift_mod
from workbench.monitor.drift_columns import FrameColumns, StoredColumns

ROWS = 3000
VOLATILE = ("computed_at", "seconds")


def _result(root: Path, monkeypatch: pytest.MonkeyPatch, streamed: bool) -> dict[str, Any]:
    clear_process_caches()  # a fresh process's view: no reference frame in memory
    monkeypatch.setattr(drift_mod, "STREAM_BYTES", 0 if streamed else 1 << 60)
    kinds: list[tuple[str, str]] = []
    real_compare = drift_mod._compare

    def spy(settings: Any, model: Any, ref: Any, cur: Any) -> dict[str, Any]:
        kinds.append((type(ref).__name__, type(cur).__name__))
        return real_compare(settings, model, ref, cur)

    monkeypatch.setattr(drift_mod, "_compare", spy)
    out = drift_mod.run_drift(config.load(root), store_of(root), force=True)
    want = StoredColumns.__name__ if streamed else FrameColumns.__name__
    assert kinds == [(want, want)]  # both sides took the path asked for
    return {k: v for k, v in out.result.to_json().items() if k not in VOLATILE}


def _new_batch(root: Path, name: str) -> None:
    source = pl.read_csv(root / "data" / "batch_000.csv")
    later = pl.col("event_time").str.to_datetime() + pl.duration(days=366)
    batch = source.tail(ROWS - 7).with_columns(
        later.dt.to_string("%Y-%m-%d %H:%M:%S"),
        pl.col("monthly_charges") * 1.4,
        pl.col("contract").str.to_uppercase(),
    )
    if name.endswith(".parquet"):
        batch.write_parquet(root / "data" / name)
    else:
        batch.write_csv(root / "data" / name)


def _no_temp_left(root: Path) -> None:
    tmp = root / ".workbench" / "tmp"
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("drift-cur.")]


@pytest.fixture
def csv_trained(project: Path) -> Path:
    cut_sample(project, ROWS)
    configure(project)
    train(project)  # (train builds the drift reference: CSV rows and scores, stored)
    _new_batch(project, "batch_new.csv")
    return project


@pytest.fixture
def parquet_trained(project: Path) -> Path:
    cut_sample(project, ROWS)
    csv = project / "data" / "batch_000.csv"
    pl.read_csv(csv).write_parquet(project / "data" / "batch_000.parquet")
    _new_batch(project, "batch_new.parquet")
    (project / "data" / "batch_new.parquet").rename(project / "later.parquet")
    csv.unlink()
    configure(project)
    train(project)  # (a Parquet snapshot: the stored reference holds the scores only)
    (project / "later.parquet").rename(project / "data" / "batch_new.parquet")
    return project


def test_a_csv_batch_read_a_column_at_a_time_gives_the_same_drift(
    csv_trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _result(csv_trained, monkeypatch, streamed=False)
    streamed = _result(csv_trained, monkeypatch, streamed=True)
    assert streamed == whole
    assert whole["current_rows"] == ROWS - 7 and whole["reference_rows"] == ROWS
    assert whole["prediction_drift"] is not None and whole["target_drift"] is not None
    by_name = {f["name"]: f for f in whole["features"]}
    assert by_name["monthly_charges"]["drifted"] and by_name["contract"]["drifted"]
    _no_temp_left(csv_trained)


def test_a_parquet_batch_and_a_scores_only_reference_read_a_column_at_a_time(
    parquet_trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _result(parquet_trained, monkeypatch, streamed=False)
    streamed = _result(parquet_trained, monkeypatch, streamed=True)
    assert streamed == whole
    assert whole["current_rows"] == ROWS - 7
    _no_temp_left(parquet_trained)


def test_a_damaged_stored_reference_is_rebuilt_when_streamed(
    csv_trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _result(csv_trained, monkeypatch, streamed=False)
    store = store_of(csv_trained)
    with store.read() as s:
        number = s.champion_number()
        assert number is not None
        cached = s.drift_reference(number)
    assert cached is not None
    path = store.objects.path(cached.object_hash)
    path.chmod(0o600)
    path.write_bytes(path.read_bytes()[:100])  # a truncated Parquet file: no footer
    clear_process_caches()
    monkeypatch.setattr(drift_mod, "STREAM_BYTES", 0)
    again = drift_mod.run_drift(config.load(csv_trained), store_of(csv_trained), force=True)
    got = {k: v for k, v in again.result.to_json().items() if k not in VOLATILE}
    assert got == whole  # built again from the snapshot's rows, the same numbers
    with store.read() as s:
        rebuilt = s.drift_reference(number)
    assert rebuilt is not None
    assert pl.read_parquet(store.objects.path(rebuilt.object_hash)).height == ROWS


def test_a_failed_sink_leaves_no_temp_file(
    csv_trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: pl.LazyFrame, path: Path, **kw: Any) -> None:
        Path(path).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.LazyFrame, "sink_ipc", broken)
    monkeypatch.setattr(drift_mod, "STREAM_BYTES", 0)
    clear_process_caches()
    with pytest.raises(OSError):
        drift_mod.run_drift(config.load(csv_trained), store_of(csv_trained), force=True)
    _no_temp_left(csv_trained)


def test_a_value_past_the_sample_that_contradicts_its_type_gives_the_same_drift(
    csv_trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 12,000 rows: polars types columns from the first 10,000; the streamed read meets the
    # contradicting text while it writes the rows, and reads them again with that column
    # widened, as the whole read does
    batch = pl.read_csv(csv_trained / "data" / "batch_new.csv")
    big = pl.concat([batch] * (12_000 // batch.height + 1)).head(12_000)
    charges = big["monthly_charges"].cast(pl.String).to_list()
    charges[11_000] = "unknown"
    usage = big["data_usage_gb"].cast(pl.String).to_list()
    usage[11_500] = "NaN"  # a null value: the column stays numeric
    big = big.with_columns(pl.Series("monthly_charges", charges), pl.Series("data_usage_gb", usage))
    big.write_csv(csv_trained / "data" / "batch_new.csv")
    whole = _result(csv_trained, monkeypatch, streamed=False)
    sinks: list[str] = []
    real_sink = pl.LazyFrame.sink_ipc

    def sink(self: pl.LazyFrame, path: Path, **kw: Any) -> None:
        try:
            real_sink(self, path, **kw)
        except pl.exceptions.ComputeError:
            sinks.append("contradicted")
            raise
        sinks.append("written")

    monkeypatch.setattr(pl.LazyFrame, "sink_ipc", sink)
    streamed = _result(csv_trained, monkeypatch, streamed=True)
    assert sinks == ["contradicted", "written"]  # the one-parse sink met "unknown"
    assert streamed == whole
    assert whole["current_rows"] == 12_000
    _no_temp_left(csv_trained)
