"""Reference-vs-current histograms stored with each drift result, for the TUI's drift pane.

One set of bins for both sides, so the bars compare: numerical columns get ``BINS`` equal-width
bins over the range both sides share (from the lower of the two minimums to the higher of the
two maximums; ``numpy.histogram`` semantics, the last bin closed); categorical columns get the
``TOP`` most frequent levels over both sides plus ``(other)``. Values are shares of each side's
non-null rows, so a side with 300 rows and one with 30,000 draw on the same scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

BINS = 12
TOP = 8
OTHER = "(other)"


def numerical(ref: np.ndarray, cur: np.ndarray) -> dict[str, Any] | None:
    """Shares per shared equal-width bin; None when a side has no finite values."""
    ref = ref[np.isfinite(ref)]
    cur = cur[np.isfinite(cur)]
    if ref.size == 0 or cur.size == 0:
        return None
    lo = float(min(ref.min(), cur.min()))
    hi = float(max(ref.max(), cur.max()))
    edges = np.linspace(lo, hi, BINS + 1) if hi > lo else np.array([lo - 0.5, lo + 0.5])
    r, _ = np.histogram(ref, edges)
    c, _ = np.histogram(cur, edges)
    return {
        "labels": [_num(x) for x in edges[:-1]],
        "edges": [float(x) for x in edges],
        "reference": (r / ref.size).round(6).tolist(),
        "current": (c / cur.size).round(6).tolist(),
    }


def categorical(ref: np.ndarray, cur: np.ndarray, levels: Sequence[str]) -> dict[str, Any] | None:
    """Shares of the most frequent levels (codes into ``levels``) and of the rest together."""
    if ref.size == 0 or cur.size == 0:
        return None
    n = len(levels)
    r = np.bincount(ref, minlength=n) / ref.size
    c = np.bincount(cur, minlength=n) / cur.size
    order = sorted(range(n), key=lambda i: (-(r[i] + c[i]), str(levels[i])))
    top, rest = order[:TOP], order[TOP:]
    labels = [str(levels[i]) for i in top]
    ref_shares = [round(float(r[i]), 6) for i in top]
    cur_shares = [round(float(c[i]), 6) for i in top]
    if rest:
        labels.append(OTHER)
        ref_shares.append(round(float(r[rest].sum()), 6))
        cur_shares.append(round(float(c[rest].sum()), 6))
    return {"labels": labels, "reference": ref_shares, "current": cur_shares}


def _num(x: float) -> str:
    """A short bin label: 3 significant digits, no exponent for everyday magnitudes."""
    return f"{x:.3g}" if abs(x) < 1e6 else f"{x:.2e}"
