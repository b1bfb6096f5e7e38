"""Drift verbs: cached references (one Parquet object per version) and stored results.

A result is a frozen ``DriftResult`` (per-feature ``FeatureDrift`` records inside), stored as
its JSON — the ``workbench drift --json`` shape, which ``to_json`` gives back unchanged — so the
modules that act on a result (the cycle, hooks, status, the TUI) read typed fields, and only
the renderers of that JSON shape read keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
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


@dataclass(frozen=True)
class FeatureDrift:
    """One column's drift (``monitor.stats.feature_drift``), with its pane histogram."""

    name: str
    type: str = ""  # numerical | categorical
    method: str = ""
    score: float | None = None
    threshold: float | None = None
    drifted: bool = False
    psi: float | None = None
    n_ref: int = 0
    n_cur: int = 0
    note: str | None = None
    histogram: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureDrift:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in out.items() if v is not None or k in _ALWAYS}


_ALWAYS = {"score", "threshold", "psi"}  # null when not computed, still present


@dataclass(frozen=True)
class DriftResult:
    """The newest data against one version's training data (see ``monitor.drift``)."""

    dataset_drift: bool
    drift_share: float
    drifted_features: int
    features: tuple[FeatureDrift, ...]
    reference: str  # the reference snapshot
    reference_version: str
    current: str  # the current snapshot
    reference_rows: int
    current_rows: int
    computed_at: str
    prediction_drift: FeatureDrift | None = None
    target_drift: FeatureDrift | None = None
    note: str | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know

    @property
    def drifted(self) -> list[str]:
        """Names of the drifted features."""
        return [f.name for f in self.features if f.drifted]

    def feature(self, name: str) -> FeatureDrift | None:
        return next((f for f in self.features if f.name == name), None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DriftResult:
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        values["features"] = tuple(FeatureDrift.from_json(f) for f in data.get("features") or [])
        for key in ("prediction_drift", "target_drift"):
            item = data.get(key)
            values[key] = FeatureDrift.from_json({"name": key} | item) if item else None
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        """The ``workbench drift --json`` shape."""
        out: dict[str, Any] = {**self.extra}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name == "features":
                value = [x.to_json() for x in value]
            elif isinstance(value, FeatureDrift):
                value = value.to_json()
            out[f.name] = value
        return out


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

    def drift_result(self, current: str, number: int) -> DriftResult | None:
        row = self.con.execute(
            "SELECT result FROM drift_results WHERE current_snapshot = ? AND number = ?",
            [current, number],
        ).fetchone()
        return DriftResult.from_json(json.loads(row[0])) if row else None

    def put_drift_result(self, result: DriftResult, number: int, *, ts: str) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO drift_results VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                result.current,
                number,
                result.reference,
                ts,
                result.dataset_drift,
                result.drift_share,
                json.dumps(result.to_json()),
            ],
        )

    def latest_drift(self) -> DriftResult | None:
        row = self.con.execute(
            "SELECT result FROM drift_results ORDER BY computed_at DESC LIMIT 1"
        ).fetchone()
        return DriftResult.from_json(json.loads(row[0])) if row else None

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
