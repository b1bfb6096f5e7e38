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


def numerical(
    ref: np.ndarray, cur: np.ndarray, *, is_sorted: bool = False
) -> dict[str, Any] | None:
    """Shares per shared equal-width bin; None when a side has no finite values.

    ``is_sorted=True`` (NaN-free ascending arrays, as drift's statistics sort them): the
    finite part is a slice and the counts come from ``searchsorted`` of the 13 edges, O(bins
    log n) instead of a pass over every value; the counts are ``numpy.histogram``'s exactly.
    """
    if is_sorted:
        ref, cur = _finite_sorted(ref), _finite_sorted(cur)
    else:
        ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if ref.size == 0 or cur.size == 0:
        return None
    if is_sorted:
        lo, hi = float(min(ref[0], cur[0])), float(max(ref[-1], cur[-1]))
    else:
        lo, hi = float(min(ref.min(), cur.min())), float(max(ref.max(), cur.max()))
    edges = np.linspace(lo, hi, BINS + 1) if hi > lo else np.array([lo - 0.5, lo + 0.5])
    if is_sorted:
        r, c = _sorted_counts(ref, edges), _sorted_counts(cur, edges)
    else:
        r, _ = np.histogram(ref, edges)
        c, _ = np.histogram(cur, edges)
    return {
        "labels": [_num(x) for x in edges[:-1]],
        "edges": [float(x) for x in edges],
        "reference": (r / ref.size).round(6).tolist(),
        "current": (c / cur.size).round(6).tolist(),
    }


def _finite_sorted(values: np.ndarray) -> np.ndarray:
    """The finite values of an ascending NaN-free array: the slice between -inf and +inf."""
    lo = int(np.searchsorted(values, -np.inf, side="right"))
    hi = int(np.searchsorted(values, np.inf, side="left"))
    return values[lo:hi]


def _sorted_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``numpy.histogram(values, edges)[0]`` of ascending values: [e_i, e_i+1), the last closed."""
    cuts = np.concatenate(
        (
            np.searchsorted(values, edges[:-1], side="left"),
            np.searchsorted(values, edges[-1:], side="right"),
        )
    )
    return np.diff(cuts)


def categorical(ref: np.ndarray, cur: np.ndarray, levels: Sequence[str]) -> dict[str, Any] | None:
    """Shares of the most frequent levels (codes into ``levels``) and of the rest together."""
    if ref.size == 0 or cur.size == 0:
        return None
    n = len(levels)
    return categorical_counts(np.bincount(ref, minlength=n), np.bincount(cur, minlength=n), levels)


def categorical_counts(
    ref_counts: np.ndarray, cur_counts: np.ndarray, levels: Sequence[str]
) -> dict[str, Any] | None:
    """``categorical`` of values given as their counts per level (aligned with ``levels``)."""
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    if n_ref == 0 or n_cur == 0:
        return None
    n = len(levels)
    r = ref_counts / n_ref
    c = cur_counts / n_cur
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
