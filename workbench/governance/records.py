"""Everything a model card says, read from the store in one session (plus the model's meta
object and model bytes from the object store). No LightGBM, no polars: a card of a version
whose intervals are cached costs a DuckDB read and a few small files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from workbench.errors import UsageError
from workbench.store import Store, outcomes
from workbench.store.drift import DriftResult
from workbench.store.registry import ChampionChange, VersionRecord, parse_version
from workbench.store.session import EventRecord, SnapshotRecord

VALIDATION_KINDS = ("validated", "validation_failed")
HISTORY_LIMIT = 1_000_000


@dataclass(frozen=True)
class CardRecords:
    version: VersionRecord
    snapshot: SnapshotRecord
    config_text: str | None  # the snapshot's config bytes
    meta: dict[str, Any] | None  # the model's meta object (None: no model)
    model_sha256: str | None
    history: tuple[ChampionChange, ...]  # changes naming this version, oldest first
    validation: tuple[EventRecord, ...]  # the snapshot's validation events, oldest first
    drift: DriftResult | None  # the version's snapshot vs the champion it was gated against
    monitoring: list[dict[str, Any]] | None  # None: no monitoring results recorded


def gather(store: Store, ref: str) -> CardRecords:
    with store.read() as s:
        version = s.champion() if ref == "champion" else s.version(ref)
        if version is None:
            raise UsageError("there is no champion yet", "run `workbench train` first")
        snap = s.snapshot(version.snapshot_id)
        history = tuple(
            c
            for c in reversed(s.champion_history(limit=HISTORY_LIMIT))
            if version.number in (c.number, c.previous)
        )
        validation = tuple(s.snapshot_events(snap.id, VALIDATION_KINDS))
        against = (version.gate or {}).get("champion_version")
        drift = s.drift_result(snap.id, parse_version(against)) if against else None
        chunks = outcomes.chunks(s, version.number)
    config = next((f for f in snap.files if f.kind == "config"), None)
    config_text = store.objects.read(config.hash).decode("utf-8") if config else None
    meta, sha = None, None
    if version.model_hash and version.meta_hash:
        meta = store.objects.read_json(version.meta_hash)
        sha = hashlib.sha256(store.objects.read(version.model_hash)).hexdigest()
    return CardRecords(
        version,
        snap,
        config_text,
        meta,
        sha,
        history,
        validation,
        drift,
        monitoring(chunks),
    )


def monitoring(chunks: list[outcomes.ChunkRecord]) -> list[dict[str, Any]] | None:
    """MONITORING: outcome monitoring's records of the version (``store.outcomes.chunks``):
    realized and estimated metrics with their alert bands per chunk, oldest first; None when
    none are recorded."""
    if not chunks:
        return None
    return [
        {
            "key": c.key,
            "start": c.start,
            "end": c.end,
            "rows": c.rows,
            "labelled": c.labelled,
            "metrics": [m.to_json() for m in c.metrics],
            "alerts": sorted(c.alerts),
        }
        for c in chunks
    ]
