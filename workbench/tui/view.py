"""What the TUI shows, read from the store in one short session: no Textual in here.

The app's refresh worker calls ``load`` off the UI thread and hands the resulting ``View`` to
the widgets, which only format it. History is paged (``page`` newest versions, more on
demand), so the first paint costs the same with 10 versions or 10,000.

Comparisons: each version's own metric is from its own holdout, so two versions' metrics are
never set against each other. A delta comes only from a ``Comparison``: the numbers a gate
stored when it scored a candidate and the champion of the moment on the same rows (rows
neither trained on; ``model.gate`` says which). The History's ``Δ gate``, the chart, the
rollback dialog and the diff show those, and say which gate they come from.
"""

from __future__ import annotations

import math
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
class Comparison:
    """Two versions' gate metric on the same rows, as the gate of ``newer`` stored it: the
    candidate ``newer`` and the champion of that moment, ``older``, both scored on the rows
    that gate held out (``rows`` of them, when the record says)."""

    metric: str
    newer: str
    older: str
    newer_score: float
    older_score: float
    decision: str  # promoted | rejected
    rows: int | None = None

    @property
    def delta(self) -> float:
        """``newer`` minus ``older`` (a positive loss delta is worse)."""
        return self.newer_score - self.older_score

    @property
    def better(self) -> bool | None:
        """Whether ``newer`` scored better than ``older`` (None for a tie)."""
        if self.delta == 0:
            return None
        return (self.delta > 0) == higher_is_better(self.metric)

    def sentence(self) -> str:
        """``auc at v7's gate, on the same 8,000 rows: v7 0.8439, v5 0.8354, Δ +0.0085``."""
        rows = f"{self.rows:,} " if self.rows else ""
        return (
            f"{self.metric} at {self.newer}'s gate, on the same {rows}rows:"
            f" {self.newer} {self.newer_score:.4f}, {self.older} {self.older_score:.4f},"
            f" Δ {self.delta:+.4f}"
        )


def gate_comparison(v: VersionRecord) -> Comparison | None:
    """The comparison ``v``'s gate made, or None (the first model, a failed training, a
    champion that could not score the rows, an older record without the gate's numbers)."""
    gate = v.gate or {}
    cand, champ, other = gate.get("candidate"), gate.get("champion"), gate.get("champion_version")
    if not isinstance(other, str) or cand is None or champ is None:
        return None
    cand, champ = float(cand), float(champ)
    if math.isnan(cand) or math.isnan(champ):
        return None
    metric = str(gate.get("metric") or v.metric)
    rows = gate.get("rows")
    return Comparison(
        metric,
        v.name,
        other,
        cand,
        champ,
        str(gate.get("decision", "")),
        int(rows) if isinstance(rows, int | float) else None,
    )


def compared(a: VersionRecord, b: VersionRecord) -> Comparison | None:
    """The same-rows comparison of ``a`` and ``b`` if a gate made one (the newer one's)."""
    for newer, older in ((a, b), (b, a)):
        c = gate_comparison(newer)
        if c is not None and c.older == older.name:
            return c
    return None


@dataclass(frozen=True)
class View:
    project: str
    versions: list[VersionRecord]
    total_versions: int
    champion: VersionRecord | None
    champion_changes: list[ChampionChange]
    ever_champion: frozenset[int]
    drift: DriftResult | None  # against the champion when stored, else the newest (see load)
    last_event_id: int
    last_event_ts: str | None
    watcher: str  # running | stopped (another process's watcher, from watcher.lock)
    snapshots: int = 0
    last_failure: EventRecord | None = None
    events: list[EventRecord] = field(default_factory=list)  # after ``events_after``, oldest first

    def metric_of(self, v: VersionRecord) -> float | None:
        value = v.metrics.get(v.metric)
        return float(value) if value is not None else None

    @property
    def drift_is_stale(self) -> bool:
        """The drift shown was measured against a version that is no longer the champion
        (a rollback or promotion since, and no result against the new one yet)."""
        d, c = self.drift, self.champion
        return d is not None and c is not None and d.reference_version != c.name


def load(project: str, store: Store, *, limit: int = PAGE, events_after: int = 0) -> View:
    """Everything one paint needs: the store's state now (``pipeline.status.read_state``,
    one session), as the widgets read it."""
    state = read_state(store, versions=limit, events_after=events_after)
    failure = state.last_cycle
    if failure is not None and failure.level != "error":
        failure = None
    drift, champion = state.drift, state.champion
    if drift is not None and champion is not None and drift.reference_version != champion.name:
        with store.read() as s:  # after a rollback: the result against the champion, if any
            drift = s.drift_result(drift.current, champion.number) or drift
    return View(
        project=project,
        versions=state.versions,
        total_versions=state.version_count,
        champion=state.champion,
        champion_changes=state.champion_changes,
        ever_champion=frozenset(c.number for c in state.champion_changes),
        drift=drift,
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
    """Events after ``after_id``, in the order they were recorded (the events pane puts them
    in time order: a cycle's held events are recorded after others that happened later)."""
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
