"""Realized performance of the champion on labelled rows (a chunk whose labels came, or the
holdout the estimators are fitted on).

``y`` is the target as class codes (the index into the champion's classes, as
``features.encode_target`` gives them) for classification, values for regression. ``scores``
is P(positive) (binary, shape (n,)), the class probabilities (multiclass, shape (n, k)) or the
predicted values (regression).

Metric names are ``model.metrics``'s (and are computed by it where it has them):
binary: auc, logloss, accuracy, precision, recall, f1 (the label is P(positive) >= 0.5);
multiclass: multi_logloss, accuracy, macro_f1, macro_precision, macro_recall (scikit-learn's
macro averages: over the classes true or predicted in these rows; a class predicted never has
precision 0) and auc (one-vs-rest, the mean over the classes with both positive and negative
rows here); regression: rmse, mae, r2. An undefined metric (AUC of a one-class chunk) is NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.model import metrics


def realized(
    task: str, y: np.ndarray, scores: np.ndarray, classes: Sequence[Any] | None = None
) -> dict[str, float]:
    """Every realized metric of ``task`` on these rows. ``classes`` (the labels behind the
    codes) is accepted for symmetry with ``cbpe.fit``; the codes and score columns suffice."""
    y = np.asarray(y)
    scores = np.asarray(scores, dtype=float)
    if task == "regression":
        return metrics.compute(task, y.astype(float), scores)
    if task == "binary":
        return metrics.compute(task, y.astype(int), scores)
    yi = y.astype(int)
    out = metrics.compute(task, yi, scores)
    label = scores.argmax(axis=1)
    precisions, recalls, aucs = [], [], []
    for k in range(scores.shape[1]):
        tp = int(((label == k) & (yi == k)).sum())
        pred_k = int((label == k).sum())
        true_k = int((yi == k).sum())
        if pred_k or true_k:
            precisions.append(tp / pred_k if pred_k else 0.0)
            recalls.append(tp / true_k if true_k else 0.0)
        if 0 < true_k < len(yi):
            aucs.append(metrics.auc((yi == k).astype(int), scores[:, k]))
    out["macro_precision"] = float(np.mean(precisions))
    out["macro_recall"] = float(np.mean(recalls))
    out["auc"] = float(np.mean(aucs)) if aucs else float("nan")
    return out
