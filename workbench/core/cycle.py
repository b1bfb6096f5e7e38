"""One cycle: validate → snapshot → drift → train → gate → promote/keep → hooks.

``run_cycle`` is what the watch loop (and so ``workbench watch`` and the TUI) runs when the
inputs settle. It yields ``CycleEvent``s as it goes — the front ends print or post them — and
records every step in the store as an event with its timing and outcome, between a
``cycle_started`` and a ``cycle_finished`` event that share a cycle id.

Recording: the ``cycle_started`` and snapshot events are held back until the snapshot shows
there is work to do; a cycle that finds its inputs already trained ("nothing to do") yields its
events to the front end and writes nothing, so opening a TUI or restarting a watcher does not
fill the history with empty cycles. Sessions are what the time before training goes to (each
one opens DuckDB: ~20-30 ms here), so the cycle's events ride in the steps' own transactions:
a new snapshot's transaction also records the held events and the snapshot step, the drift
result's transaction records the drift step (``also=`` of ``snapshot.take`` and
``run_drift``). Whatever is still held is flushed before training starts, so a cycle killed
during training is always found by ``mark_interrupted``. A failure writes the held events
with it.

Failure handling: a ``WorkbenchError`` in any step ends the cycle with ``cycle_finished``
(outcome ``failed``, the message and hint); the champion and history stay as they were, since
every earlier step only wrote whole records. A cycle whose process died (``kill -9``) leaves a
``cycle_started`` without a finish; ``mark_interrupted`` records ``cycle_interrupted`` for it
on the next start. Validation and training, gate and promotion run inside
``trainer.run_train`` (one place for their rules).

Drift (when there is a champion to compare with) runs in a thread beside training rather than
before it: nothing in training depends on it, and it would otherwise delay every training by
its compute and its store session. It starts when boosting does (LightGBM leaves the GIL to it
then; started earlier it slows validation and encoding, which hold it), or once training has
stopped if that happens before boosting. The gate waits for it (``train_progress`` joins the thread
at the ``gate`` step), so a drift failure still ends the cycle before anything is recorded for
the candidate, and the drift step is recorded before the train step; the ``on_drift`` hooks run
in that thread. Store sessions of the two threads serialise on the store's lock as any two
processes' do. Where OpenMP was asked to spin (``OMP_WAIT_POLICY`` is not ``PASSIVE``, which
importing workbench sets unless the user chose), drift runs before training instead: LightGBM's
spinning threads would starve it and themselves. After a promotion, once ``cycle_finished`` is
out, the new champion's drift reference is built (``drift.prepare_reference``), so the next
cycle's drift does not build it.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from workbench.config import Settings
from workbench.core import snapshot
from workbench.errors import WorkbenchError
from workbench.store import Store, now_iso

if TYPE_CHECKING:
    from workbench.core.train import Progress
    from workbench.store.session import Session


class Cancelled(Exception):
    """Raised by a progress callback to abandon the running cycle."""


@dataclass(frozen=True)
class CycleEvent:
    event: str
    message: str
    level: str = "info"
    data: dict[str, Any] = field(default_factory=dict)
    ts: str = field(default_factory=now_iso)

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "event": self.event,
            "level": self.level,
            "message": self.message,
            **self.data,
        }


def run_cycle(
    settings: Settings,
    store: Store,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> Iterator[CycleEvent]:
    """Run one cycle, yielding its events; never raises a ``WorkbenchError``."""
    from workbench.core.drift import prepare_reference
    from workbench.core.trainer import run_train

    def report(name: str, info: dict[str, Any] | None = None) -> None:
        if progress is not None:
            progress(name, info or {})

    cycle = uuid.uuid4().hex[:12]
    journal = _Journal(store, cycle)
    started = time.perf_counter()
    yield journal.hold(CycleEvent("cycle_started", f"cycle {cycle} started"))
    step = "snapshot"
    drift: _Beside | None = None
    try:
        report(step)
        t = time.perf_counter()
        written: list[CycleEvent] = []

        def snapshot_event(sid: str, created: bool) -> CycleEvent:
            note = " (new)" if created else " (unchanged)"
            return _step_event("snapshot", t, f"snapshot {sid}{note}", {"snapshot": sid})

        def with_snapshot(s: Session, sid: str) -> None:  # a new snapshot: work to do
            written.append(journal.write_in(s, [snapshot_event(sid, True)])[0])

        snap = snapshot.take(settings, store, also=with_snapshot)
        if written:  # committed with the snapshot
            journal.committed()
        yield written[0] if written else journal.hold(snapshot_event(snap.id, snap.created))
        if snap.seen is not None:  # read in the snapshot's own session
            has_champion = snap.seen.champion is not None
            done = snap.seen.trained_as
        else:
            with store.read() as s:
                has_champion = s.champion_number() is not None
                done = s.version_for_snapshot(snap.id)
        if done is not None and not force:
            journal.drop()
            yield _finish_event(
                started, "nothing to do", f"snapshot {snap.id} is already trained as {done.name}"
            )
            return
        journal.flush()  # the cycle does work from here on: its start is durable before training
        if has_champion:
            report("drift")
            drift = _Beside(lambda: _drift_step(settings, store, snap, journal))
            if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
                # spinning OpenMP threads would starve it: drift first, then training
                step = "drift"
                drift.run_here()
                drift.wait()
        step = "train"
        t = time.perf_counter()

        def train_progress(name: str, info: dict[str, Any]) -> None:
            nonlocal step
            if drift is not None and name == "train" and not info:
                drift.start()  # boosting starts: LightGBM leaves the GIL to drift from here
            if name == "gate" and drift is not None:  # the gate waits for drift
                step = "drift"
                drift.wait()  # a drift failure raises here: the cycle fails before the gate
                step = "train"
            if progress is not None:
                progress(name, info)

        try:
            outcome = run_train(settings, store, force=force, taken=snap, progress=train_progress)
        finally:  # whatever happened to training, drift has ended before anything else is written
            if drift is not None:
                drift.run_here()  # training stopped before boosting: drift runs now
                drift.join()
        yield from _late(drift)
        if drift is not None:
            drift.wait()
        v = outcome.version or outcome.previous
        assert v is not None
        gate = v.gate or {}
        yield journal.record(
            _step_event(
                "train",
                t,
                f"{v.name} {v.metric}={v.metrics.get(v.metric, float('nan')):.4f}:"
                f" {gate.get('decision', 'kept')} ({gate.get('reason', '')})",
                {"version": v.name, "status": v.status, "metrics": v.metrics},
            )
        )
        yield journal.record(
            _finish_event(
                started,
                "promoted" if v.status == "champion" else "kept",
                f"{v.name} is {v.status}",
            )
        )
        if v.status == "champion" and outcome.trained:
            # after the cycle: the next one's drift step finds the new champion's reference
            # ready instead of building it. A failure here is the next drift step's to report.
            with contextlib.suppress(WorkbenchError):
                prepare_reference(settings, store, v)
    except Cancelled:
        yield from _late(drift)
        yield journal.record(
            _finish_event(
                started,
                "cancelled",
                f"stopped during {step}; nothing was recorded for it",
                level="warning",
                data={"step": step},
            )
        )
    except WorkbenchError as e:
        yield from _late(drift)
        yield journal.record(
            _finish_event(
                started,
                "failed",
                f"{step} failed: {e.message}",
                level="error",
                data={
                    "step": step,
                    "hint": e.hint,
                    "error": type(e).__name__,
                    "exit_code": int(e.exit_code),
                },
            )
        )


def _drift_step(
    settings: Settings, store: Store, snap: snapshot.SnapshotResult, journal: _Journal
) -> list[CycleEvent]:
    """The drift step (run beside training): the result, its step event, the drift hooks."""
    from workbench.core.drift import act_on_drift, run_drift

    t = time.perf_counter()
    written: list[CycleEvent] = []

    def drift_event(result: dict[str, Any]) -> CycleEvent:
        share = result["drift_share"]
        return _step_event(
            "drift",
            t,
            f"drift share {share:.2f}" + (" — dataset drift" if result["dataset_drift"] else ""),
            {"dataset_drift": result["dataset_drift"], "drift_share": share},
        )

    def with_drift(s: Session, result: dict[str, Any]) -> None:  # in the result's transaction
        written.extend(journal.write_in(s, [drift_event(result)], held=False))

    result = run_drift(settings, store, taken=snap, also=with_drift).result
    if not written:  # a stored result was returned (nothing written): record the step alone
        written.append(journal.record(drift_event(result), held=False))
    if result["dataset_drift"]:
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


def _late(drift: _Beside | None) -> list[CycleEvent]:
    """A failed or cancelled cycle still reports a drift step that completed beside it."""
    return drift.events() if drift is not None else []


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


def _step_event(step: str, t0: float, message: str, data: dict[str, Any]) -> CycleEvent:
    seconds = round(time.perf_counter() - t0, 3)
    return CycleEvent(
        "step",
        f"{step}: {message} ({seconds:.2f}s)",
        data={"step": step, "seconds": seconds, "outcome": "ok", **data},
    )


def _finish_event(
    started: float,
    outcome: str,
    message: str,
    level: str = "info",
    data: dict[str, Any] | None = None,
) -> CycleEvent:
    seconds = round(time.perf_counter() - started, 3)
    return CycleEvent(
        "cycle_finished",
        f"cycle {outcome}: {message}",
        level=level,
        data={"outcome": outcome, "seconds": seconds, **(data or {})},
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
