"""``workbench log``: the audit trail, newest first (what ``store/audit.py`` derives from the
append-only tables, plus config changes key by key).

A config change is an entry per key that differs between a snapshot's config and the one of
the snapshot before it (in snapshot order), with the newer snapshot's time and author: the
same comparison ``workbench diff`` makes (``data.diff``). ``since`` keeps entries at or after
an ISO-8601 time (a date or a time without offset is UTC); ``limit`` keeps the newest N.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from workbench.data.diff import config_changes
from workbench.errors import UsageError
from workbench.store import Store
from workbench.store.audit import RANK, LogEntry, entries
from workbench.store.session import Session


def read_log(store: Store, *, since: str | None = None, limit: int | None = None) -> list[LogEntry]:
    start = parse_since(since) if since else None
    if limit is not None and limit < 1:
        raise UsageError(f"--limit {limit} is not a positive number", "pass --limit 1 or more")
    with store.read() as s:
        found = entries(s.con) + _config_entries(store, s)
    found.sort(key=LogEntry.sort_key, reverse=True)
    if start is not None:
        found = [e for e in found if e.ts >= start]
    return found[:limit] if limit is not None else found


def parse_since(text: str) -> str:
    """``text`` as the store's UTC time format (they compare as strings)."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise UsageError(
            f"--since {text!r} is not an ISO-8601 time",
            "use e.g. 2026-01-31 or 2026-01-31T09:00:00Z",
        ) from e
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def _config_entries(store: Store, s: Session) -> list[LogEntry]:
    snaps = sorted(s.snapshots(), key=lambda r: (r.created_at, r.id))
    out: list[LogEntry] = []
    for n, (before, after) in enumerate(pairwise(snaps), start=2):
        for change in config_changes(store, before, after):
            out.append(
                LogEntry(
                    ts=after.created_at,
                    kind="config",
                    version=None,
                    by=after.created_by,
                    reason=None,
                    detail={
                        "key": change["key"],
                        "before": change["a"],
                        "after": change["b"],
                        "snapshot": after.id,
                        "previous_snapshot": before.id,
                    },
                    order=(RANK["config"], n),
                )
            )
    return out
