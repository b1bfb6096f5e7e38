"""``workbench drift``: the newest data against what the champion (or a version) was trained on.

Reference = the rows of the version's training snapshot. Current = the rows that arrived since:
with ``time_column``, rows of the newest snapshot later than the reference's last time (both
read by ``data.times.time_values``: a timezone-aware, numeric or text time orders as time);
without it, the rows of files added or changed since the reference snapshot. Only the columns
drift uses are read: the version's features, its target and the time column.

The reference is built once per version and cached as a Parquet object in the store; the row
in ``drift_references`` points at it. What the object holds depends on the snapshot's files:

- every data file is Parquet: only the version's predictions on the rows (one column,
  ``__prediction``, in the snapshot's row order). A later run reads the rows again from the
  snapshot's own Parquet objects (immutable, kept as long as the snapshot) — as fast as
  reading a copy of them — so building a reference never rewrites the rows (on 1M x 30 that
  write and its storing took ~0.6 s of CPU and ~170 MB while the statistics ran).
- some file is CSV: the feature columns as they were, the target and the predictions (lz4, no
  column statistics: written and read back fast), so a later run neither parses the CSVs
  again nor re-scores them.

A reference built in this run is written to the store on a thread while the statistics run
(its record is stored only once that write finished); while the snapshot is taken and the
frames are read, DuckDB and LightGBM are imported on a thread. The records drift needs (the
champion, its snapshot, a cached reference, a stored result) are read in the snapshot's own
session (``snapshot.take_with_context``). The current rows are read on a thread: without a
time column, from the moment that session has read those records, while it still writes the
snapshot's rows (one core sat idle there: ~0.1 s sooner on 1M rows); with one, as soon as the
reference's last time is known, while a new reference is scored. Results are stored per
(current snapshot, version): asking again returns the stored result; ``force`` recomputes.

Memory: a side whose files hold at least ``drift_columns.STREAM_BYTES`` (256 MiB) is read a
column at a time when a statistic asks for it, and scored in batches of rows
(``drift_columns``): a 2 GB CSV batch against its 2 GB reference peaked at 3.4 GB read whole.
The reference then comes from its stored Parquet object (for a Parquet snapshot: the
snapshot's files beside the stored scores), the current rows from their Parquet objects or
from one Arrow IPC file their CSV is parsed into (with ``time_column``, a mask keeps the rows
newer than the reference's). Smaller sides are read whole: the current rows' Parquet
files directly (not through the process's frame cache; CSV files are, parsing them is dear),
so that once the rows are scored the statistics drop each current column when done with it
(scoring them beside the statistics made no run faster: every core is busy either way, and
the peak grew by ~25 MB). Each numerical column
is converted to float64 and sorted once (integers sorted as integers first), for all of its
statistics and its histogram; categorical columns are counted per level in polars (value
counts: no array of every value, no sort). The columns run on a thread pool (numpy and
polars release the GIL); the reference frame stays in ``_REFERENCES`` for a watcher's next
cycle.

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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from workbench.caches import LRU
from workbench.config import Settings
from workbench.data import snapshot
from workbench.data.reader import load_frame
from workbench.data.times import bound_value, time_values
from workbench.errors import UsageError
from workbench.model.features import FeatureSpec
from workbench.model.loading import LoadedModel, load_version
from workbench.monitor import histograms as drift_hist
from workbench.monitor import stats as drift_stats
from workbench.monitor.drift_columns import (
    STREAM_BYTES,
    Columns,
    FrameColumns,
    StoredColumns,
    value_counts,
)
from workbench.store import Store, import_driver, now_iso
from workbench.store.drift import DriftReference, DriftResult
from workbench.store.registry import VersionRecord

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import polars as pl

    from workbench.store.session import FileRecord, Session, SnapshotContext, SnapshotRecord

PREDICTION = "__prediction"
PREDICT_ROWS = 200_000  # rows scored per batch (prediction drift, the reference cache)
_REFERENCES = LRU(2)  # reference frames by object hash (immutable), this process
_T = TypeVar("_T")


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
    reading: list[_Later[Columns]] = []
    seen = context
    if taken is None:  # the records drift reads, read in the snapshot's own session

        def read_early(found: SnapshotContext) -> None:
            """The current rows read from here on, on a thread, while the snapshot's rows
            are written: when they do not depend on the reference's last time and no result
            is stored. (The reference is read after that session: read beside it too, both
            reads slowed the session and nothing ended sooner.)"""
            champion, before = found.champion, found.champion_snapshot
            if version is not None or champion is None or before is None:
                return
            if settings.data.time_column or (found.drift_result is not None and not force):
                return
            # (a failure is drift's, raised where it takes the rows, never one that rolls
            # the snapshot back)
            reading.append(_current_later(settings, store, champion, found.record, before, None))

        snap, seen = snapshot.take_with_context(settings, store, then=read_early)
    else:
        snap = taken
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

    def read_current(max_time: str | None) -> None:
        if not reading:
            reading.append(
                _current_later(settings, store, ref_version, current, reference_snap, max_time)
            )

    if not settings.data.time_column:  # the current rows do not depend on the reference's
        read_current(None)  # last time: read them while the reference is read too
    ref, max_time, store_it = _reference(
        settings, store, ref_version, reference_snap, model_of, cached, read_current
    )
    if not reading:
        read_current(max_time)
    # a reference built just now is written to the store on a thread while the statistics run
    with ThreadPoolExecutor(max_workers=1) as writer:
        written = writer.submit(store_it) if store_it is not None else None
        model = model_of()
        cur = reading.pop().take()  # (a frame is held as its columns only)
        try:
            compared = _compare(settings, model, ref, cur)
        finally:
            for side in (cur, ref):
                if isinstance(side, StoredColumns):
                    side.close()
        new_ref = written.result() if written is not None else None
    result = DriftResult.from_json(
        compared
        | {
            "reference": reference_snap.id,
            "reference_version": ref_version.name,
            "current": current.id,
            "reference_rows": ref.height,
            "current_rows": cur.height,
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


def _spec(store: Store, version: VersionRecord) -> FeatureSpec:
    """The version's feature spec from its metadata alone: no LightGBM import, no model parse
    (the columns to read are known while LightGBM is still importing)."""
    if not version.meta_hash:
        return load_version(store.objects, version).spec  # raises: a version without a model
    return FeatureSpec.from_json(store.objects.read_json(version.meta_hash)["spec"])


def _reference(
    settings: Settings,
    store: Store,
    version: VersionRecord,
    snap: SnapshotRecord,
    model_of: Callable[[], LoadedModel],
    cached: DriftReference | None,
    rows_known: Callable[[str | None], None] | None = None,
) -> tuple[Columns, str | None, Callable[[], DriftReference] | None]:
    """The reference's columns, its last time (``max_time``) and, when it was built now, the
    call that writes it to the object store and returns its record (the caller stores it).
    A stored reference of a large snapshot is read a column at a time (``StoredColumns``).
    ``model_of`` is only called to build one: a cached reference needs no model.
    ``rows_known(max_time)`` is called as soon as the rows and their last time are known,
    before a new reference is scored (drift starts reading the current rows then).
    """
    known = rows_known or (lambda _max_time: None)
    if cached is not None and store.objects.has(cached.object_hash):
        hit = _REFERENCES.get(cached.object_hash)
        stored = None
        if hit is None and sum(f.bytes for f in snap.data_files) >= STREAM_BYTES:
            stored = _stored_reference(settings, store, version, snap, cached)
            if stored is not None:
                known(cached.max_time)
                return stored, cached.max_time, None
        if hit is None:
            hit = _cached_reference(settings, store, version, snap, cached)
        if hit is not None:
            known(cached.max_time)
            return FrameColumns(hit), cached.max_time, None
    frame = _reference_rows(settings, store, snap, _spec(store, version))
    time_col = settings.data.time_column
    max_time = None
    if time_col and time_col in frame.columns and frame.height:
        max_time = repr(float(time_values(frame, time_col).max()))
    known(max_time)
    ref = frame.with_columns(_prediction_series(model_of(), frame))
    del frame
    scores_only = _all_parquet(snap.data_files)

    def store_it() -> DriftReference:
        tmp = store.objects.tmp / f"drift-ref.{os.getpid()}.{threading.get_ident()}.parquet"
        store.objects.ensure()
        try:
            if scores_only:  # the rows are the snapshot's own Parquet objects
                ref.select(PREDICTION).write_parquet(tmp)
            else:
                ref.write_parquet(tmp, compression="lz4", statistics=False)
            digest, _ = store.objects.put_file(tmp)
        finally:
            tmp.unlink(missing_ok=True)
        _REFERENCES.put(digest, ref)
        return DriftReference(version.number, snap.id, digest, ref.height, max_time)

    return FrameColumns(ref), max_time, store_it


def _stored_reference(
    settings: Settings,
    store: Store,
    version: VersionRecord,
    snap: SnapshotRecord,
    cached: DriftReference,
) -> StoredColumns | None:
    """The stored reference read a column at a time; None (the object set aside, to be
    built again) when it is damaged or its scores do not fit the snapshot's rows."""
    import polars as pl

    path = store.objects.path(cached.object_hash)
    try:
        names = list(pl.read_parquet_schema(path))
        height = int(pl.scan_parquet(path).select(pl.len()).collect().item())
    except (pl.exceptions.PolarsError, OSError):
        store.objects.set_aside(cached.object_hash)
        return None
    if names != [PREDICTION]:  # the rows themselves, with their scores

        def read(cols: list[str]) -> pl.DataFrame:
            return pl.read_parquet(path, columns=cols)

        scan = pl.scan_parquet(path)

        def rows(start: int, n: int) -> pl.DataFrame:
            return scan.slice(start, n).collect()

        return StoredColumns(read, rows, names, height, scan=scan)
    lazy = _parquet_rows(store, snap.data_files, _wanted(_spec(store, version), settings))
    if int(lazy.select(pl.len()).collect().item()) != height:
        store.objects.set_aside(cached.object_hash)
        return None
    columns = lazy.collect_schema().names()

    def read_scored(cols: list[str]) -> pl.DataFrame:
        data = [c for c in cols if c != PREDICTION]
        if not data:
            return pl.read_parquet(path, columns=[PREDICTION])
        out = lazy.select(data).collect()
        if PREDICTION in cols:
            out = out.with_columns(pl.read_parquet(path, columns=[PREDICTION]).to_series())
        return out

    def rows_scored(start: int, n: int) -> pl.DataFrame:
        scores = pl.scan_parquet(path).slice(start, n).collect().to_series()
        return lazy.slice(start, n).collect().with_columns(scores)

    return StoredColumns(read_scored, rows_scored, [*columns, PREDICTION], height, scan=lazy)


def _cached_reference(
    settings: Settings,
    store: Store,
    version: VersionRecord,
    snap: SnapshotRecord,
    cached: DriftReference,
) -> pl.DataFrame | None:
    """The stored reference as a frame; None (and the object set aside, to be built again)
    when it is damaged or its scores do not fit the snapshot's rows."""
    import polars as pl

    try:
        hit = pl.read_parquet(store.objects.path(cached.object_hash))
    except (pl.exceptions.PolarsError, OSError):
        hit = None
    if hit is not None and hit.columns == [PREDICTION]:  # the scores of the snapshot's rows
        rows = _reference_rows(settings, store, snap, _spec(store, version))
        hit = rows.with_columns(hit.get_column(PREDICTION)) if rows.height == hit.height else None
    if hit is None:
        store.objects.set_aside(cached.object_hash)
        return None
    _REFERENCES.put(cached.object_hash, hit)
    return hit


def _reference_rows(
    settings: Settings, store: Store, snap: SnapshotRecord, spec: FeatureSpec
) -> pl.DataFrame:
    """The snapshot's rows, the columns drift uses: Parquet files read directly, CSV files
    through ``load_frame`` (parsed once per process, with the snapshot's own null values)."""
    wanted = _wanted(spec, settings)
    if _all_parquet(snap.data_files):
        return _read_rows(store, snap.data_files, wanted, ())
    frame = load_frame(store, snap)
    return frame.select([c for c in wanted if c in frame.columns])


def _wanted(spec: FeatureSpec, settings: Settings) -> list[str]:
    wanted = [*spec.features, spec.target]
    if settings.data.time_column:
        wanted.append(settings.data.time_column)
    return list(dict.fromkeys(wanted))


def _all_parquet(files: Sequence[FileRecord]) -> bool:
    from workbench.data.profile import file_format

    return bool(files) and all(file_format(f.path) == "parquet" for f in files)


def _read_rows(
    store: Store, files: Sequence[FileRecord], wanted: list[str], null_values: Sequence[str]
) -> pl.DataFrame:
    """The rows of ``files`` (combined as ``profile.read_frames`` does), only the ``wanted``
    columns they have. Parquet files are scanned with just those columns (one lazy concat:
    3,000 small files in 0.4 s, 5x faster than frames read whole). CSV files come through the
    process's frame cache: CSV alone through ``profile.read_frames`` itself (which concatenates
    many files' frames eagerly), CSV beside Parquet through ``profile.lazy_frames``."""
    from workbench.data.profile import file_format, lazy_frames, read_frames

    hashes = {f.path: f.hash for f in files}
    csv = [(f.path, store.objects.path(f.hash)) for f in files if file_format(f.path) != "parquet"]
    if csv and len(csv) == len(files):
        rows = read_frames(csv, hashes, null_values).collect()
        return rows.select([c for c in wanted if c in rows.columns])
    parsed: dict[str, pl.LazyFrame] = {}
    if csv:
        lazy = lazy_frames(csv, hashes, null_values)
        parsed = dict(zip([label for label, _ in csv], lazy, strict=True))
    rows = _combined(store, files, wanted, parsed).collect()
    return rows.select([c for c in wanted if c in rows.columns])


def _combined(
    store: Store,
    files: Sequence[FileRecord],
    wanted: list[str],
    parsed: Mapping[str, pl.LazyFrame],
    null_values: Sequence[str] = (),
    *,
    checked: bool = True,
) -> pl.LazyFrame:
    """One lazy frame of ``files``' rows with the ``wanted`` columns they have: ``parsed``
    frames as given, the other files scanned (Parquet as it is, CSV with ``null_values``;
    ``checked``: see ``profile.scan``)."""
    from workbench.data.profile import combine, scan

    frames = []
    for f in files:
        lf = parsed.get(f.path)
        if lf is None:
            path = store.objects.path(f.hash)
            lf = scan(path, f.path, null_values=null_values, checked=checked)
        names = lf.collect_schema().names()
        # a file with none of them still adds its rows (as nulls), as a full read would
        frames.append(lf.select([c for c in wanted if c in names] or names[:1]))
    combined = combine(frames)
    have = combined.collect_schema().names()
    return combined.select([c for c in wanted if c in have])


def _parquet_rows(store: Store, files: Sequence[FileRecord], wanted: list[str]) -> pl.LazyFrame:
    """The rows of Parquet ``files`` as one lazy frame of the ``wanted`` columns they have."""
    return _combined(store, files, wanted, {})


def _sink(
    store: Store,
    files: Sequence[FileRecord],
    wanted: list[str],
    null_values: Sequence[str],
    tmp: Path,
) -> None:
    """The rows written to ``tmp`` (Arrow IPC) in one streaming parse: the sink itself meets
    a value the sample's types contradict, and then the checked scan widens its column."""
    import polars as pl

    try:
        fast = _combined(store, files, wanted, {}, null_values, checked=False)
        fast.sink_ipc(tmp, compression="uncompressed")
    except pl.exceptions.ComputeError:
        checked = _combined(store, files, wanted, {}, null_values)
        checked.sink_ipc(tmp, compression="uncompressed")


def _stored_current(
    store: Store,
    files: Sequence[FileRecord],
    wanted: list[str],
    null_values: Sequence[str],
    newer: tuple[str, str] | None,
) -> StoredColumns:
    """The current rows read a column at a time: Parquet files as they are; otherwise parsed
    once (streaming) into an Arrow IPC file in the store's tmp, removed by ``close``.
    ``newer`` (time column, the reference's last time): only the rows later than it count."""
    import polars as pl

    cleanup = None
    if _all_parquet(files):
        lazy = _combined(store, files, wanted, {})
    else:
        tmp = store.objects.tmp / f"drift-cur.{os.getpid()}.{threading.get_ident()}.arrow"
        store.objects.ensure()
        try:
            _sink(store, files, wanted, null_values, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        lazy = pl.scan_ipc(tmp)
        cleanup = lambda: tmp.unlink(missing_ok=True)  # noqa: E731
    names = lazy.collect_schema().names()
    height = int(lazy.select(pl.len()).collect().item())
    mask = None
    if newer is not None and newer[0] in names:
        times = lazy.select(newer[0]).collect()
        mask = pl.Series(time_values(times, newer[0]) > bound_value(newer[1]))

    def read(cols: list[str]) -> pl.DataFrame:
        return lazy.select(cols).collect()

    def rows(start: int, n: int) -> pl.DataFrame:
        return lazy.slice(start, n).collect()

    return StoredColumns(read, rows, names, height, mask=mask, cleanup=cleanup, scan=lazy)


def _warm_model_imports() -> threading.Thread | None:
    """Import DuckDB, then LightGBM, on a thread while the snapshot runs and the frames are
    read (~0.2 s lean, ~1 s when LightGBM pulls in scikit-learn); both spend their time in
    polars, which releases the GIL. The model is loaded only after the thread finished (no two
    threads importing the same modules). None when it is imported already (a watcher's
    later cycles)."""
    import sys

    if "lightgbm" in sys.modules:
        return None

    def run() -> None:
        with contextlib.suppress(Exception):  # the real import reports any failure
            import_driver()  # the snapshot's first session opens the store
            import lightgbm  # noqa: F401

    thread = threading.Thread(target=run, name="drift-imports", daemon=True)
    thread.start()
    return thread


def _prediction_series(model: LoadedModel, frame: pl.DataFrame) -> pl.Series:
    """The model's scores of ``frame``, predicted ``PREDICT_ROWS`` rows at a time: the encoded
    float64 matrix of a whole 1M x 30 frame alone is 240 MB, a batch's is a fifth of that."""
    return _scores(model, FrameColumns(frame))


def _scores(model: LoadedModel, rows: Columns) -> pl.Series:
    """The model's scores of ``rows``, ``PREDICT_ROWS`` at a time (from row slices of stored
    columns: the rows are never all in memory at once)."""
    import numpy as np
    import polars as pl

    multiclass = model.spec.task == "multiclass"
    parts = []
    for part in rows.batches(PREDICT_ROWS):
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
    spec: FeatureSpec,
    current: SnapshotRecord,
    reference: SnapshotRecord,
    max_time: str | None,
) -> Columns:
    """The current rows: read whole, or a column at a time when their files are large and no
    time filter applies (see the module docstring)."""
    import polars as pl

    time_col = settings.data.time_column
    if time_col and max_time is not None:
        files = current.data_files
    else:
        old = {(f.path, f.hash) for f in reference.data_files}
        files = tuple(f for f in current.data_files if (f.path, f.hash) not in old)
    if not files:
        return FrameColumns(pl.DataFrame())
    wanted, nulls = _wanted(spec, settings), settings.data.null_values
    after = (time_col, max_time) if time_col and max_time is not None else None
    if sum(f.bytes for f in files) >= STREAM_BYTES:
        return _stored_current(store, files, wanted, nulls, after)
    rows = _read_rows(store, files, wanted, nulls)
    if time_col and max_time is not None and time_col in rows.columns:
        newer = time_values(rows, time_col) > bound_value(max_time)
        rows = rows.filter(pl.Series(newer))
    return FrameColumns(rows)


def _current_later(
    settings: Settings,
    store: Store,
    version: VersionRecord,
    current: SnapshotRecord,
    reference: SnapshotRecord,
    max_time: str | None,
) -> _Later[Columns]:
    """``_current`` on a thread, the version's spec read there too: whatever fails is raised
    where drift takes the rows."""
    return _Later(
        lambda: _current(settings, store, _spec(store, version), current, reference, max_time),
        "drift-current",
    )


class _Later(Generic[_T]):
    """``fn()`` run on a thread; ``take()`` waits for it and hands its value over, keeping no
    reference to it (the taker alone decides when it is freed)."""

    def __init__(self, fn: Callable[[], _T], name: str) -> None:
        self._value: list[_T] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], _T]) -> None:
        try:
            self._value.append(fn())
        except BaseException as e:  # raised again in the taker's thread
            self._error.append(e)

    def take(self) -> _T:
        self._thread.join()
        if self._error:
            raise self._error.pop()
        return self._value.pop()


def _compare(
    settings: Settings, model: LoadedModel, ref: Columns | pl.DataFrame, cur: Columns
) -> dict[str, Any]:
    """Every statistic of the run, the columns on a thread pool; ``cur`` is emptied on the way."""
    import polars as pl

    ref = FrameColumns(ref) if isinstance(ref, pl.DataFrame) else ref
    spec = model.spec
    features: list[dict[str, Any]] = []
    prediction = target = None
    if cur.height:
        cur_pred = _scores(model, cur)  # scored before a column is dropped
        kinds = {name: _kind(spec.kinds[name]) for name in spec.features}
        overrides = {name: (o.method, o.threshold) for name, o in settings.drift.features.items()}
        t_kind = drift_stats.NUMERICAL if spec.task == "regression" else drift_stats.CATEGORICAL
        p_kind = drift_stats.CATEGORICAL if spec.task == "multiclass" else drift_stats.NUMERICAL
        labelled = spec.target in cur.names() and (
            cur.take(spec.target, t_kind, keep=True).null_count() < cur.height
        )
        keep = {spec.target} if spec.target in kinds else set()  # a column two statistics read
        jobs = _feature_jobs(ref, cur, kinds, overrides, keep)
        ref_pred = ref.take(PREDICTION, p_kind, keep=True)
        jobs.append(lambda: _drift("prediction", p_kind, ref_pred, cur_pred))
        if labelled:
            jobs.append(
                lambda: _drift(
                    spec.target,
                    t_kind,
                    ref.take(spec.target, t_kind, keep=True),
                    cur.take(spec.target, t_kind, keep=bool(keep)),
                )
            )
        done = _run(jobs)
        features, prediction = done[: len(kinds)], done[len(kinds)]
        target = done[len(kinds) + 1] if labelled else None
    summary = drift_stats.dataset_drift(features, settings.drift.drift_share)
    return {
        "dataset_drift": summary["dataset_drift"],
        "drift_share": summary["drift_share"],
        "drifted_features": summary["drifted"],
        "features": features,
        "prediction_drift": prediction,
        "target_drift": target,
        "note": None if cur.height else "no new data since the reference",
    }


def compare_frames(
    ref: pl.DataFrame,
    cur: pl.DataFrame,
    kinds: dict[str, str],
    overrides: Mapping[str, tuple[str | None, float | None]] | None = None,
) -> list[dict[str, Any]]:
    """Per-column drift of ``cur`` against ``ref`` (``kinds``: name -> numerical|categorical).

    Columns run on a thread pool: the heavy parts (sorting, merging, counting) are numpy and
    polars calls that release the GIL, so the cores share the work. Numerical columns are
    float64 sorted once; categorical values are counted per level in polars (value counts over
    the sorted union of levels: code order = sorted level order, so every statistic is what
    counting sorted codes gives, ~10x faster than coding every value first).
    """
    return _run(_feature_jobs(FrameColumns(ref), FrameColumns(cur), kinds, overrides or {}, set()))


def _feature_jobs(
    ref: Columns,
    cur: Columns,
    kinds: Mapping[str, str],
    overrides: Mapping[str, tuple[str | None, float | None]],
    keep: set[str],
) -> list[Callable[[], dict[str, Any]]]:
    def job(name: str) -> Callable[[], dict[str, Any]]:
        kind = kinds[name]
        method, threshold = overrides.get(name, (None, None))

        def one() -> dict[str, Any]:
            if kind == drift_stats.CATEGORICAL:  # counted where the column is, not taken whole
                r_counts = ref.counts(name, kind, keep=True)
                c_counts = cur.counts(name, kind, keep=name in keep)
                return _categorical(name, r_counts, c_counts, method, threshold, True)
            r, c = ref.take(name, kind, keep=True), cur.take(name, kind, keep=name in keep)
            return _drift(name, kind, r, c, method, threshold, histogram=True)

        return one

    return [job(name) for name in kinds]


def _run(jobs: Sequence[Callable[[], dict[str, Any]]]) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(lambda job: job(), jobs))


def _drift(
    name: str,
    kind: str,
    ref: pl.Series,
    cur: pl.Series,
    method: str | None = None,
    threshold: float | None = None,
    *,
    histogram: bool = False,
) -> dict[str, Any]:
    """One column's statistics (and its pane histogram): numbers as float64 sorted once (nulls
    and NaN dropped), categorical values as counts per level of the sorted union."""
    if kind == drift_stats.NUMERICAL:
        r, c = _sorted_floats(ref), _sorted_floats(cur)
        result = drift_stats.feature_drift(
            name, kind, r, c, method=method, threshold=threshold, is_sorted=True
        )
        if histogram:
            result["histogram"] = drift_hist.numerical(r, c, is_sorted=True)
        return result
    return _categorical(name, value_counts(ref), value_counts(cur), method, threshold, histogram)


def _categorical(
    name: str,
    ref: tuple[pl.Series, np.ndarray],
    cur: tuple[pl.Series, np.ndarray],
    method: str | None,
    threshold: float | None,
    histogram: bool,
) -> dict[str, Any]:
    """A categorical column's statistics from both sides' level counts."""
    levels, r_counts, c_counts = _level_counts(ref, cur)
    result = drift_stats.categorical_drift(
        name, r_counts, c_counts, method=method, threshold=threshold
    )
    if histogram:
        result["histogram"] = drift_hist.categorical_counts(r_counts, c_counts, levels)
    return result


def _kind(feature_kind: str) -> str:
    return drift_stats.CATEGORICAL if feature_kind == "categorical" else drift_stats.NUMERICAL


def _level_counts(
    ref: tuple[pl.Series, np.ndarray], cur: tuple[pl.Series, np.ndarray]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The sorted levels (values as text) of both sides' ``value_counts``, and how often each
    occurs in ``ref`` and in ``cur`` (nulls dropped): what counting shared codes of every
    value gives."""
    import numpy as np
    import polars as pl

    (r_values, r_counts), (c_values, c_counts) = ref, cur
    levels = pl.concat([r_values, c_values]).unique().sort()
    index = pl.Series(np.arange(len(levels), dtype=np.int64))

    def aligned(values: pl.Series, counts: np.ndarray) -> np.ndarray:
        out = np.zeros(len(levels), dtype=np.int64)
        out[values.replace_strict(levels, index).to_numpy()] = counts
        return out

    return levels.to_list(), aligned(r_values, r_counts), aligned(c_values, c_counts)


def _sorted_floats(col: pl.Series) -> np.ndarray:
    """``drift_stats.sorted_numbers`` of the column's non-null values as float64. Integers are
    sorted as integers and converted after (the same array: the conversion keeps the order,
    and numpy sorts int64 ~2x faster than it casts and sorts the floats)."""
    import numpy as np

    if col.dtype.is_integer():
        return np.sort(col.drop_nulls().to_numpy()).astype(np.float64)
    return drift_stats.sorted_numbers(_floats(col))


def _floats(col: pl.Series) -> np.ndarray:
    """float64 values with nulls as NaN (zero-copy for a null-free Float64 column): the
    statistics sort them (``drift_stats.sorted_numbers``), which drops the NaN at the end."""
    import polars as pl

    return col.cast(pl.Float64, strict=False).to_numpy()
