"""What one version's MLflow run holds, built from the store's records (no MLflow here).

Decisions (the names scripts and the MLflow UI see):

* **Times**: the run ends when the version was recorded (``created_at``) and starts that many
  seconds earlier as its recorded step timings add up to (snapshot, validate, load, prepare,
  train, evaluate), so each run has its own start and end.
* **Params**: the LightGBM parameters as trained (``objective``, ``learning_rate``, ...),
  plus ``num_boost_round``, ``best_iteration``, ``task``, ``gate_metric``, ``split``,
  ``holdout_fraction`` and ``features`` (the count).
* **Metrics**: the holdout metrics under their own names (``auc``, ``logloss``, ...) at step 0;
  the learning curve as ``<part>_<metric>`` (``valid_auc``, ``valid_binary_logloss``) with
  step = boosting round, 1-based (as ``best_iteration`` counts); ``rows``; ``time_<step>``
  (seconds); and per stored drift result with this version as reference, ``drift_share`` and
  ``drifted_features`` at step = its rank (oldest 0), timestamped when it was computed.
  Every timestamp comes from the records, so logging the same metrics again is a no-op
  (MLflow drops a metric equal in key, value, step and time).
* **Tags**: ``workbench.version`` (``v3``), ``workbench.status``, ``workbench.snapshot``,
  ``workbench.created_at`` (with the version, what the exporter finds a run by),
  ``workbench.gate.decision``/``reason``, ``workbench.git.commit``/``branch``/``dirty``,
  ``workbench.error`` for a failed version, and MLflow's own ``mlflow.source.git.commit``,
  ``mlflow.user`` and ``mlflow.runName`` so its UI shows them.
* **Artifacts**: ``workbench/version.json`` (the ``history --json`` record),
  ``workbench/importance.json`` and ``drift/<current snapshot>.json`` (``drift --json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workbench.store.drift import DriftResult
from workbench.store.registry import VersionRecord
from workbench.store.session import SnapshotRecord

MAX_PARAM = 6000  # MLflow's limit on a param value


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    timestamp: int  # ms since the epoch
    step: int


@dataclass(frozen=True)
class RunContent:
    version: VersionRecord
    start_ms: int
    end_ms: int
    params: dict[str, str]
    metrics: tuple[MetricPoint, ...]
    tags: dict[str, str]
    artifacts: dict[str, Any] = field(default_factory=dict)  # path in the run -> JSON value

    @property
    def run_status(self) -> str:
        return "FAILED" if self.version.status == "failed" else "FINISHED"


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def status_tags(version: VersionRecord) -> dict[str, str]:
    """The tags that change after export (a promotion, a rollback): written again then."""
    return {"workbench.status": version.status}


def run_content(
    version: VersionRecord,
    snapshot: SnapshotRecord | None,
    meta: dict[str, Any] | None,
    drift: list[DriftResult],
    project: str,
) -> RunContent:
    end = ms(version.created_at)
    start = end - round(sum(version.timings.values()) * 1000)
    meta = meta or {}
    return RunContent(
        version=version,
        start_ms=start,
        end_ms=end,
        params=_params(meta),
        metrics=tuple(_metrics(version, meta, end, drift)),
        tags=_tags(version, snapshot, project),
        artifacts=_artifacts(version, meta, drift),
    )


def _params(meta: dict[str, Any]) -> dict[str, str]:
    if not meta:
        return {}
    split = meta.get("split") or {}
    values: dict[str, Any] = {
        **(meta.get("params") or {}),
        "num_boost_round": meta.get("num_boost_round"),
        "best_iteration": meta.get("best_iteration"),
        "task": meta.get("task"),
        "gate_metric": meta.get("gate_metric"),
        "split": split.get("kind"),
        "holdout_fraction": split.get("holdout_fraction"),
        "features": len((meta.get("spec") or {}).get("features") or []),
    }
    return {k: _text(v)[:MAX_PARAM] for k, v in values.items() if v is not None}


def _text(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _metrics(
    version: VersionRecord, meta: dict[str, Any], end: int, drift: list[DriftResult]
) -> list[MetricPoint]:
    out = [MetricPoint(k, float(v), end, 0) for k, v in version.metrics.items()]
    for part, curves in (meta.get("learning_curve") or {}).items():
        for name, values in curves.items():
            out += [
                MetricPoint(f"{part}_{name}", float(v), end, i + 1) for i, v in enumerate(values)
            ]
    if version.rows is not None:
        out.append(MetricPoint("rows", float(version.rows), end, 0))
    out += [MetricPoint(f"time_{k}", float(v), end, 0) for k, v in version.timings.items()]
    for rank, result in enumerate(drift):
        ts = ms(result.computed_at)
        out.append(MetricPoint("drift_share", float(result.drift_share), ts, rank))
        out.append(MetricPoint("drifted_features", float(result.drifted_features), ts, rank))
    return out


def _tags(version: VersionRecord, snapshot: SnapshotRecord | None, project: str) -> dict[str, str]:
    gate = version.gate or {}
    tags = {
        "workbench.project": project,
        "workbench.version": version.name,
        "workbench.snapshot": version.snapshot_id,
        "workbench.created_at": version.created_at,
        "workbench.created_by": version.created_by,
        "workbench.task": version.task,
        "workbench.git.dirty": str(version.git_dirty).lower(),
        "mlflow.user": version.created_by,
        "mlflow.source.name": "workbench",
        **status_tags(version),
    }
    if gate:
        tags["workbench.gate.decision"] = str(gate.get("decision", ""))
        tags["workbench.gate.reason"] = str(gate.get("reason", ""))
    if version.git_commit:
        tags["workbench.git.commit"] = version.git_commit
        tags["mlflow.source.git.commit"] = version.git_commit
    if snapshot is not None and snapshot.git_branch:
        tags["workbench.git.branch"] = snapshot.git_branch
        tags["mlflow.source.git.branch"] = snapshot.git_branch
    if version.model_hash:
        tags["workbench.model_hash"] = version.model_hash
    if version.error:
        tags["workbench.error"] = version.error[:MAX_PARAM]
    return tags


def _artifacts(
    version: VersionRecord, meta: dict[str, Any], drift: list[DriftResult]
) -> dict[str, Any]:
    record = version.to_json()
    record.pop("status")  # it changes after export: the workbench.status tag follows it
    out: dict[str, Any] = {"workbench/version.json": record}
    if meta.get("importance"):
        out["workbench/importance.json"] = meta["importance"]
    for result in drift:
        out[f"drift/{result.current}.json"] = result.to_json()
    return out
