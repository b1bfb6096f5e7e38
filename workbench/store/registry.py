"""Registry verbs: model versions and the append-only champion history.

The champion is not a flag on a version: it is the newest row of ``champion_history``
(who, when, why). A version's status is derived from that and from how it was recorded —
``failed`` (training failed), ``champion`` (the newest history row), ``retired`` (was
champion once), ``rejected`` (the gate kept the champion, or a ``reject`` decision), ``held``
(would have won the gate while the champion was pinned), ``pending`` (passed the gate, waits
for approval), else ``candidate`` — so there is no second place that could disagree with the
history. The pin and the approvals are derived the same way (``governance.py``); the
champion's row carries ``pinned``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from workbench.errors import UsageError
from workbench.store import governance

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class VersionRecord:
    number: int
    snapshot_id: str
    config_hash: str
    git_commit: str | None
    git_dirty: bool
    created_at: str
    created_by: str
    outcome: str  # as recorded: candidate | rejected | promoted | failed | held | pending
    task: str
    metric: str
    metrics: dict[str, float]
    gate: dict[str, Any] | None
    model_hash: str | None
    meta_hash: str | None
    rows: int | None
    timings: dict[str, float]
    error: str | None
    status: str = "candidate"  # derived, see the module docstring
    pinned: bool = False  # derived: the champion, pinned by a rollback (governance.py)
    engine: str = "local"  # what trained it: local | dask ([train] engine)

    @property
    def name(self) -> str:
        return f"v{self.number}"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.name,
            "status": self.status,
            "snapshot": self.snapshot_id,
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "task": self.task,
            "metric": self.metric,
            "metrics": self.metrics,
            "gate": self.gate,
            "rows": self.rows,
            "timings": self.timings,
            "error": self.error,
            "engine": self.engine,
            **({"pinned": self.pinned} if self.status == "champion" else {}),
        }


@dataclass(frozen=True)
class ChampionChange:
    id: int
    ts: str
    number: int
    previous: int | None
    actor: str
    kind: str  # gate | rollback | promote | approve
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "version": f"v{self.number}",
            "previous": f"v{self.previous}" if self.previous else None,
            "by": self.actor,
            "kind": self.kind,
            "reason": self.reason,
        }


# column -> VersionRecord field (the table's ``status`` column holds the recorded outcome)
_VERSION_FIELDS = {
    "number": "number",
    "snapshot_id": "snapshot_id",
    "config_hash": "config_hash",
    "git_commit": "git_commit",
    "git_dirty": "git_dirty",
    "created_at": "created_at",
    "created_by": "created_by",
    "status": "outcome",
    "task": "task",
    "metric": "metric",
    "metrics": "metrics",
    "gate": "gate",
    "model_hash": "model_hash",
    "meta_hash": "meta_hash",
    "rows": "rows",
    "timings": "timings",
    "error": "error",
    "engine": "engine",
}
_VERSION_COLS = ", ".join(_VERSION_FIELDS)
_JSON_FIELDS = ("metrics", "gate", "timings")


def parse_version(ref: str) -> int:
    text = ref.strip().lower().removeprefix("v")
    if not text.isdigit():
        raise UsageError(f"{ref!r} is not a model version", "versions look like v3")
    return int(text)


class RegistryVerbs:
    con: duckdb.DuckDBPyConnection

    def next_version_number(self) -> int:
        row = self.con.execute("SELECT coalesce(max(number), 0) + 1 FROM model_versions").fetchone()
        assert row is not None
        return int(row[0])

    def insert_version(self, v: VersionRecord) -> None:
        values = []
        for name in _VERSION_FIELDS.values():
            value = getattr(v, name)
            if name in _JSON_FIELDS:
                value = json.dumps(value) if value is not None else None
            values.append(value)
        marks = ",".join("?" * len(values))
        self.con.execute(f"INSERT INTO model_versions ({_VERSION_COLS}) VALUES ({marks})", values)

    def champion_number(self) -> int | None:
        row = self.con.execute(
            "SELECT number FROM champion_history ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return int(row[0]) if row else None

    def champion(self) -> VersionRecord | None:
        """The current champion's record, or None before the first promotion."""
        number = self.champion_number()
        return self.version(number) if number is not None else None

    def set_champion(self, number: int, *, ts: str, actor: str, kind: str, reason: str) -> None:
        self.con.execute(
            "INSERT INTO champion_history (ts, number, previous, actor, kind, reason)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [ts, number, self.champion_number(), actor, kind, reason],
        )

    def pin(self) -> governance.Pin | None:
        """The rollback that pins the champion now, if any (``governance.py``)."""
        return governance.pin(self.con)

    def add_decision(self, kind: str, **fields: Any) -> None:
        governance.add_decision(self.con, kind, **fields)

    def decisions(self, number: int | None = None) -> list[governance.Decision]:
        return governance.decisions(self.con, number)

    def champion_history(self, limit: int = 100) -> list[ChampionChange]:
        rows = self.con.execute(
            "SELECT id, ts, number, previous, actor, kind, reason FROM champion_history"
            " ORDER BY id DESC LIMIT ?",
            [limit],
        ).fetchall()
        return [ChampionChange(*r) for r in rows]

    def versions(self, limit: int | None = None, offset: int = 0) -> list[VersionRecord]:
        """Newest first, with their derived status."""
        sql = f"SELECT {_VERSION_COLS} FROM model_versions ORDER BY number DESC"
        params: list[Any] = []
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = [limit, offset]
        return self._with_status(self.con.execute(sql, params).fetchall())

    def version(self, ref: str | int) -> VersionRecord:
        number = ref if isinstance(ref, int) else parse_version(ref)
        rows = self.con.execute(
            f"SELECT {_VERSION_COLS} FROM model_versions WHERE number = ?", [number]
        ).fetchall()
        if not rows:
            raise UsageError(f"there is no model version v{number}", "list them: workbench history")
        return self._with_status(rows)[0]

    def version_for_snapshot(self, snapshot_id: str) -> VersionRecord | None:
        """The newest successful version trained on ``snapshot_id``, if any."""
        rows = self.con.execute(
            f"SELECT {_VERSION_COLS} FROM model_versions WHERE snapshot_id = ?"
            " AND status <> 'failed' ORDER BY number DESC LIMIT 1",
            [snapshot_id],
        ).fetchall()
        return self._with_status(rows)[0] if rows else None

    def pending_versions(self) -> list[VersionRecord]:
        """Versions waiting for approval, newest first."""
        rows = self.con.execute(
            f"SELECT {_VERSION_COLS} FROM model_versions WHERE status = 'pending'"
            " ORDER BY number DESC"
        ).fetchall()
        return [v for v in self._with_status(rows) if v.status == "pending"]

    def version_count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM model_versions").fetchone()
        return int(row[0]) if row else 0

    def _with_status(self, rows: list[tuple[Any, ...]]) -> list[VersionRecord]:
        champion = self.champion_number()
        ever = {
            r[0]
            for r in self.con.execute("SELECT DISTINCT number FROM champion_history").fetchall()
        }
        rejected = governance.rejected_by_hand(self.con)
        pinned = self.pin() is not None
        out = []
        for r in rows:
            fields = dict(zip(_VERSION_FIELDS.values(), r, strict=True))  # by column name
            for name in _JSON_FIELDS:
                fields[name] = json.loads(fields[name]) if fields[name] else None
            v = VersionRecord(**fields)
            status = _status(v, champion, ever, rejected)
            out.append(replace(v, status=status, pinned=pinned and status == "champion"))
        return out


def _status(v: VersionRecord, champion: int | None, ever: set[int], rejected: set[int]) -> str:
    if v.outcome == "failed":
        return "failed"
    if v.number == champion:
        return "champion"
    if v.number in ever:
        return "retired"
    if v.number in rejected:
        return "rejected"
    return v.outcome if v.outcome in ("rejected", "held", "pending") else "candidate"
