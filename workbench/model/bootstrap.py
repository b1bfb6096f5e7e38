"""The one bootstrap of holdout metrics: ``compare``, a model card and the CI challenger's
report all use it, so the same rows give the same intervals everywhere.

``intervals(task, y, pa, pb=None)``: for every metric of the task, the 95% percentile interval
of ``metric(pa)`` (one model) or of ``metric(pa) - metric(pb)`` (paired: the same resampled
rows for both models) over ``RESAMPLES`` resamples of the rows with replacement, drawn by
``numpy``'s ``default_rng(SEED)`` — seeded, so the same records give the same numbers.
Resamples where a metric is undefined (AUC on one class) are dropped; a metric undefined in
all of them is ``(nan, nan)``. Above ``MAX_ROWS`` rows a resample draws that many and the
spread is scaled by ``sqrt(m / n)`` around the full-sample value (the m-out-of-n bootstrap),
so an interval costs the same on a million rows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from workbench.model import metrics

if TYPE_CHECKING:
    import numpy as np

RESAMPLES = 200
MAX_ROWS = 20_000
SEED = 0
LEVEL = 0.95


def intervals(
    task: str, y: np.ndarray, pa: np.ndarray, pb: np.ndarray | None = None
) -> dict[str, tuple[float, float]]:
    """metric -> (low, high): of ``metric(pa)``, or of ``metric(pa) - metric(pb)``."""
    import numpy as np

    def value(idx: np.ndarray | None) -> dict[str, float]:
        ya, sa = (y, pa) if idx is None else (y[idx], pa[idx])
        a = metrics.compute(task, ya, sa)
        if pb is None:
            return a
        b = metrics.compute(task, ya, pb if idx is None else pb[idx])
        return {k: a[k] - b[k] for k in a}

    rng = np.random.default_rng(SEED)
    n = len(y)
    m = min(n, MAX_ROWS)
    draws: dict[str, list[float]] = {}
    for _ in range(RESAMPLES):
        for name, v in value(rng.integers(0, n, size=m)).items():
            draws.setdefault(name, []).append(v)
    point = value(None) if m < n else {}
    tail = (1 - LEVEL) / 2
    out: dict[str, tuple[float, float]] = {}
    for name, values in draws.items():
        arr = np.asarray(values, dtype=float)
        arr = arr[~np.isnan(arr)]
        if not len(arr):
            out[name] = (math.nan, math.nan)
            continue
        low, high = (float(q) for q in np.quantile(arr, [tail, 1 - tail]))
        if m < n:
            centre, scale = float(arr.mean()), math.sqrt(m / n)
            low = point[name] + (low - centre) * scale
            high = point[name] + (high - centre) * scale
        out[name] = (low, high)
    return out
