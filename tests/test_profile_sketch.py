"""The exact in-memory sketch (``profile.sketch_frame``) sorts integer and float columns with
numpy: its sorted finite values and distinct values must be what polars' own sort and unique
give, on the values real files hold (NaN, infinities, ``-0.0``, nulls, float32, integers
past 2**53, unsigned), and the profile built from it must count distinct values as polars
does."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from workbench.data import profile as profile_mod

N = 6_000


def _frame() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    odd = np.array([np.inf, -np.inf, -0.0, 0.0, np.nan, np.nan])
    return pl.DataFrame(
        {
            "normal": rng.normal(size=N),
            "odd": np.concatenate([odd, rng.integers(-3, 3, N - odd.size).astype(float)]),
            "f32": rng.normal(size=N).astype(np.float32),
            "small": rng.integers(-5, 5, N),
            "big": np.array([2**60, 2**60 + 1, 2**60 + 2] * (N // 3), dtype=np.int64),
            "u8": rng.integers(0, 255, N).astype(np.uint8),
            "u64": rng.integers(0, 2**63, N, dtype=np.uint64) * 2,
            "all_null": pl.Series([None] * N, dtype=pl.Float64),
        }
    ).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("normal", "odd", "small", "u8")
    )


def _polars_reference(col: pl.Series) -> tuple[np.ndarray, pl.Series]:
    x = col.cast(pl.Float64)
    return x.filter(x.is_finite()).sort().to_numpy(), col.drop_nulls().unique()


@pytest.mark.parametrize("name", list(_frame().columns))
def test_numpy_sorted_sketch_equals_polars(name: str) -> None:
    frame = _frame()
    values, distinct = _polars_reference(frame[name])
    got = profile_mod.sketch_frame(frame).columns[name]
    assert got.values is not None and got.distinct is not None
    assert got.values.dtype == np.float64
    np.testing.assert_array_equal(got.values, values)
    assert got.distinct.dtype == frame[name].dtype
    assert len(got.distinct) == got.distinct.n_unique() == distinct.n_unique()
    if distinct.dtype.is_float():  # NaN != NaN: compare the NaN count apart
        assert got.distinct.is_nan().sum() == distinct.is_nan().sum()
        got_d, want_d = got.distinct.drop_nans(), distinct.drop_nans()
    else:
        got_d, want_d = got.distinct, distinct
    assert sorted(got_d.to_list()) == sorted(want_d.to_list())


def test_profile_from_it_counts_distinct_like_polars() -> None:
    frame = _frame()
    profile = profile_mod.merge_sketches([profile_mod.sketch_frame(frame)])
    for col in profile["columns"]:
        series = frame[col["name"]]
        assert col["unique"] == series.n_unique(), col["name"]
        finite = series.cast(pl.Float64).filter(series.cast(pl.Float64).is_finite()).to_numpy()
        if finite.size:
            assert col["min"] == finite.min() and col["max"] == finite.max()
            assert col["mean"] == pytest.approx(finite.mean(), rel=1e-12)
            want = np.quantile(finite, profile_mod.QUANTILES)
            assert [col["quantiles"][str(q)] for q in profile_mod.QUANTILES] == pytest.approx(
                want, rel=1e-12
            )
