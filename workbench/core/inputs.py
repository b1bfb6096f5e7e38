"""Which files are the project's inputs, and which of them changed since they were last hashed.

Inputs are the data files under ``[data] path`` (CSV/TSV/Parquet, recursively for a folder, or
what a glob matches) plus the config file. Hidden files, editor swap files and partial
downloads are never inputs, so a file being written under a temp name is not picked up.

The stat cache (``.workbench/cache/stat.json``) maps each input path to the (size, mtime_ns,
inode) it had when it was hashed, and the hash. A file whose stat matches is not read again;
that is how a no-change check over 10,000 files takes a fraction of a second, and how
appending to one large file re-hashes only that file. The cache is a file rather than a table
so the no-change path never opens (or even imports) DuckDB; it is written after the objects it
names are stored, and deleting it only costs one re-hash.
"""

from __future__ import annotations

import glob
import os
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.config import Settings, config_path, inside
from workbench.core.profile import DATA_SUFFIXES
from workbench.errors import DataError
from workbench.store.objects import FileSig

if TYPE_CHECKING:
    from workbench.store import Store

STAT_CACHE = "cache/stat.json"
IGNORED_SUFFIXES = (".swp", ".swx", ".swo", ".tmp", ".part", ".crdownload", ".partial", "~")


@dataclass(frozen=True)
class InputFile:
    rel: str  # posix path relative to the project root
    abspath: str
    kind: str  # "data" | "config"
    sig: FileSig

    @cached_property
    def path(self) -> Path:
        return Path(self.abspath)


def is_ignored(name: str) -> bool:
    """Hidden, temp and editor swap files are never inputs."""
    return (
        name.startswith((".", "#", "~$"))
        or name.endswith(IGNORED_SUFFIXES)
        or not name.lower().endswith(DATA_SUFFIXES)
    )


def discover(settings: Settings) -> list[InputFile]:
    """The data files (sorted) followed by the config file.

    Hot path of the no-change check: plain strings and one ``stat`` per file (``os.scandir``
    entries), no ``Path.resolve()``; only symlinked files are resolved, to refuse those that
    point outside the project (the data folder itself was checked when the config loaded).
    """
    root = str(settings.root.resolve())
    pattern = settings.data.path
    base = os.path.normpath(os.path.join(root, pattern))
    candidates: list[tuple[str, os.DirEntry[str] | None]]
    if any(ch in pattern for ch in "*?["):
        candidates = [(p, None) for p in glob.glob(base, recursive=True)]
    elif os.path.isdir(base):
        candidates = _walk(base)
    elif os.path.isfile(base):
        candidates = [(base, None)]
    else:
        raise DataError(
            f"the data folder {pattern!r} does not exist in {root}",
            f"create {pattern}/ and put CSV or Parquet files in it, or fix [data] path in "
            f"{settings.source.name}",
        )
    files = []
    for path, entry in sorted(candidates, key=lambda c: c[0]):
        found = _data_file(root, path, entry)
        if found is not None:
            files.append(found)
    if not files:
        raise DataError(
            f"no CSV or Parquet files under {pattern!r}",
            f"add data files to {pattern}/ (or fix [data] path in {settings.source.name})",
        )
    cfg = str(config_path(settings.root))
    files.append(InputFile(_rel(root, cfg), cfg, "config", FileSig.of(_stat(cfg))))
    return files


def _walk(folder: str) -> list[tuple[str, os.DirEntry[str] | None]]:
    out: list[tuple[str, os.DirEntry[str] | None]] = []
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        stack.append(entry.path)
                elif not is_ignored(entry.name):
                    out.append((entry.path, entry))
    return out


def _data_file(root: str, path: str, entry: os.DirEntry[str] | None) -> InputFile | None:
    if entry is None and is_ignored(os.path.basename(path)):  # walked entries are filtered
        return None
    link = entry.is_symlink() if entry is not None else os.path.islink(path)
    if link and not inside(Path(root), Path(path)):
        raise DataError(
            f"{path} resolves outside the project folder {root}",
            "copy the file into the project instead of linking to it",
        )
    try:
        st = entry.stat() if entry is not None and not link else os.stat(path)
    except FileNotFoundError:
        return None  # vanished between listing and stat: the next change will bring it
    if not stat.S_ISREG(st.st_mode):
        return None
    return InputFile(_rel(root, os.path.normpath(path)), path, "data", FileSig.of(st))


def _rel(root: str, path: str) -> str:
    return path[len(root) + 1 :].replace(os.sep, "/")


def _stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError as e:
        raise DataError(f"{path} disappeared while listing inputs", "try again") from e


class StatCache:
    """path -> (FileSig, hash), plus the id and summary of the last snapshot taken."""

    def __init__(self, store: Store) -> None:
        self.store = store
        raw = store.read_json(STAT_CACHE) or {}
        self.entries: dict[str, list[Any]] = raw.get("entries", {}) if raw.get("v") == 1 else {}
        self.last: dict[str, Any] | None = raw.get("last") if raw.get("v") == 1 else None
        self.dirty = False  # entries changed since read

    def hash_of(self, f: InputFile) -> str | None:
        entry = self.entries.get(f.rel)
        sig = f.sig
        if entry and entry[0] == sig.size and entry[1] == sig.mtime_ns and entry[2] == sig.inode:
            return str(entry[3])
        return None

    def same_size(self, f: InputFile) -> bool:
        """True when the cache knows this path with this size (its mtime or inode moved)."""
        entry = self.entries.get(f.rel)
        return entry is not None and entry[0] == f.sig.size

    def remember(self, f: InputFile, digest: str) -> None:
        self.entries[f.rel] = [f.sig.size, f.sig.mtime_ns, f.sig.inode, digest]
        self.dirty = True

    def save(self, keep: set[str], last: dict[str, Any] | None) -> None:
        """Write the cache for the inputs named in ``keep`` (others are dropped)."""
        entries = {k: v for k, v in self.entries.items() if k in keep}
        self.last = last
        self.store.write_json(STAT_CACHE, {"v": 1, "entries": entries, "last": last})
