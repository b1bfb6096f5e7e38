"""Export verbs: what ``workbench export mlflow`` put where, so the next export is incremental.

Two tables (schema migration 6). ``mlflow_targets``: one row per (tracking URI, experiment
name) — the experiment's id there, the registered model the versions went to, and the version
the ``champion`` alias was last set to. ``mlflow_runs``: one row per version exported to that
target — its run, logged model and registered model version, and the status and number of
drift results it had when it was written. A row is written only once everything of that version
is in MLflow, so a row is a promise the export keeps; what MLflow holds beyond the rows (a run
made just before a kill) the exporter finds there by its tags and finishes.

Functions over an open ``Session`` rather than more ``Session`` methods: only the exporter
needs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.store.drift import DriftResult

if TYPE_CHECKING:
    from workbench.store.session import Session


@dataclass(frozen=True)
class MlflowTarget:
    tracking_uri: str
    experiment: str
    experiment_id: str
    registered_model: str
    champion: int | None  # the version the champion alias points at, as last exported


@dataclass(frozen=True)
class MlflowRun:
    number: int
    run_id: str
    model_id: str | None  # None for a failed version (no model)
    registered_model: str | None
    model_version: str | None
    status: str  # the version's status as last written to MLflow
    drift_results: int  # drift results with this version as reference, as last written


def target(s: Session, tracking_uri: str, experiment: str) -> MlflowTarget | None:
    row = s.con.execute(
        "SELECT tracking_uri, experiment, experiment_id, registered_model, champion"
        " FROM mlflow_targets WHERE tracking_uri = ? AND experiment = ?",
        [tracking_uri, experiment],
    ).fetchone()
    return MlflowTarget(*row) if row else None


def put_target(s: Session, t: MlflowTarget, *, ts: str) -> None:
    s.con.execute(
        "INSERT OR REPLACE INTO mlflow_targets VALUES (?, ?, ?, ?, ?, ?)",
        [t.tracking_uri, t.experiment, t.experiment_id, t.registered_model, t.champion, ts],
    )


def runs(s: Session, tracking_uri: str, experiment: str) -> dict[int, MlflowRun]:
    """The exported versions of a target, by version number."""
    rows = s.con.execute(
        "SELECT number, run_id, model_id, registered_model, model_version, status,"
        " drift_results FROM mlflow_runs WHERE tracking_uri = ? AND experiment = ?",
        [tracking_uri, experiment],
    ).fetchall()
    return {int(r[0]): MlflowRun(*r) for r in rows}


def put_runs(
    s: Session, tracking_uri: str, experiment: str, items: list[MlflowRun], *, ts: str
) -> None:
    for r in items:
        s.con.execute(
            "INSERT OR REPLACE INTO mlflow_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                tracking_uri,
                experiment,
                r.number,
                r.run_id,
                r.model_id,
                r.registered_model,
                r.model_version,
                r.status,
                r.drift_results,
                ts,
            ],
        )


def forget_runs(s: Session, tracking_uri: str, experiment: str, numbers: list[int]) -> None:
    """Drop rows whose run is gone from MLflow (deleted there): they are exported again."""
    if numbers:
        s.con.execute(
            "DELETE FROM mlflow_runs WHERE tracking_uri = ? AND experiment = ?"
            " AND number IN (SELECT unnest(?::INTEGER[]))",
            [tracking_uri, experiment, numbers],
        )


def drift_counts(s: Session) -> dict[int, int]:
    """Stored drift results per reference version."""
    rows = s.con.execute("SELECT number, count(*) FROM drift_results GROUP BY number").fetchall()
    return {int(n): int(c) for n, c in rows}


def drift_results(s: Session, number: int) -> list[DriftResult]:
    """The stored drift results with ``number`` as reference, oldest first."""
    rows = s.con.execute(
        "SELECT result FROM drift_results WHERE number = ? ORDER BY computed_at, current_snapshot",
        [number],
    ).fetchall()
    return [DriftResult.from_json(json.loads(r[0])) for r in rows]
