"""Outcome-monitoring verbs: each champion's monitoring reference, and results per chunk.

Tables (a read-only schema a dashboard can query; the README documents them):

``monitor_references``: one row per version that was monitored — ``number``, ``object_hash``
(a JSON object: the reference metrics and SEs on the version's holdout, and the estimator's
fitted reference as the math API's ``to_json`` gives it), ``rows`` (holdout rows), ``created_at``.

``monitor_chunks``: one row per (version ``number``, chunk ``key``) — ``content_hash`` (what
the chunk's rows and labels hashed to: a chunk already computed for this content is not
recomputed), ``source`` (``data``: rows of an arriving data file; ``predictions``: rows the
prediction log holds joined with delayed labels), ``snapshot_id``, ``start_ts``/``end_ts`` (ISO
or null), ``rows``, ``labelled`` (rows with a label), ``computed_at``, ``seq`` (the order chunks
were first stored in: ``workbench monitor`` lists them by it, newest last).

``monitor_metrics``: long form, one row per (``number``, ``key``, ``name``) — ``name`` is a
metric (``auc``) or ``kpi:NAME``, ``kind`` ``metric`` | ``kpi``; ``realized`` (null without
labels), ``estimated`` (null when no estimate exists), ``se``, the alert band ``lower``/``upper``
(null: unbounded on that side) and ``alert`` (the chunk's value left the band).

A chunk whose content changed (more delayed labels joined) replaces its rows in one session
and keeps its ``seq``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.store.session import Session


@dataclass(frozen=True)
class MetricRow:
    name: str  # "auc" or "kpi:NAME"
    kind: str  # metric | kpi
    realized: float | None
    estimated: float | None
    se: float | None
    lower: float | None
    upper: float | None
    alert: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "realized": self.realized,
            "estimated": self.estimated,
            "se": self.se,
            "lower": self.lower,
            "upper": self.upper,
            "alert": self.alert,
        }


@dataclass(frozen=True)
class ChunkRecord:
    number: int
    key: str
    content_hash: str
    source: str  # data | predictions
    snapshot_id: str | None
    start: str | None
    end: str | None
    rows: int
    labelled: int
    computed_at: str
    metrics: tuple[MetricRow, ...] = field(default=())
    seq: int = 0

    @property
    def alerts(self) -> list[str]:
        return [m.name for m in self.metrics if m.alert]

    def metric(self, name: str) -> MetricRow | None:
        return next((m for m in self.metrics if m.name == name), None)


@dataclass(frozen=True)
class ReferenceRecord:
    number: int
    object_hash: str
    rows: int
    created_at: str


_CHUNK_COLS = (
    "number, key, content_hash, source, snapshot_id, start_ts, end_ts, rows, labelled, computed_at"
)


def reference(s: Session, number: int) -> ReferenceRecord | None:
    row = s.con.execute(
        "SELECT number, object_hash, rows, created_at FROM monitor_references WHERE number = ?",
        [number],
    ).fetchone()
    return ReferenceRecord(*row) if row else None


def put_reference(s: Session, ref: ReferenceRecord) -> None:
    s.con.execute(
        "INSERT OR REPLACE INTO monitor_references (number, object_hash, rows, created_at)"
        " VALUES (?, ?, ?, ?)",
        [ref.number, ref.object_hash, ref.rows, ref.created_at],
    )


def content_hashes(s: Session, number: int) -> dict[str, str]:
    """``key -> content_hash`` of the chunks stored for version ``number``."""
    rows = s.con.execute(
        "SELECT key, content_hash FROM monitor_chunks WHERE number = ?", [number]
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def put_chunk(s: Session, chunk: ChunkRecord) -> None:
    """Store (or replace) one chunk and its metric rows; call inside a write session."""
    old = s.con.execute(
        "SELECT seq FROM monitor_chunks WHERE number = ? AND key = ?", [chunk.number, chunk.key]
    ).fetchone()
    if old is not None:
        seq = int(old[0])
        s.con.execute(
            "DELETE FROM monitor_chunks WHERE number = ? AND key = ?", [chunk.number, chunk.key]
        )
    else:
        top = s.con.execute("SELECT max(seq) FROM monitor_chunks").fetchone()
        seq = int(top[0]) + 1 if top and top[0] is not None else 1
    s.con.execute(
        "DELETE FROM monitor_metrics WHERE number = ? AND key = ?", [chunk.number, chunk.key]
    )
    s.con.execute(
        f"INSERT INTO monitor_chunks ({_CHUNK_COLS}, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            chunk.number,
            chunk.key,
            chunk.content_hash,
            chunk.source,
            chunk.snapshot_id,
            chunk.start,
            chunk.end,
            chunk.rows,
            chunk.labelled,
            chunk.computed_at,
            seq,
        ],
    )
    if chunk.metrics:
        s.con.executemany(
            "INSERT INTO monitor_metrics (number, key, name, kind, realized, estimated, se,"
            " lower, upper, alert) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    chunk.number,
                    chunk.key,
                    m.name,
                    m.kind,
                    m.realized,
                    m.estimated,
                    m.se,
                    m.lower,
                    m.upper,
                    m.alert,
                ]
                for m in chunk.metrics
            ],
        )


def chunks(s: Session, number: int, *, limit: int | None = None) -> list[ChunkRecord]:
    """The chunks of version ``number`` in the order they were first stored (newest last);
    ``limit`` keeps the newest ones."""
    rows = s.con.execute(
        f"SELECT {_CHUNK_COLS}, seq FROM monitor_chunks WHERE number = ? ORDER BY seq DESC"
        + (" LIMIT ?" if limit is not None else ""),
        [number, limit] if limit is not None else [number],
    ).fetchall()
    rows.reverse()
    if not rows:
        return []
    metric_rows = s.con.execute(
        "SELECT key, name, kind, realized, estimated, se, lower, upper, alert"
        " FROM monitor_metrics WHERE number = ? ORDER BY key, kind, name",
        [number],
    ).fetchall()
    by_key: dict[str, list[MetricRow]] = {}
    for r in metric_rows:
        by_key.setdefault(r[0], []).append(MetricRow(*r[1:]))
    return [_chunk(r, tuple(by_key.get(r[1], []))) for r in rows]


def _chunk(r: tuple[Any, ...], metric_rows: tuple[MetricRow, ...]) -> ChunkRecord:
    return ChunkRecord(
        number=r[0],
        key=r[1],
        content_hash=r[2],
        source=r[3],
        snapshot_id=r[4],
        start=r[5],
        end=r[6],
        rows=r[7],
        labelled=r[8],
        computed_at=r[9],
        metrics=metric_rows,
        seq=int(r[10]),
    )


def monitored_numbers(s: Session) -> list[int]:
    rows = s.con.execute("SELECT DISTINCT number FROM monitor_chunks ORDER BY number").fetchall()
    return [int(r[0]) for r in rows]


def table_names() -> tuple[str, ...]:
    """The tables ``workbench export metrics`` writes (monitoring, then drift)."""
    return ("monitor_metrics", "monitor_chunks", "monitor_references")


def export_rows(s: Session) -> tuple[list[str], list[tuple[Any, ...]]]:
    """One row per (version, chunk, metric): the chunk's fields beside the metric's, for a
    dashboard (``workbench export metrics``). Column names, then rows, oldest chunk first."""
    cur = s.con.execute(
        "SELECT 'v' || c.number AS version, c.key AS chunk, c.source, c.snapshot_id AS snapshot,"
        ' c.start_ts AS start, c.end_ts AS "end", c.rows, c.labelled, c.computed_at,'
        " m.name, m.kind, m.realized, m.estimated, m.se, m.lower, m.upper, m.alert"
        " FROM monitor_chunks c JOIN monitor_metrics m ON m.number = c.number AND m.key = c.key"
        " ORDER BY c.number, c.seq, m.kind, m.name"
    )
    names = [d[0] for d in cur.description]
    return names, cur.fetchall()


def drift_rows(s: Session) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Drift results, one row per (current snapshot, reference version) for the export."""
    cur = s.con.execute(
        "SELECT current_snapshot, 'v' || number AS version, reference_snapshot, computed_at,"
        " dataset_drift, drift_share FROM drift_results ORDER BY computed_at"
    )
    return [d[0] for d in cur.description], cur.fetchall()
