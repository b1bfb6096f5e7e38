"""Realized metrics against scikit-learn, CBPE against an independent reference computation of
the published method (scikit-learn's IsotonicRegression, plain loops), and its coverage under
covariate shift and its failure under concept drift."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.isotonic import IsotonicRegression

from workbench.errors import DataError
from workbench.monitor import cbpe
from workbench.monitor.realized import realized


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _binary_rows(
    rng: np.random.Generator, n: int, mu: float = 0.0, concept: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Labels from P(y=1|x) = sigmoid(2x) (concept drift: sigmoid(0.6x - 1), a weaker and
    rarer positive); the champion's score sigmoid(1.2x + 0.4) ranks rows right but is
    miscalibrated."""
    x = rng.normal(mu, 1.0, n)
    logit = 0.6 * x - 1.0 if concept else 2 * x
    y = (rng.random(n) < _sigmoid(logit)).astype(int)
    return y, np.round(_sigmoid(1.2 * x + 0.4), 3)  # rounded: tied scores are exercised


def _multiclass_rows(rng: np.random.Generator, n: int, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    logits = rng.normal(size=(n, k)) * 1.5
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    sharp = p**1.6
    return y, sharp / sharp.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- realized


def test_realized_binary_equals_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    y, s = _binary_rows(rng, 3000)
    got = realized("binary", y, s)
    label = (s >= 0.5).astype(int)
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert got["logloss"] == pytest.approx(skm.log_loss(y, s), abs=1e-12)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, label), abs=1e-12)
    assert got["precision"] == pytest.approx(skm.precision_score(y, label), abs=1e-12)
    assert got["recall"] == pytest.approx(skm.recall_score(y, label), abs=1e-12)
    assert got["f1"] == pytest.approx(skm.f1_score(y, label), abs=1e-12)


def test_realized_multiclass_equals_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    y, p = _multiclass_rows(rng, 3000, 4)
    got = realized("multiclass", y, p, ["a", "b", "c", "d"])
    label = p.argmax(axis=1)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, label), abs=1e-12)
    assert got["multi_logloss"] == pytest.approx(skm.log_loss(y, p), abs=1e-12)
    for name, fn in [
        ("macro_f1", skm.f1_score),
        ("macro_precision", skm.precision_score),
        ("macro_recall", skm.recall_score),
    ]:
        assert got[name] == pytest.approx(fn(y, label, average="macro"), abs=1e-12), name
    want_auc = skm.roc_auc_score(y, p, multi_class="ovr", average="macro")
    assert got["auc"] == pytest.approx(want_auc, abs=1e-12)


def test_realized_regression_equals_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=500)
    pred = y + rng.normal(scale=0.5, size=500)
    got = realized("regression", y, pred)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), abs=1e-12)
    assert got["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)), abs=1e-12)
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred), abs=1e-12)


# ---------------------------------------------------------------- the reference computation


def _loop_auc(scores: np.ndarray, p: np.ndarray) -> float:
    """Expected ROC AUC by a loop over the distinct thresholds, highest first."""
    tpr, fpr = [0.0], [0.0]
    pos, neg = p.sum(), (1 - p).sum()
    for t in sorted(set(scores.tolist()), reverse=True):
        chosen = scores >= t
        tpr.append(p[chosen].sum() / pos)
        fpr.append((1 - p[chosen]).sum() / neg)
    area = 0.0
    for i in range(1, len(tpr)):
        area += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2
    return area


def _loop_confusion(label: np.ndarray, p: np.ndarray) -> np.ndarray:
    """C[true, predicted] from calibrated class probabilities p (n, k), row by row."""
    k = p.shape[1]
    c = np.zeros((k, k))
    for i in range(len(label)):
        for t in range(k):
            c[t, label[i]] += p[i, t]
    return c


def test_binary_estimate_equals_reference_computation() -> None:
    rng = np.random.default_rng(4)
    y_ref, s_ref = _binary_rows(rng, 4000)
    _, s = _binary_rows(rng, 1500, mu=0.4)
    ref = cbpe.fit("binary", y_ref, s_ref)
    assert ref.calibration[0] is not None  # miscalibrated scores: the calibration is kept
    raw_ece, cal_ece = ref.ece[0]
    assert cal_ece < raw_ece

    iso = IsotonicRegression(out_of_bounds="clip").fit(s_ref, y_ref)
    p = iso.predict(s)
    np.testing.assert_allclose(cbpe.calibrate(ref, s), p, rtol=0, atol=1e-12)

    label = (s >= 0.5).astype(int)
    c = _loop_confusion(label, np.column_stack([1 - p, p]))
    (tn, fp), (fn, tp) = c
    want = {
        "accuracy": (tp + tn) / len(s),
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
        "auc": _loop_auc(s, p),
    }
    est = cbpe.estimate(ref, s)
    np.testing.assert_allclose(np.array(est.confusion), c, rtol=0, atol=1e-9)
    for name, value in want.items():
        assert est.metrics[name] == pytest.approx(value, abs=1e-9), name
    assert est.rows == len(s)
    assert set(est.se) == set(est.metrics)


def test_multiclass_estimate_equals_reference_computation() -> None:
    rng = np.random.default_rng(5)
    y_ref, p_ref = _multiclass_rows(rng, 4000)
    _, s = _multiclass_rows(rng, 800)
    ref = cbpe.fit("multiclass", y_ref, p_ref, ["x", "y", "z"])
    assert all(c is not None for c in ref.calibration)

    cal = np.column_stack(
        [
            IsotonicRegression(out_of_bounds="clip").fit(p_ref[:, j], y_ref == j).predict(s[:, j])
            for j in range(3)
        ]
    )
    cal = cal / cal.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(cbpe.calibrate(ref, s), cal, rtol=0, atol=1e-12)
    c = _loop_confusion(s.argmax(axis=1), cal)
    rows, cols = c.sum(axis=1), c.sum(axis=0)
    want = {
        "accuracy": np.trace(c) / len(s),
        "macro_precision": np.mean([c[j, j] / cols[j] for j in range(3)]),
        "macro_recall": np.mean([c[j, j] / rows[j] for j in range(3)]),
        "macro_f1": np.mean([2 * c[j, j] / (rows[j] + cols[j]) for j in range(3)]),
        "auc": np.mean([_loop_auc(s[:, j], cal[:, j]) for j in range(3)]),
    }
    est = cbpe.estimate(ref, s)
    np.testing.assert_allclose(np.array(est.confusion), c, rtol=0, atol=1e-9)
    for name, value in want.items():
        assert est.metrics[name] == pytest.approx(value, abs=1e-9), name


def test_calibration_is_dropped_when_it_does_not_lower_the_ece() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=3000)
    s = _sigmoid(2 * x)  # calibrated already
    y = (rng.random(3000) < s).astype(int)
    ref = cbpe.fit("binary", y, s, seed=1)
    raw_ece, cal_ece = ref.ece[0]
    assert (ref.calibration[0] is None) == (cal_ece >= raw_ece)
    if ref.calibration[0] is None:
        np.testing.assert_array_equal(cbpe.calibrate(ref, s), s)


# ---------------------------------------------------------------- JSON, SE, bad input


def test_reference_round_trips_through_json() -> None:
    rng = np.random.default_rng(7)
    y, s = _binary_rows(rng, 1000)
    ref = cbpe.fit("binary", y, s, ["no", "yes"])
    assert cbpe.fit("binary", y, s, ["no", "yes"]) == ref  # deterministic for a seed
    text = json.dumps(ref.to_json(), allow_nan=False)
    back = cbpe.Reference.from_json(json.loads(text))
    assert back == ref
    assert cbpe.estimate(back, s[:300]) == cbpe.estimate(ref, s[:300])
    est = cbpe.estimate(ref, s[:300])
    assert cbpe.Estimate.from_json(json.loads(json.dumps(est.to_json()))) == est


def test_standard_error_matches_the_spread_over_chunks() -> None:
    rng = np.random.default_rng(8)
    y_ref, s_ref = _binary_rows(rng, 20_000)
    ref = cbpe.fit("binary", y_ref, s_ref)
    n = 500
    spread = {m: [] for m in ("accuracy", "auc", "f1")}  # type: dict[str, list[float]]
    for _ in range(200):
        y, s = _binary_rows(rng, n)
        got = realized("binary", y, s)
        for m in spread:
            spread[m].append(got[m])
    for m, values in spread.items():
        assert cbpe.se_at(ref, m, n) == pytest.approx(np.std(values, ddof=1), rel=0.25), m
    assert cbpe.se_at(ref, "auc", 4 * n) == pytest.approx(cbpe.se_at(ref, "auc", n) / 2)
    assert math.isnan(cbpe.se_at(ref, "auc", 0))


def test_bad_input_is_a_data_error() -> None:
    with pytest.raises(DataError, match="regression"):
        cbpe.fit("regression", np.zeros(3), np.zeros(3))
    with pytest.raises(DataError, match="shape"):
        cbpe.fit("binary", np.zeros(3), np.zeros((3, 2)))
    with pytest.raises(DataError, match="a target or a score is missing"):
        cbpe.fit("binary", np.array([0.0, np.nan, 1.0]), np.array([0.1, 0.5, 0.9]))
    ref = cbpe.fit("multiclass", np.array([0, 1, 2] * 10), np.full((30, 3), 1 / 3))
    with pytest.raises(DataError, match="one probability column per class"):
        cbpe.estimate(ref, np.zeros((5, 2)))


# ---------------------------------------------------------------- behaviour under drift


def _coverage(ref: cbpe.Reference, concept: bool, metric: str) -> float:
    rng = np.random.default_rng(9)
    inside = []
    for mu in np.linspace(-0.8, 0.8, 30):
        y, s = _binary_rows(rng, 1000, mu=float(mu), concept=concept)
        est = cbpe.estimate(ref, s)
        real = realized("binary", y, s)[metric]
        inside.append(abs(est.metrics[metric] - real) <= 3 * est.se[metric])
    return float(np.mean(inside))


@pytest.mark.parametrize("metric", ["accuracy", "auc", "f1"])
def test_estimate_tracks_covariate_shift_but_not_concept_drift(metric: str) -> None:
    rng = np.random.default_rng(10)
    y_ref, s_ref = _binary_rows(rng, 10_000)
    ref = cbpe.fit("binary", y_ref, s_ref)
    assert _coverage(ref, concept=False, metric=metric) >= 0.9
    assert _coverage(ref, concept=True, metric=metric) < 0.5


def test_real_dataset_with_a_lightgbm_champion() -> None:
    import lightgbm as lgb
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x, y = np.asarray(data.data), np.asarray(data.target)
    order = np.random.default_rng(11).permutation(len(y))
    x, y = x[order], y[order]
    train, hold, new = slice(0, 250), slice(250, 430), slice(430, None)
    params = {"objective": "binary", "verbosity": -1, "num_threads": 1, "seed": 0}
    model = lgb.train(params, lgb.Dataset(x[train], y[train]), num_boost_round=50)
    ref = cbpe.fit("binary", y[hold], np.asarray(model.predict(x[hold])))
    s = np.asarray(model.predict(x[new]))
    est = cbpe.estimate(ref, s)
    real = realized("binary", y[new], s)
    for m in ("accuracy", "f1"):
        assert abs(est.metrics[m] - real[m]) <= 3 * est.se[m], m
    # a precision or an AUC of 0.99 on 180 holdout rows resamples to a tiny spread (the SE of
    # a near-perfect metric measured on few rows understates its sampling error): their values
    # are checked, not their bands
    for m in ("precision", "recall", "auc"):
        assert est.metrics[m] == pytest.approx(real[m], abs=0.05), m


def test_an_empty_chunk_has_no_estimate() -> None:
    rng = np.random.default_rng(12)
    y, s = _binary_rows(rng, 500)
    est = cbpe.estimate(cbpe.fit("binary", y, s), np.zeros(0))
    assert est.rows == 0 and est.confusion == [[0.0, 0.0], [0.0, 0.0]]
    assert all(math.isnan(v) for v in [*est.metrics.values(), *est.se.values()])
    assert json.dumps(est.to_json(), allow_nan=False)


def _shifted_multiclass(
    rng: np.random.Generator, n: int, mu: float, concept: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Three classes with logits (2x, 0, -2x) (concept drift: the middle class takes over);
    the champion's probabilities are too flat (logits x 0.6)."""
    x = rng.normal(mu, 1.0, n)
    seen = np.column_stack([2 * x, np.zeros(n), -2 * x])  # the champion's view never changes
    true = seen + np.array([0.0, 2.0 if concept else 0.0, 0.0])
    p = np.exp(true) / np.exp(true).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    flat = np.exp(0.6 * seen)
    return y, np.round(flat / flat.sum(axis=1, keepdims=True), 3)


def test_multiclass_estimate_tracks_covariate_shift_but_not_concept_drift() -> None:
    rng = np.random.default_rng(13)
    ref = cbpe.fit("multiclass", *_shifted_multiclass(rng, 10_000, 0.0, False))
    for concept, check in ((False, lambda share: share >= 0.9), (True, lambda share: share < 0.5)):
        inside = {m: [] for m in ("accuracy", "macro_f1", "auc")}  # type: dict[str, list[bool]]
        for mu in np.linspace(-0.8, 0.8, 15):
            y, s = _shifted_multiclass(rng, 1000, float(mu), concept)
            est, real = cbpe.estimate(ref, s), realized("multiclass", y, s)
            for m, flags in inside.items():
                flags.append(abs(est.metrics[m] - real[m]) <= 3 * est.se[m])
        # the AUC is only checked under the shift: this concept drift keeps the ranking
        for m in ("accuracy", "macro_f1") if concept else ("accuracy", "macro_f1", "auc"):
            assert check(float(np.mean(inside[m]))), (concept, m)
