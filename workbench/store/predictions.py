"""The prediction log: what ``workbench predict`` and ``workbench serve`` scored, for outcome
monitoring (realized performance once labels arrive, estimated performance before).

Row format (one row per scored row; every batch object has exactly ``log_schema()``):

=================  ===========  ==========================================================
column             type         meaning
=================  ===========  ==========================================================
``ts``             String       when it was scored: ISO-8601 UTC, milliseconds (sorts as text)
``source``         String       ``serve`` | ``predict``
``request``        String       serve: the request id (also the ``x-request-id`` answer
                                header); predict: the input file as given
``row``            Int64        the row's position in that request or input, from 0
``version``        String       the model version that scored it (``v3``)
``id``             String       the ``[data] id_column`` value as text; null without one
``prediction``     Float64      binary: P(positive class); regression: the value;
                                multiclass: null (see ``probabilities``)
``label``          String       classification: the predicted class as text; else null
``probabilities``  List[Float]  multiclass: one probability per class, in the order of the
                                version's classes (its ``model.json`` spec); else null
=================  ===========  ==========================================================

Ids are text so that a join with delayed labels does not depend on how each side typed the
column (``123`` read from a CSV and ``123`` sent in JSON are both ``"123"``); the monitoring
side casts the labels' id column to text the same way. The scored rows' other columns are not
logged: the log says what was scored, not a copy of every input.

How batches are appended: a batch is one Parquet object in the store's content-addressed
object store (``objects/``: written to ``tmp/``, fdatasynced, renamed: never half written,
never rewritten) plus one row in the ``prediction_log`` table naming it (source, rows, the
versions in it, first and last ``ts``). The object is durable before its row is committed
(``Store.write`` syncs the object folders first), so a kill leaves at worst an unreferenced
object that ``gc`` may remove, never a row naming missing bytes. ``workbench predict`` writes
one batch per run, streamed from its output file (``log_scored_file``). The server buffers in
memory (``PredictionLog.add`` appends one ``LogPart`` of plain lists: no polars, no I/O) and a
background thread flushes every ``[serve] log_flush_seconds``, at ``FLUSH_ROWS`` buffered rows,
and on shutdown (``flush``); a flush that cannot reach the store (busy past the lock wait)
keeps its rows for the next one, up to ``MAX_PENDING_ROWS``, past which the oldest are dropped
and counted (``dropped``: the server's /metrics shows it) rather than growing without bound.

How monitoring reads it: ``batches(session, since=...)`` lists the batch records (cheap, from
DuckDB), ``scan(store, since=...)`` is a polars lazy frame over their objects (newest rows
can be filtered by ``ts``; one version by ``version``), so a monitor step scores chunks by
time window or joins labels on ``id`` without reading the whole log.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import DataError, StoreError

if TYPE_CHECKING:
    import polars as pl

    from workbench.store import Store
    from workbench.store.session import Session

FLUSH_ROWS = 50_000  # a buffer this large is flushed without waiting for the timer
MAX_PENDING_ROWS = 2_000_000  # rows kept while the store cannot be written


def log_schema() -> dict[str, Any]:
    import polars as pl

    return {
        "ts": pl.String,
        "source": pl.String,
        "request": pl.String,
        "row": pl.Int64,
        "version": pl.String,
        "id": pl.String,
        "prediction": pl.Float64,
        "label": pl.String,
        "probabilities": pl.List(pl.Float64),
    }


_SCORED = ("id", "prediction", "label", "probabilities")  # from the scored rows; rest per part


@dataclass(frozen=True)
class PredictionBatch:
    """One row of ``prediction_log``: a Parquet object of log rows."""

    id: int
    object_hash: str
    source: str
    rows: int
    versions: tuple[str, ...]
    first_ts: str
    last_ts: str
    written_at: str


def score_columns(
    task: str, classes: Sequence[Any], id_column: str | None, names: Sequence[str]
) -> list[pl.Expr]:
    """``id, prediction, label, probabilities`` from rows as ``workbench predict`` writes them
    (the input columns plus ``prediction``, ``prediction_label``, ``proba_<class>``)."""
    import polars as pl

    schema = log_schema()
    none = {k: pl.lit(None, dtype=schema[k]).alias(k) for k in _SCORED}
    ident = (
        pl.col(id_column).cast(pl.String).alias("id")
        if id_column and id_column in names
        else none["id"]
    )
    if task == "multiclass":
        probas = pl.concat_list([pl.col(f"proba_{c}").cast(pl.Float64) for c in classes])
        return [ident, none["prediction"], _label(), probas.alias("probabilities")]
    prediction = pl.col("prediction").cast(pl.Float64).alias("prediction")
    label = _label() if task == "binary" else none["label"]
    return [ident, prediction, label, none["probabilities"]]


def _label() -> pl.Expr:
    import polars as pl

    return pl.col("prediction_label").cast(pl.String).alias("label")


# ---------------------------------------------------------------- the index (DuckDB)


def add_batch(s: Session, batch: PredictionBatch) -> None:
    s.con.execute(
        "INSERT INTO prediction_log (object_hash, source, rows, versions, first_ts, last_ts,"
        " written_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            batch.object_hash,
            batch.source,
            batch.rows,
            list(batch.versions),
            batch.first_ts,
            batch.last_ts,
            batch.written_at,
        ],
    )


def batches(
    s: Session, *, since: str | None = None, source: str | None = None
) -> list[PredictionBatch]:
    """Batches oldest first; ``since`` keeps those with a row at or after that ISO time."""
    rows = s.con.execute(
        "SELECT id, object_hash, source, rows, versions, first_ts, last_ts, written_at"
        " FROM prediction_log WHERE (? IS NULL OR last_ts >= ?) AND (? IS NULL OR source = ?)"
        " ORDER BY id",
        [since, since, source, source],
    ).fetchall()
    return [PredictionBatch(r[0], r[1], r[2], r[3], tuple(r[4]), r[5], r[6], r[7]) for r in rows]


def scan(store: Store, *, since: str | None = None) -> pl.LazyFrame:
    """Every logged row (``log_schema()``), oldest batch first; ``since`` filters on ``ts``."""
    import polars as pl

    with store.read() as s:
        found = batches(s, since=since)
    paths = [store.objects.path(b.object_hash) for b in found]
    if not paths:
        return pl.LazyFrame(schema=log_schema())
    lf = pl.scan_parquet(paths)
    return lf.filter(pl.col("ts") >= since) if since else lf


# ---------------------------------------------------------------- writing


def write_batch(store: Store, frame: pl.DataFrame, source: str, *, now: str) -> PredictionBatch:
    """Store ``frame`` (log rows) as one Parquet object and index it."""
    import io

    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", statistics=True)
    digest = store.objects.put_bytes(buf.getvalue())
    return _index(store, frame, digest, source, now)


def _index(
    store: Store, frame: pl.DataFrame | None, digest: str, source: str, now: str, **known: Any
) -> PredictionBatch:
    if frame is not None:
        known = {
            "rows": frame.height,
            "versions": tuple(sorted(frame["version"].unique().to_list())),
            "first_ts": frame["ts"].min(),
            "last_ts": frame["ts"].max(),
        }
    batch = PredictionBatch(0, digest, source, written_at=now, **known)
    with store.write("prediction log") as s:
        add_batch(s, batch)
    return batch


def log_scored_file(
    store: Store,
    scored: Path,
    *,
    version: str,
    task: str,
    classes: Sequence[Any],
    id_column: str | None,
    request: str,
    now: str,
) -> PredictionBatch | None:
    """Log what ``workbench predict`` wrote to ``scored`` (streamed: the file may be larger
    than memory) as one batch; None for an empty output."""
    import polars as pl

    lf = _lazy_scan(scored)
    names = lf.collect_schema().names()
    rows = lf.select(
        pl.lit(now).alias("ts"),
        pl.lit("predict").alias("source"),
        pl.lit(request).alias("request"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
        pl.lit(version).alias("version"),
        *score_columns(task, classes, id_column, names),
    )
    store.objects.ensure()
    tmp = store.objects.tmp / f"predictions.{os.getpid()}.{threading.get_ident()}.parquet"
    try:
        rows.sink_parquet(tmp, compression="zstd")
        count = pl.scan_parquet(tmp).select(pl.len()).collect().item()
        if count == 0:
            return None
        digest, _ = store.objects.put_file(tmp)
    except (OSError, pl.exceptions.PolarsError) as e:
        raise DataError(
            f"cannot log the predictions in {scored}: {e}",
            "the output was written; check the disk space of the project's .workbench/",
        ) from e
    finally:
        tmp.unlink(missing_ok=True)
    return _index(
        store,
        None,
        digest,
        "predict",
        now,
        rows=count,
        versions=(version,),
        first_ts=now,
        last_ts=now,
    )


def _lazy_scan(path: Path) -> pl.LazyFrame:
    import polars as pl

    if path.suffix.lower() == ".parquet":
        return pl.scan_parquet(path)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    # every column as text: only the id (text anyway) and the score columns (cast) are kept
    return pl.scan_csv(path, separator=sep, infer_schema=False)


@dataclass(frozen=True, slots=True)
class LogPart:
    """One request's scored rows as plain lists (no polars on the request path): ``id``,
    ``prediction``, ``label``, ``probabilities`` as in ``log_schema`` (None: all null)."""

    rows: int
    version: str
    ts: str
    request: str
    ids: list[Any] | None
    prediction: list[Any] | None
    label: list[Any] | None
    probabilities: list[Any] | None


class PredictionLog:
    """The server's buffer: ``add`` per request (no I/O), ``flush`` from a background thread.

    Thread-safe: requests add from the event loop or worker threads while a flush runs.
    """

    def __init__(self, store: Store, *, source: str = "serve") -> None:
        self.store = store
        self.source = source
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._parts: list[LogPart] = []
        self.pending = 0  # rows buffered
        self.written = 0  # rows written to the store
        self.dropped = 0  # rows given up while the store could not be written
        self.failures = 0  # flushes that failed (their rows kept, up to MAX_PENDING_ROWS)
        self.last_error: str | None = None

    def add(self, part: LogPart) -> bool:
        """Buffer one request's rows; True when a flush is due."""
        with self._lock:
            self._parts.append(part)
            self.pending += part.rows
            return self.pending >= FLUSH_ROWS

    def flush(self, now: str) -> int:
        """Write what is buffered as one batch; rows written (0 when nothing was buffered)."""
        with self._flushing:
            with self._lock:
                parts, self._parts = self._parts, []
            if not parts:
                return 0
            frame = _frame(parts, self.source)
            try:
                write_batch(self.store, frame, self.source, now=now)
            except (StoreError, OSError) as e:
                self._keep(parts, e)
                return 0
            with self._lock:
                self.pending -= frame.height
                self.written += frame.height
            return frame.height

    def _keep(self, parts: list[LogPart], error: Exception) -> None:
        with self._lock:
            self.failures += 1
            self.last_error = str(error)
            self._parts = parts + self._parts
            while self.pending > MAX_PENDING_ROWS and self._parts:
                old = self._parts.pop(0)
                self.pending -= old.rows
                self.dropped += old.rows


def _frame(parts: list[LogPart], source: str) -> pl.DataFrame:
    """One frame of log rows (``log_schema``) from buffered parts."""
    from itertools import chain, repeat

    import polars as pl

    def joined(name: str) -> list[Any]:
        return list(
            chain.from_iterable(
                getattr(p, name) if getattr(p, name) is not None else repeat(None, p.rows)
                for p in parts
            )
        )

    def each(name: str) -> list[Any]:
        return list(chain.from_iterable(repeat(getattr(p, name), p.rows) for p in parts))

    schema = log_schema()
    texts = {k: [None if v is None else str(v) for v in joined(k)] for k in ("ids", "label")}
    columns = {
        "ts": each("ts"),
        "source": [source] * sum(p.rows for p in parts),
        "request": each("request"),
        "row": list(chain.from_iterable(range(p.rows) for p in parts)),
        "version": each("version"),
        "id": texts["ids"],
        "prediction": joined("prediction"),
        "label": texts["label"],
        "probabilities": joined("probabilities"),
    }
    return pl.DataFrame({k: pl.Series(k, v, dtype=schema[k]) for k, v in columns.items()})
