"""Drift's reference cache and the reads around it: what the cached object holds (the scores
alone for a Parquet snapshot, the rows too for CSV), the columns read, the current rows freed
column by column, and categorical counts taken in polars — every number against scipy/numpy.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats as sp
from scipy.spatial import distance

from tests.helpers import configure, cut_sample, store_of, train
from workbench import config
from workbench.caches import clear_process_caches
from workbench.data.profile import read_frames
from workbench.model.loading import load_version
from workbench.monitor import drift as drift_mod
from workbench.monitor import histograms as drift_hist
from workbench.monitor import stats as drift_stats
from workbench.monitor.drift_columns import FrameColumns, value_counts
from workbench.store import Store
from workbench.store.session import FileRecord

REL = 1e-9
ROWS = 3000


def _as_parquet(root: Path) -> Path:
    csv = root / "data" / "batch_000.csv"
    frame = pl.read_csv(csv)
    frame.write_parquet(root / "data" / "batch_000.parquet")
    csv.unlink()
    return root / "data" / "batch_000.parquet"


def _new_batch(root: Path, source: pl.DataFrame, name: str) -> pl.DataFrame:
    """The reference rows but one, a year later, with drifted monthly charges."""
    stamp = pl.col("event_time").str.to_datetime() + pl.duration(days=366)
    batch = source.tail(source.height - 1).with_columns(
        stamp.dt.to_string("%Y-%m-%d %H:%M:%S"), pl.col("monthly_charges") * 1.5
    )
    if name.endswith(".parquet"):
        batch.write_parquet(root / "data" / name)
    else:
        batch.write_csv(root / "data" / name)
    return batch


@pytest.fixture
def parquet_trained(project: Path) -> Path:
    cut_sample(project, ROWS)
    _as_parquet(project)
    configure(project)
    train(project)
    return project


def _run(root: Path, **kw: object) -> drift_mod.DriftOutcome:
    return drift_mod.run_drift(config.load(root), store_of(root), **kw)  # type: ignore[arg-type]


def _reference_object(root: Path) -> pl.DataFrame:
    store = store_of(root)
    with store.read() as s:
        number = s.champion_number()
        assert number is not None
        ref = s.drift_reference(number)
    assert ref is not None
    return pl.read_parquet(store.objects.path(ref.object_hash))


def _model(root: Path):  # type: ignore[no-untyped-def]
    store = store_of(root)
    with store.read() as s:
        return load_version(store.objects, s.champion())


def test_a_parquet_snapshot_caches_only_the_scores_and_equals_scipy(
    parquet_trained: Path,
) -> None:
    source = pl.read_parquet(parquet_trained / "data" / "batch_000.parquet")
    batch = _new_batch(parquet_trained, source, "batch_new.parquet")
    first = _run(parquet_trained).result.to_json()
    assert (first["reference_rows"], first["current_rows"]) == (ROWS, ROWS - 1)

    cached = _reference_object(parquet_trained)
    assert cached.columns == [drift_mod.PREDICTION] and cached.height == ROWS
    model = _model(parquet_trained)
    ref_scores = model.predict(source).reshape(-1)
    assert np.array_equal(cached[drift_mod.PREDICTION].to_numpy(), ref_scores)

    by_name = {f["name"]: f for f in first["features"]}
    r, c = source["monthly_charges"].drop_nulls(), batch["monthly_charges"].drop_nulls()
    want = sp.wasserstein_distance(r, c) / max(float(np.std(r.to_numpy())), 0.001)
    charges = by_name["monthly_charges"]
    assert charges["method"] == "wasserstein" and charges["drifted"]
    assert charges["score"] == pytest.approx(want, rel=REL)
    levels = sorted(set(source["contract"].drop_nulls()) | set(batch["contract"].drop_nulls()))
    rc, cc = Counter(source["contract"].drop_nulls()), Counter(batch["contract"].drop_nulls())
    p = np.array([rc[v] for v in levels], dtype=float)
    q = np.array([cc[v] for v in levels], dtype=float)
    assert by_name["contract"]["score"] == pytest.approx(distance.jensenshannon(p, q), rel=REL)
    cur_scores = model.predict(batch).reshape(-1)
    pred = first["prediction_drift"]
    want = sp.wasserstein_distance(ref_scores, cur_scores) / max(float(np.std(ref_scores)), 0.001)
    assert pred["method"] == "wasserstein" and pred["score"] == pytest.approx(want, rel=REL)
    assert first["target_drift"]["name"] == "churned"

    # a later run (a new process) reads the rows again from the snapshot's Parquet object
    clear_process_caches()
    again = _run(parquet_trained, force=True).result.to_json()
    for key in ("features", "prediction_drift", "target_drift", "reference_rows"):
        assert again[key] == first[key], key


def test_a_csv_snapshot_caches_its_rows_with_the_scores(project: Path) -> None:
    cut_sample(project, ROWS)
    configure(project)
    train(project)
    source = pl.read_csv(project / "data" / "batch_000.csv")
    _new_batch(project, source, "batch_new.csv")
    first = _run(project).result.to_json()
    cached = _reference_object(project)
    spec = _model(project).spec
    assert set(cached.columns) == {*spec.features, spec.target, "event_time", "__prediction"}
    clear_process_caches()
    again = _run(project, force=True).result.to_json()
    assert again["features"] == first["features"]
    assert again["prediction_drift"] == first["prediction_drift"]


def test_scores_that_do_not_fit_the_rows_are_set_aside_and_built_again(
    parquet_trained: Path,
) -> None:
    source = pl.read_parquet(parquet_trained / "data" / "batch_000.parquet")
    _new_batch(parquet_trained, source, "batch_new.parquet")
    first = _run(parquet_trained).result.to_json()
    store = store_of(parquet_trained)
    with store.read() as s:
        number = s.champion_number()
        assert number is not None
        ref = s.drift_reference(number)
    assert ref is not None
    path = store.objects.path(ref.object_hash)
    pl.DataFrame({drift_mod.PREDICTION: [0.5] * 10}).write_parquet(path)  # 10 scores, not 3000
    clear_process_caches()
    again = _run(parquet_trained, force=True).result.to_json()
    assert again["features"] == first["features"]
    with store.read() as s:
        rebuilt = s.drift_reference(number)
    assert rebuilt is not None and rebuilt.rows == ROWS
    assert pl.read_parquet(store.objects.path(rebuilt.object_hash)).height == ROWS


def _stored(store: Store, path: Path) -> FileRecord:
    digest, size = store.objects.put_file(path)
    return FileRecord(path.name, digest, size, None, "data")


def test_only_the_wanted_columns_are_read_and_every_file_adds_its_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / ".workbench")
    store.objects.ensure()
    a = tmp_path / "a.parquet"
    pl.DataFrame({"x": [1.0, 2.0], "y": ["p", "q"], "junk": [0, 0]}).write_parquet(a)
    b = tmp_path / "b.parquet"
    pl.DataFrame({"junk2": [1, 2, 3]}).write_parquet(b)  # none of the wanted columns
    c = tmp_path / "c.csv"
    c.write_text("y,x,z\nr,3,9\n,4.5,9\n")
    files = [_stored(store, p) for p in (a, b, c)]
    got = drift_mod._read_rows(store, files, ["x", "y", "missing"], ("",))
    full = read_frames(
        [(f.path, store.objects.path(f.hash)) for f in files], {f.path: f.hash for f in files}
    ).collect()
    assert got.columns == ["x", "y"]
    assert_frame_equal(got, full.select("x", "y"))
    assert got.height == 2 + 3 + 2
    d = tmp_path / "d.csv"
    d.write_text("x,y\n5,s\n")
    csv_only = [files[2], _stored(store, d)]  # CSV alone: read as profile.read_frames reads it
    labelled = [(f.path, store.objects.path(f.hash)) for f in csv_only]
    want = read_frames(labelled, {f.path: f.hash for f in csv_only}).collect().select("x", "y")
    assert_frame_equal(drift_mod._read_rows(store, csv_only, ["x", "y", "missing"], ("",)), want)
    assert want.height == 3


def test_the_statistics_drop_each_current_column_when_done(parquet_trained: Path) -> None:
    source = pl.read_parquet(parquet_trained / "data" / "batch_000.parquet")
    batch = _new_batch(parquet_trained, source, "batch_new.parquet")
    settings = config.load(parquet_trained)
    model = _model(parquet_trained)
    ref = source.with_columns(drift_mod._prediction_series(model, source))
    cur = FrameColumns(batch)
    out = drift_mod._compare(settings, model, ref, cur)
    assert cur.columns.keys() == set(batch.columns) - {*model.spec.features, model.spec.target}
    want = drift_mod.compare_frames(
        ref, batch, {f: drift_mod._kind(model.spec.kinds[f]) for f in model.spec.features}
    )
    assert out["features"] == want and out["target_drift"] is not None


def _strings(col: pl.Series) -> np.ndarray:
    return np.array(col.cast(pl.String).drop_nulls().to_list(), dtype=object)


@pytest.mark.parametrize(
    "values",
    [
        (["a", "b", None, "b", "é", "B"], ["b", "c", "c", None]),
        ([3, 1, None, 1, -2, 10], [1, 1, 2, 10]),
        ([0.0, -0.0, float("nan"), 1.5, None, 1.5], [1.5, 0.0, 2.0]),
        ([True, False, True, None], [True, True]),
    ],
    ids=["text", "ints", "floats", "bools"],
)
def test_level_counts_are_the_counts_of_the_values_as_text(
    values: tuple[list[object], list[object]],
) -> None:
    ref, cur = pl.Series("v", values[0], strict=False), pl.Series("v", values[1], strict=False)
    levels, r_counts, c_counts = drift_mod._level_counts(value_counts(ref), value_counts(cur))
    r_text, c_text = _strings(ref), _strings(cur)
    keys, want_r, want_c = drift_stats.union_counts(r_text, c_text)
    assert levels == pl.Series(list(keys), dtype=pl.String).sort().to_list()
    assert levels == sorted(keys, key=lambda s: s.encode())  # polars orders text by its bytes
    assert r_counts.tolist() == want_r.tolist() and c_counts.tolist() == want_c.tolist()
    by_counts = drift_stats.categorical_drift("v", r_counts, c_counts)
    assert by_counts == drift_stats.feature_drift("v", "categorical", r_text, c_text)


def test_categorical_drift_from_counts_equals_scipy() -> None:
    rng = np.random.default_rng(4)
    ref = rng.choice(["a", "b", "c", "d"], 5000, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(["a", "b", "c", "e"], 3000, p=[0.25, 0.25, 0.25, 0.25])
    counted = value_counts(pl.Series(ref)), value_counts(pl.Series(cur))
    levels, r_counts, c_counts = drift_mod._level_counts(*counted)
    assert levels == ["a", "b", "c", "d", "e"]
    js = drift_stats.categorical_drift("x", r_counts, c_counts)
    assert js["method"] == "jensenshannon" and js["n_ref"] == 5000 and js["n_cur"] == 3000
    assert js["score"] == pytest.approx(distance.jensenshannon(r_counts, c_counts), rel=REL)
    small_r, small_c = np.array([40, 30, 30]), np.array([20, 50, 30])
    chi = drift_stats.categorical_drift("x", small_r, small_c)
    expected = small_r / small_r.sum() * small_c.sum()
    assert chi["method"] == "chisquare"
    assert chi["score"] == pytest.approx(sp.chisquare(small_c, expected).pvalue, rel=REL)
    empty = drift_stats.categorical_drift("x", np.array([3, 0]), np.array([0, 0]))
    assert empty["score"] is None and empty["n_ref"] == 3 and empty["method"] == "z"
    want = drift_hist.categorical(
        np.repeat(np.arange(5), r_counts), np.repeat(np.arange(5), c_counts), levels
    )
    assert drift_hist.categorical_counts(r_counts, c_counts, levels) == want


def test_a_failed_current_read_is_raised_where_the_rows_are_taken() -> None:
    def fail() -> pl.DataFrame:
        raise ValueError("unreadable batch")

    later = drift_mod._Later(fail, "test")
    with pytest.raises(ValueError, match="unreadable batch"):
        later.take()
    frame = pl.DataFrame({"x": [1]})
    assert drift_mod._Later(lambda: frame, "test").take() is frame


@pytest.mark.parametrize("dtype", [pl.Int64, pl.Int32, pl.UInt64, pl.UInt8])
def test_integers_sorted_as_integers_are_the_floats_sorted(dtype: pl.DataType) -> None:
    rng = np.random.default_rng(8)
    values: list[int | None] = rng.integers(0, 200, 5000).tolist()
    values[::7] = [None] * len(values[::7])
    col = pl.Series("i", values, dtype=dtype)
    want = drift_stats.sorted_numbers(col.cast(pl.Float64).to_numpy())
    got = drift_mod._sorted_floats(col)
    assert got.dtype == np.float64 and np.array_equal(got, want)
    assert want.size == col.drop_nulls().len()
    big = pl.Series("i", [2**62 + 1, -5, 2**53 + 1, 2**53, None], dtype=pl.Int64)
    want = drift_stats.sorted_numbers(big.cast(pl.Float64).to_numpy())
    assert np.array_equal(drift_mod._sorted_floats(big), want)
