"""What the champion was trained on, as validation judges new files against it.

``Reference.required`` is what training really required of each file: the columns the
champion uses (features and target) that held values in *every* file of its training
snapshot. A column that was absent, or empty, in whole files when the champion trained (a
``promo_code`` only the newest batch had) was read as missing for those rows, so a later file
without it is what the champion already saw; requiring it of each file wedged the project:
every later cycle failed on the very files the champion trained on.

Which files held a column comes from the snapshot profile's ``column_gaps`` (column -> files
without a value; ``profile.column_gaps``). A snapshot profiled before it existed gives the
bound its numbers allow: a column with fewer nulls than its smallest file has rows cannot
have been empty for a whole file, so it is required; any other used column only warns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.store import Store
from workbench.store.registry import VersionRecord
from workbench.store.session import SnapshotRecord


@dataclass(frozen=True)
class Reference:
    """What the champion was trained on: column dtypes, the columns it uses, those it required
    of every file, and its classes (classification)."""

    version: str
    dtypes: dict[str, str]
    used: frozenset[str]
    required: frozenset[str] = frozenset()
    classes: tuple[Any, ...] = ()


def champion_reference(store: Store) -> Reference | None:
    """The champion's training schema and the columns it uses, if there is a champion."""
    with store.read() as s:
        champion = s.champion()
        if champion is None:
            return None
        snap = s.snapshot(champion.snapshot_id)
    return reference_of(store, champion, snap)


def reference_of(store: Store, champion: VersionRecord, snap: SnapshotRecord) -> Reference:
    """The ``Reference`` of a champion read together with its training snapshot."""
    used: set[str] = set()
    classes: tuple[Any, ...] = ()
    if champion.meta_hash:
        spec = store.objects.read_json(champion.meta_hash)["spec"]
        used = {*spec["features"], spec["target"]}
        classes = tuple(spec.get("classes") or ())
    columns = snap.profile.get("columns", [])
    dtypes = {c["name"]: c["dtype"] for c in columns}
    return Reference(champion.name, dtypes, frozenset(used), _required(snap, used), classes)


def _required(snap: SnapshotRecord, used: set[str]) -> frozenset[str]:
    files = snap.data_files
    gaps = snap.profile.get("column_gaps")
    columns = {c["name"] for c in snap.profile.get("columns", [])}
    if isinstance(gaps, dict):
        return frozenset(c for c in used if c in columns and not gaps.get(c))
    smallest = min((f.rows or 0 for f in files), default=0)
    nulls = {c["name"]: int(c.get("nulls") or 0) for c in snap.profile.get("columns", [])}
    return frozenset(c for c in used if c in nulls and nulls[c] < smallest)
