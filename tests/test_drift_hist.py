"""The drift pane's histograms, checked against numpy computed independently here."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.monitor import histograms as drift_hist


def test_numerical_shares_match_numpy_on_shared_edges() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(50, 10, 5000)
    cur = rng.normal(65, 12, 700)
    h = drift_hist.numerical(ref, cur)
    assert h is not None
    edges = np.linspace(min(ref.min(), cur.min()), max(ref.max(), cur.max()), drift_hist.BINS + 1)
    np.testing.assert_allclose(h["edges"], edges)
    np.testing.assert_allclose(h["reference"], np.histogram(ref, edges)[0] / 5000, atol=1e-6)
    np.testing.assert_allclose(h["current"], np.histogram(cur, edges)[0] / 700, atol=1e-6)
    assert sum(h["reference"]) == pytest.approx(1, abs=1e-4)
    assert sum(h["current"]) == pytest.approx(1, abs=1e-4)
    # the shift shows: the current side's mass sits in higher bins
    centers = (edges[:-1] + edges[1:]) / 2
    assert np.dot(centers, h["current"]) > np.dot(centers, h["reference"]) + 10


def test_numerical_ignores_nan_and_handles_a_constant_column() -> None:
    h = drift_hist.numerical(np.array([1.0, np.nan, 1.0]), np.array([1.0, np.inf]))
    assert h is not None and h["reference"] == [1.0] and h["current"] == [1.0]
    assert drift_hist.numerical(np.array([np.nan]), np.array([1.0])) is None


def test_categorical_top_levels_and_the_rest() -> None:
    levels = [f"l{i}" for i in range(12)]
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 12, 4000)
    cur = rng.choice(12, 900, p=np.r_[[0.5], np.full(11, 0.5 / 11)])
    h = drift_hist.categorical(ref, cur, levels)
    assert h is not None
    assert len(h["labels"]) == drift_hist.TOP + 1 and h["labels"][-1] == drift_hist.OTHER
    assert h["labels"][0] == "l0"  # the level both sides hold most of
    r = np.bincount(ref, minlength=12) / 4000
    c = np.bincount(cur, minlength=12) / 900
    rows = zip(h["labels"][:-1], h["reference"][:-1], h["current"][:-1], strict=True)
    for label, rs, cs in rows:
        i = levels.index(label)
        assert rs == pytest.approx(r[i], abs=1e-6) and cs == pytest.approx(c[i], abs=1e-6)
    assert sum(h["reference"]) == pytest.approx(1, abs=1e-4)
    assert sum(h["current"]) == pytest.approx(1, abs=1e-4)


def test_categorical_few_levels_has_no_other_bucket() -> None:
    h = drift_hist.categorical(np.array([0, 1, 1]), np.array([1, 1]), ["a", "b"])
    assert h == {"labels": ["b", "a"], "reference": [0.666667, 0.333333], "current": [1.0, 0.0]}
