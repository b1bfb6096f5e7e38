"""DLE: the estimated MAE and RMSE track a covariate shift within their standard errors and do
not follow a concept drift; the reference is JSON with LightGBM model text."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from workbench.errors import DataError
from workbench.monitor import dle
from workbench.monitor.realized import realized


def _rows(
    rng: np.random.Generator, n: int, mu: float = 0.0, concept: bool = False
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """y = 2 x + noise whose size depends on x and the segment; the champion predicts 2 x
    (concept drift: the noise doubles)."""
    x = rng.normal(mu, 1.0, n)
    share_a = float(np.clip(0.5 - mu / 2, 0.05, 0.95))
    seg = np.where(rng.random(n) < share_a, "a", "b")
    sd = (0.2 + 0.6 * np.abs(x)) * np.where(seg == "a", 0.5, 1.5) * (2.0 if concept else 1.0)
    y = 2 * x + rng.normal(size=n) * sd
    frame = pl.DataFrame({"x": x, "segment": seg, "flag": rng.random(n) < 0.5})
    return frame, 2 * x, y


@pytest.fixture(scope="module")
def ref() -> dle.DLEReference:
    frame, pred, y = _rows(np.random.default_rng(0), 5000)
    return dle.fit(frame, pred, y, seed=0)


def _coverage(ref: dle.DLEReference, concept: bool, metric: str) -> float:
    rng = np.random.default_rng(1)
    inside = []
    for mu in np.linspace(-0.8, 0.8, 20):
        frame, pred, y = _rows(rng, 1000, mu=float(mu), concept=concept)
        est = dle.estimate(ref, frame, pred)
        real = realized("regression", y, pred)[metric]
        inside.append(abs(est.metrics[metric] - real) <= 3 * est.se[metric])
    return float(np.mean(inside))


@pytest.mark.parametrize("metric", ["mae", "rmse"])
def test_estimate_tracks_covariate_shift_but_not_concept_drift(
    ref: dle.DLEReference, metric: str
) -> None:
    assert _coverage(ref, concept=False, metric=metric) >= 0.9
    assert _coverage(ref, concept=True, metric=metric) < 0.5


def test_the_estimate_moves_with_the_shift(ref: dle.DLEReference) -> None:
    rng = np.random.default_rng(2)
    low = dle.estimate(ref, *_rows(rng, 2000, mu=-0.8)[:2]).metrics["mae"]
    high = dle.estimate(ref, *_rows(rng, 2000, mu=0.8)[:2]).metrics["mae"]
    assert high > low * 1.3  # more of the noisy segment: a larger error, without labels


def test_reference_is_json_with_lightgbm_text(ref: dle.DLEReference) -> None:
    text = json.dumps(ref.to_json(), allow_nan=False)
    back = dle.DLEReference.from_json(json.loads(text))
    assert back == ref
    assert ref.model_abs.startswith("tree") and ref.model_sq.startswith("tree")
    assert ref.features == ("x", "segment", "flag")
    frame, pred, _ = _rows(np.random.default_rng(3), 300)
    assert dle.estimate(back, frame, pred) == dle.estimate(ref, frame, pred)
    assert ref.metrics["mae"] == pytest.approx(ref.estimated["mae"], rel=0.05)


def test_unseen_category_and_bad_input(ref: dle.DLEReference) -> None:
    frame, pred, _ = _rows(np.random.default_rng(4), 50)
    unseen = frame.with_columns(pl.lit("new").alias("segment"))
    est = dle.estimate(ref, unseen, pred)
    assert np.isfinite(est.metrics["mae"]) and est.rows == 50
    with pytest.raises(DataError, match="missing feature column"):
        dle.estimate(ref, frame.drop("segment"), pred)
    with pytest.raises(DataError, match="50 rows but 49 predictions"):
        dle.estimate(ref, frame, pred[:49])
    with pytest.raises(DataError, match="one prediction and one target"):
        dle.fit(frame, pred, pred[:3])
    with pytest.raises(DataError, match="a target or a prediction is missing"):
        dle.fit(frame, pred, np.where(np.arange(50) == 3, np.nan, pred))


def test_real_dataset_with_a_lightgbm_champion() -> None:
    import lightgbm as lgb
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    frame = pl.from_pandas(data.data)
    y = np.asarray(data.target, dtype=float)
    order = np.random.default_rng(5).permutation(len(y))
    train, hold, new = order[:200], order[200:340], order[340:]
    params = {"objective": "regression", "verbosity": -1, "num_threads": 1, "seed": 0}
    x = frame.to_numpy()
    model = lgb.train(params, lgb.Dataset(x[train], y[train]), num_boost_round=60)
    ref = dle.fit(frame[hold], np.asarray(model.predict(x[hold])), y[hold])
    pred = np.asarray(model.predict(x[new]))
    est = dle.estimate(ref, frame[new], pred)
    real = realized("regression", y[new], pred)
    for m in ("mae", "rmse"):
        assert abs(est.metrics[m] - real[m]) <= 3 * est.se[m], m


def test_the_champions_feature_spec_decides_the_features() -> None:
    from workbench.model.features import FeatureSpec

    frame, pred, y = _rows(np.random.default_rng(6), 2000)
    spec = FeatureSpec(
        ("segment", "x"),
        {"segment": ["a", "b"]},
        {"segment": "categorical", "x": "numeric"},
        "regression",
        "y",
        [],
    )
    ref = dle.fit(frame.with_columns(pl.Series("y", y)), pred, y, spec=spec)
    assert ref.features == ("segment", "x")
    est = dle.estimate(ref, frame.drop("flag"), pred)  # a column the champion does not read
    assert est.metrics["mae"] == pytest.approx(ref.metrics["mae"], rel=0.1)
    own = dle.fit(frame.with_columns(pl.Series("y", y)), pred, y, exclude=["y", "flag"])
    assert own.features == ("x", "segment")
