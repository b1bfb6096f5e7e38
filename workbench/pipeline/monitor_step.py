"""The monitoring step: the champion scored on what arrived, before any retraining.

``run_monitor`` is called by ``workbench train`` (``pipeline.train.run_train``) once validation
has passed and before LightGBM starts, and by a watch cycle once it has finished (so that no
store session delays training; it passes the champion of before the cycle, so the result is
the same): the champion scores the data files it did not train on
(``monitor.outcomes.data_chunks``) and the prediction-log rows that delayed labels now match
(``monitor.labels``). Each chunk's
result is stored in one write session with a ``monitored`` event and one ``degradation`` event
per chunk with an alert. Then, per degraded chunk, the ``on_degradation`` hooks run (event data
in ``WORKBENCH_*`` variables: version, chunk, metrics, values); with
``[monitor] retrain_on_degradation`` a caller that would not train anyway (``workbench
monitor``, a watch cycle that found only new labels) trains (``retrain``).

Decisions: the version's reference is built the first time it is monitored (its holdout
scored once) and stored; a chunk already stored for the version with the same content hash is
not recomputed. Monitoring never fails training: a ``WorkbenchError`` in it (a labels file
without the id column, a busy store) is recorded as a ``monitor_failed`` warning event and
training goes on (store, champion and watcher as they were); it is raised only to ``workbench
monitor``, which is asked for it. ``WORKBENCH_NO_MONITOR=1`` turns the step off (for the
benchmark of what it costs; not a setting).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.config import Settings
from workbench.errors import WorkbenchError
from workbench.model.loading import load_version
from workbench.monitor import outcomes
from workbench.pipeline.hooks import run_hooks
from workbench.store import Store, now_iso
from workbench.store import outcomes as table
from workbench.store.outcomes import ChunkRecord, ReferenceRecord

if TYPE_CHECKING:
    from workbench.store.registry import VersionRecord
    from workbench.store.session import SnapshotRecord


@dataclass(frozen=True)
class MonitorOutcome:
    version: str | None
    chunks: tuple[ChunkRecord, ...] = ()  # computed now
    unknown_ids: int = 0  # delayed labels whose id the prediction log does not hold
    notes: tuple[str, ...] = field(default=())

    @property
    def degraded(self) -> list[ChunkRecord]:
        return [c for c in self.chunks if c.alerts]


def disabled() -> bool:
    return os.environ.get("WORKBENCH_NO_MONITOR", "") not in ("", "0")


def reference_of(
    settings: Settings,
    store: Store,
    version: VersionRecord,
    found: ReferenceRecord | bool | None = False,
) -> outcomes.Reference:
    """The version's stored monitoring reference, built (and stored) the first time;
    ``found``: its record as a caller's session read it (False: read it here)."""
    if found is False:
        with store.read() as s:
            found = table.reference(s, version.number)
    if (
        isinstance(found, ReferenceRecord)
        and found is not None
        and store.objects.exists(found.object_hash)
    ):
        return outcomes.Reference.from_json(store.objects.read_json(found.object_hash))
    model = load_version(store.objects, version)
    ref = outcomes.build_reference(settings, store, version, model)
    digest = store.objects.put_bytes(json.dumps(ref.to_json()).encode())
    with store.write("monitor reference") as s:
        table.put_reference(s, ReferenceRecord(version.number, digest, ref.rows, now_iso()))
    return ref


def run_monitor(
    settings: Settings,
    store: Store,
    champion: VersionRecord | None,
    *,
    snap: SnapshotRecord | None = None,
    trained_on: SnapshotRecord | None = None,
    labels: bool = True,
) -> MonitorOutcome:
    """Monitor ``champion`` on ``snap``'s new files and on delayed labels; store and act."""
    if champion is None or disabled() or not champion.model_hash:
        return MonitorOutcome(None)
    from workbench.monitor import labels as labels_mod
    from workbench.store import predictions

    with store.read() as s:  # one session for all that monitoring reads
        stored = table.content_hashes(s, champion.number)
        if snap is not None and trained_on is None:
            trained_on = s.snapshot(champion.snapshot_id)
        found = table.reference(s, champion.number)
        logged = predictions.batches(s) if labels else []
    chunks: list[outcomes.Chunk] = []
    if snap is not None:
        files = outcomes.new_files(snap, trained_on)
        chunks += outcomes.data_chunks(settings, store, files, stored)
    unknown = 0
    notes: list[str] = []
    if not chunks and not (labels and logged):
        return MonitorOutcome(champion.name)  # nothing new: the model is not even loaded
    model = load_version(store.objects, champion)
    if labels:
        joined = labels_mod.prediction_chunks(settings, store, champion, model, stored, logged)
        chunks += joined.chunks
        unknown = joined.unknown_ids
        notes += joined.notes
    if not chunks:
        return MonitorOutcome(champion.name, (), unknown, tuple(notes))
    ref = reference_of(settings, store, champion, found)
    spec = model.spec
    known = [spec.target, *spec.features, settings.data.id_column, settings.data.time_column]
    columns = list(
        dict.fromkeys([c for c in known if c] + [c for x in chunks for c in x.frame.columns])
    )
    kpis = outcomes.compile_kpis(settings, spec, columns)  # a chunk lacking a column skips it
    now = now_iso()
    done = [
        outcomes.compute_chunk(
            settings,
            ref,
            model,
            c,
            kpis,
            number=champion.number,
            snapshot_id=snap.id if snap is not None and c.source == "data" else None,
            now=now,
        )
        for c in chunks
    ]
    with store.write("monitor") as s:
        for c in done:
            table.put_chunk(s, c)
        s.add_event(
            "monitored",
            f"{champion.name} monitored on {len(done)} chunk(s)"
            + (f"; {unknown} delayed label id(s) matched no scored row" if unknown else ""),
            ts=now,
            level="warning" if unknown else "info",
            data={
                "version": champion.name,
                "chunks": [c.key for c in done],
                "unknown_ids": unknown,
            },
        )
        for c in done:
            if c.alerts:
                s.add_event(
                    "degradation",
                    f"{champion.name} on {c.key}: "
                    + ", ".join(_said(m) for m in c.metrics if m.alert),
                    ts=now,
                    level="warning",
                    data={"version": champion.name, "chunk": c.key, "alerts": c.alerts},
                )
    outcome = MonitorOutcome(champion.name, tuple(done), unknown, tuple(notes))
    for c in outcome.degraded:
        run_hooks(settings, store, "degradation", degradation_env(champion.name, c))
    return outcome


def _said(m: table.MetricRow) -> str:
    value = m.realized if m.realized is not None else m.estimated
    band = f"[{_num(m.lower)}, {_num(m.upper)}]"
    which = "realized" if m.realized is not None else "estimated"
    return f"{m.name} {which} {_num(value)} outside {band}"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def degradation_env(version: str, c: ChunkRecord) -> dict[str, str]:
    """The hook's event data (``WORKBENCH_*`` once ``run_hooks`` prefixes them)."""
    alerted = [m for m in c.metrics if m.alert]
    values: dict[str, Any] = {
        m.name: m.realized if m.realized is not None else m.estimated for m in alerted
    }
    return {
        "version": version,
        "chunk": c.key,
        "metrics": ",".join(c.alerts),
        "values": json.dumps(values),
        "rows": str(c.rows),
    }


def monitor_quietly(
    settings: Settings, store: Store, champion: VersionRecord | None, **kw: Any
) -> MonitorOutcome:
    """``run_monitor`` for training: a failure is a warning event, never a failed training."""
    try:
        return run_monitor(settings, store, champion, **kw)
    except WorkbenchError as e:
        try:
            with store.write("monitor") as s:
                s.add_event(
                    "monitor_failed",
                    f"monitoring skipped: {e.message}",
                    ts=now_iso(),
                    level="warning",
                    data={"error": e.message, "hint": e.hint},
                )
        except WorkbenchError:
            pass
        return MonitorOutcome(champion.name if champion else None, notes=(e.message,))


def retrain(settings: Settings, store: Store, outcome: MonitorOutcome) -> str | None:
    """With ``retrain_on_degradation``, a training when ``outcome`` found a degradation."""
    if not outcome.degraded or not settings.monitor.retrain_on_degradation:
        return None
    from workbench.pipeline.train import run_train

    trained = run_train(settings, store, force=True)
    v = trained.version or trained.previous
    return f"retrain_on_degradation: {v.name if v else '-'} ({v.status if v else '-'})"


def refresh(
    settings: Settings, store: Store, ref: str | None = None
) -> tuple[VersionRecord, MonitorOutcome]:
    """``workbench monitor``: bring version ``ref``'s results (default: the champion) up to
    date — the newest stored snapshot's files it did not train on, and delayed labels —
    without taking a snapshot. Errors (a bad labels file) are raised, nothing stored."""
    from workbench.errors import UsageError

    with store.read() as s:
        version = s.version(ref) if ref else s.champion()
        latest = s.latest_snapshot_id()
        snap = s.snapshot(latest) if latest else None
    if version is None:
        raise UsageError("nothing to monitor: there is no champion yet", "run `workbench train`")
    if not version.model_hash:
        raise UsageError(f"{version.name} failed to train; it has no model", "pick another version")
    return version, run_monitor(settings, store, version, snap=snap)


def report(settings: Settings, store: Store, version: VersionRecord) -> dict[str, Any]:
    """The ``workbench monitor --json`` shape (README: Outcome monitoring)."""
    ref = reference_of(settings, store, version)
    with store.read() as s:
        found = table.chunks(s, version.number)
    return {
        "version": version.name,
        "metric": settings.gate.metric,
        "reference": {
            "rows": ref.rows,
            "metrics": ref.metrics,
            "se": ref.se,
            "kpis": ref.kpi_values(),
        },
        "chunks": [chunk_json(c) for c in found],
    }


def chunk_json(c: ChunkRecord) -> dict[str, Any]:
    metric_rows = [m for m in c.metrics if m.kind == "metric"]
    kpi_rows = [m for m in c.metrics if m.kind == "kpi"]
    return {
        "key": c.key,
        "source": c.source,
        "start": c.start,
        "end": c.end,
        "rows": c.rows,
        "labelled": c.labelled,
        "realized": (
            {m.name: m.realized for m in metric_rows if m.realized is not None}
            if c.labelled
            else None
        ),
        "estimated": {m.name: m.estimated for m in metric_rows if m.estimated is not None},
        "se": {m.name: m.se for m in metric_rows if m.se is not None},
        "bands": {m.name: [m.lower, m.upper] for m in c.metrics},
        "kpis": {
            m.name[4:]: {"realized": m.realized, "estimated": m.estimated, "se": m.se}
            for m in kpi_rows
        },
        "alerts": c.alerts,
    }


def latest(settings: Settings, store: Store) -> dict[str, Any] | None:
    """``status --json``'s ``monitor``: the champion's newest chunk and its open alerts
    (alerts of its newest chunk per source), or None before anything was monitored."""
    with store.read() as s:
        champion = s.champion()
        if champion is None:
            return None
        found = table.chunks(s, champion.number, limit=50)
    if not found:
        return None
    newest = found[-1]
    open_alerts: list[dict[str, Any]] = []
    for source in ("data", "predictions"):
        mine = [c for c in found if c.source == source]
        if mine and mine[-1].alerts:
            open_alerts += [{"chunk": mine[-1].key, "metric": a} for a in mine[-1].alerts]
    return {
        "version": champion.name,
        "metric": settings.gate.metric,
        "latest": chunk_json(newest),
        "alerts": open_alerts,
    }
