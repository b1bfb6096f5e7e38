"""Which columns are features and how they become LightGBM's input — the same way for
training, the gate and prediction.

A ``FeatureSpec`` is fitted on the training part of a snapshot and stored (as JSON) with the
model: feature order, the category list of every categorical column (its code is the index),
the task, and for classification the class labels. Prediction encodes with the stored spec, so
a category unseen in training becomes missing (NaN: LightGBM sends it down the missing-value
branch) instead of a crash or, worse, a silently different code.

Rules: features are ``[data] features`` or every column but target, time, id and ``exclude``;
string columns and ``[data] categorical`` are categorical; booleans become 0/1; datetime
columns are used only when listed explicitly (as seconds since the epoch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from workbench.config import NULL_VALUES, Settings
from workbench.errors import DataError, TrainingError

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

MAX_CATEGORIES = 10_000


@dataclass(frozen=True)
class FeatureSpec:
    features: tuple[str, ...]
    categories: dict[str, list[str]]  # categorical column -> categories; code = index
    kinds: dict[str, str]  # column -> numeric | categorical | boolean | datetime
    task: str
    target: str
    classes: list[Any]  # class labels in code order (classification); [] for regression
    # CSV text read as missing ([data] null_values): predict reads its input as training did;
    # a model stored before the setting existed read only empty fields as missing
    null_values: tuple[str, ...] = NULL_VALUES

    @cached_property
    def encoders(self) -> list[pl.Expr]:
        """``encoders(self)``, built on first use and kept with the spec."""
        return encoders(self)

    @property
    def categorical(self) -> list[str]:
        return [f for f in self.features if f in self.categories]

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {
            "features": list(self.features),
            "null_values": list(self.null_values),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            tuple(data["features"]),
            data["categories"],
            data["kinds"],
            data["task"],
            data["target"],
            data["classes"],
            tuple(data.get("null_values", ("",))),
        )


def select_features(schema: dict[str, Any], settings: Settings) -> tuple[list[str], dict[str, str]]:
    """(feature names, kind per feature) from a frame schema and the config."""
    from workbench.data.columns import column_kind

    d = settings.data
    if d.target and d.target not in schema:
        raise DataError(
            f"the target column {d.target!r} is not in the data (columns: {', '.join(schema)})",
            f"fix [data] target in {settings.source.name} or add the column to the data",
        )
    if d.features:
        missing = [f for f in d.features if f not in schema]
        if missing:
            raise DataError(
                f"feature column(s) {', '.join(missing)} listed in [data] features are not in"
                " the data",
                f"remove them from [data] features in {settings.source.name}",
            )
        names = list(d.features)
    else:
        skip = {d.target, d.time_column, d.id_column, *d.exclude}
        names = [c for c, t in schema.items() if c not in skip and column_kind(t) != "datetime"]
    if not names:
        raise DataError("no feature columns are left", "list features in [data] features")
    kinds = {}
    for name in names:
        kind = column_kind(schema[name])
        kinds[name] = "categorical" if name in d.categorical else kind
    return names, kinds


def fit(frame: pl.DataFrame, settings: Settings, *, rows: np.ndarray | None = None) -> FeatureSpec:
    """Learn the feature spec from the training rows: ``frame``, or its ``rows`` (positions).

    With ``rows`` only the numbers are gathered: each categorical column's levels are found
    over all of ``frame``, coded, and a level is kept when one of ``rows`` has it (the same
    sorted list as the unique values of the gathered rows, without copying any strings).
    """
    import numpy as np
    import polars as pl

    names, kinds = select_features(dict(frame.schema), settings)
    categories = {}
    for name, kind in kinds.items():
        if kind != "categorical":
            continue
        column = frame[name].cast(pl.String)
        if rows is not None:
            levels = column.drop_nulls().unique().sort()
            if len(levels) <= MAX_CATEGORIES:
                codes = column.cast(pl.Enum(levels), strict=False).to_physical()
                seen = np.bincount(
                    codes.gather(rows).drop_nulls().to_numpy(), minlength=len(levels)
                )
                categories[name] = levels.filter(pl.Series(seen > 0)).to_list()
                continue
            column = column.gather(rows)  # too many levels: count those of the rows exactly
        values = column.drop_nulls().unique().sort().to_list()
        if len(values) > MAX_CATEGORIES:
            raise TrainingError(
                f"column {name!r} has {len(values)} categories (more than {MAX_CATEGORIES})",
                "add it to [data] exclude, or to [data] id_column if it identifies rows",
            )
        categories[name] = values
    task = settings.model.task
    classes: list[Any] = []
    if task != "regression":
        target = frame[settings.data.target]
        target = target if rows is None else target.gather(rows)
        classes = target.drop_nulls().unique().sort().to_list()
        need = 2 if task == "binary" else 3
        if len(classes) < 2 or (task == "binary" and len(classes) != 2) or len(classes) < need:
            raise TrainingError(
                f"the target {settings.data.target!r} has {len(classes)} class(es)"
                f" ({', '.join(map(str, classes[:10]))}); task {task!r} needs"
                + (" exactly 2" if task == "binary" else " 3 or more"),
                "check the target column, or set [model] task to match it",
            )
    d = settings.data
    return FeatureSpec(tuple(names), categories, kinds, task, d.target, classes, d.null_values)


def missing_columns(schema_names: list[str] | set[str], spec: FeatureSpec) -> list[str]:
    return [f for f in spec.features if f not in schema_names]


def encode(frame: pl.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The float64 feature matrix (rows x features) in the spec's column order."""
    import polars as pl

    missing = missing_columns(set(frame.columns), spec)
    if missing:
        raise DataError(
            f"missing feature column(s): {', '.join(missing)}",
            "the input must have every column the model was trained on",
        )
    try:
        out = frame.select(spec.encoders).to_numpy(order="c", writable=False)
    except pl.exceptions.PolarsError as e:
        raise DataError(f"cannot encode the features: {e}", "check the column types") from e
    return out.astype("float64", copy=False)


def encoders(spec: FeatureSpec) -> list[pl.Expr]:
    """One expression per feature turning an input column into its float64 code (built once
    per spec: ``FeatureSpec.encoders``; the category ``Enum`` of a wide categorical costs more
    to build than a small batch costs to encode)."""
    import polars as pl

    exprs = []
    for name in spec.features:
        col = pl.col(name)
        kind = spec.kinds[name]
        if kind == "categorical":
            # code = index in the stored list; a value not in it (unseen) becomes null -> NaN
            enum = pl.Enum(spec.categories[name])
            expr = col.cast(pl.String).cast(enum, strict=False).to_physical().cast(pl.Float64)
        elif kind == "datetime":
            expr = col.dt.epoch("s").cast(pl.Float64)
        else:
            expr = col.cast(pl.Float64, strict=False)
        exprs.append(expr.alias(name))  # nulls become NaN in to_numpy, as NaN stays NaN
    return exprs


def encode_target(frame: pl.DataFrame, spec: FeatureSpec) -> np.ndarray:
    import polars as pl

    col = frame[spec.target]
    if spec.task == "regression":
        return col.cast(pl.Float64).to_numpy()
    mapping = {v: i for i, v in enumerate(spec.classes)}
    return col.replace_strict(mapping, default=None, return_dtype=pl.Float64).to_numpy()
