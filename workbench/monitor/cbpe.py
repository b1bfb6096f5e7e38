"""Estimated classification performance without labels: confidence-based performance
estimation (CBPE, as NannyML publishes the method), written here from its description.

Fitting (``fit``) reads labelled rows the champion did not train on (its holdout):

- **Calibration.** One isotonic regression per class of the champion's score against "the
  target is this class" (binary: P(positive) only). Tied scores are first pooled (mean target,
  weight = count), then the pool-adjacent-violators fit runs on the pooled points — the same
  fit as scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``. The fit is kept as its
  breakpoints (x thresholds, y values; linear in between, constant beyond the ends), JSON, no
  pickle. It is kept only where it lowers the expected calibration error (ECE: 10 equal-width
  bins of the probability, sum over bins of |observed - predicted| / rows) *out of fold*: the
  holdout is split in two by ``seed``, each half is calibrated by the other half's fit, and
  that ECE is compared with the raw scores' ECE (in-sample, an isotonic fit always "lowers"
  it). Otherwise that class's entry is ``None`` and its raw score is used. Multiclass
  probabilities are renormalised to sum to 1 per row after calibrating each column.
- **Reference metrics** on the holdout (``realized.realized``) and their **standard errors**.

Estimating (``estimate``) reads only the champion's scores of a chunk: the predicted label is
the champion's (P(positive) >= 0.5, or the arg-max class), and the calibrated probability
p_ik that row i is of class k makes the **expected confusion matrix**
C[k, j] = sum over rows predicted j of p_ik (rows true, columns predicted; binary
[[TN, FP], [FN, TP]]). From it: accuracy = trace / n, precision = C[k,k] / column k,
recall = C[k,k] / row k, F1 = 2 C[k,k] / (row k + column k) (binary: of the positive class;
multiclass: macro means ``macro_precision``, ``macro_recall``, ``macro_f1``). ROC AUC: the rows
sorted by score once, descending; at each distinct score the expected true and false positives
are the cumulative sums of p and 1 - p, the curve (FPR, TPR) is those over their totals, and the
AUC its trapezoidal area — O(n log n). Multiclass AUC: one-vs-rest, the mean over classes.
Log loss is estimated as its expectation under the calibrated distribution.

**Standard errors** (``se_at``): the standard deviation of each realized metric over 100
resamples (with replacement) of the holdout of ``SE_ROWS`` rows at most, scaled to a chunk of n
rows by sqrt(rows resampled / n) — the sampling error of a metric measured on n rows like the
reference's (NannyML's approach, with the square-root law instead of one resampling per chunk
size). The same SE serves the realized value's band and the estimate's.

Why scipy at run time: ``scipy.optimize.isotonic_regression`` (scipy >= 1.12) is the pool-
adjacent-violators fit in compiled code; scikit-learn is only a test dependency (the tests check
this module against it), and nannyml is not a dependency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.errors import DataError
from workbench.monitor.realized import realized

SE_ROWS = 20_000  # rows per resample for the standard errors
SE_RESAMPLES = 100
ECE_BINS = 10
MIN_CALIBRATION_ROWS = 20
EPS = 1e-15

Breakpoints = tuple[tuple[float, ...], tuple[float, ...]]


@dataclass(frozen=True)
class Reference:
    """What CBPE learned from the holdout (``to_json``/``from_json``: a JSON object)."""

    task: str
    classes: tuple[Any, ...]
    # per class (binary: the positive class only): isotonic breakpoints, or None = raw scores
    calibration: tuple[Breakpoints | None, ...]
    # per class: (ECE of the raw scores, out-of-fold ECE of the calibrated scores)
    ece: tuple[tuple[float, float], ...]
    metrics: dict[str, float]  # realized on the holdout
    se: dict[str, float]  # sampling SE of each metric on se_rows rows
    rows: int  # holdout rows
    se_rows: int  # rows per resample the SEs were measured on
    estimated: dict[str, float] = field(default_factory=dict)  # CBPE on the holdout itself

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "classes": [_plain(c) for c in self.classes],
            "calibration": [
                None if c is None else {"x": list(c[0]), "y": list(c[1])} for c in self.calibration
            ],
            "ece": [list(e) for e in self.ece],
            "metrics": nan_to_none(self.metrics),
            "se": nan_to_none(self.se),
            "rows": self.rows,
            "se_rows": self.se_rows,
            "estimated": nan_to_none(self.estimated),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Reference:
        return cls(
            task=d["task"],
            classes=tuple(d["classes"]),
            calibration=tuple(
                None if c is None else (tuple(c["x"]), tuple(c["y"])) for c in d["calibration"]
            ),
            ece=tuple((float(a), float(b)) for a, b in d["ece"]),
            metrics=none_to_nan(d["metrics"]),
            se=none_to_nan(d["se"]),
            rows=int(d["rows"]),
            se_rows=int(d["se_rows"]),
            estimated=none_to_nan(d.get("estimated", {})),
        )


@dataclass(frozen=True)
class Estimate:
    """Estimated metrics of one chunk, their SEs at its size, and the expected confusion
    matrix (rows true, columns predicted)."""

    metrics: dict[str, float]
    se: dict[str, float]
    rows: int
    confusion: list[list[float]]

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": nan_to_none(self.metrics),
            "se": nan_to_none(self.se),
            "rows": self.rows,
            "confusion": self.confusion,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Estimate:
        return cls(none_to_nan(d["metrics"]), none_to_nan(d["se"]), int(d["rows"]), d["confusion"])


def fit(
    task: str,
    y: np.ndarray,
    scores: np.ndarray,
    classes: Sequence[Any] | None = None,
    *,
    seed: int = 0,
) -> Reference:
    """CBPE's reference from labelled holdout rows: ``y`` class codes, ``scores`` P(positive)
    (binary) or class probabilities (multiclass)."""
    yi, s = _check(task, np.asarray(y), np.asarray(scores, dtype=float))
    k = 2 if task == "binary" else s.shape[1]
    classes = tuple(classes) if classes is not None else tuple(range(k))
    if len(classes) != k:
        raise DataError(
            f"{len(classes)} classes but the scores are for {k}",
            "pass the champion's classes in the order of its score columns",
        )
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, 2, len(yi))
    columns = [s] if task == "binary" else [s[:, j] for j in range(k)]
    targets = [yi == 1] if task == "binary" else [yi == j for j in range(k)]
    calibration: list[Breakpoints | None] = []
    eces: list[tuple[float, float]] = []
    for col, hit in zip(columns, targets, strict=True):
        cal, ece = _choose_calibration(col, hit.astype(float), fold)
        calibration.append(cal)
        eces.append(ece)
    metrics = realized(task, yi, s)
    se_rows = min(len(yi), SE_ROWS)
    se = resampled_se(task, yi, s, se_rows, rng)
    ref = Reference(task, classes, tuple(calibration), tuple(eces), metrics, se, len(yi), se_rows)
    return Reference(**{**ref.__dict__, "estimated": estimate(ref, s).metrics})


def calibrate(ref: Reference, scores: np.ndarray) -> np.ndarray:
    """The calibrated probabilities, the same shape as ``scores``."""
    s = np.asarray(scores, dtype=float)
    if ref.task == "binary":
        return _apply(ref.calibration[0], s)
    out = np.column_stack([_apply(c, s[:, j]) for j, c in enumerate(ref.calibration)])
    total = out.sum(axis=1, keepdims=True)
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), s)


def se_at(ref: Reference, metric: str, n: int) -> float:
    """The sampling SE of ``metric`` measured on ``n`` rows (NaN for n < 1 or no SE)."""
    se = ref.se.get(metric, math.nan)
    return se * math.sqrt(ref.se_rows / n) if n > 0 else math.nan


def estimate(ref: Reference, scores: np.ndarray) -> Estimate:
    """CBPE's estimate of a chunk from the champion's scores alone."""
    s = np.asarray(scores, dtype=float)
    _check_scores(ref.task, s, len(ref.classes))
    p = calibrate(ref, s)
    n = len(s)
    if ref.task == "binary":
        metrics, confusion = _estimate_binary(s, p)
    else:
        metrics, confusion = _estimate_multiclass(s, p)
    se = {m: se_at(ref, m, n) for m in metrics}
    return Estimate(metrics, se, n, confusion.tolist())


def expected_confusion(task: str, scores: np.ndarray, calibrated: np.ndarray) -> np.ndarray:
    """C[true, predicted]: the expected count of each cell (the champion's predicted labels,
    the calibrated probabilities of the true class)."""
    if task == "binary":
        label = scores >= 0.5
        tp = float(calibrated[label].sum())
        fp = float(label.sum()) - tp
        fn = float(calibrated[~label].sum())
        tn = float((~label).sum()) - fn
        return np.array([[tn, fp], [fn, tp]])
    k = scores.shape[1]
    label = scores.argmax(axis=1)
    rows = [np.bincount(label, weights=calibrated[:, i], minlength=k) for i in range(k)]
    return np.vstack(rows).astype(float)


def expected_auc(scores: np.ndarray, calibrated: np.ndarray) -> float:
    """The area under the expected ROC curve (see the module docstring); NaN when the
    expected positives or negatives are 0."""
    if len(scores) == 0:
        return math.nan
    order = np.argsort(scores)[::-1]  # within a tie the order is free: sums at its end
    s = scores[order]
    w = calibrated[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    tp = np.r_[0.0, np.cumsum(w)[last]]
    fp = np.r_[0.0, np.cumsum(1.0 - w)[last]]
    if tp[-1] <= 0 or fp[-1] <= 0:
        return math.nan
    return float(np.trapezoid(tp / tp[-1], fp / fp[-1]))


def ece(p: np.ndarray, hit: np.ndarray) -> float:
    """Expected calibration error over ``ECE_BINS`` equal-width bins of [0, 1]."""
    if len(p) == 0:
        return math.nan
    b = np.minimum((np.clip(p, 0.0, 1.0) * ECE_BINS).astype(int), ECE_BINS - 1)
    observed = np.bincount(b, weights=hit, minlength=ECE_BINS)
    predicted = np.bincount(b, weights=p, minlength=ECE_BINS)
    return float(np.abs(observed - predicted).sum() / len(p))


def isotonic_breakpoints(x: np.ndarray, hit: np.ndarray) -> Breakpoints:
    """The isotonic fit of ``hit`` on ``x`` (ties pooled first), as breakpoints."""
    from scipy.optimize import isotonic_regression

    order = np.argsort(x, kind="mergesort")
    xs, hs = x[order], hit[order]
    start = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    counts = np.diff(np.r_[start, len(xs)])
    means = np.add.reduceat(hs, start) / counts
    fitted = isotonic_regression(means, weights=counts.astype(float), increasing=True).x
    ux = xs[start]
    keep = np.ones(len(fitted), dtype=bool)
    if len(fitted) > 2:  # the inside points of a flat run change nothing in the interpolation
        keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return tuple(float(v) for v in ux[keep]), tuple(float(v) for v in fitted[keep])


def _apply(cal: Breakpoints | None, s: np.ndarray) -> np.ndarray:
    if cal is None:
        return np.clip(s, 0.0, 1.0)
    return np.interp(s, np.asarray(cal[0]), np.asarray(cal[1]))


def _choose_calibration(
    col: np.ndarray, hit: np.ndarray, fold: np.ndarray
) -> tuple[Breakpoints | None, tuple[float, float]]:
    raw = ece(col, hit)
    if len(col) < MIN_CALIBRATION_ROWS or hit.min() == hit.max():
        return None, (raw, math.nan)
    oof = np.empty_like(col)
    for f in (0, 1):
        train, test = fold != f, fold == f
        if not train.any():
            return None, (raw, math.nan)
        oof[test] = _apply(isotonic_breakpoints(col[train], hit[train]), col[test])
    calibrated = ece(oof, hit)
    if calibrated < raw:
        return isotonic_breakpoints(col, hit), (raw, calibrated)
    return None, (raw, calibrated)


def _estimate_binary(s: np.ndarray, p: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    c = expected_confusion("binary", s, p)
    (tn, fp), (fn, tp) = c
    n = len(s)
    if n == 0:
        names = ("auc", "logloss", "accuracy", "precision", "recall", "f1")
        return dict.fromkeys(names, math.nan), c
    q = np.clip(s, EPS, 1 - EPS)
    return {
        "auc": expected_auc(s, p),
        "logloss": float(-np.mean(p * np.log(q) + (1 - p) * np.log(1 - q))) if n else math.nan,
        "accuracy": float((tp + tn) / n) if n else math.nan,
        "precision": _ratio(tp, tp + fp, 0.0),
        "recall": _ratio(tp, tp + fn, 0.0),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn, 0.0),
    }, c


def _estimate_multiclass(s: np.ndarray, p: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    c = expected_confusion("multiclass", s, p)
    n = len(s)
    k = s.shape[1]
    diag, true_k, pred_k = np.diag(c), c.sum(axis=1), c.sum(axis=0)
    present = [j for j in range(k) if true_k[j] + pred_k[j] > 0]
    q = np.log(np.clip(s, EPS, 1.0))
    aucs = [a for j in range(k) if not math.isnan(a := expected_auc(s[:, j], p[:, j]))]
    return {
        "multi_logloss": float(-np.mean((p * q).sum(axis=1))) if n else math.nan,
        "accuracy": float(diag.sum() / n) if n else math.nan,
        "macro_f1": _mean([_ratio(2 * diag[j], true_k[j] + pred_k[j]) for j in present]),
        "macro_precision": _mean([_ratio(diag[j], pred_k[j], 0.0) for j in present]),
        "macro_recall": _mean([_ratio(diag[j], true_k[j], 0.0) for j in present]),
        "auc": _mean(aucs),
    }, c


def resampled_se(
    task: str, y: np.ndarray, s: np.ndarray, m: int, rng: np.random.Generator
) -> dict[str, float]:
    if m < 2:
        return {}
    draws: dict[str, list[float]] = {}
    for _ in range(SE_RESAMPLES):
        idx = rng.integers(0, len(y), m)
        for name, value in realized(task, y[idx], s[idx]).items():
            draws.setdefault(name, []).append(value)
    return {
        name: float(np.nanstd(v, ddof=1)) if np.isfinite(v).sum() > 1 else math.nan
        for name, v in draws.items()
    }


def _check(task: str, y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if task not in ("binary", "multiclass"):
        raise DataError(
            f"CBPE estimates classification, not task {task!r}",
            "use workbench.monitor.dle for regression",
        )
    _check_scores(task, s, None)
    if len(y) != len(s):
        raise DataError(f"{len(y)} targets but {len(s)} scores", "pass one score per row")
    if not (np.isfinite(s).all() and np.isfinite(y.astype(float)).all()):
        raise DataError(
            "CBPE is fitted on labelled rows with scores: a target or a score is missing",
            "fit on the holdout rows that have a label, with the champion's scores",
        )
    return y.astype(int), s


def _check_scores(task: str, s: np.ndarray, k: int | None) -> None:
    if task == "binary" and s.ndim != 1:
        raise DataError(
            f"binary scores must be P(positive), shape (n,), not {s.shape}",
            "pass the probability of the positive class",
        )
    if task == "multiclass" and (s.ndim != 2 or (k is not None and s.shape[1] != k)):
        raise DataError(
            f"multiclass scores must have shape (n, {k or 'classes'}), not {s.shape}",
            "pass one probability column per class, in the champion's class order",
        )


def _ratio(a: float, b: float, empty: float = math.nan) -> float:
    return float(a / b) if b > 0 else empty


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def nan_to_none(d: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else float(v)) for k, v in d.items()}


def none_to_nan(d: dict[str, Any]) -> dict[str, float]:
    return {k: (math.nan if v is None else float(v)) for k, v in d.items()}
