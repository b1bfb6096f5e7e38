"""``workbench gc``: remove stored bytes nothing references, and nothing else.

``collect(store, dry_run=..., on_wait=...)`` holds ``.workbench/gc.lock`` exclusively
(``ObjectStore.gc_lock``) for the whole run: every process that stores an object, or relies on
one it found (``has()``), holds that lock shared until its next store transaction commits, so
while gc holds it no snapshot, training or prediction log has bytes in flight that a record
does not name yet. Under the lock it computes the referenced set in one read session
(``store.references.referenced``) and hands it to ``ObjectStore.collect``, which removes the
rest (whole objects, chunked files, chunks no kept file uses, stale temp files).

A real run (not ``--dry-run``) records a ``gc`` event with the counts and bytes freed, in a
write session after the removal and after the lock is released. The event carries counts, never
the removed digests: ``references`` keeps every digest quoted in ``events.data`` (its safety
net), so bytes named there, if ever stored again, could never be collected. A dry run writes
nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.store import Store, now_iso
from workbench.store.locking import WaitCallback
from workbench.store.references import referenced


@dataclass(frozen=True)
class GcResult:
    dry_run: bool
    objects: int
    chunked_files: int
    chunks: int
    packs_rewritten: int
    temp: int
    bytes_freed: int
    bytes_kept: int
    digests: tuple[str, ...]  # what was (or would be) removed, sorted

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "removed": {
                "objects": self.objects,
                "chunked_files": self.chunked_files,
                "chunks": self.chunks,
                "packs_rewritten": self.packs_rewritten,
                "temp": self.temp,
            },
            "bytes_freed": self.bytes_freed,
            "bytes_kept": self.bytes_kept,
            "digests": list(self.digests),
        }


def collect(store: Store, *, dry_run: bool, on_wait: WaitCallback | None = None) -> GcResult:
    """Remove (or with ``dry_run`` only list) every stored object nothing references."""
    with store.objects.gc_lock(on_wait=on_wait):
        with store.read() as s:
            live = referenced(s)
        report = store.objects.collect(live, dry_run=dry_run)
        result = GcResult(
            dry_run=dry_run,
            objects=report.objects_removed,
            chunked_files=report.chunked_removed,
            chunks=report.chunks_removed,
            packs_rewritten=report.packs_rewritten,
            temp=report.temp_removed,
            bytes_freed=report.bytes_freed,
            bytes_kept=report.bytes_kept,
            digests=tuple(sorted(report.removed)),
        )
    if not dry_run:  # after the lock: the event names no object
        _record(store, result)
    return result


def _record(store: Store, result: GcResult) -> None:
    counts = result.to_json()["removed"]
    with store.write("gc") as s:
        s.add_event(
            "gc",
            f"gc: {summary(result)}",
            ts=now_iso(),
            data={**counts, "bytes_freed": result.bytes_freed, "bytes_kept": result.bytes_kept},
        )


def summary(result: GcResult) -> str:
    """``removed 12 objects, 3 chunks: 1.2 GB freed; 4.1 GB kept`` (a dry run: ``would remove
    …: 1.2 GB to free``; nothing: ``nothing to remove; 4.1 GB kept``): the CLI's line and the
    event's message."""
    kept = f"{human_bytes(result.bytes_kept)} kept"
    parts = [
        *([_count(result.objects, "object")] if result.objects else []),
        *([_count(result.chunked_files, "chunked file")] if result.chunked_files else []),
        *([_count(result.chunks, "chunk")] if result.chunks else []),
        *([_count(result.temp, "temp file")] if result.temp else []),
    ]
    if not parts:
        return f"nothing to remove; {kept}"
    verb, freed = ("would remove", "to free") if result.dry_run else ("removed", "freed")
    return f"{verb} {', '.join(parts)}: {human_bytes(result.bytes_freed)} {freed}; {kept}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def human_bytes(n: int) -> str:
    """Decimal units: ``512 B``, ``1.2 MB``, ``4.1 GB`` (GB is the largest)."""
    if n < 1000:
        return f"{n} B"
    size = n / 1000
    for unit in ("kB", "MB"):
        if size < 1000:
            return f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
