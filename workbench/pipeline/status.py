"""The store's state now: one reader for ``workbench status``, ``history`` and the TUI.

``read_state`` reads everything a status line or a paint needs in one shared-lock session
(so it runs beside a watcher and the TUI) into a frozen ``State``; ``status`` turns it into the
``status --json`` shape of PRODUCT.md and the TUI's ``view.load`` into its ``View``. Reading the
champion also repairs the serving export when a crash fell between a commit and the link swap
(``serving.reconcile``): whatever command runs next after a ``kill -9`` puts it right.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from workbench.config import Settings
from workbench.errors import StoreError
from workbench.model import serving
from workbench.store import Store
from workbench.store.drift import DriftResult
from workbench.store.governance import Pin
from workbench.store.locking import is_held
from workbench.store.registry import ChampionChange, VersionRecord
from workbench.store.session import EventRecord

WATCHER_LOCK = "watcher.lock"
CHANGES = 1000  # champion changes read with the state (the TUI marks every ex-champion)


def watcher_state(store: Store) -> str:
    """``running`` while a watcher process holds ``.workbench/watcher.lock``."""
    return "running" if is_held(store.root / WATCHER_LOCK) else "stopped"


@dataclass(frozen=True)
class State:
    champion: VersionRecord | None
    versions: list[VersionRecord]  # newest first, at most the number asked for
    version_count: int
    champion_changes: list[ChampionChange]  # newest first
    last_snapshot: str | None
    snapshot_count: int
    last_event: EventRecord | None
    last_cycle: EventRecord | None  # the newest ``cycle_finished``
    drift: DriftResult | None  # the newest drift result
    watcher: str  # running | stopped
    events: list[EventRecord] = field(default_factory=list)  # after ``events_after``, oldest first
    pin: Pin | None = None  # the rollback that pins the champion (``store/governance.py``)
    pending: list[VersionRecord] = field(default_factory=list)  # waiting for approval


def read_state(
    store: Store, *, versions: int = 1, changes: int = CHANGES, events_after: int | None = None
) -> State:
    """The state in one session; ``events_after`` also reads the events after that id."""
    with store.read() as s:
        champion = s.champion()
        state = State(
            champion=champion,
            versions=s.versions(limit=versions),
            version_count=s.version_count(),
            champion_changes=s.champion_history(limit=changes),
            last_snapshot=s.latest_snapshot_id(),
            snapshot_count=s.snapshot_count(),
            last_event=next(iter(s.events(limit=1)), None),
            last_cycle=s.last_event("cycle_finished"),
            drift=s.latest_drift(),
            watcher=watcher_state(store),
            events=(
                sorted(s.events(after_id=events_after, limit=200), key=lambda e: e.id)
                if events_after is not None
                else []
            ),
            pin=s.pin(),
            pending=s.pending_versions(),
        )
    _repair(store, champion)
    return state


def status(settings: Settings, store: Store) -> dict[str, Any]:
    state = read_state(store, changes=5)
    champion, cycle, drift = state.champion, state.last_cycle, state.drift
    return {
        "project": settings.project.name or settings.root.name,
        "root": str(settings.root),
        "champion": champion.name if champion else None,
        "champion_metrics": champion.metrics if champion else None,
        "champion_engine": champion.engine if champion else None,
        "champion_history": [c.to_json() for c in state.champion_changes],
        "last_version": state.versions[0].to_json() if state.versions else None,
        "last_snapshot": state.last_snapshot,
        "snapshots": state.snapshot_count,
        "last_cycle": ({"ts": cycle.ts, "message": cycle.message, **cycle.data} if cycle else None),
        "last_event": state.last_event.to_json() if state.last_event else None,
        "watcher": state.watcher,
        "pinned": state.pin.to_json() if state.pin else None,
        "pending": [v.name for v in state.pending],
        "drift": (
            {
                "dataset_drift": drift.dataset_drift,
                "drift_share": drift.drift_share,
                "reference_version": drift.reference_version,
                "current": drift.current,
                "computed_at": drift.computed_at,
            }
            if drift
            else None
        ),
        "monitor": _monitor(settings, store),
    }


def _monitor(settings: Settings, store: Store) -> dict[str, Any] | None:
    """The champion's newest monitored chunk and open alerts (``pipeline.monitor_step``)."""
    from workbench.pipeline.monitor_step import latest

    return latest(settings, store)


def history(store: Store, limit: int) -> list[dict[str, Any]]:
    """Model versions newest first, in the `history --json` shape."""
    with store.read() as s:
        versions = s.versions(limit)
        champion = s.champion()
    _repair(store, champion)
    return [v.to_json() for v in versions]


def _repair(store: Store, champion: VersionRecord | None) -> None:
    with contextlib.suppress(StoreError, OSError):  # busy, read-only: the next reader repairs
        serving.reconcile(store, champion)
