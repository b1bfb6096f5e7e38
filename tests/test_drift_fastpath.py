"""Drift's fast path: unequal sample sizes stay on it and still equal scipy, and the command's
JSON keeps its shape.

The per-feature statistics sort each numerical column once and reuse the sorted arrays; the
Wasserstein distance walks the two quantile functions in O(n) for any two sizes (no merge).
Every number is checked against scipy/numpy here for unequal sizes, ties and integer columns.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats as sp

from tests.helpers import configure, cut_sample, train
from workbench.monitor import drift as drift_mod
from workbench.monitor import histograms as drift_hist
from workbench.monitor import stats as drift_stats

REL = 1e-9

SIZES = [(1000, 999), (999, 1000), (1001, 1000), (3000, 7), (7, 3000), (1, 1), (1, 9), (9, 1)]


def _samples(rng: np.random.Generator, n: int, m: int, kind: str) -> tuple[np.ndarray, ...]:
    if kind == "ints":  # integer column: heavy ties inside and across the samples
        return rng.integers(0, 7, n).astype(np.float64), rng.integers(1, 9, m).astype(np.float64)
    if kind == "ties":  # rounded floats: some ties, and values shared by both sides
        return np.round(rng.normal(0, 3, n), 1), np.round(rng.normal(0.5, 3, m), 1)
    return rng.lognormal(0, 1, n), rng.lognormal(0.2, 1.3, m)


@pytest.mark.parametrize("kind", ["floats", "ties", "ints"])
@pytest.mark.parametrize(("n", "m"), SIZES)
def test_wasserstein_of_any_two_sizes_equals_scipy(n: int, m: int, kind: str) -> None:
    rng = np.random.default_rng([n, m, len(kind)])
    ref, cur = _samples(rng, n, m, kind)
    want = sp.wasserstein_distance(ref, cur)
    got = drift_stats._wasserstein_sorted(np.sort(ref), np.sort(cur))
    assert got == pytest.approx(want, rel=REL, abs=1e-12)
    norm = want / max(float(np.std(ref)), drift_stats.STD_FLOOR)
    assert drift_stats.wasserstein_norm(ref, cur) == pytest.approx(norm, rel=REL, abs=1e-12)


@pytest.mark.parametrize("kind", ["floats", "ties", "ints"])
def test_feature_drift_of_unequal_sizes_equals_scipy(kind: str) -> None:
    rng = np.random.default_rng(len(kind))
    ref, cur = _samples(rng, 5000, 4999, kind)
    got = drift_stats.feature_drift("x", "numerical", ref, cur, method="wasserstein")
    want = sp.wasserstein_distance(ref, cur) / max(float(np.std(ref)), drift_stats.STD_FLOOR)
    assert got["score"] == pytest.approx(want, rel=REL)
    ks = drift_stats.feature_drift("x", "numerical", ref[:800], cur[:799], method="ks")
    assert ks["score"] == pytest.approx(sp.ks_2samp(ref[:800], cur[:799]).pvalue, rel=REL)


def test_sorted_deciles_are_numpys_quantiles_bit_for_bit() -> None:
    rng = np.random.default_rng(11)
    for n in [1, 2, 3, 9, 10, 11, 101, 4999]:
        for values in (rng.normal(0, 1e3, n), rng.integers(0, 4, n).astype(np.float64)):
            s = np.sort(values)
            want = np.quantile(s, drift_stats.PSI_QUANTILES)
            assert np.array_equal(drift_stats.sorted_deciles(s), want)


def test_histogram_of_sorted_arrays_is_numpys() -> None:
    rng = np.random.default_rng(5)
    ref = np.concatenate((rng.integers(0, 12, 3000).astype(np.float64), [np.inf, -np.inf]))
    cur = rng.integers(0, 13, 2999).astype(np.float64)  # values sit exactly on the edges
    want = drift_hist.numerical(ref, cur)
    got = drift_hist.numerical(np.sort(ref), np.sort(cur), is_sorted=True)
    assert got == want
    assert want is not None and sum(want["reference"]) == pytest.approx(1.0, abs=1e-5)


def test_nulls_and_nan_are_dropped_as_before() -> None:
    ref = pl.DataFrame({"x": [1.0, None, float("nan"), 3.0, 2.0, 5.0, 4.0, 6.0]})
    cur = pl.DataFrame({"x": [None, 2.0, 2.5, float("nan")]})
    (one,) = drift_mod.compare_frames(ref, cur, {"x": "numerical"})
    assert (one["n_ref"], one["n_cur"]) == (6, 2)
    want = sp.ks_2samp([1.0, 3.0, 2.0, 5.0, 4.0, 6.0], [2.0, 2.5]).pvalue
    assert one["method"] == "ks" and one["score"] == pytest.approx(want, rel=REL)


def _seconds(ref: np.ndarray, cur: np.ndarray) -> float:
    t = time.perf_counter()
    drift_stats._wasserstein_sorted(ref, cur)
    return time.perf_counter() - t


def test_unequal_sizes_cost_what_equal_sizes_cost() -> None:
    """1 less row must not switch to a slower algorithm (it once took an argsort merge, ~20x
    slower than equal sizes). Interleaved runs, fastest of each: a busy machine slows both."""
    rng = np.random.default_rng(3)
    ref = np.sort(rng.normal(size=400_000))
    cur = np.sort(rng.normal(size=400_000))
    equal, unequal = [], []
    for _ in range(9):
        equal.append(_seconds(ref, cur))
        unequal.append(_seconds(ref, cur[:-1]))
    assert min(unequal) < 3 * min(equal) + 0.005


@pytest.fixture
def trained(project: Path) -> Path:
    cut_sample(project, 3000)
    configure(project)
    train(project)
    return project


FEATURE_KEYS = {
    "name",
    "type",
    "method",
    "score",
    "threshold",
    "drifted",
    "psi",
    "n_ref",
    "n_cur",
    "histogram",
}


def test_drift_json_of_a_batch_of_another_size_keeps_its_shape(trained: Path, cli) -> None:
    ref = pl.read_csv(trained / "data" / "batch_000.csv")
    # the same rows but one, one year later: newer than the reference's last event_time
    stamp = pl.col("event_time").str.to_datetime() + pl.duration(days=366)
    batch = ref.tail(ref.height - 1).with_columns(stamp.dt.to_string("%Y-%m-%d %H:%M:%S"))
    batch.write_parquet(trained / "data" / "batch_new.parquet")
    out = cli("drift", "--json", cwd=trained, check=True)
    result = json.loads(out.stdout)
    assert result["reference_rows"] == ref.height
    assert result["current_rows"] == ref.height - 1
    assert {
        "dataset_drift",
        "drift_share",
        "drifted_features",
        "features",
        "prediction_drift",
        "target_drift",
        "reference",
        "reference_version",
        "current",
        "reference_rows",
        "current_rows",
        "seconds",
    } <= set(result)
    assert result["features"]
    for f in result["features"]:
        assert set(f) == FEATURE_KEYS, f["name"]
        hist = f["histogram"]
        want = (
            {"labels", "edges", "reference", "current"}
            if f["type"] == "numerical"
            else {
                "labels",
                "reference",
                "current",
            }
        )
        assert set(hist) == want
    # the same rows shifted in time: nothing drifts, every score is a real number
    assert not result["dataset_drift"]
    assert all(isinstance(f["score"], float) for f in result["features"])
    assert result["prediction_drift"]["method"] in drift_stats.METHODS


@pytest.mark.parametrize(
    ("target", "task", "metric"),
    [("churned", "binary", "auc"), ("contract", "multiclass", "accuracy")],
)
def test_batched_scores_equal_one_whole_prediction(
    project: Path, monkeypatch: pytest.MonkeyPatch, target: str, task: str, metric: str
) -> None:
    """Prediction drift scores the frame in batches: the same scores (or labels) as scoring it
    whole, for a batch size that does not divide the rows."""
    from tests.helpers import store_of
    from workbench import config
    from workbench.model.loading import load_version

    cut_sample(project, 1500)
    configure(project, target=target, task=task, metric=metric, rounds=10)
    train(project)
    store = store_of(project)
    with store.read() as s:
        model = load_version(store.objects, s.champion())
    frame = pl.read_csv(project / "data" / "batch_000.csv")
    assert config.load(project).model.task == task
    whole = model.predict(frame)
    monkeypatch.setattr(drift_mod, "PREDICT_ROWS", 400)
    got = drift_mod._prediction_series(model, frame)
    assert got.len() == frame.height
    if task == "multiclass":
        want = [str(model.spec.classes[i]) for i in whole.reshape(frame.height, -1).argmax(axis=1)]
        assert got.to_list() == want
        assert len(set(want)) > 1
    else:
        assert np.array_equal(got.to_numpy(), whole.reshape(-1))
