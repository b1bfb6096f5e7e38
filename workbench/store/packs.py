"""Packs of chunks: ``.workbench/chunks/packs/<id>.pack`` and its index ``<id>.idx``.

A pack is the concatenation of the chunk payloads one ``store_file`` call wrote (raw, or zstd
frames when the file compresses well, see ``chunks.py``). Its index is a small JSON file::

    {"v": 1, "chunks": [[digest, offset, stored_length, raw_length, codec], ...]}

``codec`` is 0 (raw) or 1 (zstd). A pack of small files (``ChunkStore.store_small``) has
``"whole": true`` in its index: each of its entries is a whole object (its digest the xxh3-128
of the file's bytes, as for any object), not a chunk of a manifest.

Order of a pack's life: written to ``tmp/pack.<pid>.<n>``, fdatasynced, renamed into
``packs/``, then its index is written (temp, fdatasync, rename) and ``packs/`` is fsynced.
Only then may a manifest (or a snapshot, for a pack of small files) name its entries. So an
index only ever names durable bytes, and a pack without an index is the leftover of a killed
writer: gc (which runs when no writer is pinned) removes it.

``ChunkIndex`` is a process's view of every index: chunk digest -> where it is. It is loaded
on first use and refreshed when a chunk is not found (another process wrote a pack, or gc
rewrote one).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

RAW = 0
ZSTD = 1


@dataclass(frozen=True)
class Loc:
    pack: str  # pack id (file stem)
    offset: int
    stored: int  # bytes in the pack
    raw: int  # bytes of the chunk
    codec: int


class ChunkIndex:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.locs: dict[str, Loc] = {}
        self.whole: set[str] = set()  # digests of packed whole objects (small files)
        self._loaded: set[str] = set()  # pack ids whose index is in ``locs``

    def get(self, digest: str) -> Loc | None:
        loc = self.locs.get(digest)
        if loc is None:
            self.refresh()
            loc = self.locs.get(digest)
        return loc

    def refresh(self) -> None:
        """Read new indexes; forget packs whose index is gone (gc removed or rewrote them)."""
        try:
            names = {n[:-4] for n in os.listdir(self.folder) if n.endswith(".idx")}
        except FileNotFoundError:
            names = set()
        if self._loaded - names:
            # A digest kept at a pack gc removed may be held by another pack too (a small
            # file also stored as a chunk, say): only a whole reload gives its live place.
            self.forget()
        for pack in sorted(names - self._loaded):
            entries, whole = read_index_kind(self.folder, pack)
            for digest, loc in entries.items():
                self.locs.setdefault(digest, loc)
            if whole:
                self.whole.update(entries)
            self._loaded.add(pack)

    def whole_object(self, digest: str) -> Loc | None:
        """Where the packed whole object ``digest`` is (refreshed once when not known)."""
        if digest not in self.whole:
            self.refresh()
            if digest not in self.whole:
                return None
        return self.locs.get(digest)

    def forget(self) -> None:
        self.locs.clear()
        self.whole.clear()
        self._loaded.clear()


def read_index(folder: Path, pack: str) -> dict[str, Loc]:
    return read_index_kind(folder, pack)[0]


def read_index_kind(folder: Path, pack: str) -> tuple[dict[str, Loc], bool]:
    """A pack's entries, and whether they are whole objects (a pack of small files)."""
    try:
        raw = json.loads((folder / f"{pack}.idx").read_bytes())
    except FileNotFoundError:
        return {}, False
    entries = {d: Loc(pack, off, stored, n, codec) for d, off, stored, n, codec in raw["chunks"]}
    return entries, bool(raw.get("whole"))


def index_bytes(entries: list[tuple[str, int, int, int, int]], *, whole: bool = False) -> bytes:
    body: dict[str, object] = {"v": 1, "chunks": entries}
    if whole:
        body["whole"] = True
    return json.dumps(body, separators=(",", ":")).encode()


def pack_path(folder: Path, pack: str) -> Path:
    return folder / f"{pack}.pack"


def new_pack_id() -> str:
    return os.urandom(8).hex()


def remove_pack(folder: Path, pack: str) -> None:
    """Index first: from then on nobody looks for chunks in the pack."""
    for suffix in (".idx", ".pack"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / f"{pack}{suffix}")
