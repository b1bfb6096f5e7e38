"""The MLflow pyfunc of an exported version, as MLflow's *models from code*.

``workbench export mlflow`` logs this file as the model's code, with two artifacts: ``model``
(the version's LightGBM native text, the store's bytes) and ``spec`` (its feature spec JSON,
``FeatureSpec.to_json``). ``mlflow.pyfunc.load_model(uri)`` runs this file and calls
``set_model``'s object; nothing is pickled, at logging or at loading.

Decisions:

* **Self-contained.** It imports mlflow, lightgbm, numpy, polars (and pandas, which MLflow
  hands rows in), never ``workbench``: the logged model loads and predicts on a machine where
  workbench is not installed (an MLflow server's host, a serving container). The encoding
  rules are those of ``workbench.model.features.encode``, restated here in a few lines —
  categorical: the index of the value in the stored category list, a value not in it (unseen)
  or missing is NaN (LightGBM's missing branch); datetime: seconds since the epoch; else a
  float (``True`` = 1). ``tests/test_export_mlflow.py`` proves both give the same predictions
  on the same rows, and that the model loads with workbench blocked from importing.
* **Raw rows in, ``workbench predict``'s columns out.** Input: a pandas or polars frame, a
  dict of columns or a list of row dicts, with categorical columns as their strings. Output:
  a pandas frame with the columns ``workbench predict`` adds — ``prediction`` (binary:
  P(positive class); regression: the value), ``prediction_label`` (classification) and
  ``proba_<class>`` (multiclass) — one row per input row, in order.
"""

from __future__ import annotations

import json
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd

SPEC_ARTIFACT = "spec"
MODEL_ARTIFACT = "model"


class WorkbenchModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """A workbench version: its booster and its feature spec."""

    def load_context(self, context: Any) -> None:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_file=context.artifacts[MODEL_ARTIFACT])
        with open(context.artifacts[SPEC_ARTIFACT], encoding="utf-8") as f:
            self.spec: dict[str, Any] = json.load(f)

    # ``pd.DataFrame``: a hint MLflow infers no input schema from (none is enforced on the raw
    # rows); without one it warns on every load
    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        import numpy as np
        import polars as pl

        frame = _frame(model_input)
        spec = self.spec
        x = encode(frame, spec)
        pred = (
            self.booster.predict(x, num_threads=0)
            if len(x)
            else np.zeros((0, max(len(spec["classes"]), 1)))
        )
        cols: dict[str, Any] = {}
        classes = spec["classes"]
        if spec["task"] == "binary":
            p = np.asarray(pred).reshape(-1)
            cols["prediction"] = p
            cols["prediction_label"] = pl.Series(classes).gather((p >= 0.5).astype(np.int64))
        elif spec["task"] == "multiclass":
            proba = np.asarray(pred).reshape(-1, len(classes))
            for k, label in enumerate(classes):
                cols[f"proba_{label}"] = proba[:, k]
            cols["prediction_label"] = pl.Series(classes).gather(proba.argmax(axis=1))
        else:
            cols["prediction"] = np.asarray(pred).reshape(-1)
        return pl.DataFrame(cols).to_pandas()


def _frame(model_input: Any) -> Any:
    """The input rows as a polars frame."""
    import polars as pl

    if isinstance(model_input, pl.DataFrame):
        return model_input
    if isinstance(model_input, dict | list):
        return pl.DataFrame(model_input)
    return pl.from_pandas(model_input)


def encode(frame: Any, spec: dict[str, Any]) -> Any:
    """The float64 feature matrix (rows x features) in the spec's column order."""
    import polars as pl

    missing = [f for f in spec["features"] if f not in frame.columns]
    if missing:
        raise ValueError(
            f"missing feature column(s): {', '.join(missing)}; the model was trained with:"
            f" {', '.join(spec['features'])}"
        )
    exprs = []
    for name in spec["features"]:
        col = pl.col(name)
        kind = spec["kinds"][name]
        if kind == "categorical":
            enum = pl.Enum(spec["categories"][name])
            expr = col.cast(pl.String).cast(enum, strict=False).to_physical().cast(pl.Float64)
        elif kind == "datetime":
            if frame.schema[name] == pl.String:
                col = col.str.to_datetime(strict=False)
            expr = col.dt.epoch("s").cast(pl.Float64)
        else:
            expr = col.cast(pl.Float64, strict=False)
        exprs.append(expr.alias(name))
    return frame.select(exprs).to_numpy(order="c").astype("float64", copy=False)


mlflow.models.set_model(WorkbenchModel())
