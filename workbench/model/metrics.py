"""Holdout metrics per task, and which direction is better for the gate.

binary: auc, logloss, accuracy, f1, precision, recall (labels at probability 0.5);
multiclass: multi_logloss, accuracy, macro_f1 (scikit-learn's: the mean F1 over the classes
that are true or predicted in these rows); regression: rmse, mae, r2.
AUC is the Mann-Whitney statistic with average ranks for ties, which equals the area under
the ROC curve (numpy only: importing scipy.stats would cost more than the whole evaluation;
the tests check it against ``scipy.stats.rankdata`` and a trapezoidal ROC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

HIGHER_IS_BETTER = {"auc", "accuracy", "f1", "precision", "recall", "macro_f1", "r2"}
LOWER_IS_BETTER = {"logloss", "multi_logloss", "rmse", "mae"}
BY_TASK = {
    "binary": ("auc", "logloss", "accuracy", "f1", "precision", "recall"),
    "multiclass": ("multi_logloss", "accuracy", "macro_f1"),
    "regression": ("rmse", "mae", "r2"),
}
EPS = 1e-15


def check_metric(task: str, metric: str) -> None:
    if metric.startswith("kpi:"):  # a KPI: the config checked its name, the pipeline scores it
        return
    if metric not in BY_TASK[task]:
        raise ConfigError(
            f"gate.metric = {metric!r} is not computed for task {task!r}",
            f"use one of {', '.join(BY_TASK[task])}",
        )


def higher_is_better(metric: str) -> bool:
    return metric in HIGHER_IS_BETTER


def compute(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """All metrics of ``task``; ``pred`` is P(class 1), class probabilities, or values."""
    if task == "binary":
        return _binary(y, pred)
    if task == "multiclass":
        return _multiclass(y, pred)
    return _regression(y, pred)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (as ``scipy.stats.rankdata``)."""
    import numpy as np

    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    bounds = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True])
    sorted_ranks = np.repeat((bounds[:-1] + bounds[1:] + 1) / 2.0, np.diff(bounds))
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = sorted_ranks
    return ranks


def auc(y: np.ndarray, score: np.ndarray) -> float:
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = average_ranks(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _binary(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    import numpy as np

    label = (p >= 0.5).astype(int)
    tp = int(((label == 1) & (y == 1)).sum())
    fp = int(((label == 1) & (y == 0)).sum())
    fn = int(((label == 0) & (y == 1)).sum())
    q = np.clip(p, EPS, 1 - EPS)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "auc": auc(y, p),
        "logloss": float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))),
        "accuracy": float(np.mean(label == y)),
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "precision": precision,
        "recall": recall,
    }


def _multiclass(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    import numpy as np

    yi = y.astype(int)
    q = np.clip(p[np.arange(len(yi)), yi], EPS, 1.0)
    label = p.argmax(axis=1)
    f1s = []
    for k in range(p.shape[1]):
        tp = int(((label == k) & (yi == k)).sum())
        fp = int(((label == k) & (yi != k)).sum())
        fn = int(((label != k) & (yi == k)).sum())
        if tp + fp + fn:  # a class neither true nor predicted here is not averaged in
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return {
        "multi_logloss": float(-np.mean(np.log(q))),
        "accuracy": float(np.mean(label == yi)),
        "macro_f1": float(np.mean(f1s)),
    }


def _regression(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    import numpy as np

    err = pred - y
    total = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": 1.0 - float(np.sum(err**2)) / total if total else float("nan"),
    }
