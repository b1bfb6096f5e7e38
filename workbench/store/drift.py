"""Drift verbs: cached references (one Parquet object per version) and stored results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class DriftReference:
    number: int
    snapshot_id: str
    object_hash: str
    rows: int
    max_time: str | None


class DriftVerbs:
    con: duckdb.DuckDBPyConnection

    def drift_reference(self, number: int) -> DriftReference | None:
        row = self.con.execute(
            "SELECT number, snapshot_id, object_hash, rows, max_time FROM drift_references"
            " WHERE number = ?",
            [number],
        ).fetchone()
        return DriftReference(*row) if row else None

    def put_drift_reference(self, ref: DriftReference, *, ts: str) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO drift_references VALUES (?, ?, ?, ?, ?, ?)",
            [ref.number, ref.snapshot_id, ref.object_hash, ref.rows, ref.max_time, ts],
        )

    def drift_result(self, current: str, number: int) -> dict[str, Any] | None:
        row = self.con.execute(
            "SELECT result FROM drift_results WHERE current_snapshot = ? AND number = ?",
            [current, number],
        ).fetchone()
        return json.loads(row[0]) if row else None

    def put_drift_result(self, result: dict[str, Any], number: int, *, ts: str) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO drift_results VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                result["current"],
                number,
                result["reference"],
                ts,
                result["dataset_drift"],
                result["drift_share"],
                json.dumps(result),
            ],
        )

    def latest_drift(self) -> dict[str, Any] | None:
        row = self.con.execute(
            "SELECT result FROM drift_results ORDER BY computed_at DESC LIMIT 1"
        ).fetchone()
        return json.loads(row[0]) if row else None

    def drift_over_time(self, feature: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Oldest first: when, snapshot, reference, dataset share, and one feature's score."""
        rows = self.con.execute(
            "SELECT computed_at, current_snapshot, number, drift_share, dataset_drift, result"
            " FROM drift_results ORDER BY computed_at DESC LIMIT ?",
            [limit],
        ).fetchall()
        out = []
        for ts, current, number, share, drifted, result in reversed(rows):
            item: dict[str, Any] = {
                "ts": ts,
                "current": current,
                "reference_version": f"v{number}",
                "drift_share": share,
                "dataset_drift": drifted,
            }
            if feature is not None:
                match = [f for f in json.loads(result)["features"] if f["name"] == feature]
                item["feature"] = match[0] if match else None
            out.append(item)
        return out
