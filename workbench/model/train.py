"""Training one snapshot with its own config: split, encode, LightGBM, holdout metrics.

The data is read from the snapshot's bytes in the object store (not from the working folder),
and the config is the one the snapshot holds, so a version is exactly "this data with this
config". Determinism: the split is seeded or time-ordered with a stable sort, LightGBM runs with
``deterministic=True``, ``force_row_wise=True`` and the seed, so the same snapshot, config and
seed give the same model text and predictions.

Split (``workbench.model.split``): rows with a null target are dropped; the holdout is the
latest ``holdout_fraction`` of rows by ``time_column`` (``split = "time"``) or the rows whose
own hash puts them there (a row keeps its side from version to version); early stopping
watches a validation part carved from the rest the same way, never the holdout.

Cost: the labelled rows are encoded once into one float64 matrix; the split works on row
positions (``split_indices``) and the train, validation and holdout matrices are row takes
from it. The holdout is scored from its matrix, and so is the champion at the gate when it
encodes features as the candidate does; the holdout's frame (every column) is only gathered
for a champion that encodes differently.
"""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from workbench import __version__
from workbench.config import Settings
from workbench.data.reader import load_frame
from workbench.errors import ConfigError, TrainingError
from workbench.model import features, metrics, split
from workbench.model.loading import LoadedModel
from workbench.model.params import check_params

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from workbench.store import Store
    from workbench.store.session import SnapshotRecord

Progress = Callable[[str, dict[str, Any]], None]


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class TrainEvents:
    """The named moments of one training run, for whoever runs it.

    ``progress(step, info)`` is for display only: a step starts (``info == {}``) or a boosting
    round ends (``{"round": r, "total": n}``); it may raise to abandon the run (the TUI's
    cancel). The moments a caller acts on have their own callbacks, so renaming a displayed
    step never changes behaviour: ``boosting_started`` as LightGBM starts boosting (from there
    on it leaves the GIL to other threads), ``before_gate`` once the candidate is trained and
    scored and the gate decides next (``workbench.pipeline.train`` calls it).
    """

    progress: Progress | None = None
    boosting_started: Callable[[], None] = _nothing
    before_gate: Callable[[], None] = _nothing


MIN_ROWS = 20
OBJECTIVES = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}


@dataclass(frozen=True)
class Trained:
    model_text: str
    meta: dict[str, Any]
    model: LoadedModel
    metrics: dict[str, float]
    y_holdout: np.ndarray
    rows: int
    timings: dict[str, float]
    frame: pl.DataFrame  # the labelled rows the split was made from
    holdout_rows: np.ndarray  # positions of the holdout in ``frame``
    x_holdout: np.ndarray  # the holdout rows with a known target, encoded with the spec
    unlabelled: int = 0  # rows of the snapshot left out because their target is missing
    pred_holdout: np.ndarray | None = None  # the model's scores of x_holdout (None: not kept)

    @cached_property
    def holdout(self) -> pl.DataFrame:
        """The holdout rows, every column (the gate scores the champion on them)."""
        return self.frame[self.holdout_rows]


class _Timer:
    def __init__(self, progress: Progress | None) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    def step(self, name: str) -> _Step:
        if self.progress:
            self.progress(name, {})
        return _Step(self, name)


class _Step:
    def __init__(self, timer: _Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timer.timings[self.name] = round(time.perf_counter() - self.start, 4)


THREAD_ALIASES = ("num_threads", "num_thread", "nthread", "nthreads", "n_jobs")
ONE_THREAD_CELLS = 2_000_000  # training rows x features at or below which one thread trains


def lgb_params(
    settings: Settings, spec: features.FeatureSpec, cells: int | None = None
) -> dict[str, Any]:
    """LightGBM's parameters: ours, then ``[model] params`` over them.

    Threads: OpenMP waits passively in workbench (``workbench/__init__.py``), so each of
    LightGBM's many short parallel regions pays a thread wake-up; on small data that costs
    more than the second core gives (5,000 x 30: 0.55 s on one thread, 0.73 s on two; 54,000
    x 10: 1.1 s against 1.4 s, on this 2-core machine under load). So up to
    ``ONE_THREAD_CELLS`` training cells one thread trains, above it every core. A thread
    count in ``[model] params`` wins.
    """
    params: dict[str, Any] = {
        "objective": OBJECTIVES[spec.task],
        "seed": settings.train.seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }
    if spec.task == "multiclass":
        params["num_class"] = len(spec.classes)
    user = dict(settings.model.params)
    if cells is not None and not any(k in user for k in THREAD_ALIASES):
        params["num_threads"] = 1 if cells <= ONE_THREAD_CELLS else 0
    return params | user


def train_snapshot(
    settings: Settings, store: Store, snap: SnapshotRecord, events: TrainEvents | None = None
) -> Trained:
    import lightgbm as lgb
    import numpy as np

    if settings.train.engine == "dask":  # on the cluster at [train] scheduler
        from workbench.model import dask_engine

        return dask_engine.train_snapshot(settings, store, snap, events)
    events = events or TrainEvents()
    progress = events.progress
    metrics.check_metric(settings.model.task, settings.gate.metric)
    timer = _Timer(progress)
    with timer.step("load"):
        everything = load_frame(store, snap)
        frame = _labelled(everything, settings)
        unlabelled = everything.height - frame.height
        del everything
    with timer.step("prepare"):
        parts = split.split_indices(frame, settings)
        train_rows, valid_rows, hold_rows = parts
        spec = features.fit(frame, settings, rows=train_rows)  # on the training rows
        params = lgb_params(settings, spec, cells=len(train_rows) * len(spec.features))
        check_params(settings, params, len(spec.classes))  # a config error, before a version
        names = _safe_names(spec.features)
        cat_idx = [i for i, f in enumerate(spec.features) if f in spec.categories]
        x_all = features.encode(frame, spec)  # every row once; the parts are row takes
        # (np.take copies whole rows: ~3x faster than fancy indexing x_all[rows] here)
        y_all = features.encode_target(frame, spec)
        dtrain = lgb.Dataset(
            np.take(x_all, train_rows, axis=0),
            y_all[train_rows],
            feature_name=names,
            categorical_feature=cat_idx or "auto",
            free_raw_data=True,
        )
        dvalid = dtrain.create_valid(np.take(x_all, valid_rows, axis=0), y_all[valid_rows])
    curve: dict[str, Any] = {}
    with timer.step("train"):
        events.boosting_started()
        booster = _boost(settings, params, dtrain, dvalid, curve, progress)
        best = booster.best_iteration or booster.current_iteration()
        text = booster.model_to_string(num_iteration=best)
    with timer.step("evaluate"):
        # scored by a booster loaded from the stored text, on the rows encoded as predict does
        model = LoadedModel.from_text(text, {"spec": spec.to_json()})
        y_hold = y_all[hold_rows]
        known = ~np.isnan(y_hold)
        x_hold = np.take(x_all, hold_rows[known], axis=0)
        del x_all
        pred_hold = model.predict_matrix(x_hold)
        scores = metrics.compute(spec.task, y_hold[known], pred_hold)
    importance = booster.feature_importance(importance_type="gain", iteration=best)
    record = split.split_record(frame, settings, parts)
    record["rows"]["no_target"] = unlabelled  # left out: their target is missing
    meta = _meta(settings, snap, spec, params, best, scores, importance, curve, record)
    meta["timings"] = timer.timings
    return Trained(
        text,
        meta,
        LoadedModel(model.booster, spec, meta),
        scores,
        y_hold,
        frame.height,
        timer.timings,
        frame,
        hold_rows,
        x_hold,
        unlabelled,
        pred_hold,
    )


def labelled_rows(store: Store, snapshot_id: str, model: LoadedModel) -> pl.DataFrame:
    """The rows of a stored snapshot that have ``model``'s target: the frame a version trained
    on split its parts from."""
    import polars as pl

    with store.read() as s:
        snap = s.snapshot(snapshot_id)
    return load_frame(store, snap).filter(pl.col(model.spec.target).is_not_null())


def _labelled(frame: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """The rows with a target value; a missing target or feature column, or too few labelled
    rows, is a ``TrainingError`` naming what to change."""
    import polars as pl

    target = settings.data.target
    if not target:
        raise TrainingError("no target column is configured", "set [data] target")
    for key, column in (
        ("data.target", target),
        ("data.time_column", settings.data.time_column),
        ("data.id_column", settings.data.id_column),
    ):
        if column and column not in frame.columns:
            raise _no_column(settings, key, column, frame.columns)
    features.select_features(dict(frame.schema), settings)  # names missing columns early
    frame = frame.filter(pl.col(target).is_not_null())
    if frame.height < MIN_ROWS:
        raise TrainingError(
            f"only {frame.height} rows have a target value; at least {MIN_ROWS} are needed",
            f"add labelled rows (column {target!r})",
        )
    return frame


def _no_column(settings: Settings, key: str, column: str, columns: list[str]) -> ConfigError:
    import difflib

    close = difflib.get_close_matches(column, columns, n=1, cutoff=0.6)
    return ConfigError(
        f"{settings.source.name}: {key} = {column!r} is not a column of the data",
        (f"did you mean {close[0]!r}? " if close else "")
        + f"the columns are: {', '.join(columns[:20])}{' …' if len(columns) > 20 else ''}",
    )


def _boost(
    settings: Settings,
    params: dict[str, Any],
    dtrain: Any,
    dvalid: Any,
    curve: dict[str, Any],
    progress: Progress | None,
) -> Any:
    """``lightgbm.train`` with early stopping on the validation part, the learning curve
    recorded into ``curve`` and a progress call per round; a refusal is a ``TrainingError``."""
    import lightgbm as lgb

    callbacks = [lgb.record_evaluation(curve)]
    if settings.model.early_stopping_rounds > 0:
        callbacks.append(lgb.early_stopping(settings.model.early_stopping_rounds, verbose=False))
    if progress is not None:
        callbacks.append(_progress_callback(progress, settings.model.num_boost_round))
    try:
        return lgb.train(
            params,
            dtrain,
            num_boost_round=settings.model.num_boost_round,
            valid_sets=[dvalid],
            valid_names=["valid"],
            callbacks=callbacks,
        )
    except lgb.basic.LightGBMError as e:
        raise TrainingError(
            f"LightGBM refused to train: {str(e).strip()}",
            f"check [model] params in {settings.source.name}",
        ) from e


def _meta(
    settings: Settings,
    snap: SnapshotRecord,
    spec: features.FeatureSpec,
    params: dict[str, Any],
    best: int,
    scores: dict[str, float],
    importance: Any,
    curve: dict[str, Any],
    split_record: dict[str, Any],
) -> dict[str, Any]:
    """The version's metadata object (``model.json`` in the serving export); the caller adds
    the step timings once they are all known."""
    return {
        "format": 1,
        "snapshot": snap.id,
        "spec": spec.to_json(),
        "task": spec.task,
        "params": params,
        "num_boost_round": settings.model.num_boost_round,
        "best_iteration": best,
        "metrics": scores,
        "gate_metric": settings.gate.metric,
        "importance": dict(
            sorted(
                zip(spec.features, (float(x) for x in importance), strict=True),
                key=lambda kv: -kv[1],
            )
        ),
        "learning_curve": {k: {m: list(v) for m, v in d.items()} for k, d in curve.items()},
        "split": split_record,
        "timings": {},
        "libraries": _libraries(),
    }


def _progress_callback(progress: Progress, total: int) -> Callable[[Any], None]:
    def callback(env: Any) -> None:
        progress("train", {"round": env.iteration + 1, "total": total})

    callback.order = 30  # type: ignore[attr-defined]
    return callback


def _safe_names(names: tuple[str, ...]) -> list[str]:
    """LightGBM refuses some characters in feature names; the spec keeps the real ones."""
    out: list[str] = []
    for name in names:
        safe = re.sub(r"[^0-9A-Za-z_]", "_", name) or "f"
        while safe in out:
            safe += "_"
        out.append(safe)
    return out


def _libraries() -> dict[str, str]:
    import lightgbm
    import numpy
    import polars

    return {
        "workbench": __version__,
        "lightgbm": lightgbm.__version__,
        "polars": polars.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }
