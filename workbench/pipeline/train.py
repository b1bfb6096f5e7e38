"""``workbench train``: snapshot if changed → train → gate → promote or keep → serving export.

Who sees what while this runs: training happens outside any store session (it can take
minutes). The gate is computed against the champion read before the write; inside the write
session the champion is read again, and if another process changed it meanwhile (a rollback
from the TUI) the gate is recomputed against the new one — a decision is never committed
against a champion that is no longer there. Model bytes go to the object store before the
session that references them; the serving link is swapped after the commit (and
``serving.reconcile`` repairs a crash in between).

A training failure is recorded as a ``failed`` version with its reason plus an event; the
champion is untouched. A failed validation is recorded at once (a ``validation_failed`` event);
a passed one is recorded in the same transaction as the version it let through (or its
failure), so the store is not opened once more between validation and training.

Store sessions before LightGBM starts: none when the caller passes a snapshot taken in this
process (its ``SnapshotContext`` holds the champion, the snapshot and the version already
trained on it, read in the snapshot's own session), else one read. The data files come from
the process's frame cache (``profile.frame``), so a snapshot, its validation and its training
read each file once. After training: one write session (the gate decides against the champion
read before training; the session checks it is still the champion, else decides again).

Governance, decided in that same write session (``_governed``): a candidate that wins the gate
is ``held`` while the champion is pinned by a rollback, ``pending`` under
``gate.approval = "manual"`` (then the ``on_pending`` hooks run), else promoted.

After a promotion the new champion's drift reference is built (``prepare_drift``: the CLI
after printing the outcome, a cycle after its last event), so the first drift run against it
does not re-read and score the training rows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from workbench.config import Settings
from workbench.data import snapshot
from workbench.data.reader import snapshot_files, snapshot_hashes, snapshot_settings
from workbench.errors import ConfigError, TrainingError, WorkbenchError
from workbench.model import gate, serving
from workbench.model.loading import LoadedModel, load_version
from workbench.model.train import Progress, Trained, TrainEvents, labelled_rows, train_snapshot
from workbench.monitor import validate
from workbench.pipeline.hooks import run_hooks
from workbench.store import Store, now_iso, os_user
from workbench.store.registry import VersionRecord
from workbench.store.session import Session, SnapshotContext, SnapshotRecord

GATE_RETRIES = 3


@dataclass(frozen=True)
class TrainOutcome:
    snapshot: snapshot.SnapshotResult
    version: VersionRecord | None  # None when the inputs were already trained
    trained: bool
    previous: VersionRecord | None = None  # the version that already covered these inputs
    unlabelled: int = 0  # rows left out of training: their target is missing
    challenger: Challenger | None = None  # ``no_promote``: the run, recorded nowhere

    def to_json(self) -> dict[str, Any]:
        v = self.version or self.previous
        return {
            "snapshot": self.snapshot.id,
            "snapshot_created": self.snapshot.created,
            "trained": self.trained,
            "version": v.to_json() if v else None,
            "rows_without_target": self.unlabelled,
            **({"challenger": self.challenger.to_json()} if self.challenger else {}),
        }


@dataclass(frozen=True)
class Challenger:
    """A ``no_promote`` run (``workbench train --no-promote``, CI): the candidate trained on the
    snapshot and gated against the champion; no version, no champion change, no serving swap
    (the snapshot of the inputs is recorded: that is data versioning)."""

    snapshot: SnapshotRecord
    trained: Trained
    decision: gate.Decision
    champion: VersionRecord | None
    validation: validate.Report

    def to_json(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot.id,
            "metrics": self.trained.metrics,
            "champion": self.champion.name if self.champion else None,
            "gate": self.decision.to_json(),
        }


def prepare_drift(settings: Settings, store: Store, outcome: TrainOutcome) -> bool:
    """After a promotion: the new champion's drift reference, built now — its rows are in this
    process's frame cache and its model is loaded — so the next ``workbench drift`` (or a
    cycle's drift step) does not read and score the training rows again. True if built; a
    failure is left to the next drift run to report (it builds the reference itself)."""
    v = outcome.version
    if v is None or not outcome.trained or v.status != "champion":
        return False
    from workbench.monitor.drift import prepare_reference

    try:
        return prepare_reference(settings, store, v)
    except WorkbenchError:
        return False


def run_train(
    settings: Settings,
    store: Store,
    *,
    force: bool = False,
    progress: Progress | None = None,
    events: TrainEvents | None = None,
    taken: snapshot.SnapshotResult | None = None,
    context: SnapshotContext | None = None,
    no_promote: bool = False,
) -> TrainOutcome:
    """Train the given snapshot (a cycle passes the one it took, with what its session read),
    or snapshot the inputs now. ``events`` names the moments a caller acts on (a cycle runs
    drift beside boosting and waits for it before the gate); ``progress`` alone is display.
    ``no_promote``: train (even inputs trained already) and gate, record no version, leave
    the champion and serving alone; the outcome's ``challenger`` holds the run.
    """
    events = events or TrainEvents(progress=progress)
    given = context is not None
    _say(events, "snapshot")
    started = time.perf_counter()
    if taken is None:
        taken, context = snapshot.take_with_context(settings, store)
    timings = {"snapshot": round(time.perf_counter() - started, 4)}
    if context is None:  # no session was needed for the snapshot: one read for all of it
        with store.read() as s:
            context = s.context(s.snapshot(taken.id))
    if not given and not no_promote:  # a cycle passing its context has repaired serving
        serving.reconcile(store, context.champion)  # a crash between a commit and the swap
    if context.trained_as is not None and not force and not no_promote:
        return TrainOutcome(taken, None, False, previous=context.trained_as)
    snap = context.record
    snap_settings = snapshot_settings(store, snap, settings.root)
    _say(events, "validate")
    validation = _validate(settings, snap_settings, store, context, timings)
    if no_promote:  # a challenger: trained and gated, the registry and serving untouched
        return _challenger(snap_settings, store, taken, context, events, validation[0])
    if not given:  # the champion on what arrived (a cycle monitors after its training)
        _monitor(settings, store, context, events, timings)
    trained = _train(settings, snap_settings, store, snap, events, validation)
    model_hash = store.objects.put_bytes(trained.model_text.encode("utf-8"))
    _keep_holdout_scores(store, trained)
    meta_hash = store.objects.put_bytes(json.dumps(trained.meta).encode())
    events.before_gate()
    _say(events, "gate")
    version = _commit(
        snap_settings,
        store,
        snap,
        trained,
        model_hash,
        meta_hash,
        timings | trained.timings,
        validation,
        context.champion,
    )
    if version.status == "champion":
        serve_champion(settings, store, version)
    elif version.status == "pending":
        _pending(settings, store, version)
    return TrainOutcome(taken, version, True, unlabelled=trained.unlabelled)


def _challenger(
    settings: Settings,
    store: Store,
    taken: snapshot.SnapshotResult,
    context: SnapshotContext,
    events: TrainEvents,
    report: validate.Report,
) -> TrainOutcome:
    """Train and gate without recording: a training failure is raised, not a version."""
    try:
        trained = train_snapshot(settings, store, context.record, events)
    except ConfigError:
        raise
    except WorkbenchError as e:
        raise TrainingError(
            f"training on snapshot {context.record.id} failed: {e.message}", e.hint
        ) from e
    events.before_gate()
    _say(events, "gate")
    _, decision = _gate(settings, store, trained, context.champion)
    run = Challenger(context.record, trained, decision, context.champion, report)
    return TrainOutcome(taken, None, True, unlabelled=trained.unlabelled, challenger=run)


def _monitor(
    settings: Settings,
    store: Store,
    context: SnapshotContext,
    events: TrainEvents,
    timings: dict[str, float],
) -> None:
    """Outcome monitoring before training (``pipeline.monitor_step``): never fails training."""
    from workbench.pipeline.monitor_step import monitor_quietly

    if context.champion is None:
        return
    _say(events, "monitor")
    started = time.perf_counter()
    champion, trained_on = context.champion, context.champion_snapshot
    monitor_quietly(settings, store, champion, snap=context.record, trained_on=trained_on)
    timings["monitor"] = round(time.perf_counter() - started, 4)


def _keep_holdout_scores(store: Store, trained: Trained) -> None:
    """The holdout's targets and the model's scores of them, as an object named in the meta
    (``holdout_scores``): a model card's confidence intervals are then computed from the
    records without LightGBM or the data (``governance.intervals``). Raw little-endian float64:
    ``rows`` targets, then ``rows x columns`` scores, row-major."""
    import numpy as np

    pred = trained.pred_holdout
    if pred is None:
        return
    y = trained.y_holdout[~np.isnan(trained.y_holdout)]
    scores = np.asarray(pred, dtype="<f8")
    if len(y) != len(scores):
        return
    data = np.asarray(y, dtype="<f8").tobytes() + np.ascontiguousarray(scores).tobytes()
    trained.meta["holdout_scores"] = {
        "object": store.objects.put_bytes(data),
        "rows": len(y),
        "columns": 1 if scores.ndim == 1 else int(scores.shape[1]),
        "dtype": "<f8",
    }


def _say(events: TrainEvents, step: str) -> None:
    if events.progress is not None:
        events.progress(step, {})


def _validate(
    settings: Settings,
    snap_settings: Settings,
    store: Store,
    context: SnapshotContext,
    timings: dict[str, float],
) -> tuple[validate.Report, str]:
    """Validate the snapshot against its config and the champion's schema; a failure is
    recorded (with the ``on_failure`` hooks) and raised: the champion stays."""
    started = time.perf_counter()
    champion, champion_snap, snap = context.champion, context.champion_snapshot, context.record
    reference = (
        validate.reference_of(store, champion, champion_snap)
        if champion is not None and champion_snap is not None
        else None
    )
    report = validate.validate(
        snap_settings, snapshot_files(store, snap), reference, hashes=snapshot_hashes(snap)
    )
    timings["validate"] = round(time.perf_counter() - started, 4)
    if not report.ok:
        validate.record(store, report, snap.id)
        failures = "; ".join(c.message for c in report.failures)
        run_hooks(settings, store, "failure", {"stage": "validate", "error": failures})
    validate.raise_on_failure(report)
    # a passed validation is recorded with the version it lets through (one session fewer)
    return report, now_iso()


def _train(
    settings: Settings,
    snap_settings: Settings,
    store: Store,
    snap: SnapshotRecord,
    events: TrainEvents,
    validation: tuple[validate.Report, str],
) -> Trained:
    """LightGBM on the snapshot; a failure is a ``failed`` version (and hooks), raised. A
    config the data cannot satisfy (a target or time column that is not there) is the
    config's error (exit 3) and records no version."""
    try:
        return train_snapshot(snap_settings, store, snap, events)
    except ConfigError:
        raise
    except WorkbenchError as e:
        failed = _record_failure(store, snap, e, validation, snap_settings.train.engine)
        run_hooks(
            settings,
            store,
            "failure",
            {"stage": "train", "error": e.message, "version": failed.name, "snapshot": snap.id},
        )
        raise TrainingError(
            f"training {failed.name} on snapshot {snap.id} failed: {e.message}", e.hint
        ) from e


def serve_champion(
    settings: Settings, store: Store, version: VersionRecord, reason: str | None = None
) -> None:
    """After the commit that made ``version`` champion (the gate, ``promote``, ``approve``):
    serve it, then the ``on_promote`` hooks (``reason``: what they are told, default the
    gate's)."""
    serving.export(store, version)
    env = _hook_env(version) | {"serving_dir": str(serving.serving_dir(store))}
    if reason is not None:
        env["reason"] = reason
    run_hooks(settings, store, "promote", env)


def _commit(
    settings: Settings,
    store: Store,
    snap: SnapshotRecord,
    trained: Trained,
    model_hash: str,
    meta_hash: str,
    timings: dict[str, float],
    validation: tuple[validate.Report, str],
    champion: VersionRecord | None,
) -> VersionRecord:
    """Gate and record the version (after the passed validation's event), in one session.

    ``timings``: snapshot, validate and the training steps. ``champion``: the champion as read
    before training; the write session checks it is still the one, else the gate decides again
    against the new one.
    """
    metric = settings.gate.metric
    for _ in range(GATE_RETRIES):
        champion_number, decision = _gate(settings, store, trained, champion)
        with store.write("train") as s:
            champion = s.champion()
            if (champion.number if champion is not None else None) != champion_number:
                continue  # the champion changed while we were deciding: decide again
            number = s.next_version_number()
            outcome, gate_json = _governed(settings, s, decision)
            record = _new_version(
                snap,
                number,
                outcome=outcome,
                task=trained.model.spec.task,
                metric=metric,
                metrics=trained.metrics,
                gate=gate_json,
                model_hash=model_hash,
                meta_hash=meta_hash,
                rows=trained.rows,
                timings=timings,
                engine=settings.train.engine,
            )
            validate.add_event(s, validation[0], snap.id, ts=validation[1])
            s.insert_version(record)
            _events(s, record, decision)
            if outcome == "promoted":
                s.set_champion(
                    number, ts=now_iso(), actor=os_user(), kind="gate", reason=decision.reason
                )
            return s.version(number)
    raise TrainingError(
        "the champion kept changing while the gate decided",
        "run `workbench train --force` again when no rollback is in progress",
    )


def _gate(
    settings: Settings, store: Store, trained: Trained, champion: VersionRecord | None
) -> tuple[int | None, gate.Decision]:
    metric = settings.gate.metric
    kpi = _kpi_gate(settings, trained)  # gate.metric = "kpi:NAME": scored here, not in model
    score, higher = kpi if kpi is not None else (None, None)
    candidate = trained.metrics[metric]
    if champion is None:
        return None, gate.decide(
            metric, candidate, None, None, settings.gate.min_delta, higher=higher
        )
    loaded: LoadedModel = load_version(store.objects, champion)
    shared = gate.shared_scores(
        trained, loaded, metric, lambda: labelled_rows(store, champion.snapshot_id, loaded), score
    )
    return champion.number, gate.decide(
        metric,
        shared.candidate,
        shared.champion,
        champion.name,
        settings.gate.min_delta,
        shared,
        higher=higher,
    )


def _kpi_gate(settings: Settings, trained: Trained) -> tuple[gate.Score, bool] | None:
    """For ``gate.metric = "kpi:NAME"``: the KPI realized on given rows, and whether higher is
    better; the candidate's metrics gain ``kpi:NAME`` on its whole holdout."""
    metric = settings.gate.metric
    if not metric.startswith("kpi:"):
        return None
    from workbench.monitor.kpi import compile_kpi

    spec = trained.model.spec
    index, wanted = next((i, k) for i, k in enumerate(settings.monitor.kpi) if k.name == metric[4:])
    holdout = trained.holdout
    kpi = compile_kpi(wanted, index, spec.task, list(spec.classes), holdout.columns)
    if metric not in trained.metrics:
        import numpy as np
        import polars as pl

        known = ~np.isnan(trained.y_holdout)
        scores = trained.pred_holdout  # training's own scores of x_holdout
        if scores is None:
            scores = trained.model.predict_matrix(trained.x_holdout)
        rows = holdout.filter(pl.Series(known))
        trained.metrics[metric] = kpi.realized(rows, trained.y_holdout[known], scores)
    return kpi.realized, wanted.direction == "higher_is_better"


def _events(s: Session, v: VersionRecord, decision: gate.Decision) -> None:
    scores = ", ".join(f"{k}={val:.4f}" for k, val in v.metrics.items())
    s.add_event(
        "trained",
        f"trained {v.name}: {scores}",
        ts=now_iso(),
        snapshot_id=v.snapshot_id,
        data={"version": v.name, "metrics": v.metrics, "timings": v.timings},
    )
    kind = v.outcome  # promoted | rejected | held | pending
    s.add_event(
        kind,
        f"{kind} {v.name}: {decision.reason}"
        + (f" (champion v{v.gate['pinned']} is pinned)" if v.gate and "pinned" in v.gate else ""),
        ts=now_iso(),
        snapshot_id=v.snapshot_id,
        data={"version": v.name, "gate": v.gate or decision.to_json()},
    )


def _governed(
    settings: Settings, s: Session, decision: gate.Decision
) -> tuple[str, dict[str, Any]]:
    """The recorded outcome of a gate decision, read in the commit's session: a winner is
    ``held`` while the champion is pinned (a rollback), ``pending`` under manual approval,
    else ``promoted``. The gate's numbers are kept either way; ``decision`` says what
    happened (``governance.py`` in the store states how the pin is derived)."""
    gate_json = decision.to_json()
    if not decision.promote:
        return "rejected", gate_json
    pin = s.pin()
    if pin is not None:
        return "held", gate_json | {"decision": "held", "pinned": pin.number}
    if settings.gate.approval == "manual":
        return "pending", gate_json | {"decision": "pending"}
    return "promoted", gate_json


def _pending(settings: Settings, store: Store, version: VersionRecord) -> None:
    """After the commit of a ``pending`` version: the ``on_pending`` hooks."""
    run_hooks(settings, store, "pending", _hook_env(version))


def _hook_env(version: VersionRecord) -> dict[str, str]:
    """What the ``on_promote`` and ``on_pending`` hooks are told of a gated version."""
    return {
        "version": version.name,
        "snapshot": version.snapshot_id,
        "metric": version.metric,
        "score": str(version.metrics.get(version.metric, "")),
        "reason": (version.gate or {}).get("reason", ""),
    }


def _record_failure(
    store: Store,
    snap: SnapshotRecord,
    error: WorkbenchError,
    validation: tuple[validate.Report, str],
    engine: str = "local",
) -> VersionRecord:
    with store.write("train failed") as s:
        validate.add_event(s, validation[0], snap.id, ts=validation[1])
        number = s.next_version_number()
        record = _new_version(snap, number, outcome="failed", error=error.message, engine=engine)
        s.insert_version(record)
        s.add_event(
            "train_failed",
            f"training v{number} failed: {error.message}",
            ts=now_iso(),
            level="error",
            snapshot_id=snap.id,
            data={"version": f"v{number}", "hint": error.hint},
        )
        return s.version(number)


def _new_version(snap: SnapshotRecord, number: int, **fields: Any) -> VersionRecord:
    """A registry record for ``snap``; fields not given are those of a version without a model."""
    empty: dict[str, Any] = {
        "task": "",
        "metric": "",
        "metrics": {},
        "gate": None,
        "model_hash": None,
        "meta_hash": None,
        "rows": None,
        "timings": {},
        "error": None,
    }
    return VersionRecord(
        number=number,
        snapshot_id=snap.id,
        config_hash=snap.config_hash,
        git_commit=snap.git_commit,
        git_dirty=snap.git_dirty,
        created_at=now_iso(),
        created_by=os_user(),
        **(empty | fields),
    )
