"""Business KPIs: value matrices against hand computations over the confusion counts,
expressions against numpy, their expectation without labels, the grammar, and bad input."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import confusion_matrix

from workbench.config import KpiSpec
from workbench.errors import ConfigError
from workbench.monitor import cbpe
from workbench.monitor.kpi import compile_kpi

CLASSES = ["no", "yes"]


def _rows(n: int = 2000, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    s = 1 / (1 + np.exp(-1.3 * x - 0.2))
    frame = pl.DataFrame(
        {"amount": rng.uniform(0, 100, n), "unit price": rng.uniform(1, 3, n), "vip": x > 1}
    )
    return frame, y, s


def test_value_matrix_realized_is_the_matrix_over_the_confusion_counts() -> None:
    frame, y, s = _rows()
    value = ((0.0, -2.0), (-10.0, 25.0))
    counts = confusion_matrix(y, (s >= 0.5).astype(int))
    hand = float((counts * np.array(value)).sum())
    total = compile_kpi(KpiSpec(name="v", value=value, normalize="total"), 0, "binary", CLASSES, [])
    per_row = compile_kpi(KpiSpec(name="v", value=value), 1, "binary", CLASSES, [])
    assert total.realized(frame, y, s) == pytest.approx(hand, abs=1e-9)
    assert per_row.realized(frame, y, s) == pytest.approx(hand / len(y), abs=1e-12)


def test_value_matrix_estimated_is_the_matrix_over_the_expected_confusion() -> None:
    _, y, s = _rows()
    ref = cbpe.fit("binary", y, s)
    new_frame, _, new_s = _rows(800, seed=1)
    p = cbpe.calibrate(ref, new_s)
    label = new_s >= 0.5
    expected = np.array(
        [[(1 - p[~label]).sum(), (1 - p[label]).sum()], [p[~label].sum(), p[label].sum()]]
    )
    value = ((1.0, -2.0), (-10.0, 25.0))
    k = compile_kpi(KpiSpec(name="v", value=value, normalize="total"), 0, "binary", CLASSES, [])
    want = float((expected * np.array(value)).sum())
    assert k.estimated(new_frame, p, new_s) == pytest.approx(want, abs=1e-9)


def test_multiclass_value_matrix() -> None:
    rng = np.random.default_rng(2)
    p = rng.dirichlet([1, 1, 1], 500)
    y = rng.integers(0, 3, 500)
    value = ((1.0, 0.0, -1.0), (0.0, 2.0, 0.0), (-3.0, 0.0, 4.0))
    k = compile_kpi(KpiSpec(name="v", value=value), 0, "multiclass", ["a", "b", "c"], [])
    counts = confusion_matrix(y, p.argmax(axis=1), labels=[0, 1, 2])
    frame = pl.DataFrame(height=500)
    want = float((counts * np.array(value)).sum()) / 500
    assert k.realized(frame, y, p) == pytest.approx(want, abs=1e-12)
    c = cbpe.expected_confusion("multiclass", p, p)
    assert k.estimated(frame, p, p) == pytest.approx((c * np.array(value)).sum() / 500)


EXPRESSION = (
    "if(prediction == 'yes' and target == 'no', -amount * 0.1, 0)"
    " + if(target == 'yes' and prediction == 'yes', clip(`unit price` * 10, 12, 25), 0)"
    " + (score > 0.8) * vip - max(amount, 90) / 100"
)


def _hand(frame: pl.DataFrame, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    amount, price, vip = (frame[c].to_numpy() for c in ("amount", "unit price", "vip"))
    pred = s >= 0.5
    return (
        np.where(pred & (y == 0), -amount * 0.1, 0)
        + np.where((y == 1) & pred, np.clip(price * 10, 12, 25), 0)
        + (s > 0.8) * vip
        - np.maximum(amount, 90) / 100
    )


def test_expression_realized_and_estimated_equal_numpy() -> None:
    frame, y, s = _rows()
    k = compile_kpi(KpiSpec(name="e", expression=EXPRESSION), 0, "binary", CLASSES, frame.columns)
    assert k.reads == {"target", "prediction", "score", "amount", "unit price", "vip"}
    assert k.realized(frame, y, s) == pytest.approx(_hand(frame, y, s).mean(), abs=1e-9)
    p = s**1.1  # any calibrated probabilities: the expectation over the target, row by row
    want = (1 - p) * _hand(frame, np.zeros_like(y), s) + p * _hand(frame, np.ones_like(y), s)
    assert k.estimated(frame, p, s) == pytest.approx(want.mean(), abs=1e-9)


def test_regression_expressions() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=300)
    pred = y + rng.normal(size=300)
    frame = pl.DataFrame({"w": rng.uniform(size=300)})
    cost = compile_kpi(
        KpiSpec(name="c", expression="abs(target - prediction) * w", normalize="total"),
        0,
        "regression",
        None,
        frame.columns,
    )
    assert cost.realized(frame, y, pred) == pytest.approx(
        float((np.abs(y - pred) * frame["w"].to_numpy()).sum())
    )
    assert cost.estimated(frame, pred) is None  # reads target: no estimate without labels
    spend = compile_kpi(
        KpiSpec(name="s", expression="exp(log(abs(prediction) + 1)) - 1"),
        1,
        "regression",
        None,
        frame.columns,
    )
    assert spend.estimated(frame, pred) == pytest.approx(float(np.abs(pred).mean()))


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("-2 - -3", 1.0),
        ("8 / 4 / 2", 1.0),
        ("1 + 2 == 3", 1.0),
        ("2 < 1 or 3 >= 3 and not false", 1.0),
        ("not 0", 1.0),
        ("(1 < 2) + (2 <= 2) + (3 != 3)", 2.0),
        ("if(0, 5, 6) + min(3, 1, 2) + max(-1, -4)", 6.0),
        ("clip(15, 0, 10) + abs(-2) + exp(0) + log(1)", 13.0),
        ("1e-1 * 10 + .5", 1.5),
        ("'b' > 'a'", 1.0),
    ],
)
def test_the_grammar(text: str, want: float) -> None:
    k = compile_kpi(KpiSpec(name="g", expression=text), 0, "binary", CLASSES, [])
    frame = pl.DataFrame(height=2)
    assert k.realized(frame, np.array([0, 1]), np.array([0.2, 0.9])) == pytest.approx(want)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amount +", "expected a value, found the end of the expression at position 9"),
        ("amount * * 2", "expected a value, found '*' at position 10"),
        ("(amount + 1", "expected ')', found the end at position 12"),
        ("amount # 2", "unexpected character '#' at position 8"),
        ("amount 2", "unexpected '2' at position 8"),
        ("mean(amount)", "unknown function 'mean'"),
        ("if(amount, 1)", "if() takes 3 arguments at position 1"),
        ("1 - not vip", "needs parentheses"),
        ("'x' * 2", "'*' on a string at position 5"),
        ("target + 1", "'+' on a string at position 8"),
    ],
)
def test_an_expression_that_does_not_parse_names_the_key_and_position(
    text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as e:
        compile_kpi(KpiSpec(name="b", expression=text), 3, "binary", CLASSES, ["amount", "vip"])
    assert "monitor.kpi[3].expression" in e.value.message
    assert message in e.value.message
    assert e.value.hint


def test_unknown_column_and_misplaced_score() -> None:
    with pytest.raises(ConfigError, match=r"monitor.kpi\[0\].expression.*unknown column 'amt'"):
        compile_kpi(KpiSpec(name="b", expression="amt * 2"), 0, "binary", CLASSES, ["amount"])
    with pytest.raises(ConfigError, match="unknown column 'my col' at position 1"):
        compile_kpi(KpiSpec(name="b", expression="`my col`"), 0, "binary", CLASSES, ["amount"])
    with pytest.raises(ConfigError, match="binary classification only"):
        compile_kpi(KpiSpec(name="b", expression="score"), 0, "multiclass", ["a", "b", "c"], [])


def test_value_matrix_of_the_wrong_shape_and_other_bad_specs() -> None:
    with pytest.raises(ConfigError, match=r"monitor.kpi\[2\].value has 2 rows") as e:
        compile_kpi(KpiSpec(name="b", value=((1, 2, 3), (4, 5, 6))), 2, "binary", CLASSES, [])
    assert e.value.hint is not None and "[[TN, FP], [FN, TP]]" in e.value.hint
    with pytest.raises(ConfigError, match=r"monitor.kpi\[0\].value.*3 classes"):
        compile_kpi(KpiSpec(name="b", value=((1, 2), (3, 4))), 0, "multiclass", [0, 1, 2], [])
    with pytest.raises(ConfigError, match="regression"):
        compile_kpi(KpiSpec(name="b", value=((1, 2), (3, 4))), 0, "regression", None, [])
    with pytest.raises(ConfigError, match="exactly one of value and expression"):
        compile_kpi(KpiSpec(name="b"), 0, "binary", CLASSES, [])
    with pytest.raises(ConfigError, match="exactly one of value and expression"):
        compile_kpi(
            KpiSpec(name="b", value=((1, 2), (3, 4)), expression="1"), 0, "binary", None, []
        )


def test_a_type_error_at_run_time_is_a_config_error() -> None:
    frame = pl.DataFrame({"city": ["a", "b"]})
    k = compile_kpi(KpiSpec(name="b", expression="city * 2"), 4, "binary", CLASSES, ["city"])
    with pytest.raises(ConfigError, match=r"monitor.kpi\[4\].expression = 'city \* 2' cannot"):
        k.realized(frame, np.array([0, 1]), np.array([0.1, 0.9]))


def test_band_standard_error_matches_the_spread_over_chunks() -> None:
    frame, y, s = _rows(20_000)
    value = ((0.0, -2.0), (-10.0, 25.0))
    for normalize in ("per_row", "total"):
        spec = KpiSpec(name="v", value=value, normalize=normalize)
        k = compile_kpi(spec, 0, "binary", CLASSES, [])
        band = k.band(frame, y, s)
        chunks = [k.realized(*_rows(400, seed=100 + i)) for i in range(150)]
        assert band.se_at(400) == pytest.approx(np.std(chunks, ddof=1), rel=0.25)
        assert band.value_at(400) == pytest.approx(np.mean(chunks), rel=0.1)
        assert math.isnan(band.se_at(0))
        assert type(band).from_json(band.to_json()) == band


def test_multiclass_expression_estimate_is_the_expectation_over_the_classes() -> None:
    rng = np.random.default_rng(4)
    p = rng.dirichlet([1, 1, 1], 400)
    frame = pl.DataFrame({"amount": rng.uniform(0, 10, 400)})
    text = "if(target == prediction, amount, 0) - (target == 'c') * 2"
    k = compile_kpi(
        KpiSpec(name="m", expression=text), 0, "multiclass", ["a", "b", "c"], ["amount"]
    )
    amount, pred = frame["amount"].to_numpy(), p.argmax(axis=1)
    per_class = [np.where(pred == j, amount, 0) - (j == 2) * 2 for j in range(3)]
    want = sum(p[:, j] * per_class[j] for j in range(3))
    assert k.estimated(frame, p, p) == pytest.approx(float(np.mean(want)), abs=1e-12)
    y = rng.integers(0, 3, 400)
    hand = np.choose(y, per_class)
    assert k.realized(frame, y, p) == pytest.approx(float(np.mean(hand)), abs=1e-12)
