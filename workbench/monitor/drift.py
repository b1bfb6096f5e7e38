"""``workbench drift``: the newest data against what the champion (or a version) was trained on.

Reference = the rows of the version's training snapshot. Current = the rows that arrived since:
with ``time_column``, rows of the newest snapshot later than the reference's last time (both
read by ``data.times.time_values``: a timezone-aware, numeric or text time orders as time);
without it, the rows of files added or changed since the reference snapshot.

The reference is read once per version and cached as a Parquet object in the store (feature
columns as they were, the target, and the version's own predictions on them); the row in
``drift_references`` points at it. A second drift run against the same version reads that
Parquet instead of re-parsing the training CSVs and re-scoring them. A reference built in this
run is written to the store on a thread while the statistics run (its record is stored only
once that write finished); while the snapshot is taken and the frames are read, LightGBM is
imported on a thread. Results are stored per (current snapshot, version): asking again returns
the stored result; ``force`` recomputes.

Per-feature methods and thresholds, PSI, and the dataset rule are in ``drift_stats``
(Evidently's defaults; every number checked against scipy). Overrides come from
``[drift.features.NAME]``. Prediction drift compares the version's scores on reference vs
current (P(positive) for binary, values for regression, predicted labels for multiclass);
target drift compares labels when the current rows have them.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.caches import LRU
from workbench.config import Settings
from workbench.data import snapshot
from workbench.data.reader import load_frame
from workbench.data.times import bound_value, time_values
from workbench.errors import UsageError
from workbench.model.loading import LoadedModel, load_version
from workbench.monitor import histograms as drift_hist
from workbench.monitor import stats as drift_stats
from workbench.store import Store, now_iso
from workbench.store.drift import DriftReference, DriftResult
from workbench.store.registry import VersionRecord

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from workbench.store.session import Session, SnapshotContext, SnapshotRecord

PREDICTION = "__prediction"
PREDICT_ROWS = 200_000  # rows scored per batch (prediction drift, the reference cache)
_REFERENCES = LRU(2)  # reference frames by object hash (immutable), this process


@dataclass(frozen=True)
class DriftOutcome:
    result: DriftResult
    computed: bool  # False when a stored result was returned


def run_drift(
    settings: Settings,
    store: Store,
    *,
    version: str | None = None,
    force: bool = False,
    taken: snapshot.SnapshotResult | None = None,
    context: SnapshotContext | None = None,
    also: Callable[[Session, DriftResult], None] | None = None,
) -> DriftOutcome:
    """Drift of ``taken`` (a cycle passes the snapshot it took, with what its session read:
    ``context``), or of a snapshot taken now.

    ``also(session, result)`` runs inside the transaction that stores a computed result (and
    only then): a cycle writes its own events there instead of opening another session.
    """
    warm = _warm_model_imports()
    snap = taken or snapshot.take(settings, store)
    seen = context
    if version is None and seen is not None and seen.champion_snapshot is not None:
        # the champion and its records as the snapshot's own session read them
        ref_version = _checked(seen.champion)
        current, reference_snap = seen.record, seen.champion_snapshot
        stored = None if force else seen.drift_result
        cached = seen.drift_reference
    else:
        with store.read() as s:
            ref_version = _version(s, version)
            current = s.snapshot(snap.id)
            reference_snap = s.snapshot(ref_version.snapshot_id)
            stored = None if force else s.drift_result(current.id, ref_version.number)
            cached = s.drift_reference(ref_version.number)
    if stored is not None:
        return DriftOutcome(stored, False)
    started = time.perf_counter()

    def model_of() -> LoadedModel:  # the reads below run while LightGBM is still importing
        if warm is not None:
            warm.join()
        return load_version(store.objects, ref_version)

    ref_frame, max_time, store_it = _reference(
        settings, store, ref_version, reference_snap, model_of, cached
    )
    # a reference built just now is written to the store on a thread while the statistics run
    with ThreadPoolExecutor(max_workers=1) as writer:
        written = writer.submit(store_it) if store_it is not None else None
        cur_frame = _current(settings, store, current, reference_snap, max_time)
        model = model_of()
        compared = _compare(settings, model, ref_frame, cur_frame)
        new_ref = written.result() if written is not None else None
    result = DriftResult.from_json(
        compared
        | {
            "reference": reference_snap.id,
            "reference_version": ref_version.name,
            "current": current.id,
            "reference_rows": ref_frame.height,
            "current_rows": cur_frame.height,
            "computed_at": now_iso(),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    with store.write("drift") as s:
        if new_ref is not None:  # built just now: stored with the result, one session
            s.put_drift_reference(new_ref, ts=now_iso())
        s.put_drift_result(result, ref_version.number, ts=result.computed_at)
        share, n = result.drift_share, len(result.features)
        s.add_event(
            "drift",
            f"drift vs {ref_version.name}: {result.drifted_features}/{n} features drifted"
            f" (share {share:.2f}){'; dataset drift' if result.dataset_drift else ''}",
            ts=now_iso(),
            level="warning" if result.dataset_drift else "info",
            snapshot_id=current.id,
            data={
                "dataset_drift": result.dataset_drift,
                "drift_share": share,
                "reference_version": result.reference_version,
            },
        )
        if also is not None:
            also(s, result)
    return DriftOutcome(result, True)


def prepare_reference(settings: Settings, store: Store, version: VersionRecord) -> bool:
    """Build and store ``version``'s drift reference now, if it has none; True if built.

    A cycle calls it right after a promotion, so that the next cycle's drift step — on the
    way to training — finds the new champion's reference ready instead of building it.
    """
    with store.read() as s:
        if s.drift_reference(version.number) is not None:
            return False
        snap = s.snapshot(version.snapshot_id)
    model = load_version(store.objects, _checked(version))
    _, _, store_it = _reference(settings, store, version, snap, lambda: model, None)
    if store_it is None:
        return False
    record = store_it()
    with store.write("drift reference") as s:
        s.put_drift_reference(record, ts=now_iso())
    return True


def _version(s: Any, ref: str | None) -> VersionRecord:
    return _checked(s.version(ref) if ref is not None else s.champion())


def _checked(v: VersionRecord | None) -> VersionRecord:
    if v is None:
        raise UsageError(
            "drift needs a reference: there is no champion yet", "run `workbench train` first"
        )
    if not v.model_hash:
        raise UsageError(f"{v.name} failed to train; it has no reference", "pick another version")
    return v


def _reference(
    settings: Settings,
    store: Store,
    version: VersionRecord,
    snap: SnapshotRecord,
    model_of: Callable[[], LoadedModel],
    cached: DriftReference | None,
) -> tuple[pl.DataFrame, str | None, Callable[[], DriftReference] | None]:
    """The reference frame, its last time (``max_time``) and, when it was built now, the call
    that writes it to the object store and returns its record (the caller stores the record).
    ``model_of`` is only called to build one: a cached reference needs no model.
    """
    import polars as pl

    if cached is not None and store.objects.has(cached.object_hash):
        hit = _REFERENCES.get(cached.object_hash)
        if hit is None:
            try:
                hit = pl.read_parquet(store.objects.path(cached.object_hash))
            except (pl.exceptions.PolarsError, OSError):
                # a damaged cache object: set it aside and build the reference again
                store.objects.set_aside(cached.object_hash)
            else:
                _REFERENCES.put(cached.object_hash, hit)
        if hit is not None:
            return hit, cached.max_time, None
    frame = load_frame(store, snap)
    model = model_of()
    keep = _columns(frame, model, settings)
    ref = frame.select(keep).with_columns(_prediction_series(model, frame))
    time_col = settings.data.time_column
    max_time = None
    if time_col and time_col in frame.columns and frame.height:
        max_time = repr(float(time_values(frame, time_col).max()))
    del frame

    def store_it() -> DriftReference:
        tmp = store.objects.tmp / f"drift-ref.{os.getpid()}.{threading.get_ident()}.parquet"
        store.objects.ensure()
        try:
            ref.write_parquet(tmp)
            digest, _ = store.objects.put_file(tmp)
        finally:
            tmp.unlink(missing_ok=True)
        _REFERENCES.put(digest, ref)
        return DriftReference(version.number, snap.id, digest, ref.height, max_time)

    return ref, max_time, store_it


def _warm_model_imports() -> threading.Thread | None:
    """Import LightGBM on a thread while the snapshot runs and the frames are read (~1 s of
    imports: it pulls in scikit-learn); both spend their time in polars, which releases the
    GIL. The model is loaded only after the thread finished (no two threads importing the
    same modules). None when it is imported already (a watcher's later cycles)."""
    import sys

    if "lightgbm" in sys.modules:
        return None

    def run() -> None:
        with contextlib.suppress(Exception):  # the real import reports any failure
            import lightgbm  # noqa: F401

    thread = threading.Thread(target=run, name="drift-imports", daemon=True)
    thread.start()
    return thread


def _columns(frame: pl.DataFrame, model: LoadedModel, settings: Settings) -> list[str]:
    spec = model.spec
    wanted = [*spec.features, spec.target]
    if settings.data.time_column:
        wanted.append(settings.data.time_column)
    return [c for c in dict.fromkeys(wanted) if c in frame.columns]


def _prediction_series(model: LoadedModel, frame: pl.DataFrame) -> pl.Series:
    """The model's scores of ``frame``, predicted ``PREDICT_ROWS`` rows at a time: the encoded
    float64 matrix of a whole 1M x 30 frame alone is 240 MB, a batch's is a fifth of that."""
    import numpy as np
    import polars as pl

    multiclass = model.spec.task == "multiclass"
    parts = []
    for start in range(0, max(frame.height, 1), PREDICT_ROWS):
        part = frame.slice(start, PREDICT_ROWS)
        pred = model.predict(part)
        parts.append(pred.reshape(part.height, -1).argmax(axis=1) if multiclass else pred)
    pred = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if multiclass:
        names = pl.Series(PREDICTION, [str(c) for c in model.spec.classes], dtype=pl.String)
        return names.gather(pl.Series(pred.astype(np.int64)))
    return pl.Series(PREDICTION, pred.reshape(-1), dtype=pl.Float64)


def _current(
    settings: Settings,
    store: Store,
    current: SnapshotRecord,
    reference: SnapshotRecord,
    max_time: str | None,
) -> pl.DataFrame:
    import polars as pl

    from workbench.data.profile import read_frames

    time_col = settings.data.time_column
    if time_col and max_time is not None:
        files = current.data_files
    else:
        old = {(f.path, f.hash) for f in reference.data_files}
        files = tuple(f for f in current.data_files if (f.path, f.hash) not in old)
    if not files:
        return pl.DataFrame()
    rows = read_frames(
        [(f.path, store.objects.path(f.hash)) for f in files],
        {f.path: f.hash for f in files},
        settings.data.null_values,
    ).collect()
    if time_col and max_time is not None and time_col in rows.columns:
        newer = time_values(rows, time_col) > bound_value(max_time)
        rows = rows.filter(pl.Series(newer))
    return rows


def _compare(
    settings: Settings, model: LoadedModel, ref: pl.DataFrame, cur: pl.DataFrame
) -> dict[str, Any]:
    spec = model.spec
    features: list[dict[str, Any]] = []
    if cur.height:
        kinds = {name: _kind(spec.kinds[name]) for name in spec.features}
        overrides = {name: (o.method, o.threshold) for name, o in settings.drift.features.items()}
        features = compare_frames(ref, cur, kinds, overrides)
    summary = drift_stats.dataset_drift(features, settings.drift.drift_share)
    return {
        "dataset_drift": summary["dataset_drift"],
        "drift_share": summary["drift_share"],
        "drifted_features": summary["drifted"],
        "features": features,
        "prediction_drift": _prediction_drift(model, ref, cur) if cur.height else None,
        "target_drift": _target_drift(spec, ref, cur),
        "note": None if cur.height else "no new data since the reference",
    }


def compare_frames(
    ref: pl.DataFrame,
    cur: pl.DataFrame,
    kinds: dict[str, str],
    overrides: Mapping[str, tuple[str | None, float | None]] | None = None,
) -> list[dict[str, Any]]:
    """Per-column drift of ``cur`` against ``ref`` (``kinds``: name -> numerical|categorical).

    Columns run on a thread pool: the heavy parts (sorting, merging, counting) are numpy
    calls that release the GIL, so the cores share the work. Categorical values are turned
    into integer codes over the sorted union of levels first (in polars): counting codes is
    ~100x faster than numpy's sort of Python strings, and code order = sorted level order,
    so every statistic is unchanged.
    """
    overrides = overrides or {}

    def one(name: str) -> dict[str, Any]:
        kind = kinds[name]
        method, threshold = overrides.get(name, (None, None))
        r, c, levels = _pair_with_levels(ref, cur, name, kind)
        if kind == drift_stats.NUMERICAL:  # sorted once, for the statistics and the histogram
            r, c = drift_stats.sorted_numbers(r), drift_stats.sorted_numbers(c)
            result = drift_stats.feature_drift(
                name, kind, r, c, method=method, threshold=threshold, is_sorted=True
            )
            result["histogram"] = drift_hist.numerical(r, c, is_sorted=True)
        else:
            result = drift_stats.feature_drift(name, kind, r, c, method=method, threshold=threshold)
            result["histogram"] = drift_hist.categorical(r, c, levels)
        return result

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(one, kinds))


def _kind(feature_kind: str) -> str:
    return drift_stats.CATEGORICAL if feature_kind == "categorical" else drift_stats.NUMERICAL


def _pair(
    ref: pl.DataFrame, cur: pl.DataFrame, name: str, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``name`` in both frames: floats (nulls and NaN as NaN, which the statistics
    drop after sorting), or shared categorical codes of the non-null values."""
    r, c, _levels = _pair_with_levels(ref, cur, name, kind)
    return r, c


def _pair_with_levels(
    ref: pl.DataFrame, cur: pl.DataFrame, name: str, kind: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``_pair`` plus the sorted levels the categorical codes index (empty for numbers)."""
    import numpy as np
    import polars as pl

    empty = pl.Series(name, [], dtype=pl.String if kind == drift_stats.CATEGORICAL else pl.Float64)
    r = ref[name] if name in ref.columns else empty
    c = cur[name] if name in cur.columns else empty
    if kind == drift_stats.NUMERICAL:
        return _floats(r), _floats(c), []
    r, c = r.cast(pl.String).drop_nulls(), c.cast(pl.String).drop_nulls()
    levels = pl.concat([r.unique(), c.unique()]).unique().sort()
    index = pl.Series(np.arange(len(levels), dtype=np.int64))
    return (
        r.replace_strict(levels, index).to_numpy(),
        c.replace_strict(levels, index).to_numpy(),
        levels.to_list(),
    )


def _floats(col: pl.Series) -> np.ndarray:
    """float64 values with nulls as NaN (zero-copy for a null-free Float64 column): the
    statistics sort them (``drift_stats.sorted_numbers``), which drops the NaN at the end."""
    import polars as pl

    return col.cast(pl.Float64, strict=False).to_numpy()


def _prediction_drift(model: LoadedModel, ref: pl.DataFrame, cur: pl.DataFrame) -> dict[str, Any]:
    cur_pred = _prediction_series(model, cur).to_frame()
    kind = drift_stats.CATEGORICAL if model.spec.task == "multiclass" else drift_stats.NUMERICAL
    return drift_stats.feature_drift("prediction", kind, *_pair(ref, cur_pred, PREDICTION, kind))


def _target_drift(spec: Any, ref: pl.DataFrame, cur: pl.DataFrame) -> dict[str, Any] | None:
    if spec.target not in cur.columns or cur[spec.target].null_count() == cur.height:
        return None
    kind = drift_stats.NUMERICAL if spec.task == "regression" else drift_stats.CATEGORICAL
    return drift_stats.feature_drift(spec.target, kind, *_pair(ref, cur, spec.target, kind))
