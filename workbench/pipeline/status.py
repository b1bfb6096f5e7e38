"""``status`` and ``history``: what exists in the store, in the ``--json`` shapes of PRODUCT.md.

Reads only (a shared-lock session), so it runs beside a watcher and the TUI.
"""

from __future__ import annotations

from typing import Any

from workbench.config import Settings
from workbench.store import Store
from workbench.store.locking import is_held

WATCHER_LOCK = "watcher.lock"


def watcher_state(store: Store) -> str:
    """``running`` while a watcher process holds ``.workbench/watcher.lock``."""
    return "running" if is_held(store.root / WATCHER_LOCK) else "stopped"


def status(settings: Settings, store: Store) -> dict[str, Any]:
    with store.read() as s:
        snaps = s.snapshots(limit=1)
        count = s.snapshot_count()
        events = s.events(limit=1)
        champion = s.champion()
        latest = s.versions(limit=1)
        changes = s.champion_history(limit=5)
        drift = s.latest_drift()
        cycle = s.last_event("cycle_finished")
    return {
        "project": settings.project.name or settings.root.name,
        "root": str(settings.root),
        "champion": champion.name if champion else None,
        "champion_metrics": champion.metrics if champion else None,
        "champion_history": [c.to_json() for c in changes],
        "last_version": latest[0].to_json() if latest else None,
        "last_snapshot": snaps[0].id if snaps else None,
        "snapshots": count,
        "last_cycle": ({"ts": cycle.ts, "message": cycle.message, **cycle.data} if cycle else None),
        "last_event": events[0].to_json() if events else None,
        "watcher": watcher_state(store),
        "drift": (
            {
                "dataset_drift": drift["dataset_drift"],
                "drift_share": drift["drift_share"],
                "reference_version": drift["reference_version"],
                "current": drift["current"],
                "computed_at": drift["computed_at"],
            }
            if drift
            else None
        ),
    }


def history(store: Store, limit: int) -> list[dict[str, Any]]:
    """Model versions newest first, in the `history --json` shape."""
    with store.read() as s:
        return [v.to_json() for v in s.versions(limit)]
