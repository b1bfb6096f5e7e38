"""Training on an existing Dask cluster (``[train] engine = "dask"``) with LightGBM's own Dask
estimators (``lightgbm.dask``); the result is a version like any other.

What runs where. The driver (this process) never builds the training matrix. The snapshot's
data files are cut into partitions (row ranges of each file whose row count the snapshot
knows, the k-th range of every file read by the k-th worker: ``partitions``); each worker
reads its partitions from the store's objects by path (the workers must see the store: the
same machine or a shared filesystem; ``_check_workers`` asks every worker first and names the
one that cannot read an object, the LightGBM or workbench version it runs when they differ
from the driver's). The steps, as Dask tasks:

1. read: a partition as ``data.profile.scan`` reads a file (the snapshot's ``null_values``);
   its schema goes to the driver, which combines the schemas as local training combines files
   (``diagonal_relaxed`` of empty frames), so every partition is then cast to the same types.
2. split: rows with a null target are dropped; the side of each row is the local rule
   (``model.split``): for ``split = "random"`` the worker computes the row keys of its own
   rows (they are per row); for ``split = "time"`` the workers send their rows' time values
   (8 bytes a row) and the driver cuts them in one stable sort as ``split.split_indices``
   does, sending each partition its sides back. The split record (``train_until`` too) is the
   local one, so the gate, ``compare`` and ``seen_by`` treat a Dask version as any other.
3. spec: each partition reports the category levels and classes of its training rows; the
   driver fits the ``FeatureSpec`` from their union with ``features.fit`` (the same sorted
   lists, the same checks), so categoricals are coded as in local training.
4. fit: the training rows are encoded on the workers into a ``dask.array`` (one chunk per
   partition) and ``DaskLGBMRegressor`` trains on them with the objective of the task (one
   estimator for every task: the labels are already codes, no sklearn label encoding).
   The validation and holdout rows come to the driver (they are small next to the training
   part): the holdout is scored there, as in local training, and the gate sees it as always.
   ``Trained.frame`` is then the holdout rows only (``holdout_rows`` all of them): what the
   gate and the challenger report read of it.

Early stopping (decided): ``lightgbm.dask`` accepts an ``eval_set`` but early stopping is not
supported in distributed training (LightGBM issue #3712 / #2302; with the callback one worker
may stop before the others and the fit fails). So the fit runs ``num_boost_round`` rounds and
the driver replays early stopping afterwards on the validation part: the objective's loss
(``binary_logloss``, ``multi_logloss``, ``l2``) per round from the model's raw scores, the
same patience rule as ``lightgbm.early_stopping``; the model is saved up to that best round
and the curve is recorded as local training records it (``learning_curve.valid``).

The model is LightGBM's native text. A Dask fit writes the cluster's addresses into its
parameters (``[machines: host:port,...]``, ``[local_listen_port: ...]``); ``normalise`` sets
them to fixed values before the text is hashed and stored, so the bytes do not depend on the
ports the workers happened to get, and predict, rollback, serving, the card and exports read
it as any model. Dask fits are not bit-for-bit reproducible (bins and histograms are built
per worker from its rows): the same snapshot gives close, not equal, models.

Faults. The scheduler is connected with a ``CONNECT_TIMEOUT`` (an unreachable one is a
``TrainingError`` within seconds: exit 5, a failed version, the champion unchanged). LightGBM's
``time_out`` (minutes, its socket timeout between workers) is ``TIME_OUT_MINUTES`` unless
``[model] params`` sets it. A worker lost during the fit would leave its share of the fit
waiting forever (the task is pinned to that worker), so the driver watches the cluster while
the fit runs (``_watch``): when a worker that was there at the fit's start leaves, or the
scheduler goes, the client is closed, which ends the fit, and the error names the worker (a
fit that fails first, on a socket error from the dead peer, is answered the same way once the
scheduler sees the worker gone, within ``LOST_PATIENCE``). Fits never overlap: LightGBM's
Dask fits on one cluster must not (ports, and every worker's threads), so each training holds
the cluster-wide ``distributed.Lock`` ``LOCK_NAME`` from its first data task to
the end of its fit; a second training waits its turn (step ``wait``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import __version__
from workbench.config import Settings
from workbench.errors import ConfigError, TrainingError
from workbench.model import features, metrics, split
from workbench.model.loading import LoadedModel
from workbench.model.params import check_params
from workbench.model.train import (
    MIN_ROWS,
    Trained,
    TrainEvents,
    _meta,
    _no_column,
    _safe_names,
    _Timer,
    lgb_params,
)

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from workbench.store import Store
    from workbench.store.session import SnapshotRecord

CONNECT_TIMEOUT = 4  # seconds to reach the scheduler
TIME_OUT_MINUTES = 5  # LightGBM's socket time_out between workers, unless params set it
PART_ROWS = 500_000  # rows per partition at most (files the snapshot knows the rows of)
LOCK_NAME = "workbench-lightgbm-fit"
WATCH_SECONDS = 0.2
LOST_PATIENCE = 5.0  # after a network error in the fit: seconds to see a worker gone
INSTALL_HINT = 'pip install "workbench[dask]"'
EXTRA = ("dask", "distributed", "pandas", "sklearn")  # the modules of the ``dask`` extra
NETWORK_LINES = {"machines": "", "local_listen_port": "12400"}
ENGINE = "dask"


def available() -> bool:
    """The extra is importable: dask, distributed, and pandas + scikit-learn, which
    ``lightgbm.dask`` needs (found, not imported)."""
    return all(importlib.util.find_spec(m) is not None for m in EXTRA)


def normalise(text: str) -> str:
    """The model text with the cluster's addresses and ports set to fixed values."""
    for key, value in NETWORK_LINES.items():
        text = re.sub(rf"^\[{key}: [^\]\n]*\]$", f"[{key}: {value}]", text, flags=re.MULTILINE)
    return text


# --- on the workers ----------------------------------------------------------------------
# Plain arguments (tuples, dicts, polars types) only: these run in the workers' processes.

Partition = tuple[str, str, str, int, int | None]  # label, object path, hash, offset, rows


def _check_worker(paths: list[str]) -> dict[str, Any]:
    import lightgbm

    unreadable = [p for p in paths if not os.access(p, os.R_OK)]
    return {"unreadable": unreadable, "workbench": __version__, "lightgbm": lightgbm.__version__}


def _read(part: Partition, null_values: tuple[str, ...]) -> pl.DataFrame:
    from workbench.data.profile import scan

    label, path, _digest, offset, rows = part
    lf = scan(Path(path), label, null_values=null_values)
    if rows is not None:
        lf = lf.slice(offset, rows)
    return lf.collect()


def _shape(frame: pl.DataFrame) -> tuple[dict[str, Any], int]:
    return dict(frame.schema), frame.height


def _prepare(
    frame: pl.DataFrame, schema: dict[str, Any], how: dict[str, Any]
) -> tuple[pl.DataFrame, np.ndarray | None]:
    """The partition in the combined types, labelled rows only, and (random split) the side
    of each row: 0 train, 1 valid, 2 holdout."""
    import numpy as np
    import polars as pl

    columns = [
        (pl.col(n) if frame.schema[n] == t else pl.col(n).cast(t))
        if n in frame.columns
        else pl.lit(None, dtype=t).alias(n)
        for n, t in schema.items()
    ]
    frame = frame.select(columns).filter(pl.col(how["target"]).is_not_null())
    if how["split"] == "time":
        return frame, None
    hf = how["holdout_fraction"]
    u = split.unit(split.row_keys(frame, how["id_column"]), how["seed"])
    valid = hf + (1.0 - hf) * split.VALID_FRACTION
    return frame, np.where(u < hf, 2, np.where(u < valid, 1, 0)).astype(np.int8)


def _times(prepared: tuple[pl.DataFrame, Any], column: str) -> np.ndarray:
    from workbench.data.times import time_values

    return time_values(prepared[0], column)


def _with_sides(
    prepared: tuple[pl.DataFrame, Any], sides: np.ndarray | None
) -> tuple[pl.DataFrame, np.ndarray]:
    return prepared[0], prepared[1] if sides is None else sides


def _summary(
    prepared: tuple[pl.DataFrame, np.ndarray],
    names: list[str],
    categorical: list[str],
    target: str,
    task: str,
) -> dict[str, Any]:
    """Rows per side; the category levels, classes and values per feature of the training
    rows."""
    import numpy as np
    import polars as pl

    frame, sides = prepared
    train = frame.filter(pl.Series(sides == 0))
    levels = {c: train[c].cast(pl.String).drop_nulls().unique().to_list() for c in categorical}
    classes = [] if task == "regression" else train[target].drop_nulls().unique().to_list()
    counts = np.bincount(sides, minlength=3).tolist()
    present = {n: train.height - train[n].null_count() for n in names}
    return {"counts": counts, "levels": levels, "classes": classes, "present": present}


def _encode(
    prepared: tuple[pl.DataFrame, np.ndarray], spec_json: dict[str, Any], side: int
) -> tuple[np.ndarray, np.ndarray]:
    import polars as pl

    frame, sides = prepared
    rows = frame.filter(pl.Series(sides == side))
    spec = features.FeatureSpec.from_json(spec_json)
    return features.encode(rows, spec), features.encode_target(rows, spec)


def _rows(prepared: tuple[pl.DataFrame, np.ndarray], side: int) -> pl.DataFrame:
    import polars as pl

    frame, sides = prepared
    return frame.filter(pl.Series(sides == side))


# --- on the driver -----------------------------------------------------------------------


def partitions(
    snap: SnapshotRecord, store: Store, workers: list[str]
) -> list[tuple[Partition, str]]:
    """The snapshot's files as partitions, each with the worker that reads it.

    A file whose rows the snapshot knows is cut into row ranges, as many as the workers (or a
    multiple, for ranges of at most ``PART_ROWS`` rows), and the k-th range of every file goes
    to the k-th worker: every worker trains on a slice of every file. A column only some
    files have, or a category only some files hold, is then on every worker, as LightGBM's
    distributed binning needs (a categorical column with no value on one worker crashed that
    worker's process in LightGBM 4.7). A file of unknown rows is one partition.
    """
    out: list[tuple[Partition, str]] = []
    n = len(workers)
    for f in snap.data_files:
        path = str(store.objects.path(f.hash))
        if not f.rows:
            out.append(((f.path, path, f.hash, 0, None), workers[len(out) % n]))
            continue
        pieces = min(f.rows, n * max(1, math.ceil(f.rows / (PART_ROWS * n))))
        step = math.ceil(f.rows / pieces)
        for k, start in enumerate(range(0, f.rows, step)):
            part = (f.path, path, f.hash, start, min(step, f.rows - start))
            out.append((part, workers[k % n]))
    return out


def _connect(settings: Settings) -> Any:
    if not available():
        raise ConfigError(
            f'{settings.source.name}: train.engine = "dask" needs the dask extra installed',
            INSTALL_HINT,
        )
    from distributed import Client

    address = settings.train.scheduler or ""
    started = time.perf_counter()
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:  # ValueError: an address it cannot read
        raise TrainingError(
            f"cannot reach the Dask scheduler at {address} (train.scheduler) after"
            f" {time.perf_counter() - started:.0f} s: {str(e).splitlines()[0]}",
            "start it (`dask scheduler`, then `dask worker <address>` on each machine) or fix"
            f" train.scheduler in {settings.source.name}",
        ) from e


def _check_workers(client: Any, paths: list[str]) -> list[str]:
    """The workers' addresses; an error names a worker that cannot read the store's objects
    or runs another workbench or LightGBM than the driver."""
    import lightgbm

    answers: dict[str, dict[str, Any]] = client.run(_check_worker, sorted(set(paths)))
    if not answers:
        raise TrainingError(
            f"the Dask cluster at {client.scheduler.address} has no workers",
            "start workers: `dask worker <scheduler address>`",
        )
    for worker, a in sorted(answers.items()):
        if a["unreadable"]:
            raise TrainingError(
                f"Dask worker {worker} cannot read the store's object {a['unreadable'][0]}",
                "the workers read the project's .workbench/objects by path: run them on this"
                " machine or mount the project at the same path on theirs",
            )
        for name, mine in (("workbench", __version__), ("lightgbm", lightgbm.__version__)):
            if a[name] != mine:
                raise TrainingError(
                    f"Dask worker {worker} runs {name} {a[name]}, this process {mine}",
                    f"install {name}=={mine} in the workers' environment",
                )
    return sorted(answers)


def _combined_schema(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    import polars as pl

    from workbench.data.profile import combine

    empty = [pl.DataFrame(schema=s).lazy() for s in schemas]
    return dict(combine(empty).collect_schema())


def _time_sides(times: list[np.ndarray], hf: float) -> list[np.ndarray]:
    """Each partition's sides under the time split, cut as ``split.split_indices`` cuts the
    concatenated rows (a stable sort: ties keep file order)."""
    import numpy as np

    every = np.concatenate(times) if times else np.zeros(0)
    n = len(every)
    order = np.argsort(every, kind="stable")
    n_hold = max(1, math.ceil(n * hf))
    rest = n - n_hold
    n_valid = max(1, math.ceil(rest * split.VALID_FRACTION))
    sides = np.zeros(n, dtype=np.int8)
    sides[order[rest:]] = 2
    sides[order[rest - n_valid : rest]] = 1
    bounds = np.cumsum([0, *(len(t) for t in times)])
    return [sides[a:b] for a, b in itertools.pairwise(bounds)]


def _fit_spec(
    settings: Settings, schema: dict[str, Any], summaries: list[dict[str, Any]]
) -> features.FeatureSpec:
    """``features.fit`` on a frame holding, per categorical column, the union of the levels
    the partitions' training rows have, and the union of their classes: the same spec (and
    checks) as fitting on the training rows themselves."""
    import polars as pl

    names, kinds = features.select_features(schema, settings)
    target = settings.data.target
    values: dict[str, pl.Series] = {}
    for name in names:
        if kinds[name] == "categorical":
            found = [v for s in summaries for v in s["levels"][name]]
            values[name] = pl.Series(name, found, dtype=pl.String).unique()
    if settings.model.task != "regression":
        found = [v for s in summaries for v in s["classes"]]
        values[target] = pl.Series(target, found, dtype=schema[target]).unique()
    height = max([len(v) for v in values.values()] + [1])
    columns = {}
    for name in dict.fromkeys([*names, target]):
        dtype = pl.String if name in values and name != target else schema[name]
        series = values.get(name, pl.Series(name, [], dtype=dtype))
        columns[name] = series.extend(pl.Series(name, [None] * (height - len(series)), dtype))
    return features.fit(pl.DataFrame(columns), settings)


def _best_round(
    booster: Any, task: str, x: np.ndarray, y: np.ndarray, rounds: int, patience: int
) -> tuple[int, dict[str, list[float]]]:
    """(best round, curve): ``lightgbm.early_stopping`` replayed on the validation part."""
    import numpy as np

    name = {"binary": "binary_logloss", "multiclass": "multi_logloss"}.get(task, "l2")
    total = booster.current_iteration()
    raw: np.ndarray | None = None
    curve: list[float] = []
    best, best_score = 0, math.inf
    eps = 1e-15
    for i in range(total):
        step = booster.predict(x, start_iteration=i, num_iteration=1, raw_score=True)
        raw = step if raw is None else raw + step
        if task == "binary":
            p = np.clip(1.0 / (1.0 + np.exp(-raw)), eps, 1 - eps)
            score = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        elif task == "multiclass":
            z = np.exp(raw - raw.max(axis=1, keepdims=True))
            p = z / z.sum(axis=1, keepdims=True)
            score = float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y.astype(int)], eps, 1))))
        else:
            score = float(np.mean((raw - y) ** 2))
        curve.append(score)
        if score < best_score:
            best, best_score = i, score
        elif patience > 0 and i - best >= patience:
            break
    if patience <= 0:
        best = total - 1
    return best + 1, {name: curve}


def train_snapshot(
    settings: Settings, store: Store, snap: SnapshotRecord, events: TrainEvents | None = None
) -> Trained:
    """``model.train.train_snapshot`` on the Dask cluster at ``[train] scheduler``."""
    events = events or TrainEvents()
    metrics.check_metric(settings.model.task, settings.gate.metric)
    timer = _Timer(events.progress)
    with timer.step("connect"):
        client = _connect(settings)
    try:
        return _train(settings, store, snap, events, timer, client)
    finally:
        client.close(timeout=2)


def _train(
    settings: Settings,
    store: Store,
    snap: SnapshotRecord,
    events: TrainEvents,
    timer: _Timer,
    client: Any,
) -> Trained:
    from distributed import Lock

    from workbench.data.reader import snapshot_settings

    nulls = tuple(snapshot_settings(store, snap, store.root.parent).data.null_values)
    with timer.step("wait"):  # for the workers' answers, then for our turn on the cluster
        paths = [str(store.objects.path(f.hash)) for f in snap.data_files]
        workers = _check_workers(client, paths)
        lock = Lock(LOCK_NAME, scheduler_rpc=client.scheduler, loop=client.loop)
        lock.acquire()
    try:
        return _fit(settings, snap, events, timer, client, nulls, workers, store)
    finally:
        with contextlib.suppress(Exception):  # a closed client (a lost worker) ends the lease
            lock.release()


def _fit(
    settings: Settings,
    snap: SnapshotRecord,
    events: TrainEvents,
    timer: _Timer,
    client: Any,
    nulls: tuple[str, ...],
    workers: list[str],
    store: Store,
) -> Trained:
    import dask
    import dask.array as da
    import numpy as np
    import polars as pl

    d, t = settings.data, settings.train
    delayed = dask.delayed
    with timer.step("load"):
        parts = partitions(snap, store, workers)
        # each partition read on its worker; the later steps run where their data is
        raw = [client.persist(delayed(_read)(p, nulls), workers=[w]) for p, w in parts]
        shapes = client.compute([delayed(_shape)(r) for r in raw], sync=True)
        schema = _combined_schema([s for s, _ in shapes])
        _check_columns(settings, schema)
    with timer.step("prepare"):
        how = {
            "target": d.target,
            "split": t.split,
            "holdout_fraction": t.holdout_fraction,
            "seed": t.seed,
            "id_column": d.id_column,
        }
        prepared = client.persist([delayed(_prepare)(r, schema, how) for r in raw])
        del raw
        times: list[np.ndarray] = []
        sides: list[np.ndarray | None] = [None] * len(prepared)
        if t.split == "time":
            times = client.compute([delayed(_times)(p, d.time_column) for p in prepared], sync=True)
            sides = list(_time_sides(times, t.holdout_fraction))
        prepared = client.persist(
            [delayed(_with_sides)(p, s) for p, s in zip(prepared, sides, strict=True)]
        )
        names, kinds = features.select_features(schema, settings)
        cats = [n for n in names if kinds[n] == "categorical"]
        task = settings.model.task
        summaries = client.compute(
            [delayed(_summary)(p, names, cats, d.target, task) for p in prepared], sync=True
        )
        counts = [sum(s["counts"][i] for s in summaries) for i in range(3)]
        labelled = sum(counts)
        if labelled < MIN_ROWS:
            raise TrainingError(
                f"only {labelled} rows have a target value; at least {MIN_ROWS} are needed",
                f"add labelled rows (column {d.target!r})",
            )
        if min(counts) == 0:
            raise TrainingError(
                f"the split left a part empty (train, valid, holdout rows: {counts})",
                'train on more rows, or use engine = "local" for small data',
            )
        spec = _fit_spec(settings, schema, summaries)
        _check_spread(names, [w for _, w in parts], summaries)
        params = lgb_params(settings, spec)
        check_params(settings, params, len(spec.classes))
        params.setdefault("time_out", TIME_OUT_MINUTES)
        spec_json = spec.to_json()
        width = len(spec.features)
        xs, ys = [], []
        for p, s in zip(prepared, summaries, strict=True):
            if s["counts"][0]:
                x, y = delayed(_encode, nout=2)(p, spec_json, 0)
                xs.append(da.from_delayed(x, (s["counts"][0], width), dtype=np.float64))
                ys.append(da.from_delayed(y, (s["counts"][0],), dtype=np.float64))
        x_train, y_train = da.concatenate(xs), da.concatenate(ys)
        valid = client.compute([delayed(_encode)(p, spec_json, 1) for p in prepared], sync=True)
        x_valid = np.concatenate([v[0] for v in valid])
        y_valid = np.concatenate([v[1] for v in valid])
        holdout = pl.concat(client.compute([delayed(_rows)(p, 2) for p in prepared], sync=True))
        del valid
    with timer.step("train"):
        events.boosting_started()
        started = time.perf_counter()
        booster = _fit_on_cluster(settings, client, params, spec, x_train, y_train)
        fit_seconds = time.perf_counter() - started
        del prepared, x_train, y_train
        best, curve = _best_round(
            booster,
            spec.task,
            x_valid,
            y_valid,
            settings.model.num_boost_round,
            settings.model.early_stopping_rounds,
        )
        text = normalise(booster.model_to_string(num_iteration=best))
    with timer.step("evaluate"):
        model = LoadedModel.from_text(text, {"spec": spec_json})
        x_hold = features.encode(holdout, spec)
        y_hold = features.encode_target(holdout, spec)
        pred_hold = model.predict_matrix(x_hold)
        scores = metrics.compute(spec.task, y_hold, pred_hold)
    importance = booster.feature_importance(importance_type="gain", iteration=best)
    record = _split_record(settings, counts, times, sides)
    unlabelled = sum(n for _, n in shapes) - labelled
    record["rows"]["no_target"] = unlabelled
    meta = _meta(settings, snap, spec, params, best, scores, importance, {"valid": curve}, record)
    meta["engine"] = ENGINE
    meta["cluster"] = {
        "workers": len(workers),
        "partitions": len(parts),
        "fit_seconds": round(fit_seconds, 4),  # of the train step: the rest replays early stopping
    }
    meta["timings"] = timer.timings
    return Trained(
        text,
        meta,
        LoadedModel(model.booster, spec, meta),
        scores,
        y_hold,
        labelled,
        timer.timings,
        holdout,
        np.arange(holdout.height),
        x_hold,
        unlabelled,
        pred_hold,
    )


def _fit_on_cluster(
    settings: Settings,
    client: Any,
    params: dict[str, Any],
    spec: features.FeatureSpec,
    x: Any,
    y: Any,
) -> Any:
    """The ``DaskLGBMRegressor`` fit, watched: a worker or the scheduler lost during it ends
    it with an error naming what was lost (never a hang)."""
    import lightgbm as lgb

    from workbench.model.lean import imported_lean

    if imported_lean():  # a scoring command's process (model.lean) that came to train
        raise TrainingError(
            "this process imported LightGBM without scikit-learn, which lightgbm.dask needs",
            'run `workbench train` (or the watcher) to train with engine = "dask"',
        )
    from lightgbm.dask import DaskLGBMRegressor

    kwargs = {k: v for k, v in params.items() if k not in ("num_threads", "objective")}
    estimator = DaskLGBMRegressor(
        client=client,
        objective=params["objective"],
        n_estimators=settings.model.num_boost_round,
        **kwargs,
    )
    names = _safe_names(spec.features)
    cat_idx = [i for i, f in enumerate(spec.features) if f in spec.categories]
    watched = set(client.scheduler_info(n_workers=-1)["workers"])
    done = threading.Event()
    result: dict[str, Any] = {}

    def fit() -> None:
        try:
            with client.as_current():  # lightgbm.dask asks for the current client too
                estimator.fit(x, y, feature_name=names, categorical_feature=cat_idx or "auto")
            result["booster"] = estimator.booster_
        except BaseException as e:  # handed to the driver's thread below
            result["error"] = e
        finally:
            done.set()

    thread = threading.Thread(target=fit, name="workbench-dask-fit", daemon=True)
    with _quiet_lightgbm():
        thread.start()
        lost = _watch(client, watched, done)
    error = result.get("error")
    if lost is None and error is not None:  # the fit may fail before the scheduler notices
        network = "socket" in str(error).lower() or not isinstance(error, lgb.basic.LightGBMError)
        lost = _gone(client, watched, LOST_PATIENCE if network else 0.0)
    if lost:
        done.wait(10)  # the closed client fails the fit's pending results
        said = f" (LightGBM: {str(error).strip().splitlines()[0]})" if error else ""
        raise TrainingError(
            f"{lost} left the Dask cluster during training; the fit was stopped{said}",
            "check the worker's log (memory limit, a killed process) and train again",
        )
    if isinstance(error, lgb.basic.LightGBMError):
        raise TrainingError(
            f"LightGBM refused to train on the Dask cluster: {str(error).strip()}",
            f"check [model] params in {settings.source.name}",
        ) from error
    if error is not None:
        raise TrainingError(
            f"the Dask fit failed: {type(error).__name__}: {str(error).strip()[:300]}",
            "check the workers' logs and train again",
        ) from error
    return result["booster"]


class _Quiet:
    """LightGBM's Python-side messages during a Dask fit: its progress notes ("Finding random
    open ports for workers", printed to stdout by default, where ``--json`` goes) and the
    notes on the parameters it sets itself (threads) go to the ``workbench.dask`` log."""

    def info(self, msg: str) -> None:
        logging.getLogger("workbench.dask").info(msg)

    def warning(self, msg: str) -> None:
        logging.getLogger("workbench.dask").info(msg)


@contextlib.contextmanager
def _quiet_lightgbm() -> Iterator[None]:
    import lightgbm.basic as basic

    before = (
        getattr(basic, "_LOGGER", None),
        getattr(basic, "_INFO_METHOD_NAME", "info"),
        getattr(basic, "_WARNING_METHOD_NAME", "warning"),
    )
    basic.register_logger(_Quiet())
    try:
        yield
    finally:
        if before[0] is not None:
            basic.register_logger(*before)


def _gone(client: Any, workers: set[str], patience: float) -> str | None:
    """A watched worker that is no longer in the cluster, asking for up to ``patience`` s."""
    deadline = time.monotonic() + patience
    while True:
        try:
            gone = sorted(workers - set(client.scheduler_info(n_workers=-1)["workers"]))
        except Exception:
            return "the scheduler"
        if gone:
            return "worker " + ", ".join(gone)
        if time.monotonic() >= deadline:
            return None
        time.sleep(WATCH_SECONDS)


def _watch(client: Any, workers: set[str], done: threading.Event) -> str | None:
    """Until ``done``: what was lost (a worker, the scheduler), after closing the client,
    or None when the fit ended."""
    while not done.wait(WATCH_SECONDS):
        try:
            now = set(client.scheduler_info(n_workers=-1)["workers"])
        except Exception:
            client.close(timeout=2)
            return "the scheduler"
        gone = sorted(workers - now)
        if gone:
            client.close(timeout=2)
            return "worker " + ", ".join(gone)
    return None


def _split_record(
    settings: Settings,
    counts: list[int],
    times: list[np.ndarray],
    sides: list[np.ndarray | None],
) -> dict[str, Any]:
    """``split.split_record`` of the whole split, from the parts' sizes (and, for the time
    split, the rows' time values and sides)."""
    import numpy as np
    import polars as pl

    if settings.train.split == "time":
        column = settings.data.time_column or ""
        every = np.concatenate(times)
        side = np.concatenate([s for s in sides if s is not None])
        frame = pl.DataFrame({column: every})
        parts = tuple(np.flatnonzero(side == i) for i in range(3))
    else:
        frame = pl.DataFrame()
        parts = tuple(np.zeros(c, dtype=np.int64) for c in counts)
    return split.split_record(frame, settings, parts)  # type: ignore[arg-type]


def _check_spread(names: list[str], workers: list[str], summaries: list[dict[str, Any]]) -> None:
    """A feature with no value in the training rows of a worker (or of every worker) is
    refused before the fit: LightGBM 4.7's distributed Dataset construction crashes the
    worker's process on it (measured, numeric and categorical alike; local training keeps
    such a column, unused)."""
    per_worker: dict[str, dict[str, int]] = {}
    for worker, summary in zip(workers, summaries, strict=True):
        if not summary["counts"][0]:
            continue  # no training rows there: LightGBM leaves that worker out
        mine = per_worker.setdefault(worker, dict.fromkeys(names, 0))
        for name in names:
            mine[name] += summary["present"][name]
    for name in names:
        empty = sorted(w for w, present in per_worker.items() if not present[name])
        if empty:
            where = (
                "any training row"
                if len(empty) == len(per_worker)
                else f"the training rows of Dask worker {empty[0]} (the rows of each file are"
                " cut into one range per worker)"
            )
            raise TrainingError(
                f"feature {name!r} has no value in {where}; LightGBM's distributed training"
                " cannot bin it",
                f'train with engine = "local", or add {name!r} to [data] exclude',
            )


def _check_columns(settings: Settings, schema: dict[str, Any]) -> None:
    d = settings.data
    columns = list(schema)
    if not d.target:
        raise TrainingError("no target column is configured", "set [data] target")
    for key, column in (
        ("data.target", d.target),
        ("data.time_column", d.time_column),
        ("data.id_column", d.id_column),
    ):
        if column and column not in schema:
            raise _no_column(settings, key, column, columns)
