"""The audit trail's entries, read from the append-only tables that already hold them.

Decision: the log is not a table of its own that could disagree with the records. It is
derived, each time it is read, from rows that are never updated or deleted: ``snapshots``
(kind ``snapshot``), ``model_versions`` (``version``, and ``gate`` for its recorded gate
decision: promoted | rejected | held | pending), ``champion_history`` (``promotion`` for a gate,
``promote`` or ``approve`` change; ``rollback`` plus ``pin`` for a rollback), ``governance``
(``approve``, ``reject``, ``unpin``) and ``events`` (``hook``). Config changes key by key come
from consecutive snapshots' config bytes (``pipeline.audit``). An entry once shown is therefore
shown again identical by every later read: append-only by construction (tested).

``order`` sorts entries of the same millisecond in the order they happen (a snapshot before
the version trained on it, a gate decision before the promotion it made).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

RANK = {
    "snapshot": 0,
    "config": 1,
    "version": 2,
    "gate": 3,
    "approve": 4,
    "reject": 4,
    "promotion": 5,
    "rollback": 5,
    "pin": 6,
    "unpin": 7,
    "hook": 8,
}
KINDS = tuple(RANK)
SYSTEM = "workbench"  # ``by`` of what workbench did on its own (a hook run)


@dataclass(frozen=True)
class LogEntry:
    ts: str
    kind: str
    version: str | None
    by: str
    reason: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    order: tuple[int, int] = (0, 0)  # (kind rank, row id): ties within one ts

    def sort_key(self) -> tuple[str, int, int]:
        return (self.ts, *self.order)

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "kind": self.kind,
            "version": self.version,
            "by": self.by,
            "reason": self.reason,
            "detail": self.detail,
        }


def entries(con: duckdb.DuckDBPyConnection) -> list[LogEntry]:
    """Every entry the tables hold (config changes aside), unsorted."""
    return [*_snapshots(con), *_versions(con), *_champions(con), *_decisions(con), *_hooks(con)]


def _v(number: int | None) -> str | None:
    return f"v{number}" if number is not None else None


def _entry(ts: str, kind: str, row_id: int, **fields: Any) -> LogEntry:
    return LogEntry(ts=ts, kind=kind, order=(RANK[kind], row_id), **fields)


def _snapshots(con: duckdb.DuckDBPyConnection) -> list[LogEntry]:
    rows = con.execute(
        "SELECT id, created_at, created_by, rows, bytes, git_commit, git_dirty,"
        " row_number() OVER (ORDER BY created_at, id) FROM snapshots"
    ).fetchall()
    return [
        _entry(
            ts,
            "snapshot",
            n,
            version=None,
            by=by,
            reason=None,
            detail={"snapshot": sid, "rows": nrows, "bytes": size, "git_commit": commit}
            | {"git_dirty": dirty},
        )
        for sid, ts, by, nrows, size, commit, dirty, n in rows
    ]


def _versions(con: duckdb.DuckDBPyConnection) -> list[LogEntry]:
    rows = con.execute(
        "SELECT number, created_at, created_by, status, snapshot_id, metric, metrics, gate, error"
        " FROM model_versions"
    ).fetchall()
    out = []
    for number, ts, by, outcome, snap, metric, metrics, gate_text, error in rows:
        out.append(
            _entry(
                ts,
                "version",
                number,
                version=_v(number),
                by=by,
                reason=error,
                detail={
                    "snapshot": snap,
                    "outcome": "failed" if outcome == "failed" else "trained",
                    "metric": metric or None,
                    "metrics": json.loads(metrics) if metrics else {},
                },
            )
        )
        if gate_text:
            gate = json.loads(gate_text)
            out.append(
                _entry(
                    ts,
                    "gate",
                    number,
                    version=_v(number),
                    by=by,
                    reason=gate.get("reason"),
                    detail=gate,
                )
            )
    return out


def _champions(con: duckdb.DuckDBPyConnection) -> list[LogEntry]:
    rows = con.execute(
        "SELECT id, ts, number, previous, actor, kind, reason FROM champion_history"
    ).fetchall()
    out = []
    for cid, ts, number, previous, actor, kind, reason in rows:
        detail = {"previous": _v(previous), "how": kind}
        if kind == "rollback":
            out.append(
                _entry(
                    ts, "rollback", cid, version=_v(number), by=actor, reason=reason, detail=detail
                )
            )
            out.append(
                _entry(
                    ts,
                    "pin",
                    cid,
                    version=_v(number),
                    by=actor,
                    reason=reason,
                    detail={"change": cid},
                )
            )
        else:
            out.append(
                _entry(
                    ts, "promotion", cid, version=_v(number), by=actor, reason=reason, detail=detail
                )
            )
    return out


def _decisions(con: duckdb.DuckDBPyConnection) -> list[LogEntry]:
    rows = con.execute(
        "SELECT g.id, g.ts, g.kind, coalesce(g.number, c.number), g.change_id, g.actor, g.reason"
        " FROM governance g LEFT JOIN champion_history c ON c.id = g.change_id"
    ).fetchall()
    return [
        _entry(
            ts,
            kind,
            gid,
            version=_v(number),
            by=actor,
            reason=reason,
            detail={"change": change} if change is not None else {},
        )
        for gid, ts, kind, number, change, actor, reason in rows
    ]


def _hooks(con: duckdb.DuckDBPyConnection) -> list[LogEntry]:
    rows = con.execute(
        "SELECT id, ts, level, message, data FROM events WHERE kind = 'hook'"
    ).fetchall()
    out = []
    for eid, ts, level, message, data_text in rows:
        data = json.loads(data_text)
        out.append(
            _entry(
                ts,
                "hook",
                eid,
                version=data.get("version"),
                by=data.get("by") or SYSTEM,
                reason=None,
                detail={
                    "hook": data.get("hook"),
                    "argv": data.get("argv"),
                    "returncode": data.get("returncode"),
                    "ok": level == "info",
                    "message": message,
                },
            )
        )
    return out
