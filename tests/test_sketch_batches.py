"""A streamed profile's per-batch partials (``sketch._numeric_part``) against numpy and polars
computed directly on the same values: count, mean, squared deviations, range, the quantile
points (every ``k``-th sorted finite value), the non-finite flags, and the K smallest distinct
value hashes (the distinct estimate's sketch, which must be the exact K smallest: a stored
state is continued by later batches and other files)."""

from __future__ import annotations

import base64
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.test_snapshot_speed import _assert_rank_bound, _columns, _exact
from workbench.data import profile as profile_mod
from workbench.data import sketch

SEED = sketch._SEED


def _reference_hashes(values: pl.Series) -> np.ndarray:
    """All distinct hashes of a float column's finite values, sorted (polars alone)."""
    x = values.cast(pl.Float64)
    frame = pl.DataFrame({"x": x})
    expr = pl.col("x").filter(pl.col("x").is_finite()) + 0.0
    return frame.select(expr.hash(seed=SEED).unique().sort())["x"].to_numpy()


def _awkward(rows: int, seed: int) -> pl.Series:
    """Floats with repeats, nulls, nan, both infinities and both zeros."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=rows) * 30, 1)  # repeats
    x[rng.random(rows) < 0.01] = np.nan
    x[rng.random(rows) < 0.01] = np.inf
    x[rng.random(rows) < 0.01] = -np.inf
    x[:3] = [0.0, -0.0, -0.0]
    s = pl.Series("x", x, nan_to_null=False)
    return s.scatter(rng.choice(rows, rows // 50, replace=False), None)


@pytest.mark.parametrize("k", [1, 7, 64])
def test_a_batchs_numeric_partials_are_numpys(k: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sketch, "DISTINCT_K", 256)
    series = _awkward(20_000, seed=k)
    part = sketch._numeric_part(series, "numeric", k, None)
    raw = series.to_numpy()
    finite = np.sort(raw[np.isfinite(raw)])
    assert part.n == len(finite)
    assert part.mean == pytest.approx(finite.mean(), rel=1e-13)
    assert part.m2 == pytest.approx(finite.var() * len(finite), rel=1e-12)
    assert (part.lo, part.hi) == (finite[0], finite[-1])
    assert np.array_equal(part.points, finite[k - 1 :: k])
    assert part.extra == 0b111  # nan, inf and -inf all seen
    assert np.array_equal(part.hashes, _reference_hashes(series)[:256])
    assert part.points.base is None or len(part.points.base) == len(part.points)


def test_the_flags_tell_nan_from_nulls() -> None:
    only_nulls = pl.Series("x", [1.0, None, 2.0, None])
    assert sketch._numeric_part(only_nulls, "numeric", 1, None).extra == 0
    with_nan = pl.Series("x", [1.0, None, float("nan")], nan_to_null=False)
    assert sketch._numeric_part(with_nan, "numeric", 1, None).extra == 0b001
    infinities = pl.Series("x", [math.inf, 1.0, -math.inf, math.inf])
    part = sketch._numeric_part(infinities, "numeric", 1, None)
    assert part.extra == 0b110 and part.n == 1 and list(part.points) == [1.0]
    empty = sketch._numeric_part(pl.Series("x", [None, None], dtype=pl.Float64), "numeric", 1, None)
    assert empty.n == 0 and len(empty.hashes) == 0


@pytest.mark.parametrize("dtype", [pl.Int64, pl.Int32, pl.UInt8, pl.Float32])
def test_other_numeric_types_are_taken_as_floats(dtype: pl.DataType) -> None:
    rng = np.random.default_rng(2)
    series = pl.Series("x", rng.integers(0, 200, 5_000)).cast(dtype)
    series = series.scatter([3, 10, 400], None)
    part = sketch._numeric_part(series, "numeric", 5, None)
    values = np.sort(series.drop_nulls().cast(pl.Float64).to_numpy())
    assert part.n == len(values) and np.array_equal(part.points, values[4::5])
    assert part.mean == pytest.approx(values.mean(), rel=1e-13)
    assert np.array_equal(part.hashes, _reference_hashes(series)[: sketch.DISTINCT_K])


@pytest.mark.parametrize("dtype", [pl.Date, pl.Datetime("us"), pl.Datetime("ns"), pl.Duration])
def test_datetime_hashes_are_those_of_the_physical_values(dtype: pl.DataType) -> None:
    rng = np.random.default_rng(4)
    ints = pl.Series("t", rng.integers(0, 20_000, 30_000))
    series = (ints.cast(pl.Int32) if dtype == pl.Date else ints).cast(dtype).scatter([0, 9], None)
    part = sketch._numeric_part(series, "datetime", 1, None)
    frame = pl.DataFrame({"t": series})
    expr = pl.col("t").to_physical().drop_nulls().hash(seed=SEED).unique().sort()
    reference = frame.select(expr)["t"].to_numpy()
    assert np.array_equal(part.hashes, reference[: sketch.DISTINCT_K])


def test_kept_hashes_continue_to_the_k_smallest_of_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sketch, "DISTINCT_K", 300)
    first, second = _awkward(10_000, seed=8), _awkward(10_000, seed=9)
    kept = sketch._numeric_part(first, "numeric", 1, None).hashes
    assert len(kept) == 300  # full: the second batch's hashes are filtered by the 300th
    part = sketch._numeric_part(second, "numeric", 1, kept)
    both = _reference_hashes(pl.concat([first, second]))
    assert np.array_equal(part.hashes, both[:300])


def test_the_smallest_hashes_of_repeated_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeats among the K smallest hashes (values that repeat, as once K are kept the
    values are hashed without finding the distinct ones first): the next ones are taken."""
    monkeypatch.setattr(sketch, "DISTINCT_K", 16)
    values = np.repeat(np.arange(100.0), 50)
    np.random.default_rng(1).shuffle(values)
    hashes = pl.Series(values).hash(seed=SEED).to_numpy()
    distinct = np.unique(hashes)
    assert np.array_equal(sketch._smallest_hashes(values, None), distinct[:16])
    below = int(distinct[40])
    assert np.array_equal(sketch._smallest_hashes(values, below), distinct[:16])
    assert np.array_equal(sketch._smallest_hashes(values[:10], None), np.unique(hashes[:10]))


def test_a_streamed_files_hashes_are_its_k_smallest_distinct(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over many batches (each after the first filtered by the K-th kept hash) the state
    holds exactly the K smallest distinct hashes of the whole column."""
    monkeypatch.setattr(sketch, "BATCH_ROWS", 4_000)
    monkeypatch.setattr(sketch, "DISTINCT_K", 512)
    rng = np.random.default_rng(6)
    rows = 50_000
    frame = pl.DataFrame(
        {
            "u": rng.normal(size=rows),  # every value distinct
            "r": rng.integers(0, 3_000, rows),  # repeats
            "few": rng.integers(0, 40, rows),  # fewer distinct values than K
        }
    )
    path = tmp_path / "h.parquet"
    frame.write_parquet(path)
    got = profile_mod.profile_source("h.parquet", path)
    state = {c["name"]: c["numeric"] for c in got["sketch"]["columns"]}
    for name in frame.columns:
        kept = np.frombuffer(base64.b64decode(state[name]["hashes"]), dtype="<u8")
        assert np.array_equal(kept, _reference_hashes(frame[name])[:512]), name
    columns = _columns(got)
    assert columns["few"]["unique"] == 40
    for name in ("u", "r"):
        truth = frame[name].n_unique()
        assert abs(columns[name]["unique"] - truth) <= 4 / np.sqrt(512) * truth


def test_a_streamed_file_of_awkward_floats_is_exact_but_for_stated_bounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sketch, "BATCH_ROWS", 2_500)
    monkeypatch.setattr(sketch, "POINTS_PER_BATCH", 50)
    series = _awkward(30_000, seed=12)
    frame = pl.DataFrame({"x": series, "i": pl.Series(np.arange(30_000) % 977)})
    path = tmp_path / "awkward.parquet"
    frame.write_parquet(path)
    streamed = _columns(profile_mod.profile_source("awkward.parquet", path))
    exact = _columns(_exact(path, "awkward.parquet"))
    for name in ("x", "i"):
        got, want = streamed[name], exact[name]
        assert (got["nulls"], got["min"], got["max"]) == (want["nulls"], want["min"], want["max"])
        assert got["mean"] == pytest.approx(want["mean"], rel=1e-12)
        assert got["std"] == pytest.approx(want["std"], rel=1e-9)
        raw = frame[name].cast(pl.Float64).to_numpy()
        finite = raw[np.isfinite(raw)]
        assert 0 < got["rank_error"] <= 30_000 / 50 / len(finite)
        _assert_rank_bound(finite, got["quantiles"], got["rank_error"])
        assert sum(got["histogram"]["counts"]) == len(finite)
    assert streamed["i"]["unique"] == exact["i"]["unique"] == 977
    assert streamed["x"]["unique"] == exact["x"]["unique"]  # below K: exact, nan and infinities too


def test_a_state_stored_as_json_numbers_loads_as_the_one_stored_as_bytes(tmp_path: Path) -> None:
    """States written before format 2 (points and weights as JSON numbers) are still read:
    an append to a file stored then continues its profile instead of reading it again."""
    path = tmp_path / "x.csv"
    pl.DataFrame({"x": _awkward(30_000, 3), "n": np.arange(30_000)}).write_csv(path)
    state = sketch.stream_profile(path, "x.csv", ("",))["sketch"]
    assert state["v"] == sketch.STATE_FORMAT == 2
    assert isinstance(state["columns"][0]["numeric"]["values"], str)  # base64 of the bytes
    old = {**state, "v": 1, "columns": []}
    for entry in state["columns"]:
        num = dict(entry["numeric"])
        num["values"] = np.frombuffer(base64.b64decode(num["values"]), "<f8").tolist()
        num["weights"] = np.frombuffer(base64.b64decode(num["weights"]), "<i8").tolist()
        old["columns"].append({**entry, "numeric": num})
    rows, new_cols = sketch._load(state)
    old_rows, old_cols = sketch._load(old)
    assert rows == old_rows == 30_000 and list(new_cols) == list(old_cols) == ["x", "n"]
    for name, col in new_cols.items():
        a, b = col.numeric, old_cols[name].numeric
        assert a is not None and b is not None and len(a.points[0]) > 100
        np.testing.assert_array_equal(a.points[0], b.points[0])
        np.testing.assert_array_equal(a.weights[0], b.weights[0])
        assert a.points[0].dtype == np.float64 and a.weights[0].dtype == np.int64
    with pytest.raises(sketch.StreamFallback):
        sketch._load({**state, "v": 3})  # a format this version does not know: read again
