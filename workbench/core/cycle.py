"""One cycle: validate → snapshot → drift → train → gate → promote/keep → hooks.

``run_cycle`` is what the watch loop (and so ``workbench watch`` and the TUI) runs when the
inputs settle. It yields ``CycleEvent``s as it goes — the front ends print or post them — and
records every step in the store as an event with its timing and outcome, between a
``cycle_started`` and a ``cycle_finished`` event that share a cycle id.

Recording: the ``cycle_started`` and snapshot events are held back until the snapshot shows
there is work to do, then written together in one store session (one fewer session before
training); a cycle that finds its inputs already trained ("nothing to do") yields its events to
the front end and writes nothing, so opening a TUI or restarting a watcher does not fill the
history with empty cycles. A failure in the snapshot step writes the held events with it.

Failure handling: a ``WorkbenchError`` in any step ends the cycle with ``cycle_finished``
(outcome ``failed``, the message and hint); the champion and history stay as they were, since
every earlier step only wrote whole records. A cycle whose process died (``kill -9``) leaves a
``cycle_started`` without a finish; ``mark_interrupted`` records ``cycle_interrupted`` for it
on the next start. Validation and training, gate and promotion run inside
``trainer.run_train`` (one place for their rules); drift runs before training when there is a
champion to compare with.

Progress: ``progress(step, info)`` is called as each step starts and on every boosting round
(``info = {"round": r, "total": n}``); the front end shows it. It may raise ``Cancelled`` (the
TUI does when it closes mid-cycle): the cycle then ends as ``cancelled`` — training abandoned,
nothing half-recorded, the champion as it was.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from workbench.config import Settings
from workbench.core import snapshot
from workbench.errors import WorkbenchError
from workbench.store import Store, now_iso

if TYPE_CHECKING:
    from workbench.core.train import Progress


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
    from workbench.core.drift import act_on_drift, run_drift
    from workbench.core.trainer import run_train

    def report(name: str, info: dict[str, Any] | None = None) -> None:
        if progress is not None:
            progress(name, info or {})

    cycle = uuid.uuid4().hex[:12]
    journal = _Journal(store, cycle)
    started = time.perf_counter()
    yield journal.hold(CycleEvent("cycle_started", f"cycle {cycle} started"))
    step = "snapshot"
    try:
        report(step)
        t = time.perf_counter()
        snap = snapshot.take(settings, store)
        yield journal.hold(
            _step_event(
                step,
                t,
                f"snapshot {snap.id}" + (" (new)" if snap.created else " (unchanged)"),
                {"snapshot": snap.id},
            )
        )
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
        journal.flush()  # the cycle does work from here on: make its start durable
        if has_champion:
            step = "drift"
            report(step)
            t = time.perf_counter()
            drift = run_drift(settings, store, taken=snap).result
            share = drift["drift_share"]
            yield journal.record(
                _step_event(
                    step,
                    t,
                    f"drift share {share:.2f}"
                    + (" — dataset drift" if drift["dataset_drift"] else ""),
                    {"dataset_drift": drift["dataset_drift"], "drift_share": share},
                )
            )
            if drift["dataset_drift"]:
                act_on_drift(settings, store, drift, retrain=False)  # training follows anyway
        step = "train"
        t = time.perf_counter()
        outcome = run_train(settings, store, force=force, taken=snap, progress=progress)
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
    except Cancelled:
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

    def record(self, ev: CycleEvent) -> CycleEvent:
        """Store the held events and ``ev`` in one session; if the store itself fails, the
        front end still gets the event, saying so."""
        return self._write([ev])[0]

    def _write(self, new: list[CycleEvent]) -> list[CycleEvent]:
        events, self.held = [*self.held, *new], []
        try:
            with self.store.write(events[-1].event) as s:
                for ev in events:
                    s.add_event(
                        ev.event,
                        ev.message,
                        ts=ev.ts,
                        level=ev.level,
                        data={"cycle": self.cycle, **ev.data},
                    )
        except WorkbenchError as e:
            return [
                replace(ev, level="error", data={**ev.data, "not_recorded": e.message})
                for ev in new
            ]
        return new


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
