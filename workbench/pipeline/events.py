"""The records a cycle reports, and the one place that builds them.

``CycleEvent`` is what the front ends print (``watch --json``) or post (the TUI), and what the
store keeps in its ``events`` table. ``step``, ``finished`` and ``failed`` build the step and
``cycle_finished`` events; the watch loop uses ``failed`` too when a cycle cannot start (a
broken config), so a failure looks the same in ``status``, the TUI and the JSON lines wherever
it happened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import WorkbenchError
from workbench.store import now_iso

CYCLE_FINISHED = "cycle_finished"


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


def step(name: str, t0: float, message: str, data: dict[str, Any]) -> CycleEvent:
    """A step that completed, timed from ``t0`` (``time.perf_counter``)."""
    seconds = round(time.perf_counter() - t0, 3)
    return CycleEvent(
        "step",
        f"{name}: {message} ({seconds:.2f}s)",
        data={"step": name, "seconds": seconds, "outcome": "ok", **data},
    )


def finished(
    started: float,
    outcome: str,
    message: str,
    level: str = "info",
    data: dict[str, Any] | None = None,
) -> CycleEvent:
    """``cycle_finished`` with its outcome (promoted | kept | nothing to do | cancelled)."""
    seconds = round(time.perf_counter() - started, 3)
    return CycleEvent(
        CYCLE_FINISHED,
        f"cycle {outcome}: {message}",
        level=level,
        data={"outcome": outcome, "seconds": seconds, **(data or {})},
    )


def recovered(started: float, snapshot_id: str, version: str, failure: str) -> CycleEvent:
    """``cycle_finished`` with outcome ``recovered``: the inputs are back to a trained snapshot
    after a failed cycle (the broken batch removed, the config fixed), so the failure no longer
    stands; ``status``, the TUI and ``watch --json`` say so instead of "last cycle failed"."""
    return finished(
        started,
        "recovered",
        f"the inputs are valid again (snapshot {snapshot_id}, trained as {version});"
        " the last failure no longer applies",
        data={"snapshot": snapshot_id, "version": version, "failure": failure},
    )


def failed(started: float, step_name: str, error: WorkbenchError) -> CycleEvent:
    """``cycle_finished`` with outcome ``failed``: the step, the message, hint and exit code."""
    return finished(
        started,
        "failed",
        f"{step_name} failed: {error.message}",
        level="error",
        data={
            "step": step_name,
            "hint": error.hint,
            "error": type(error).__name__,
            "exit_code": int(error.exit_code),
        },
    )
