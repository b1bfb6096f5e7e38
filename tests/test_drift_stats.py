"""Drift statistics against scipy (the reference implementation) and Evidently's rules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon as scipy_js

from workbench.errors import ConfigError
from workbench.monitor import stats as ds

SEEDS = (0, 1, 2)
SIZES = (50, 500, 5000)
LEVELS = np.array(["apple", "banana", "cherry", "date"])


def _numbers(seed: int, n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=n), rng.normal(shift, 1.2, size=int(n * 0.8))


def _levels(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every level appears in the reference, so scipy's chisquare has no zero expectation."""
    rng = np.random.default_rng(seed)
    ref = np.concatenate([LEVELS, rng.choice(LEVELS, size=n, p=[0.4, 0.3, 0.2, 0.1])])
    cur = rng.choice(LEVELS, size=int(n * 0.7), p=[0.3, 0.3, 0.25, 0.15])
    return ref.astype(object), cur.astype(object)


def _union_shares(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = np.unique(np.concatenate([ref, cur]))
    return (
        np.array([np.sum(ref == k) for k in keys]) / len(ref),
        np.array([np.sum(cur == k) for k in keys]) / len(cur),
    )


def _epsilon(shares: np.ndarray) -> np.ndarray:
    nonzero = shares[shares > 0]
    eps = 0.0001 if nonzero.min() > 0.0001 else nonzero.min() / 1e6
    return np.where(shares == 0, eps, shares)


# --- each statistic against scipy ----------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_ks_matches_scipy(seed: int, n: int) -> None:
    ref, cur = _numbers(seed, n, shift=0.1)
    assert ds.ks_pvalue(ref, cur) == pytest.approx(stats.ks_2samp(ref, cur).pvalue, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_chisquare_matches_scipy(seed: int, n: int) -> None:
    ref, cur = _levels(seed, n)
    ref_share, cur_share = _union_shares(ref, cur)
    cur_counts = cur_share * len(cur)
    expected = stats.chisquare(cur_counts, ref_share * len(cur)).pvalue
    assert ds.chisquare_pvalue(ref, cur) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", SEEDS)
def test_chisquare_on_discrete_numbers_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = np.concatenate([[1.0, 2.0, 3.0, 4.0], rng.integers(1, 5, 300).astype(float)])
    cur = rng.integers(1, 5, 200).astype(float)
    ref_share, cur_share = _union_shares(ref, cur)
    expected = stats.chisquare(cur_share * len(cur), ref_share * len(cur)).pvalue
    assert ds.chisquare_pvalue(ref, cur) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_z_matches_normal_computation(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.choice(np.array(["no", "yes"], dtype=object), size=n, p=[0.6, 0.4])
    cur = rng.choice(np.array(["no", "yes"], dtype=object), size=n // 2, p=[0.55, 0.45])
    p1, p2 = np.mean(ref == "no"), np.mean(cur == "no")  # "no" sorts first
    pooled = (p1 * len(ref) + p2 * len(cur)) / (len(ref) + len(cur))
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))
    expected = 2 * (1 - stats.norm.cdf(abs(z)))
    assert ds.z_pvalue(ref, cur) == pytest.approx(expected, rel=1e-7, abs=1e-12)


def test_z_positive_value_choice_does_not_change_the_p_value() -> None:
    ref = np.array([0.0] * 30 + [1.0] * 20)
    cur = np.array([0.0] * 10 + [1.0] * 30)
    assert ds.z_pvalue(ref, cur) == pytest.approx(ds.z_pvalue(1 - ref, 1 - cur), rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_wasserstein_matches_scipy(seed: int, n: int) -> None:
    ref, cur = _numbers(seed, n, shift=0.3)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert ds.wasserstein_norm(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert ds.wasserstein_norm(np.sort(ref), cur, ref_sorted=True) == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_wasserstein_with_ties_matches_scipy(seed: int) -> None:
    ref, cur = _numbers(seed, 2000, shift=0.2)
    ref, cur = np.round(ref, 1), np.round(cur, 1)  # many ties inside and across the samples
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert ds.wasserstein_norm(ref, cur) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_jensenshannon_numerical_matches_scipy_on_sturges_bins(seed: int, n: int) -> None:
    ref, cur = _numbers(seed, n, shift=0.4)
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    ref_share = np.histogram(ref, edges)[0] / len(ref)
    cur_share = np.histogram(cur, edges)[0] / len(cur)
    expected = scipy_js(ref_share, cur_share)  # natural log
    assert ds.jensenshannon(ref, cur, "numerical") == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_jensenshannon_categorical_matches_scipy_on_levels(seed: int, n: int) -> None:
    ref, cur = _levels(seed, n)
    expected = scipy_js(*_union_shares(ref, cur))
    assert ds.jensenshannon(ref, cur, "categorical") == pytest.approx(expected, rel=1e-12)


def test_jensenshannon_few_reference_values_gives_one_bin_per_value() -> None:
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 20, 3000).astype(float)  # 20 distinct reference values: no Sturges
    cur = np.concatenate([rng.integers(0, 20, 2000), rng.normal(10, 3, 500)])
    expected = scipy_js(*_union_shares(ref, cur))
    assert ds.jensenshannon(ref, cur, "numerical") == pytest.approx(expected, rel=1e-12)


def test_js_distance_equals_scipy_with_empty_bins() -> None:
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.1, 0.3, 0.6])
    assert ds.js_distance(p, q) == pytest.approx(scipy_js(p, q), rel=1e-12)
    assert ds.js_distance(p, p) == 0.0


def _psi_reference(ref: np.ndarray, cur: np.ndarray) -> float:
    edges = np.unique(np.quantile(ref, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    ref_share = _epsilon(np.histogram(ref, bins)[0] / len(ref))
    cur_share = _epsilon(np.histogram(cur, bins)[0] / len(cur))
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_psi_matches_independent_numpy(seed: int, n: int) -> None:
    ref, cur = _numbers(seed, n, shift=0.5)
    expected = _psi_reference(ref, cur)
    assert ds.psi(ref, cur) == pytest.approx(expected, rel=1e-12)
    deciles = ds.reference_deciles(ref)
    assert ds.psi(ref, cur, ref_quantiles=deciles) == pytest.approx(expected, rel=1e-12)


def test_psi_with_empty_bins_and_duplicate_edges() -> None:
    ref = np.array([0.0] * 500 + [1.0] * 300 + list(np.linspace(2, 3, 200)))  # tied deciles
    cur = np.full(400, 0.0)  # every other bin empty in the current
    assert ds.psi(ref, cur) == pytest.approx(_psi_reference(ref, cur), rel=1e-12)


def test_psi_categorical_uses_levels() -> None:
    ref, cur = _levels(4, 800)
    ref_share, cur_share = _union_shares(ref, cur)
    expected = np.sum((cur_share - ref_share) * np.log(cur_share / ref_share))
    assert ds.psi(ref, cur) == pytest.approx(expected, rel=1e-12)


# --- method selection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "n_ref", "n_unique", "method", "threshold"),
    [
        ("numerical", 1000, 6, "ks", 0.05),
        ("numerical", 1001, 6, "wasserstein", 0.1),
        ("numerical", 1000, 5, "chisquare", 0.05),
        ("numerical", 1001, 5, "jensenshannon", 0.1),
        ("numerical", 1000, 3, "chisquare", 0.05),
        ("numerical", 1000, 2, "z", 0.05),
        ("numerical", 1001, 2, "jensenshannon", 0.1),
        ("categorical", 1000, 3, "chisquare", 0.05),
        ("categorical", 1000, 2, "z", 0.05),
        ("categorical", 1000, 50, "chisquare", 0.05),
        ("categorical", 1001, 2, "jensenshannon", 0.1),
        ("categorical", 1001, 50, "jensenshannon", 0.1),
    ],
)
def test_choose_method_boundaries(
    kind: str, n_ref: int, n_unique: int, method: str, threshold: float
) -> None:
    assert ds.choose_method(kind, n_ref, n_unique) == (method, threshold)


@pytest.mark.parametrize(
    ("n_ref", "n_unique", "method"),
    [
        (1000, 6, "ks"),
        (1001, 6, "wasserstein"),
        (1000, 5, "chisquare"),
        (1001, 5, "jensenshannon"),
        (1000, 3, "chisquare"),
        (1000, 2, "z"),
    ],
)
def test_feature_drift_picks_numerical_method_from_the_reference(
    n_ref: int, n_unique: int, method: str
) -> None:
    ref = np.arange(n_ref, dtype=float) % n_unique
    cur = np.arange(10, dtype=float)  # more values in the current do not change the choice
    assert ds.feature_drift("x", "numerical", ref, cur)["method"] == method


@pytest.mark.parametrize(
    ("n_ref", "n_unique", "method"),
    [
        (1000, 3, "chisquare"),
        (1000, 2, "z"),
        (1001, 2, "jensenshannon"),
        (1001, 3, "jensenshannon"),
    ],
)
def test_feature_drift_picks_categorical_method(n_ref: int, n_unique: int, method: str) -> None:
    ref = LEVELS[np.arange(n_ref) % n_unique].astype(object)
    assert ds.feature_drift("c", "categorical", ref, ref[:100])["method"] == method


def test_unknown_kind_or_method_is_a_config_error() -> None:
    x = np.arange(10.0)
    with pytest.raises(ConfigError):
        ds.choose_method("text", 10, 10)
    with pytest.raises(ConfigError):
        ds.feature_drift("x", "numerical", x, x, method="kl")
    with pytest.raises(ConfigError):
        ds.feature_drift("c", "categorical", LEVELS, LEVELS, method="wasserstein")


# --- drift decisions -------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "method"), [(500, "ks"), (5000, "wasserstein")])
def test_shifted_normal_drifts_and_same_distribution_does_not(n: int, method: str) -> None:
    rng = np.random.default_rng(42)
    ref = rng.normal(size=n)
    same = ds.feature_drift("x", "numerical", ref, rng.normal(size=n))
    shifted = ds.feature_drift("x", "numerical", ref, rng.normal(0.5, 1.0, size=n))
    assert same["method"] == shifted["method"] == method
    assert not same["drifted"]
    assert shifted["drifted"]
    assert shifted["psi"] > same["psi"]
    assert set(shifted) == {
        "name",
        "type",
        "method",
        "score",
        "threshold",
        "drifted",
        "psi",
        "n_ref",
        "n_cur",
    }


def test_feature_drift_scores_equal_the_public_statistics() -> None:
    ref, cur = _numbers(7, 3000, shift=0.2)
    result = ds.feature_drift("x", "numerical", ref, cur)
    assert result["score"] == pytest.approx(ds.wasserstein_norm(ref, cur), rel=1e-12)
    assert result["psi"] == pytest.approx(ds.psi(ref, cur), rel=1e-12)
    assert (result["n_ref"], result["n_cur"]) == (3000, 2400)
    ref_c, cur_c = _levels(7, 3000)
    result = ds.feature_drift("c", "categorical", ref_c, cur_c)
    assert result["score"] == pytest.approx(ds.jensenshannon(ref_c, cur_c, "categorical"))
    assert result["psi"] == pytest.approx(ds.psi(ref_c, cur_c), rel=1e-12)


def test_categorical_shift_drifts_on_large_samples() -> None:
    rng = np.random.default_rng(5)
    ref = rng.choice(LEVELS, 5000, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    same = ds.feature_drift(
        "c", "categorical", ref, rng.choice(LEVELS, 3000, p=[0.4, 0.3, 0.2, 0.1])
    )
    moved = ds.feature_drift(
        "c", "categorical", ref, rng.choice(LEVELS, 3000, p=[0.1, 0.2, 0.3, 0.4])
    )
    assert same["method"] == moved["method"] == "jensenshannon"
    assert not same["drifted"]
    assert moved["drifted"]


# --- edge cases ------------------------------------------------------------------------------


def test_level_only_in_current_is_drift_without_warnings() -> None:
    ref = np.array(["a", "b", "c"] * 100, dtype=object)
    cur = np.array(["a", "b", "c"] * 30 + ["new"], dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ds.chisquare_pvalue(ref, cur) == 0.0
        small = ds.feature_drift("c", "categorical", ref, cur)
        large = ds.feature_drift(
            "c", "categorical", np.tile(ref, 10), np.array(["a", "new"] * 500, dtype=object)
        )
    assert small["method"] == "chisquare"
    assert small["drifted"]
    assert small["psi"] > 0
    assert large["method"] == "jensenshannon"
    assert large["drifted"]


def test_all_null_column_has_no_score() -> None:
    empty = np.array([], dtype=np.float64)
    result = ds.feature_drift("x", "numerical", empty, empty)
    assert result["method"] == "none"
    assert result["score"] is None
    assert result["drifted"] is False
    assert result["psi"] is None
    assert result["note"] == "no values in reference or current"
    result = ds.feature_drift("c", "categorical", np.array([], dtype=object), LEVELS)
    assert (result["method"], result["score"], result["drifted"]) == ("none", None, False)


def test_empty_current_keeps_the_chosen_method() -> None:
    ref = np.arange(100.0)
    result = ds.feature_drift("x", "numerical", ref, np.array([], dtype=np.float64))
    assert (result["method"], result["threshold"], result["score"]) == ("ks", 0.05, None)
    assert result["drifted"] is False
    assert result["note"] == "no values in reference or current"
    assert (result["n_ref"], result["n_cur"]) == (100, 0)


def test_constant_column() -> None:
    small, large = np.full(100, 3.0), np.full(2000, 3.0)
    assert ds.ks_pvalue(small, np.full(40, 3.0)) == 1.0
    assert ds.feature_drift("x", "numerical", small, small)["score"] == 1.0  # z, equal constants
    same = ds.feature_drift("x", "numerical", large, large[:500])
    assert (same["method"], same["score"], same["drifted"]) == ("jensenshannon", 0.0, False)
    assert same["psi"] == 0.0
    # std 0 -> the 0.001 floor: a move of 0.5 is 500 reference "stds"
    moved = ds.feature_drift("x", "numerical", large, np.full(500, 3.5), method="wasserstein")
    assert moved["score"] == pytest.approx(500.0)
    assert moved["drifted"]
    assert ds.wasserstein_norm(large, large) == 0.0


def test_single_level_chisquare_is_no_drift() -> None:
    ref = np.array(["a"] * 20, dtype=object)
    assert ds.chisquare_pvalue(ref, ref[:5]) == 1.0


def test_nan_left_in_numbers_is_dropped() -> None:
    ref = np.array([1.0, 2.0, np.nan, 3.0])
    result = ds.feature_drift("x", "numerical", ref, np.array([np.nan]))
    assert result["score"] is None
    assert (result["n_ref"], result["n_cur"]) == (3, 0)


def test_method_and_threshold_overrides() -> None:
    ref, cur = _numbers(11, 3000, shift=0.2)
    default = ds.feature_drift("x", "numerical", ref, cur)
    assert (default["method"], default["threshold"]) == ("wasserstein", 0.1)
    strict = ds.feature_drift("x", "numerical", ref, cur, threshold=default["score"] + 1e-9)
    assert strict["method"] == "wasserstein"
    assert not strict["drifted"]
    at_score = ds.feature_drift("x", "numerical", ref, cur, threshold=default["score"])
    assert at_score["drifted"]  # distances drift at score >= threshold
    ks = ds.feature_drift("x", "numerical", ref, cur, method="ks")
    assert ks["score"] == pytest.approx(stats.ks_2samp(ref, cur).pvalue, rel=1e-12)
    assert ks["threshold"] == 0.05
    at_p = ds.feature_drift("x", "numerical", ref, cur, method="ks", threshold=ks["score"])
    assert at_p["drifted"]  # p-values drift at score <= threshold
    by_psi = ds.feature_drift("x", "numerical", ref, cur, method="psi")
    assert (by_psi["score"], by_psi["threshold"]) == (by_psi["psi"], 0.2)
    js = ds.feature_drift("x", "numerical", ref, cur, method="jensenshannon", threshold=0.5)
    assert js["score"] == pytest.approx(ds.jensenshannon(ref, cur, "numerical"))
    assert (js["threshold"], js["drifted"]) == (0.5, False)
    ref_c, cur_c = _levels(11, 300)
    z = ds.feature_drift("c", "categorical", ref_c, cur_c, method="z")
    assert z["score"] == pytest.approx(ds.z_pvalue(ref_c, cur_c))


def _feature(score: float | None, drifted: bool) -> dict[str, object]:
    return {"score": score, "drifted": drifted}


def test_dataset_drift_share_and_boundary() -> None:
    features = [_feature(0.01, True), _feature(0.3, True), _feature(0.5, False)]
    features += [_feature(0.9, False), _feature(None, False)]  # no score: not counted
    result = ds.dataset_drift(features, 0.5)
    assert result == {"dataset_drift": True, "drift_share": 0.5, "drifted": 2, "features": 4}
    assert ds.dataset_drift(features, 0.51)["dataset_drift"] is False
    assert ds.dataset_drift([_feature(None, False)], 0.0)["dataset_drift"] is False


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wasserstein_equal_sizes_fast_path_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = np.round(rng.normal(size=4000), 1)  # ties on both sides
    cur = np.round(rng.normal(0.3, 1.2, size=4000), 1)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert ds.wasserstein_norm(ref, cur) == pytest.approx(expected, rel=1e-12)
