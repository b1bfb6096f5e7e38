"""One cycle: validate → snapshot → drift → train → gate → promote/keep → hooks.

``run_cycle`` is what the watch loop (and so ``workbench watch`` and the TUI) runs when the
inputs settle. It yields ``CycleEvent``s as it goes — the front ends print or post them — and
records every step in the store as an event with its timing and outcome, between a
``cycle_started`` and a ``cycle_finished`` event that share a cycle id (built by ``events``).

Recording: the ``cycle_started`` and snapshot events are held back until the snapshot shows
there is work to do; a cycle that finds its inputs already trained ("nothing to do") yields its
events to the front end and writes nothing, so opening a TUI or restarting a watcher does not
fill the history with empty cycles — unless the last recorded cycle failed: then it is the
recovery (the broken batch removed, the config fixed) and is recorded as ``recovered``. Each
store session opens DuckDB, so the time before training holds as few as can be: the cycle's
events ride in the steps' own transactions, and what drift and training need to know (the
champion, its snapshot and drift records) is read in the snapshot's own session
(``SnapshotContext``):
a new snapshot's transaction also records the held events and the snapshot step, the drift
result's transaction records the drift step (``also=`` of ``snapshot.take`` and
``run_drift``). Whatever is still held is flushed before training starts, so a cycle killed
during training is always found by ``mark_interrupted``. A failure writes the held events
with it.

Failure handling: a ``WorkbenchError`` in any step ends the cycle with ``cycle_finished``
(outcome ``failed``, the message and hint; any other exception is a bug, reported the same way
with exit code 1, so a watcher outlives it); the champion and history stay as they were, since
every earlier step only wrote whole records. A cycle whose process died (``kill -9``) leaves a
``cycle_started`` without a finish; ``mark_interrupted`` records ``cycle_interrupted`` for it
on the next start. Validation and training, gate and promotion run inside
``pipeline.train.run_train`` (one place for their rules). Outcome monitoring
(``pipeline.monitor_step``) scores the arriving files with the champion of before the cycle —
the model before any retraining — once ``cycle_finished`` is out, so that it opens no store
session before training; ``workbench train`` alone runs it between validation and training. A
cycle whose inputs are already trained still joins delayed labels (``[monitor] labels``) when
they are configured, and trains when a degradation they show asks for it
(``retrain_on_degradation``).

Drift (when there is a champion to compare with) runs in a thread beside training rather than
before it: nothing in training depends on it, and it would otherwise delay every training by
its compute and its store session. It starts when boosting does (LightGBM leaves the GIL to it
then; started earlier it slows validation and encoding, which hold it), or once training has
stopped if that happens before boosting. Training's named moments (``TrainEvents``:
``boosting_started``, ``before_gate``) say when, never the names of displayed steps. The gate
waits for it (``before_gate`` joins the thread), so a drift failure still ends the cycle
before anything is recorded for the candidate, and the drift step is recorded before the train
step; the ``on_drift`` hooks run in that thread. Store sessions of the two threads serialise
on the store's lock as any two processes' do. Where OpenMP was asked to spin
(``OMP_WAIT_POLICY`` is not ``PASSIVE``, which importing workbench sets unless the user chose),
drift runs before training instead: LightGBM's spinning threads would starve it and
themselves. After a promotion, once ``cycle_finished`` is out, the new champion's drift
reference is built (``drift.prepare_reference``), so the next cycle's drift does not build it.

Progress: ``progress(step, info)`` is called as each step starts and on every boosting round
(``info = {"round": r, "total": n}``); the front end shows it. It may raise ``Cancelled`` (the
TUI does when it closes mid-cycle): the cycle then ends as ``cancelled`` — training abandoned,
nothing half-recorded, the champion as it was.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from workbench.config import Settings
from workbench.data import snapshot
from workbench.errors import WorkbenchError
from workbench.model import serving
from workbench.model.train import TrainEvents
from workbench.pipeline import events
from workbench.pipeline.events import CycleEvent
from workbench.pipeline.train import TrainOutcome, prepare_drift, run_train
from workbench.store import Store, now_iso

if TYPE_CHECKING:
    from workbench.model.train import Progress
    from workbench.store.drift import DriftResult
    from workbench.store.session import Session, SnapshotContext


class Cancelled(Exception):
    """Raised by a progress callback to abandon the running cycle."""


def run_cycle(
    settings: Settings,
    store: Store,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> Iterator[CycleEvent]:
    """Run one cycle, yielding its events; never raises a ``WorkbenchError``."""
    run = _Cycle(settings, store, progress)
    yield run.journal.hold(CycleEvent("cycle_started", f"cycle {run.journal.cycle} started"))
    try:
        snap, context = yield from run.snapshot_step()
        if context.trained_as is not None and not force:
            # delayed labels may still have come: a degradation they show may ask to retrain
            force = yield from run.delayed_labels(context)
            if not force:
                yield run.nothing_to_do(snap.id, context.trained_as.name)
                return
        run.journal.flush()  # the cycle does work from here on: its start is durable first
        if context.champion is not None:
            run.start_drift(snap, context)
        outcome = run.train(snap, context, force)
        yield from run.finish(outcome, context)
    except Cancelled:
        yield from run.end(run.cancelled())
    except WorkbenchError as e:
        yield from run.end(events.failed(run.started, run.step, e))
    except Exception as e:  # a bug: the watcher records it as a failed cycle and lives on
        bug = WorkbenchError(
            f"internal error: {type(e).__name__}: {e}",
            "this is a workbench bug: please report it with the events of this cycle",
        )
        yield from run.end(events.failed(run.started, run.step, bug))


class _Cycle:
    """The state of one running cycle: its journal, the step it is in, drift beside it."""

    def __init__(self, settings: Settings, store: Store, progress: Progress | None) -> None:
        self.settings, self.store, self.progress = settings, store, progress
        self.journal = _Journal(store, uuid.uuid4().hex[:12])
        self.started = time.perf_counter()
        self.step = "snapshot"
        self.drift: _Beside | None = None
        self.training_started = 0.0

    def report(self, name: str) -> None:
        if self.progress is not None:
            self.progress(name, {})

    def snapshot_step(
        self,
    ) -> Generator[CycleEvent, None, tuple[snapshot.SnapshotResult, SnapshotContext]]:
        """The snapshot step: yields its event, returns the snapshot and the store's records
        beside it (read in the snapshot's own session when it opened one)."""
        self.report("snapshot")
        t = time.perf_counter()
        written: list[CycleEvent] = []

        def event(sid: str, created: bool) -> CycleEvent:
            note = " (new)" if created else " (unchanged)"
            return events.step("snapshot", t, f"snapshot {sid}{note}", {"snapshot": sid})

        def with_snapshot(s: Session, sid: str) -> None:  # a new snapshot: work to do
            written.append(self.journal.write_in(s, [event(sid, True)])[0])

        snap, context = snapshot.take_with_context(self.settings, self.store, also=with_snapshot)
        if written:  # committed with the snapshot
            self.journal.committed()
        yield written[0] if written else self.journal.hold(event(snap.id, snap.created))
        if context is None:  # no session was needed: nothing moved since the last snapshot
            with self.store.read() as s:
                context = s.context(s.snapshot(snap.id))
        serving.reconcile(self.store, context.champion)  # a crash after a commit: repaired
        return snap, context

    def delayed_labels(self, context: SnapshotContext) -> Generator[CycleEvent, None, bool]:
        """Inputs already trained: the champion on delayed labels (``pipeline.monitor_step``);
        True when a degradation asks for a training (``retrain_on_degradation``)."""
        from workbench.pipeline.monitor_step import monitor_quietly

        if not self.settings.monitor.labels or context.champion is None:
            return False
        self.report("monitor")
        t = time.perf_counter()
        outcome = monitor_quietly(self.settings, self.store, context.champion)
        if outcome.chunks:
            said = f"{outcome.version} monitored on {len(outcome.chunks)} chunk(s)"
            degraded = [c.key for c in outcome.degraded]
            yield events.step(
                "monitor",
                t,
                said + (f"; degradation on {', '.join(degraded)}" if degraded else ""),
                {"chunks": [c.key for c in outcome.chunks], "degraded": degraded},
            )
        return bool(outcome.degraded) and self.settings.monitor.retrain_on_degradation

    def nothing_to_do(self, sid: str, version: str) -> CycleEvent:
        """Nothing to train: written nowhere, unless the last recorded cycle failed — then
        these inputs mean the failure is over, and the cycle is recorded as ``recovered``."""
        last = None
        # a busy store: the next such cycle says it
        with contextlib.suppress(WorkbenchError), self.store.read() as s:
            last = s.last_event(events.CYCLE_FINISHED)
        if last is not None and last.level == "error":
            return self.journal.record(events.recovered(self.started, sid, version, last.message))
        self.journal.drop()
        return events.finished(
            self.started, "nothing to do", f"snapshot {sid} is already trained as {version}"
        )

    def start_drift(self, snap: snapshot.SnapshotResult, context: SnapshotContext) -> None:
        """Drift beside training (from ``boosting_started``), or here and now where OpenMP
        threads spin (they would starve it)."""
        self.report("drift")
        self.drift = _Beside(
            lambda: _drift_step(self.settings, self.store, snap, context, self.journal)
        )
        if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
            self.step = "drift"
            self.drift.run_here()
            self.drift.wait()

    def train(
        self, snap: snapshot.SnapshotResult, context: SnapshotContext, force: bool
    ) -> TrainOutcome:
        self.step = "train"
        drift = self.drift

        def before_gate() -> None:  # the gate waits for drift; its failure fails the cycle
            if drift is not None:
                self.step = "drift"
                drift.wait()
                self.step = "train"

        named = (
            TrainEvents(self.progress, boosting_started=drift.start, before_gate=before_gate)
            if drift is not None
            else TrainEvents(self.progress)
        )
        self.training_started = time.perf_counter()
        try:
            outcome = run_train(
                self.settings, self.store, force=force, events=named, taken=snap, context=context
            )
        finally:  # whatever happened to training, drift has ended before anything else
            if drift is not None:
                drift.run_here()  # training stopped before boosting: drift runs now
                drift.join()
        return outcome

    def finish(
        self, outcome: TrainOutcome, context: SnapshotContext | None = None
    ) -> Iterator[CycleEvent]:
        yield from self.late()
        if self.drift is not None:
            self.drift.wait()
        v = outcome.version or outcome.previous
        assert v is not None
        gate = v.gate or {}
        score = v.metrics.get(v.metric, float("nan"))
        yield self.journal.record(
            events.step(
                "train",
                self.training_started,
                f"{v.name} {v.metric}={score:.4f}:"
                f" {gate.get('decision', 'kept')} ({gate.get('reason', '')})",
                {"version": v.name, "status": v.status, "metrics": v.metrics},
            )
        )
        promoted = v.status == "champion"
        yield self.journal.record(
            events.finished(
                self.started, "promoted" if promoted else "kept", f"{v.name} is {v.status}"
            )
        )
        if context is not None and context.champion is not None:
            # the champion of before this training, on the files it did not train on: after
            # the cycle, so that it opens no store session before training (its result is
            # the same whenever it is computed; a failed cycle leaves it to the next one)
            from workbench.pipeline.monitor_step import monitor_quietly

            monitor_quietly(
                self.settings,
                self.store,
                context.champion,
                snap=context.record,
                trained_on=context.champion_snapshot,
            )
        # after the cycle: the next one's drift step finds the new champion's reference ready
        prepare_drift(self.settings, self.store, outcome)

    def cancelled(self) -> CycleEvent:
        return events.finished(
            self.started,
            "cancelled",
            f"stopped during {self.step}; nothing was recorded for it",
            level="warning",
            data={"step": self.step},
        )

    def end(self, last: CycleEvent) -> Iterator[CycleEvent]:
        """A failed or cancelled cycle: a drift step that completed beside it, then ``last``."""
        yield from self.late()
        yield self.journal.record(last)

    def late(self) -> list[CycleEvent]:
        return self.drift.events() if self.drift is not None else []


def _drift_step(
    settings: Settings,
    store: Store,
    snap: snapshot.SnapshotResult,
    context: SnapshotContext,
    journal: _Journal,
) -> list[CycleEvent]:
    """The drift step (run beside training): the result, its step event, the drift hooks."""
    from workbench.monitor.drift import run_drift
    from workbench.pipeline.on_drift import act_on_drift

    t = time.perf_counter()
    written: list[CycleEvent] = []

    def drift_event(result: DriftResult) -> CycleEvent:
        share = result.drift_share
        return events.step(
            "drift",
            t,
            f"drift share {share:.2f}" + (" — dataset drift" if result.dataset_drift else ""),
            {"dataset_drift": result.dataset_drift, "drift_share": share},
        )

    def with_drift(s: Session, result: DriftResult) -> None:  # in the result's transaction
        written.extend(journal.write_in(s, [drift_event(result)], held=False))

    result = run_drift(settings, store, taken=snap, context=context, also=with_drift).result
    if not written:  # a stored result was returned (nothing written): record the step alone
        written.append(journal.record(drift_event(result), held=False))
    if result.dataset_drift:
        act_on_drift(settings, store, result, retrain=False)  # training runs anyway
    return written


class _Beside:
    """A step run in a thread beside training: ``start`` it (or ``run_here``, once, if it
    has not started); ``wait`` joins it and re-raises its error."""

    def __init__(self, fn: Callable[[], list[CycleEvent]]) -> None:
        self._fn = fn
        self._events: list[CycleEvent] = []
        self._error: BaseException | None = None
        self._taken = False
        self._begun = False
        self._thread = threading.Thread(target=self._run, name="workbench-drift", daemon=True)

    def start(self) -> None:
        if not self._begun:
            self._begun = True
            self._thread.start()

    def run_here(self) -> None:
        if not self._begun:
            self._begun = True
            self._run()

    def _run(self) -> None:
        try:
            self._events = self._fn()
        except BaseException as e:  # re-raised in the cycle's thread by wait()
            self._error = e

    def join(self) -> None:
        if self._thread.ident is not None:  # started (not run in place)
            self._thread.join()

    def wait(self) -> None:
        self.join()
        if self._error is not None:
            raise self._error

    def events(self) -> list[CycleEvent]:
        """Its events once it has ended, each given out once."""
        self.join()
        if self._taken:
            return []
        self._taken = True
        return self._events


class _Journal:
    """Writes a cycle's events to the store; events can be held and written with the next."""

    def __init__(self, store: Store, cycle: str) -> None:
        self.store, self.cycle = store, cycle
        self.held: list[CycleEvent] = []

    def hold(self, ev: CycleEvent) -> CycleEvent:
        self.held.append(ev)
        return ev

    def drop(self) -> None:
        self.held = []

    def flush(self) -> None:
        if self.held:
            self._write([])

    def record(self, ev: CycleEvent, *, held: bool = True) -> CycleEvent:
        """Store the held events (unless ``held=False``) and ``ev`` in one session; if the
        store itself fails, the front end still gets the event, saying so."""
        return self._write([ev], held)[0]

    def write_in(self, s: Session, new: list[CycleEvent], *, held: bool = True) -> list[CycleEvent]:
        """Add the held events (unless ``held=False``) and ``new`` to a session (a step's
        own transaction). The held events stay held until it has committed (``committed``).
        """
        for ev in [*self.held, *new] if held else new:
            s.add_event(
                ev.event,
                ev.message,
                ts=ev.ts,
                level=ev.level,
                data={"cycle": self.cycle, **ev.data},
            )
        return new

    def committed(self) -> None:
        self.held = []

    def _write(self, new: list[CycleEvent], held: bool = True) -> list[CycleEvent]:
        try:
            with self.store.write(new[-1].event if new else "cycle") as s:
                self.write_in(s, new, held=held)
            if held:
                self.held = []
            return new
        except WorkbenchError as e:
            return [
                replace(ev, level="error", data={**ev.data, "not_recorded": e.message})
                for ev in new
            ]


def failed_to_start(store: Store, step: str, error: WorkbenchError) -> CycleEvent:
    """A cycle that could not start (the watch loop found the config broken): recorded as a
    failed ``cycle_finished`` like any other failure; a store too busy to record it is said in
    the event (``not_recorded``), never raised."""
    return _Journal(store, uuid.uuid4().hex[:12]).record(
        events.failed(time.perf_counter(), step, error)
    )


def mark_interrupted(store: Store) -> list[str]:
    """Record ``cycle_interrupted`` for every cycle that started and never finished."""
    with store.write("recover") as s:
        unfinished = s.unfinished_cycles()
        for cycle, ts in unfinished:
            s.add_event(
                "cycle_interrupted",
                f"cycle {cycle} (started {ts}) was interrupted",
                ts=now_iso(),
                level="warning",
                data={"cycle": cycle},
            )
    return [cycle for cycle, _ in unfinished]
