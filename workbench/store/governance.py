"""Governance records: the pin a rollback puts on the champion, and decided approvals.

Decisions (relied on by the registry, ``pipeline.approval`` and the audit log):

* Nothing here is a flag that could disagree with the history. The ``governance`` table is
  append-only (``approve``, ``reject``, ``unpin`` rows: ts, actor, reason); a version's status
  and the pin are derived from it and from ``champion_history``.
* **Pinned** = the newest champion change is a ``rollback`` and no ``unpin`` row names that
  change (``change_id``). A later change of champion (``promote``, ``approve``; a gate cannot
  promote while pinned) ends the pin by being newer; ``unpin`` ends it without moving the
  champion. A pin therefore always belongs to exactly one champion change.
* ``held`` and ``pending`` are recorded outcomes of ``model_versions`` (what the gate decided
  when the version was committed, like ``rejected``). A ``pending`` version stays pending until
  an ``approve`` (it becomes champion: a ``champion_history`` row of kind ``approve``) or a
  ``reject`` row (its status becomes ``rejected``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

DECISION_KINDS = ("approve", "reject", "unpin")


@dataclass(frozen=True)
class Pin:
    """The champion is pinned by the rollback ``change_id``."""

    change_id: int
    number: int
    ts: str
    actor: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "version": f"v{self.number}",
            "since": self.ts,
            "by": self.actor,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Decision:
    id: int
    ts: str
    kind: str  # approve | reject | unpin
    number: int | None
    change_id: int | None
    actor: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "kind": self.kind,
            "version": f"v{self.number}" if self.number is not None else None,
            "by": self.actor,
            "reason": self.reason,
        }


def pin(con: duckdb.DuckDBPyConnection) -> Pin | None:
    row = con.execute(
        "SELECT id, number, ts, actor, reason, kind FROM champion_history ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None or row[5] != "rollback":
        return None
    released = con.execute(
        "SELECT 1 FROM governance WHERE kind = 'unpin' AND change_id = ?", [row[0]]
    ).fetchone()
    return None if released else Pin(int(row[0]), int(row[1]), row[2], row[3], row[4])


def add_decision(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    *,
    ts: str,
    actor: str,
    reason: str,
    number: int | None = None,
    change_id: int | None = None,
) -> None:
    assert kind in DECISION_KINDS, kind
    con.execute(
        "INSERT INTO governance (ts, kind, number, change_id, actor, reason)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [ts, kind, number, change_id, actor, reason],
    )


def decisions(con: duckdb.DuckDBPyConnection, number: int | None = None) -> list[Decision]:
    """Newest first; of one version when ``number`` is given."""
    sql = "SELECT id, ts, kind, number, change_id, actor, reason FROM governance"
    params: list[Any] = []
    if number is not None:
        sql += " WHERE number = ?"
        params = [number]
    return [Decision(*r) for r in con.execute(sql + " ORDER BY id DESC", params).fetchall()]


def rejected_by_hand(con: duckdb.DuckDBPyConnection) -> set[int]:
    rows = con.execute("SELECT DISTINCT number FROM governance WHERE kind = 'reject'").fetchall()
    return {int(r[0]) for r in rows}
