"""Packs of chunks: ``.workbench/chunks/packs/<id>.pack`` and its index ``<id>.idx``.

A pack is the concatenation of the chunk payloads one ``store_file`` call wrote (raw, or zstd
frames when the file compresses well, see ``chunks.py``). Its index is a small JSON file::

    {"v": 1, "chunks": [[digest, offset, stored_length, raw_length, codec], ...]}

``codec`` is 0 (raw) or 1 (zstd). Order of a pack's life: written to ``tmp/pack.<pid>.<n>``,
fdatasynced, renamed into ``packs/``, then its index is written (temp, fdatasync, rename) and
``packs/`` is fsynced. Only then may a manifest name its chunks. So an index only ever names
durable bytes, and a pack without an index is the leftover of a killed writer: gc (which runs
when no writer is pinned) removes it.

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
        gone = self._loaded - names
        if gone:
            self.locs = {d: loc for d, loc in self.locs.items() if loc.pack not in gone}
            self._loaded -= gone
        for pack in sorted(names - self._loaded):
            for digest, loc in read_index(self.folder, pack).items():
                self.locs.setdefault(digest, loc)
            self._loaded.add(pack)

    def forget(self) -> None:
        self.locs.clear()
        self._loaded.clear()


def read_index(folder: Path, pack: str) -> dict[str, Loc]:
    try:
        raw = json.loads((folder / f"{pack}.idx").read_bytes())
    except FileNotFoundError:
        return {}
    return {d: Loc(pack, off, stored, n, codec) for d, off, stored, n, codec in raw["chunks"]}


def index_bytes(entries: list[tuple[str, int, int, int, int]]) -> bytes:
    return json.dumps({"v": 1, "chunks": entries}, separators=(",", ":")).encode()


def pack_path(folder: Path, pack: str) -> Path:
    return folder / f"{pack}.pack"


def new_pack_id() -> str:
    return os.urandom(8).hex()


def remove_pack(folder: Path, pack: str) -> None:
    """Index first: from then on nobody looks for chunks in the pack."""
    for suffix in (".idx", ".pack"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / f"{pack}{suffix}")
