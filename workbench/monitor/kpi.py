"""Business KPIs (``[[monitor.kpi]]``): realized where labels exist, estimated otherwise.

A KPI is either a **value matrix** (classification): the value of each (true, predicted) cell,
rows by true class in the champion's class order (binary ``[[TN, FP], [FN, TP]]``); realized
is the sum over rows of value[true, predicted], estimated the sum over CBPE's expected
confusion matrix of count x value. Or an **expression**: a value per row computed from the
target, the prediction and the columns; realized sums it over the rows; estimated (no labels)
takes, per row, its expectation over the target's calibrated distribution,
sum over classes k of p_k * f(target = k) — exact for any expression, as a classification
target takes finitely many values. A regression expression that reads ``target`` cannot be
estimated without labels (``estimated`` returns None); one that does not is computed from the
prediction. ``normalize = "total"`` reports the sum over a chunk's rows, ``"per_row"`` the mean.
Rows where an expression has no value (a missing input, log of a negative number, 0/0) are
left out of the sum and the mean.

KPI expressions (compiled to polars expressions; never Python ``eval``)::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)?
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | atom
    atom       := NUMBER | STRING | "true" | "false" | NAME | `quoted name`
                | FUNCTION "(" expr ("," expr)* ")" | "(" expr ")"

- NUMBER: ``12``, ``0.5``, ``1e-3``; STRING: ``'yes'`` or ``"yes"`` (to compare with a label).
- NAME: a column of the data (letters, digits, ``_``, not starting with a digit); a name with
  other characters is written in backticks: ```unit price```.
- ``target``: the true label (classification: the class as in the data; regression: the
  value); ``prediction``: the champion's predicted label (classification) or value
  (regression); ``score``: P(positive class), binary only. A column literally named ``target``
  is written ```target```.
- FUNCTION: ``if(cond, a, b)``, ``abs(x)``, ``min(a, b, ...)``, ``max(a, b, ...)``, ``log(x)``
  (natural), ``exp(x)``, ``clip(x, lo, hi)``; ``min`` and ``max`` skip missing values.
- A comparison or ``and``/``or``/``not`` is true or false, which counts as 1 or 0 in
  arithmetic; a number in ``and``/``or``/``not``/``if`` is true when it is not 0.

Example: ``if(prediction == 1 and target == 0, -5, 0) + if(target == 1 and prediction == 1,
amount * 0.1, 0)``.

**Standard errors** (``KpiBand``): from the KPI's per-row values on the holdout (realized):
per_row: sd / sqrt(n); total: sd * sqrt(n) — the sampling error of a mean or a sum of n rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import polars as pl

from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.config import KpiSpec

TARGET, PREDICTION, SCORE = "__wb_target", "__wb_prediction", "__wb_score"
SPECIAL = {"target": TARGET, "prediction": PREDICTION, "score": SCORE}
FUNCTIONS = {"if": (3, 3), "abs": (1, 1), "min": (1, 99), "max": (1, 99)} | {
    "log": (1, 1),
    "exp": (1, 1),
    "clip": (3, 3),
}
KEYWORDS = {"and", "or", "not", "true", "false"}
COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<quoted>`[^`]*`)
    |(?P<str>'[^']*'|"[^"]*")
    |(?P<op>==|!=|<=|>=|[-+*/<>(),])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # num | name | quoted | str | op | end
    text: str
    pos: int  # 1-based character position in the expression


@dataclass(frozen=True)
class KpiBand:
    """A KPI's reference value and sampling error (from the holdout's per-row values)."""

    name: str
    normalize: str
    mean: float  # mean value per row on the reference
    sd: float  # standard deviation of the per-row values
    rows: int

    def value_at(self, n: int) -> float:
        """The reference's value for a chunk of ``n`` rows."""
        return self.mean if self.normalize == "per_row" else self.mean * n

    def se_at(self, n: int) -> float:
        if n <= 0 or math.isnan(self.sd):
            return math.nan
        return self.sd / math.sqrt(n) if self.normalize == "per_row" else self.sd * math.sqrt(n)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "normalize": self.normalize,
            "mean": None if math.isnan(self.mean) else self.mean,
            "sd": None if math.isnan(self.sd) else self.sd,
            "rows": self.rows,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> KpiBand:
        nan = math.nan
        mean = nan if d["mean"] is None else float(d["mean"])
        sd = nan if d["sd"] is None else float(d["sd"])
        return cls(d["name"], d["normalize"], mean, sd, int(d["rows"]))


@dataclass(frozen=True)
class Kpi:
    """A compiled ``[[monitor.kpi]]``. ``y`` is the target as class codes (classification) or
    values; ``scores`` the champion's P(positive), class probabilities or predicted values."""

    name: str
    index: int
    task: str
    classes: tuple[Any, ...]
    normalize: str
    direction: str
    value: tuple[tuple[float, ...], ...] | None
    expression: str
    reads: frozenset[str]  # data columns, target, prediction, score
    lower: float | None = None
    upper: float | None = None
    compiled: pl.Expr | None = field(default=None, compare=False, repr=False)

    @property
    def reads_target(self) -> bool:
        return "target" in self.reads

    @property
    def columns(self) -> list[str]:
        """The data columns the expression reads."""
        return sorted(self.reads - set(SPECIAL))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "normalize": self.normalize,
            "direction": self.direction,
            "value": [list(r) for r in self.value] if self.value is not None else None,
            "expression": self.expression or None,
            "lower": self.lower,
            "upper": self.upper,
        }

    def row_values(self, frame: pl.DataFrame, y: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The realized value of each row (NaN where it has none)."""
        s = np.asarray(scores, dtype=float)
        if self.value is not None:
            v = np.asarray(self.value, dtype=float)
            return v[np.asarray(y).astype(int), _predicted(self.task, s)]
        target = self._target_column(np.asarray(y), len(s))
        return self._evaluate(frame, s, target)

    def realized(self, frame: pl.DataFrame, y: np.ndarray, scores: np.ndarray) -> float:
        return self._aggregate(self.row_values(frame, y, scores))

    def estimated(
        self, frame: pl.DataFrame, calibrated: np.ndarray, scores: np.ndarray | None = None
    ) -> float | None:
        """The KPI without labels, from CBPE's calibrated probabilities (classification) or
        the predictions (regression: ``calibrated`` is the predicted values; None when the
        expression reads ``target``). ``scores`` are the champion's raw scores, which decide
        its predicted label; pass them (without, the label is taken from ``calibrated``)."""
        p = np.asarray(calibrated, dtype=float)
        s = p if scores is None else np.asarray(scores, dtype=float)
        n = len(p)
        if self.task == "regression":
            return None if self.reads_target else self._aggregate(self._evaluate(frame, s, None))
        probs = np.column_stack([1 - p, p]) if self.task == "binary" else p
        if self.value is not None:
            from workbench.monitor.cbpe import expected_confusion

            c = expected_confusion(self.task, s, p)
            total = float((c * np.asarray(self.value, dtype=float)).sum())
            return total if self.normalize == "total" else (total / n if n else math.nan)
        if not self.reads_target:
            return self._aggregate(self._evaluate(frame, s, None))
        rows = np.zeros(n)
        for k in range(probs.shape[1]):
            target = self._target_column(np.full(n, k), n)
            rows += probs[:, k] * self._evaluate(frame, s, target)
        return self._aggregate(rows)

    def band(self, frame: pl.DataFrame, y: np.ndarray, scores: np.ndarray) -> KpiBand:
        """Reference value and per-row spread on labelled (holdout) rows."""
        v = self.row_values(frame, y, scores)
        v = v[~np.isnan(v)]
        mean = float(v.mean()) if len(v) else math.nan
        sd = float(v.std(ddof=1)) if len(v) > 1 else math.nan
        return KpiBand(self.name, self.normalize, mean, sd, len(v))

    def _aggregate(self, v: np.ndarray) -> float:
        v = v[~np.isnan(v)]
        if self.normalize == "total":
            return float(v.sum())
        return float(v.mean()) if len(v) else math.nan

    def _target_column(self, y: np.ndarray, n: int) -> pl.Series | None:
        if not self.reads_target:
            return None
        if self.task == "regression":
            return pl.Series(TARGET, y.astype(float))
        return pl.Series(TARGET, list(self.classes)).gather(y.astype(np.int64))

    def _evaluate(
        self, frame: pl.DataFrame, scores: np.ndarray, target: pl.Series | None
    ) -> np.ndarray:
        assert self.compiled is not None
        n = len(scores)
        extra: list[pl.Series] = []
        if target is not None:
            extra.append(target)
        if "prediction" in self.reads:
            if self.task == "regression":
                extra.append(pl.Series(PREDICTION, scores))
            else:
                labels = pl.Series(PREDICTION, list(self.classes))
                extra.append(labels.gather(_predicted(self.task, scores).astype(np.int64)))
        if "score" in self.reads:
            extra.append(pl.Series(SCORE, scores))
        if self.columns and frame.height != n:
            raise ConfigError(
                f"monitor.kpi[{self.index}]: {frame.height} rows of columns but {n} scores",
                "pass the frame of the scored rows",
            )
        try:
            base = frame.select(self.columns) if self.columns else pl.DataFrame(height=n)
            out = base.with_columns(extra).select(self.compiled.cast(pl.Float64).alias("v"))
        except pl.exceptions.PolarsError as e:
            raise ConfigError(
                f"monitor.kpi[{self.index}].expression = {self.expression!r} cannot be computed"
                f" on these columns: {str(e).splitlines()[0]}",
                "check that the expression's operations suit the column types",
            ) from e
        return out["v"].to_numpy().astype(float)


def compile_kpi(
    spec: KpiSpec,
    index: int,
    task: str,
    classes: Sequence[Any] | None,
    columns: Sequence[str],
) -> Kpi:
    """Check and compile ``[[monitor.kpi]]`` number ``index`` (0-based) for this champion."""
    key = f"monitor.kpi[{index}]"
    classes_t = tuple(classes) if classes is not None else ()
    if task != "regression" and not classes_t:
        classes_t = (0, 1) if task == "binary" else ()
    has_value, has_expr = bool(spec.value), bool(spec.expression.strip())
    if has_value == has_expr:
        raise ConfigError(
            f"{key} ({spec.name!r}) needs exactly one of value and expression",
            "give a value matrix (classification) or an expression",
        )
    if spec.normalize not in ("total", "per_row"):
        raise ConfigError(f"{key}.normalize = {spec.normalize!r}", 'use "total" or "per_row"')
    value: tuple[tuple[float, ...], ...] | None = None
    compiled: pl.Expr | None = None
    reads: frozenset[str] = frozenset()
    if has_value:
        value = _check_value(spec, key, task, classes_t)
    else:
        labels = "num" if task == "regression" else "any"
        if any(isinstance(c, str) for c in classes_t):
            labels = "str"
        parser = _Parser(spec.expression, f"{key}.expression", task, set(columns), labels)
        compiled, reads = parser.compile()
    return Kpi(
        name=spec.name,
        index=index,
        task=task,
        classes=classes_t,
        normalize=spec.normalize,
        direction=spec.direction,
        value=value,
        expression=spec.expression,
        reads=reads,
        lower=spec.lower,
        upper=spec.upper,
        compiled=compiled,
    )


def _check_value(
    spec: KpiSpec, key: str, task: str, classes: tuple[Any, ...]
) -> tuple[tuple[float, ...], ...]:
    if task == "regression":
        raise ConfigError(
            f"{key}.value: a value matrix is for classification, the task is regression",
            'use an expression, e.g. expression = "abs(target - prediction)"',
        )
    k = len(classes)
    shape = [len(r) for r in spec.value]
    if len(spec.value) != k or any(n != k for n in shape):
        layout = "[[TN, FP], [FN, TP]]" if task == "binary" else f"{k} rows of {k} values"
        raise ConfigError(
            f"{key}.value has {len(spec.value)} rows of {shape} values; the champion has {k}"
            f" classes ({', '.join(map(str, classes))})",
            f"give {layout}: rows by true class, columns by predicted class, in that order",
        )
    return tuple(tuple(float(v) for v in r) for r in spec.value)


def _predicted(task: str, s: np.ndarray) -> np.ndarray:
    return (s >= 0.5).astype(int) if task == "binary" else s.argmax(axis=1)


def tokenize(text: str, key: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _syntax(key, text, pos + 1, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos + 1))
        pos = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _syntax(key: str, text: str, pos: int, what: str) -> ConfigError:
    return ConfigError(
        f"{key} = {text!r}: {what} at position {pos}",
        "see the README's KPI expressions for the grammar",
    )


# expression kinds: num (a number), bool, str (a literal string), any (a column or a label)
_Typed = tuple[pl.Expr, str]


class _Parser:
    def __init__(self, text: str, key: str, task: str, columns: set[str], labels: str) -> None:
        self.text, self.key, self.task, self.columns = text, key, task, columns
        self.labels = labels  # kind of target and prediction: str for string class labels
        self.tokens = tokenize(text, key)
        self.i = 0
        self.reads: set[str] = set()

    def compile(self) -> tuple[pl.Expr, frozenset[str]]:
        expr, kind = self._or()
        if self.peek.kind != "end":
            self._fail(f"unexpected {self.peek.text!r}")
        if kind == "str":
            self._fail("the expression is a string, not a number", self.tokens[0])
        return _num(expr, kind), frozenset(self.reads)

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def _next(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def _is(self, text: str) -> bool:
        t = self.peek
        return t.kind in ("op", "name") and t.text == text

    def _expect(self, text: str) -> Token:
        if not self._is(text):
            got = "the end" if self.peek.kind == "end" else repr(self.peek.text)
            self._fail(f"expected {text!r}, found {got}")
        return self._next()

    def _fail(self, what: str, token: Token | None = None) -> NoReturn:
        raise _syntax(self.key, self.text, (token or self.peek).pos, what)

    def _or(self) -> _Typed:
        left = self._and()
        while self._is("or"):
            self._next()
            right = self._and()
            left = (_bool(left) | _bool(right), "bool")
        return left

    def _and(self) -> _Typed:
        left = self._not()
        while self._is("and"):
            self._next()
            right = self._not()
            left = (_bool(left) & _bool(right), "bool")
        return left

    def _not(self) -> _Typed:
        if self._is("not"):
            self._next()
            return (~_bool(self._not()), "bool")
        return self._comparison()

    def _comparison(self) -> _Typed:
        left = self._sum()
        if self.peek.kind == "op" and self.peek.text in COMPARISONS:
            op = self._next().text
            right = self._sum()
            a, b = _operand(left), _operand(right)
            result = {
                "==": a == b,
                "!=": a != b,
                "<": a < b,
                "<=": a <= b,
                ">": a > b,
                ">=": a >= b,
            }[op]
            return (result, "bool")
        return left

    def _sum(self) -> _Typed:
        left = self._product()
        while self.peek.kind == "op" and self.peek.text in "+-":
            op = self._next()
            right = self._product()
            a, b = self._arith(left, op), self._arith(right, op)
            left = (a + b if op.text == "+" else a - b, "num")
        return left

    def _product(self) -> _Typed:
        left = self._unary()
        while self.peek.kind == "op" and self.peek.text in "*/":
            op = self._next()
            right = self._unary()
            a, b = self._arith(left, op), self._arith(right, op)
            left = (a * b if op.text == "*" else a / b, "num")
        return left

    def _unary(self) -> _Typed:
        if self.peek.kind == "op" and self.peek.text == "-":
            op = self._next()
            return (-self._arith(self._unary(), op), "num")
        return self._atom()

    def _arith(self, typed: _Typed, op: Token) -> pl.Expr:
        if typed[1] == "str":
            self._fail(f"{op.text!r} on a string", op)
        return _num(*typed)

    def _atom(self) -> _Typed:
        t = self._next()
        if t.kind == "num":
            return (pl.lit(float(t.text), dtype=pl.Float64), "num")
        if t.kind == "str":
            return (pl.lit(t.text[1:-1], dtype=pl.String), "str")
        if t.kind == "quoted":
            return (self._column(t.text[1:-1], t), "any")
        if t.kind == "op" and t.text == "(":
            inner = self._or()
            self._expect(")")
            return inner
        if t.kind == "name":
            if t.text in ("true", "false"):
                return (pl.lit(t.text == "true"), "bool")
            if t.text == "not":
                self._fail("'not' inside arithmetic needs parentheses: (not ...)", t)
            if t.text in KEYWORDS:
                self._fail(f"{t.text!r} needs a value before it", t)
            if self._is("("):
                return self._call(t)
            if t.text in SPECIAL:
                return (self._special(t), "num" if t.text == "score" else self.labels)
            return (self._column(t.text, t), "any")
        got = "the end of the expression" if t.kind == "end" else repr(t.text)
        self._fail(f"expected a value, found {got}", t)

    def _special(self, t: Token) -> pl.Expr:
        if t.text == "score" and self.task != "binary":
            raise ConfigError(
                f"{self.key} = {self.text!r}: score (P(positive)) exists for binary"
                f" classification only, the task is {self.task} (position {t.pos})",
                "use prediction (the predicted label or value) instead",
            )
        self.reads.add(t.text)
        return pl.col(SPECIAL[t.text])

    def _column(self, name: str, t: Token) -> pl.Expr:
        if name not in self.columns:
            shown = ", ".join(sorted(self.columns)[:20])
            raise ConfigError(
                f"{self.key} = {self.text!r}: unknown column {name!r} at position {t.pos}",
                f"use one of the data's columns ({shown}), target, prediction"
                + (", score" if self.task == "binary" else ""),
            )
        self.reads.add(name)
        return pl.col(name)

    def _call(self, t: Token) -> _Typed:
        name = t.text
        if name not in FUNCTIONS:
            self._fail(f"unknown function {name!r} (known: {', '.join(FUNCTIONS)})", t)
        self._expect("(")
        args = [self._or()]
        while self._is(","):
            self._next()
            args.append(self._or())
        self._expect(")")
        low, high = FUNCTIONS[name]
        if not low <= len(args) <= high:
            self._fail(f"{name}() takes {low if low == high else f'{low} or more'} arguments", t)
        if name == "if":
            cond, a, b = args
            kind = "str" if a[1] == b[1] == "str" else "num"
            then = a[0] if kind == "str" else self._arith(a, t)
            other = b[0] if kind == "str" else self._arith(b, t)
            return (pl.when(_bool(cond)).then(then).otherwise(other), kind)
        nums = [self._arith(a, t) for a in args]
        if name == "abs":
            return (nums[0].abs(), "num")
        if name == "log":
            return (nums[0].log(), "num")
        if name == "exp":
            return (nums[0].exp(), "num")
        if name == "clip":
            x, lo, hi = nums
            return (x.clip(lo, hi), "num")
        if name == "min":
            return (pl.min_horizontal(*nums) if len(nums) > 1 else nums[0], "num")
        return (pl.max_horizontal(*nums) if len(nums) > 1 else nums[0], "num")


def _num(expr: pl.Expr, kind: str) -> pl.Expr:
    return expr if kind == "num" else expr.cast(pl.Float64)


def _bool(typed: _Typed) -> pl.Expr:
    expr, kind = typed
    if kind == "bool":
        return expr
    return expr.cast(pl.Float64) != 0


def _operand(typed: _Typed) -> pl.Expr:
    expr, kind = typed
    return expr.cast(pl.Float64) if kind == "bool" else expr
