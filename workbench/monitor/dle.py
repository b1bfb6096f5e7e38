"""Estimated regression performance without labels: direct loss estimation (DLE, as NannyML
publishes the method), written here from its description.

``fit`` trains two small LightGBM models on the champion's holdout (rows it did not train on):
one of the champion's absolute error |y - prediction|, one of its squared error, each from the
champion's features plus its prediction. ``estimate`` predicts both for a chunk's rows:
estimated MAE = the mean predicted absolute error, estimated RMSE = the square root of the mean
predicted squared error (predictions below 0 count as 0). A model of the squared error, not the
square of the absolute-error model: E[e^2] = E[|e|]^2 + Var|e|, so squaring the latter would
underestimate RMSE.

Features: the champion's ``FeatureSpec`` when given (the encoding its model uses), else one
built from the frame's dtypes: numbers and booleans as they are, strings and categoricals as
codes of the categories seen in the holdout (an unseen category is missing), dates as seconds;
other columns are not used. The models are stored as LightGBM's model text (no pickle) in
``DLEReference`` with the feature spec; 100 rounds of 15 leaves, one thread, deterministic
for a seed.

Standard errors: as CBPE's (``cbpe`` docstring): the std of the realized MAE and RMSE over 100
resamples of the holdout, scaled by sqrt(rows resampled / n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from workbench.errors import DataError
from workbench.model.features import MAX_CATEGORIES, FeatureSpec, encode
from workbench.monitor.cbpe import SE_ROWS, Estimate, nan_to_none, none_to_nan, resampled_se
from workbench.monitor.realized import realized

if TYPE_CHECKING:
    import lightgbm as lgb

ROUNDS = 100
PARAMS: dict[str, Any] = {
    "objective": "regression",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbosity": -1,
}
METRICS = ("mae", "rmse")


@dataclass(frozen=True)
class DLEReference:
    """What DLE learned from the holdout (``to_json``/``from_json``: a JSON object)."""

    spec: dict[str, Any]  # FeatureSpec.to_json() of the features the models read
    model_abs: str  # LightGBM model text: absolute error
    model_sq: str  # LightGBM model text: squared error
    metrics: dict[str, float]  # realized mae, rmse, r2 on the holdout
    se: dict[str, float]  # sampling SE of each on se_rows rows
    rows: int
    se_rows: int
    estimated: dict[str, float] = field(default_factory=dict)  # DLE on the holdout itself

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.spec["features"])

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "model_abs": self.model_abs,
            "model_sq": self.model_sq,
            "metrics": nan_to_none(self.metrics),
            "se": nan_to_none(self.se),
            "rows": self.rows,
            "se_rows": self.se_rows,
            "estimated": nan_to_none(self.estimated),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DLEReference:
        return cls(
            spec=d["spec"],
            model_abs=d["model_abs"],
            model_sq=d["model_sq"],
            metrics=none_to_nan(d["metrics"]),
            se=none_to_nan(d["se"]),
            rows=int(d["rows"]),
            se_rows=int(d["se_rows"]),
            estimated=none_to_nan(d.get("estimated", {})),
        )


def fit(
    X: pl.DataFrame,
    pred: np.ndarray,
    y: np.ndarray,
    *,
    seed: int = 0,
    spec: FeatureSpec | None = None,
    exclude: Sequence[str] = (),
) -> DLEReference:
    """DLE's reference from the holdout: its feature frame, the champion's predictions and
    the true values. ``spec``: the champion's features and their encoding (else every column
    of ``X`` but ``exclude``: pass the target, ids and times there)."""
    import lightgbm as lgb

    p, t = np.asarray(pred, dtype=float), np.asarray(y, dtype=float)
    if not len(p) == len(t) == X.height:
        raise DataError(
            f"{X.height} rows, {len(p)} predictions and {len(t)} targets",
            "pass one prediction and one target per row of the frame",
        )
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise DataError(
            "DLE is fitted on labelled rows with predictions: a target or a prediction is missing",
            "fit on the holdout rows that have a label, with the champion's predictions",
        )
    fs = spec if spec is not None else feature_spec(X.drop(exclude, strict=False))
    matrix = _matrix(X, p, fs)
    categorical = [i for i, f in enumerate(fs.features) if fs.kinds[f] == "categorical"]
    names = [f"f{i}" for i in range(matrix.shape[1])]
    err = t - p
    models = []
    for label in (np.abs(err), err**2):
        data = lgb.Dataset(
            matrix,
            label=label,
            feature_name=names,
            categorical_feature=categorical,
            free_raw_data=True,
        )
        booster = lgb.train(PARAMS | {"seed": seed}, data, num_boost_round=ROUNDS)
        models.append(booster.model_to_string())
    rng = np.random.default_rng(seed)
    se_rows = min(len(t), SE_ROWS)
    ref = DLEReference(
        spec=fs.to_json(),
        model_abs=models[0],
        model_sq=models[1],
        metrics=realized("regression", t, p),
        se=resampled_se("regression", t, p, se_rows, rng),
        rows=len(t),
        se_rows=se_rows,
    )
    return DLEReference(**{**ref.__dict__, "estimated": estimate(ref, X, p).metrics})


def estimate(ref: DLEReference, X: pl.DataFrame, pred: np.ndarray) -> Estimate:
    """DLE's estimate of a chunk's MAE and RMSE (``confusion`` is empty)."""
    p = np.asarray(pred, dtype=float)
    n = len(p)
    if n == 0:
        nan = math.nan
        return Estimate({"mae": nan, "rmse": nan}, {"mae": nan, "rmse": nan}, 0, [])
    matrix = _matrix(X, p, FeatureSpec.from_json(ref.spec))
    abs_err = np.clip(_booster(ref.model_abs).predict(matrix), 0.0, None)
    sq_err = np.clip(_booster(ref.model_sq).predict(matrix), 0.0, None)
    metrics = {"mae": float(abs_err.mean()), "rmse": float(math.sqrt(sq_err.mean()))}
    return Estimate(metrics, {m: se_at(ref, m, n) for m in METRICS}, n, [])


def se_at(ref: DLEReference, metric: str, n: int) -> float:
    """The sampling SE of ``metric`` (mae, rmse, r2) measured on ``n`` rows."""
    se = ref.se.get(metric, math.nan)
    return se * math.sqrt(ref.se_rows / n) if n > 0 else math.nan


def feature_spec(X: pl.DataFrame) -> FeatureSpec:
    """The simple encoding of a frame without the champion's spec (module docstring)."""
    kinds: dict[str, str] = {}
    categories: dict[str, list[str]] = {}
    for name, dtype in X.schema.items():
        if dtype.is_numeric():
            kinds[name] = "numeric"
        elif dtype == pl.Boolean:
            kinds[name] = "boolean"
        elif dtype.is_temporal() and dtype != pl.Duration and dtype != pl.Time:
            kinds[name] = "datetime"
        elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            values = X[name].cast(pl.String).drop_nulls().unique().sort()
            if len(values) > MAX_CATEGORIES:
                continue
            kinds[name] = "categorical"
            categories[name] = values.to_list()
    return FeatureSpec(tuple(kinds), categories, kinds, "regression", "", [])


def _matrix(X: pl.DataFrame, pred: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    if X.height != len(pred):
        raise DataError(
            f"{X.height} rows but {len(pred)} predictions", "pass one prediction per row"
        )
    if not spec.features:
        return pred.reshape(-1, 1)
    return np.column_stack([encode(X, spec), pred])


def _booster(text: str) -> lgb.Booster:
    import lightgbm as lgb

    return lgb.Booster(model_str=text)
