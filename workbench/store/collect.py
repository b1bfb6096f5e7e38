"""Garbage collection of the object store: ``ObjectStore.collect`` and ``usage``.

``collect(referenced)`` runs while the caller holds ``gc.lock`` exclusively (``gc_lock()``), so
no writer is between storing an object and committing its reference, and no reader of a chunked
file is mid-read. In order:

1. whole objects (``objects/ab/…``) and manifests (``chunks/files/ab/…``) whose digest is not
   in ``referenced`` are removed;
2. the chunks the remaining manifests use are *live*, and so is every referenced digest (a
   packed small file is an entry of a pack whose index says ``whole``); a chunk stored in
   several packs (two writers at once) is live in the first pack by name only;
3. a pack with no live chunk is removed (index first); a pack whose live chunks are less than
   ``REWRITE_BELOW`` of its bytes is rewritten: its live chunks are copied as they are stored
   (raw or zstd) into a new pack, which is made durable with its index before the old index and
   pack are removed, so at every moment each live chunk is named by a durable index; other packs
   are kept whole (their dead chunks wait until the pack falls below the threshold);
4. packs without an index (a writer killed before its index) and temp files of dead processes
   in ``tmp/`` (names ``<kind>.<pid>.…``) are removed.

``dry_run`` computes the same report and removes nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.store import packs, pins
from workbench.store.assembled import remove_temp
from workbench.store.objects import CollectReport, _write_all

if TYPE_CHECKING:
    from workbench.store.chunks import ChunkStore, Manifest
    from workbench.store.objects import ObjectStore

REWRITE_BELOW = 0.5
TEMP_KINDS = ("in", "b", "pack", "w", "asm", "rd", "drift-ref", "drift-cur", "predictions", "serve")


def addresses(folder: Path) -> Iterator[str]:
    """The digests stored under ``folder/ab/cdef…``."""
    try:
        subs = os.listdir(folder)
    except FileNotFoundError:
        return
    for sub in subs:
        if len(sub) != 2:
            continue
        with contextlib.suppress(NotADirectoryError, FileNotFoundError):
            for rest in os.listdir(folder / sub):
                yield sub + rest


def dead_temps(tmp: Path, kinds: tuple[str, ...] = TEMP_KINDS) -> Iterator[Path]:
    """Temp files in ``tmp`` written by processes that no longer run."""
    try:
        names = os.listdir(tmp)
    except FileNotFoundError:
        return
    for name in names:
        parts = name.split(".")
        if len(parts) < 3 or parts[0] not in kinds or not parts[1].isdigit():
            continue
        if not pins.alive(int(parts[1])):
            yield tmp / name


def _tree_size(path: Path) -> int:
    """Bytes of a file, or of the files of a folder (a process's assembled small files)."""
    if path.is_dir() and not path.is_symlink():
        return sum(_size(path / name) for name in os.listdir(path))
    return _size(path)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def collect(
    objects: ObjectStore, chunks: ChunkStore, referenced: set[str], *, dry_run: bool
) -> CollectReport:
    removed: list[str] = []
    freed = 0
    kept_objects = 0
    objects_removed = chunked_removed = 0
    for digest in sorted(addresses(objects.root)):
        path = objects.root / digest[:2] / digest[2:]
        size = _size(path)
        if digest in referenced:
            kept_objects += size
            continue
        objects_removed += 1
        removed.append(digest)
        freed += size
        if not dry_run:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    live_manifests: list[Manifest] = []
    kept_manifests = 0
    for digest in sorted(addresses(chunks.files)):
        path = chunks.manifest_path(digest)
        if digest in referenced:
            manifest = chunks.manifest(digest)
            if manifest is not None:
                live_manifests.append(manifest)
            kept_manifests += _size(path)
            continue
        chunked_removed += 1
        removed.append(digest)
        freed += _size(path)
        if not dry_run:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    live = {d for m in live_manifests for d, _ in m.chunks} | referenced
    pack_report = _collect_packs(chunks, live, dry_run=dry_run)
    objects_removed += len(pack_report.whole_removed)
    removed.extend(sorted(pack_report.whole_removed))
    temp_removed = pack_report.orphans
    freed += pack_report.freed
    for path in dead_temps(objects.tmp):
        temp_removed += 1
        freed += _tree_size(path)
        if not dry_run:
            remove_temp(path)
    if not dry_run:
        chunks.index.forget()
    kept = kept_objects + kept_manifests + pack_report.kept
    return CollectReport(
        objects_removed=objects_removed,
        chunked_removed=chunked_removed,
        chunks_removed=pack_report.chunks_removed,
        packs_rewritten=pack_report.rewritten,
        bytes_freed=freed,
        bytes_kept=kept,
        temp_removed=temp_removed,
        removed=tuple(removed),
    )


class _PackReport:
    def __init__(self) -> None:
        self.freed = 0
        self.kept = 0
        self.chunks_removed = 0
        self.rewritten = 0
        self.orphans = 0
        self.whole_removed: set[str] = set()  # packed small files no longer referenced


def _collect_packs(chunks: ChunkStore, live: set[str], *, dry_run: bool) -> _PackReport:
    report = _PackReport()
    folder = chunks.packs
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return report
    indexed = sorted(n[:-4] for n in names if n.endswith(".idx"))
    stored = {n[:-5] for n in names if n.endswith(".pack")}
    for pack in sorted(stored - set(indexed)):  # a writer killed before its index
        report.orphans += 1
        report.freed += _size(packs.pack_path(folder, pack))
        if not dry_run:
            packs.remove_pack(folder, pack)
    # a digest is owned once per kind of pack: a referenced small file must stay in a pack
    # whose index says ``whole`` even when some manifest's chunk has the same bytes
    owned: dict[bool, set[str]] = {True: set(), False: set()}
    for pack in indexed:
        entries, whole = packs.read_index_kind(folder, pack)
        total = _size(packs.pack_path(folder, pack)) + _size(folder / f"{pack}.idx")
        keep = []
        for digest, loc in sorted(entries.items(), key=lambda e: e[1].offset):
            if digest in live and digest not in owned[whole]:
                owned[whole].add(digest)
                keep.append((digest, loc))
        dead = len(entries) - len(keep)
        gone = {d for d in entries if d not in live} if whole else set()
        live_bytes = sum(loc.stored for _, loc in keep)
        if pack not in stored or not keep:
            report.whole_removed |= gone
            report.chunks_removed += len(entries)
            report.freed += total
            if not dry_run:
                packs.remove_pack(folder, pack)
        elif dead and live_bytes < REWRITE_BELOW * total:
            report.whole_removed |= gone  # (in a pack kept whole they stay until it is rewritten)
            report.chunks_removed += dead
            report.rewritten += 1
            if dry_run:  # what the rewrite would write: the live payloads and their index
                index = packs.index_bytes(_rewritten_entries(keep), whole=whole)
                report.freed += total - live_bytes - len(index)
                report.kept += live_bytes + len(index)
            else:
                new_total = _rewrite(chunks, pack, keep, whole=whole)
                report.freed += total - new_total
                report.kept += new_total
        else:
            report.kept += total
    return report


def _rewritten_entries(keep: list[tuple[str, packs.Loc]]) -> list[tuple[str, int, int, int, int]]:
    """The index entries of a pack holding ``keep``'s payloads one after another."""
    entries, offset = [], 0
    for digest, loc in keep:
        entries.append((digest, offset, loc.stored, loc.raw, loc.codec))
        offset += loc.stored
    return entries


def _rewrite(
    chunks: ChunkStore, pack: str, keep: list[tuple[str, packs.Loc]], *, whole: bool
) -> int:
    """Copy ``keep`` into a new durable pack + index, then remove ``pack``; the new bytes."""
    folder = chunks.packs
    tmp = chunks.temp_name("pack")
    entries = _rewritten_entries(keep)
    try:
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            src = os.open(packs.pack_path(folder, pack), os.O_RDONLY | os.O_CLOEXEC)
            try:
                for _, loc in keep:
                    _write_all(out, os.pread(src, loc.stored, loc.offset))
            finally:
                os.close(src)
            os.fdatasync(out)
        finally:
            os.close(out)
        new = packs.new_pack_id()
        os.replace(tmp, packs.pack_path(folder, new))
        data = packs.index_bytes(entries, whole=whole)
        chunks.write_durable(folder / f"{new}.idx", data)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    packs.remove_pack(folder, pack)
    return sum(loc.stored for _, loc in keep) + len(data)


def usage(objects: ObjectStore, chunks: ChunkStore) -> dict[str, int]:
    """Bytes by kind (for benches and ``workbench gc --json``)."""
    out = {"objects": 0, "packs": 0, "manifests": 0, "tmp": 0, "assembled": 0}
    for digest in addresses(objects.root):
        out["objects"] += _size(objects.root / digest[:2] / digest[2:])
    for digest in addresses(chunks.files):
        out["manifests"] += _size(chunks.manifest_path(digest))
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(chunks.packs):
            out["packs"] += _size(chunks.packs / name)
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(objects.tmp):
            kind = "assembled" if name.startswith("asm.") else "tmp"
            out[kind] += _tree_size(objects.tmp / name)
    out["total"] = sum(out.values())
    return out
