"""What the TUI shows, read from the store in one short session: no Textual in here.

The app's refresh worker calls ``load`` off the UI thread and hands the resulting ``View`` to
the widgets, which only format it. History is paged (``page`` newest versions, more on
demand), so the first paint costs the same with 10 versions or 10,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.model.metrics import higher_is_better
from workbench.pipeline.status import read_state
from workbench.store import Store
from workbench.store.drift import DriftResult
from workbench.store.registry import ChampionChange, VersionRecord
from workbench.store.session import EventRecord

PAGE = 200


@dataclass(frozen=True)
class View:
    project: str
    versions: list[VersionRecord]
    total_versions: int
    champion: VersionRecord | None
    champion_changes: list[ChampionChange]
    ever_champion: frozenset[int]
    drift: DriftResult | None
    last_event_id: int
    last_event_ts: str | None
    watcher: str  # running | stopped (another process's watcher, from watcher.lock)
    snapshots: int = 0
    last_failure: EventRecord | None = None
    events: list[EventRecord] = field(default_factory=list)  # after ``events_after``, oldest first

    def metric_of(self, v: VersionRecord) -> float | None:
        value = v.metrics.get(v.metric)
        return float(value) if value is not None else None

    def delta(self, v: VersionRecord) -> float | None:
        """The version's gate metric minus the champion's (same metric only)."""
        if self.champion is None or v.metric != self.champion.metric:
            return None
        mine, theirs = self.metric_of(v), self.metric_of(self.champion)
        if mine is None or theirs is None:
            return None
        return mine - theirs

    def better(self, v: VersionRecord) -> bool | None:
        """Whether the version beats the champion in its metric's direction."""
        d = self.delta(v)
        if d is None or d == 0:
            return None
        return (d > 0) == higher_is_better(v.metric)


def load(project: str, store: Store, *, limit: int = PAGE, events_after: int = 0) -> View:
    """Everything one paint needs: the store's state now (``pipeline.status.read_state``,
    one session), as the widgets read it."""
    state = read_state(store, versions=limit, events_after=events_after)
    failure = state.last_cycle
    if failure is not None and failure.level != "error":
        failure = None
    return View(
        project=project,
        versions=state.versions,
        total_versions=state.version_count,
        champion=state.champion,
        champion_changes=state.champion_changes,
        ever_champion=frozenset(c.number for c in state.champion_changes),
        drift=state.drift,
        last_event_id=state.last_event.id if state.last_event else 0,
        last_event_ts=state.last_event.ts if state.last_event else None,
        watcher=state.watcher,
        snapshots=state.snapshot_count,
        last_failure=failure,
        events=state.events,
    )


def more_versions(store: Store, offset: int, limit: int | None = PAGE) -> list[VersionRecord]:
    """Older versions after the first ``offset`` (all of them with ``limit=None``)."""
    with store.read() as s:
        return s.versions(limit=limit, offset=offset)


def new_events(store: Store, after_id: int, limit: int = 200) -> list[EventRecord]:
    """Events after ``after_id``, oldest first (the events pane appends them)."""
    with store.read() as s:
        events = s.events(after_id=after_id, limit=limit)
    return sorted(events, key=lambda e: e.id)


def details(store: Store, v: VersionRecord) -> dict[str, Any]:
    """What the details pane shows for one version: its metadata and champion entries."""
    meta = store.objects.read_json(v.meta_hash) if v.meta_hash else None
    with store.read() as s:
        changes = [c for c in s.champion_history(limit=1000) if c.number == v.number]
    meta = meta if isinstance(meta, dict) else {}
    importance = meta.get("importance") or {}
    top = sorted(importance.items(), key=lambda kv: -float(kv[1]))[:10]
    return {
        "params": meta.get("params") or {},
        "num_boost_round": meta.get("num_boost_round"),
        "best_iteration": meta.get("best_iteration"),
        "split": meta.get("split") or {},
        "importance": top,
        "champion_changes": changes,
    }


def drift_history(store: Store, feature: str, limit: int = 50) -> list[dict[str, Any]]:
    with store.read() as s:
        return s.drift_over_time(feature, limit=limit)
