"""Per-feature data drift between a reference and a current sample, Evidently-compatible.

Users compare our drift numbers with Evidently's, so the default method per column follows
Evidently's documented "data drift algorithm" (DataDriftPreset defaults, Evidently 0.4-0.7:
https://docs-old.evidentlyai.com/reference/data-drift-algorithm and the thresholds of
https://docs-old.evidentlyai.com/user-guide/customization/options-for-statistical-tests; code:
``calculations/stattests/registry.py::_get_default_stattest`` and ``stattests/utils.py``):

reference rows <= 1000 (small sample; drift when p-value <= 0.05):
  numerical, n_unique > 5        -> "ks"          two-sample Kolmogorov-Smirnov
  numerical, 3 <= n_unique <= 5  -> "chisquare"   chi-square goodness of fit
  numerical, n_unique <= 2       -> "z"           two-proportion Z-test
  categorical, n_unique > 2      -> "chisquare"
  categorical, n_unique <= 2     -> "z"
reference rows > 1000 (large sample; drift when distance >= 0.1):
  numerical, n_unique > 5        -> "wasserstein"   W1 / max(std(reference), 0.001)
  numerical, n_unique <= 5       -> "jensenshannon" Jensen-Shannon distance, natural log
  categorical                    -> "jensenshannon"

n_unique counts the distinct non-null *reference* values, so the choice depends on the
reference alone and can be cached with it (Evidently's code counts ref ∪ cur: the two agree
unless the current brings new values across the 2/5 boundaries).

Choices where Evidently is silent or where we differ, each on purpose:
- every p-value method drifts at ``p <= threshold`` (Evidently's ks uses <=, its chisquare
  and z use <; they differ only at exactly p == threshold).
- chisquare: categories are ref ∪ cur, expected = reference share × current total (Evidently
  scales reference counts by n_cur/n_ref: the same numbers). A level seen only in the current
  has expected count 0, so the statistic is infinite and scipy's p-value is 0.0: we return 0.0
  directly (certain drift, no division warning). One level overall gives p = 1.0 (scipy: nan).
- z: the "positive" value is the first of the sorted union (Evidently codes it 0 and the rest
  1; the two-sided p-value is the same). Both samples constant and equal: p = 1.0.
- jensenshannon bins as Evidently's ``get_binned_data``: numerical with > 20 distinct
  reference values -> Sturges edges over ref and cur together; otherwise (and categorical)
  one bin per value of ref ∪ cur. Evidently calls it with ``feel_zeroes=False``, so empty bins
  stay 0 (the distance is finite without smoothing) and so do we.
- psi is reported for every feature as a second opinion (threshold 0.2, the usual PSI rule).
  It is not Evidently's PSI (Evidently bins PSI like jensenshannon and uses 0.1): numerical
  bins are the reference deciles, so each reference bin holds ~10% and the edges can be cached.
  Empty bins get Evidently's ``get_binned_data`` epsilon: 0.0001, or min(nonzero share) / 1e6
  when the smallest nonzero share is <= 0.0001 (so an empty bin never outweighs a real one).

Only numpy is imported here: importing ``scipy.stats`` costs ~0.5 s (seconds on a cold
disk), more than scoring a 1M-row feature. ks (exact small-sample distribution) and the chi-square
survival function import scipy inside the function; both only run by default on <= 1000
reference rows. The tests check every statistic against scipy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench.errors import ConfigError

NUMERICAL = "numerical"
CATEGORICAL = "categorical"
KINDS = (NUMERICAL, CATEGORICAL)

SMALL_SAMPLE_MAX_ROWS = 1000
FEW_UNIQUE_MAX = 5  # numerical columns with at most this many values are treated as levels
BINARY_MAX = 2
STURGES_MIN_UNIQUE = 20  # get_binned_data: more distinct reference values -> Sturges bins
STD_FLOOR = 0.001
ZERO_SHARE = 0.0001
_BLOCK = 1 << 14  # elements per step of the Wasserstein sum: its temporaries stay in cache
PSI_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

P_VALUE_METHODS = ("ks", "chisquare", "z")
DISTANCE_METHODS = ("wasserstein", "jensenshannon", "psi")
METHODS = P_VALUE_METHODS + DISTANCE_METHODS
NUMERICAL_ONLY = ("ks", "wasserstein")
DEFAULT_THRESHOLDS = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.2,
}
NO_VALUES_NOTE = "no values in reference or current"


def choose_method(kind: str, n_ref: int, n_unique_ref: int) -> tuple[str, float]:
    """Evidently's default (method, threshold) for a column of ``kind``."""
    _check_kind(kind)
    if n_ref <= SMALL_SAMPLE_MAX_ROWS:
        if kind == NUMERICAL and n_unique_ref > FEW_UNIQUE_MAX:
            method = "ks"
        else:
            method = "chisquare" if n_unique_ref > BINARY_MAX else "z"
    elif kind == NUMERICAL and n_unique_ref > FEW_UNIQUE_MAX:
        method = "wasserstein"
    else:
        method = "jensenshannon"
    return method, DEFAULT_THRESHOLDS[method]


def is_drift(method: str, score: float, threshold: float) -> bool:
    """p-value methods drift at ``score <= threshold``, distances at ``score >= threshold``."""
    if method in P_VALUE_METHODS:
        return bool(score <= threshold)
    return bool(score >= threshold)


# --- statistics ------------------------------------------------------------------------------


def ks_pvalue(ref: np.ndarray, cur: np.ndarray) -> float:
    """Two-sided two-sample K-S p-value, as ``scipy.stats.ks_2samp`` (exact when small)."""
    from scipy.stats import ks_2samp  # the exact distribution is scipy's; paid once, small data

    return float(ks_2samp(ref, cur).pvalue)


def chisquare_pvalue(ref: np.ndarray, cur: np.ndarray) -> float:
    """Evidently's chi-square: current counts against reference shares × current total."""
    _, ref_counts, cur_counts = union_counts(ref, cur)
    return _chisquare_from_counts(ref_counts, cur_counts)


def z_pvalue(ref: np.ndarray, cur: np.ndarray) -> float:
    """Two-proportion Z-test on the share of the first value of the sorted union."""
    _, ref_counts, cur_counts = union_counts(ref, cur)
    return _z_from_counts(ref_counts, cur_counts)


def wasserstein_norm(ref: np.ndarray, cur: np.ndarray, ref_sorted: bool = False) -> float:
    """W1(ref, cur) / max(std(ref), 0.001); pass ``ref_sorted=True`` for a cached sorted ref."""
    ref_s = ref if ref_sorted else np.sort(ref)
    return _wasserstein_sorted(ref_s, np.sort(cur)) / max(float(np.std(ref_s)), STD_FLOOR)


def jensenshannon(ref: np.ndarray, cur: np.ndarray, kind: str) -> float:
    """Jensen-Shannon distance (natural log) between the binned shares of ref and cur."""
    _check_kind(kind)
    if kind == NUMERICAL:
        return _js_numerical(ref, cur, _n_unique(ref))
    _, ref_counts, cur_counts = union_counts(ref, cur)
    return js_distance(ref_counts / ref.size, cur_counts / cur.size)


def psi(
    ref: np.ndarray,
    cur: np.ndarray,
    ref_quantiles: np.ndarray | None = None,
    *,
    kind: str | None = None,
) -> float:
    """Population Stability Index over reference-decile bins (numerical) or levels.

    ``ref_quantiles`` are precomputed ``reference_deciles(ref)``, so a cached reference need
    not be scanned again. ``kind`` defaults to numerical for numeric dtypes.
    """
    if kind is None:
        kind = NUMERICAL if np.issubdtype(ref.dtype, np.number) else CATEGORICAL
    _check_kind(kind)
    if kind == CATEGORICAL:
        _, ref_counts, cur_counts = union_counts(ref, cur)
        return _psi_from_counts(ref_counts, cur_counts)
    edges = reference_deciles(ref) if ref_quantiles is None else ref_quantiles
    edges = np.unique(edges)
    return _psi_from_counts(bin_counts(ref, edges), bin_counts(cur, edges))


def reference_deciles(ref: np.ndarray) -> np.ndarray:
    """The nine PSI edges: reference quantiles 0.1..0.9, linear interpolation."""
    return np.quantile(ref, PSI_QUANTILES)


def sorted_deciles(ref_s: np.ndarray) -> np.ndarray:
    """``reference_deciles`` of an ascending NaN-free array, bit for bit, without its copy and
    partition: numpy's "linear" method (virtual index (n-1)*q, its neighbours, numpy's own
    ``_lerp`` rounding) evaluated on the 18 neighbours only."""
    q = np.asarray(PSI_QUANTILES, dtype=np.float64)
    virtual = (ref_s.size - 1) * q
    prev = np.floor(virtual)
    gamma = virtual - prev
    last = virtual >= ref_s.size - 1
    below = np.where(last, ref_s.size - 1, prev).astype(np.intp)
    above = np.where(last, ref_s.size - 1, prev + 1).astype(np.intp)
    a, b = ref_s[below], ref_s[above]
    diff_b_a = b - a
    out = np.add(a, diff_b_a * gamma)
    np.subtract(b, diff_b_a * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


# --- building blocks (shared by the public statistics and feature_drift) ---------------------


def union_counts(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct values of ref ∪ cur, and how often each occurs in ref and in cur."""
    ref_keys, ref_n = np.unique(ref, return_counts=True)
    cur_keys, cur_n = np.unique(cur, return_counts=True)
    keys = np.union1d(ref_keys, cur_keys)
    ref_counts = np.zeros(keys.size, dtype=np.int64)
    cur_counts = np.zeros(keys.size, dtype=np.int64)
    ref_counts[np.searchsorted(keys, ref_keys)] = ref_n
    cur_counts[np.searchsorted(keys, cur_keys)] = cur_n
    return keys, ref_counts, cur_counts


def bin_counts(values: np.ndarray, edges: np.ndarray, is_sorted: bool = False) -> np.ndarray:
    """Counts in (-inf, e0), [e0, e1), ..., [e_last, inf): ``np.histogram`` with ±inf ends."""
    if is_sorted:  # O(bins log n) on a sorted array
        below = np.searchsorted(values, edges, side="left")
        return np.diff(np.concatenate(([0], below, [values.size])))
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)


def fill_zeros(shares: np.ndarray) -> np.ndarray:
    """Evidently's epsilon for empty bins (``get_binned_data(feel_zeroes=True)``)."""
    nonzero = shares[shares != 0]
    if nonzero.size == 0 or nonzero.size == shares.size:
        return shares
    smallest = float(nonzero.min())
    eps = smallest / 10**6 if smallest <= ZERO_SHARE else ZERO_SHARE
    return np.where(shares == 0, eps, shares)


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """sqrt((KL(p||m) + KL(q||m)) / 2), m = (p+q)/2, after normalising: scipy's jensenshannon."""
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2.0
    divergence = (_kl_to(p, m) + _kl_to(q, m)) / 2.0
    return math.sqrt(max(divergence, 0.0))


def _kl_to(p: np.ndarray, m: np.ndarray) -> float:
    mask = p > 0  # 0 log 0 = 0; m > 0 wherever p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / m[mask])))


def _chisquare_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    if ref_counts.size < 2:
        return 1.0  # one level in both samples: nothing can differ (scipy would say nan)
    expected = ref_counts / ref_counts.sum() * cur_counts.sum()
    if np.any((expected == 0) & (cur_counts > 0)):
        return 0.0  # a level only in the current: infinite statistic, certain drift
    from scipy.special import chdtrc  # chi2 survival function; far lighter than scipy.stats

    keep = expected > 0
    stat = float(np.sum((cur_counts[keep] - expected[keep]) ** 2 / expected[keep]))
    return float(chdtrc(ref_counts.size - 1, stat))


def _z_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    n1, n2 = int(ref_counts.sum()), int(cur_counts.sum())
    x1, x2 = int(ref_counts[0]), int(cur_counts[0])
    pooled = (x1 + x2) / (n1 + n2)
    if pooled <= 0.0 or pooled >= 1.0:
        return 1.0  # both samples constant and equal
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return math.erfc(abs(z) / math.sqrt(2.0))  # = 2 * (1 - Phi(|z|)), accurate in the tail


def _psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    ref_share = fill_zeros(ref_counts / ref_counts.sum())
    cur_share = fill_zeros(cur_counts / cur_counts.sum())
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _js_numerical(ref: np.ndarray, cur: np.ndarray, n_unique_ref: int) -> float:
    if n_unique_ref > STURGES_MIN_UNIQUE:
        ref_counts, cur_counts = _sturges_counts(ref, cur)
    else:
        _, ref_counts, cur_counts = union_counts(ref, cur)
    return js_distance(ref_counts / ref.size, cur_counts / cur.size)


def _sturges_counts(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.histogram_bin_edges(np.concatenate((ref, cur)), bins="sturges")
    # equal-width bins given as (count, range) take numpy's fast path; same edges and counts
    span = (float(edges[0]), float(edges[-1]))
    n_bins = edges.size - 1
    return np.histogram(ref, n_bins, span)[0], np.histogram(cur, n_bins, span)[0]


def _wasserstein_sorted(ref_s: np.ndarray, cur_s: np.ndarray) -> float:
    """W1 of two sorted samples: the integral of |F_ref^-1(t) - F_cur^-1(t)| over t in [0, 1].

    Equal to scipy's ``_cdf_distance`` (the integral of |F_ref - F_cur| over x), with no merge
    or sort. On the t axis scaled by n*m (n >= m the two sizes), order statistic i of the
    larger sample covers [i*m, (i+1)*m) and j of the smaller [j*n, (j+1)*n). A block of the
    larger sample is no longer than one of the smaller, so it overlaps at most two of them:
    j0 = i*m // n for len0 = min((i+1)*m, (j0+1)*n) - i*m of its length, j1 = (i*m+m-1) // n
    for the other m - len0. So W1 * n*m = sum(len0 * |x_i - y_j0| + (m - len0) * |x_i - y_j1|):
    exact integer indices and lengths, elementwise numpy in cache-sized blocks, O(n).

    One code path for every pair of sizes (drift at 1M vs 999,999 rows costs what 1M vs 1M
    does; equal sizes are j0 = j1 = i, the mean gap of matching order statistics). Ties need
    no care: the quantile function of a sample with ties is still its sorted values.
    """
    big, small = (ref_s, cur_s) if ref_s.size >= cur_s.size else (cur_s, ref_s)
    n, m = big.size, small.size
    total = 0.0
    for lo in range(0, n, _BLOCK):
        hi = min(lo + _BLOCK, n)
        start = np.arange(lo * m, hi * m, m, dtype=np.int64)
        j0 = start // n
        j1 = (start + (m - 1)) // n
        len0 = (j0 + 1) * n
        np.minimum(len0, start + m, out=len0)
        len0 -= start
        x = big[lo:hi]
        near = np.abs(x - small[j0])
        far = np.abs(x - small[j1])
        near -= far  # len0*near + (m-len0)*far = len0*(near-far) + m*far
        near *= len0  # no np.dot: OpenBLAS threads made 1M-row columns ~20x slower (drift)
        total += float(near.sum()) + m * float(far.sum())
    return total / (float(n) * float(m))


def _n_unique(values: np.ndarray) -> int:
    return int(np.unique(values).size)


def _n_unique_sorted(values: np.ndarray) -> int:
    return int(np.count_nonzero(values[1:] != values[:-1])) + 1 if values.size else 0


# --- per feature and per dataset -------------------------------------------------------------


def feature_drift(
    name: str,
    kind: str,
    ref: np.ndarray,
    cur: np.ndarray,
    *,
    method: str | None = None,
    threshold: float | None = None,
    is_sorted: bool = False,
) -> dict[str, Any]:
    """Drift of one column: the default (or the given) method, its score, and PSI.

    ``ref`` and ``cur`` have their nulls dropped (float64 for numerical, strings for
    categorical). An empty side gives ``score: None``, ``drifted: False`` and a ``note``.
    ``is_sorted=True``: numerical ``ref`` and ``cur`` are already ``sorted_numbers`` (a caller
    that sorted them once for its histograms too), so they are not sorted again.
    """
    _check_kind(kind)
    if method is not None:
        _check_method(method, kind)
    ref, cur = np.asarray(ref), np.asarray(cur)
    if kind == CATEGORICAL:
        _, ref_counts, cur_counts = union_counts(ref, cur)
        return categorical_drift(name, ref_counts, cur_counts, method=method, threshold=threshold)
    if not is_sorted:
        ref, cur = sorted_numbers(ref), sorted_numbers(cur)
    if ref.size == 0 or cur.size == 0:
        n_unique = _n_unique_sorted(ref)
        return _no_values(name, kind, ref.size, cur.size, n_unique, method, threshold)
    n_unique_ref = _n_unique_sorted(ref)
    method = method or choose_method(kind, ref.size, n_unique_ref)[0]
    psi_value = _psi_from_counts(*_decile_counts(ref, cur))
    score = psi_value if method == "psi" else _numerical_score(method, ref, cur, n_unique_ref)
    return _drift(name, kind, method, score, threshold, psi_value, ref.size, cur.size)


def categorical_drift(
    name: str,
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    method: str | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """``feature_drift`` of a categorical column given by its counts: how often each level of
    the sorted union of both sides' values occurs in ref and in cur (``union_counts``; every
    level occurs on at least one side). A caller that counted the levels itself (drift counts
    strings in polars) thus gets the same numbers without an array of every value."""
    if method is not None:
        _check_method(method, CATEGORICAL)
    ref_counts = np.asarray(ref_counts, dtype=np.int64)
    cur_counts = np.asarray(cur_counts, dtype=np.int64)
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    n_unique_ref = int(np.count_nonzero(ref_counts))
    if n_ref == 0 or n_cur == 0:
        return _no_values(name, CATEGORICAL, n_ref, n_cur, n_unique_ref, method, threshold)
    method = method or choose_method(CATEGORICAL, n_ref, n_unique_ref)[0]
    psi_value = _psi_from_counts(ref_counts, cur_counts)
    score = _categorical_score(method, ref_counts, cur_counts, psi_value)
    return _drift(name, CATEGORICAL, method, score, threshold, psi_value, n_ref, n_cur)


def _drift(
    name: str,
    kind: str,
    method: str,
    score: float,
    threshold: float | None,
    psi_value: float,
    n_ref: int,
    n_cur: int,
) -> dict[str, Any]:
    limit = DEFAULT_THRESHOLDS[method] if threshold is None else threshold
    return {
        "name": name,
        "type": kind,
        "method": method,
        "score": score,
        "threshold": limit,
        "drifted": is_drift(method, score, limit),
        "psi": psi_value,
        "n_ref": int(n_ref),
        "n_cur": int(n_cur),
    }


def dataset_drift(features: list[dict[str, Any]], drift_share: float) -> dict[str, Any]:
    """Dataset drift when the share of drifted features reaches ``drift_share``.

    Only features with a score count (``features`` is that number); with none, no drift.
    """
    scored = [f for f in features if f.get("score") is not None]
    drifted = sum(1 for f in scored if f["drifted"])
    share = drifted / len(scored) if scored else 0.0
    return {
        "dataset_drift": bool(scored) and share >= drift_share,
        "drift_share": share,
        "drifted": drifted,
        "features": len(scored),
    }


def _numerical_score(method: str, ref_s: np.ndarray, cur_s: np.ndarray, n_unique: int) -> float:
    if method == "ks":
        return ks_pvalue(ref_s, cur_s)
    if method == "wasserstein":
        return _wasserstein_sorted(ref_s, cur_s) / max(float(np.std(ref_s)), STD_FLOOR)
    if method == "jensenshannon":
        return _js_numerical(ref_s, cur_s, n_unique)
    _, ref_counts, cur_counts = union_counts(ref_s, cur_s)
    if method == "chisquare":
        return _chisquare_from_counts(ref_counts, cur_counts)
    return _z_from_counts(ref_counts, cur_counts)


def _categorical_score(
    method: str, ref_counts: np.ndarray, cur_counts: np.ndarray, psi_value: float
) -> float:
    if method == "chisquare":
        return _chisquare_from_counts(ref_counts, cur_counts)
    if method == "z":
        return _z_from_counts(ref_counts, cur_counts)
    if method == "jensenshannon":
        return js_distance(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())
    return psi_value


def _decile_counts(ref_s: np.ndarray, cur_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.unique(sorted_deciles(ref_s))
    return bin_counts(ref_s, edges, is_sorted=True), bin_counts(cur_s, edges, is_sorted=True)


def sorted_numbers(values: np.ndarray) -> np.ndarray:
    """Sorted float64 copy; NaN (sorted last) is dropped should a caller have left some."""
    out = np.sort(values.astype(np.float64, copy=False))
    if out.size and np.isnan(out[-1]):
        out = out[: int(np.searchsorted(np.isnan(out), True))]
    return out


def _no_values(
    name: str,
    kind: str,
    n_ref: int,
    n_cur: int,
    n_unique_ref: int,
    method: str | None,
    threshold: float | None,
) -> dict[str, Any]:
    if method is None and n_ref:
        method = choose_method(kind, n_ref, n_unique_ref)[0]
    if threshold is None and method is not None:
        threshold = DEFAULT_THRESHOLDS[method]
    return {
        "name": name,
        "type": kind,
        "method": method or "none",
        "score": None,
        "threshold": threshold,
        "drifted": False,
        "psi": None,
        "n_ref": int(n_ref),
        "n_cur": int(n_cur),
        "note": NO_VALUES_NOTE,
    }


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown column kind {kind!r}", f"use one of {', '.join(KINDS)}")


def _check_method(method: str, kind: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown drift method {method!r}", f"use one of {', '.join(METHODS)}")
    if kind == CATEGORICAL and method in NUMERICAL_ONLY:
        allowed = ", ".join(m for m in METHODS if m not in NUMERICAL_ONLY)
        raise ConfigError(
            f"drift method {method!r} needs a numerical column", f"for categoricals use {allowed}"
        )
