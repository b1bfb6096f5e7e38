"""Which files are the project's inputs, and which of them changed since they were last hashed.

Inputs are the data files under ``[data] path`` (CSV/TSV/Parquet, recursively for a folder, or
what a glob matches) plus the config file. Hidden files, editor swap files and partial
downloads are never inputs, so a file being written under a temp name is not picked up.

The stat cache (``.workbench/cache/stat.json``) maps each input path to the (size, mtime_ns,
inode) it had when it was hashed, and the hash. A file whose stat matches is not read again;
that is how a no-change check over 10,000 files takes a fraction of a second, and how
appending to one large file re-hashes only that file. The cache is a file rather than a table
so the no-change path never opens (or even imports) DuckDB; it is written after the objects it
names are stored (and synced), and deleting it only costs one re-hash.

Format (``"v": 2``): ``{"entries": {path: "size:mtime_ns:inode:hash"}, "last": {"id", "summary"}}``.
One string per file rather than a list parses about 5x faster (the no-change path reads the
whole file); a version-1 cache (lists) is still read and rewritten as version 2 on next save.

The no-change path is the hot one: ``discover`` walks with ``os.scandir`` (one ``stat`` per
file, from the directory entry), builds plain tuples, and computes relative paths by slicing.
"""

from __future__ import annotations

import glob
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from workbench.config import Settings, config_path, inside
from workbench.errors import DataError
from workbench.store.objects import FileSig

if TYPE_CHECKING:
    from workbench.store import Store

STAT_CACHE = "cache/stat.json"
# the suffixes profile.py reads (equal to profile.DATA_SUFFIXES, which a test checks); spelled
# out here so the no-change path does not import the profiling module
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
IGNORED_SUFFIXES = (".swp", ".swx", ".swo", ".tmp", ".part", ".crdownload", ".partial", "~")


class InputFile(NamedTuple):
    rel: str  # posix path relative to the project root
    abspath: str
    kind: str  # "data" | "config"
    sig: FileSig

    @property
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
    candidates: list[tuple[str, os.DirEntry[str] | None]] = []
    files: list[InputFile] = []
    if any(ch in pattern for ch in "*?["):
        candidates = [(p, None) for p in glob.glob(base, recursive=True)]
    elif os.path.isdir(base):
        files, candidates = _walk(root, base)
    elif os.path.isfile(base):
        candidates = [(base, None)]
    else:
        raise DataError(
            f"the data folder {pattern!r} does not exist in {root}",
            f"create {pattern}/ and put CSV or Parquet files in it, or fix [data] path in "
            f"{settings.source.name}",
        )
    if candidates:  # globbed, a single file, or symlinks found by the walk: the slow path
        files += filter(None, (_data_file(root, p, e) for p, e in candidates))
        files.sort(key=_by_rel)  # the order of the absolute paths: one common prefix
    if not files:
        raise DataError(
            f"no CSV or Parquet files under {pattern!r}",
            f"add data files to {pattern}/ (or fix [data] path in {settings.source.name})",
        )
    cfg = str(config_path(settings.root))
    files.append(InputFile(_rel(root, cfg), cfg, "config", FileSig.of(_stat(cfg))))
    return files


def _by_rel(f: InputFile) -> str:
    return f.rel


def _walk(
    root: str, folder: str
) -> tuple[list[InputFile], list[tuple[str, os.DirEntry[str] | None]]]:
    """Regular files under ``folder`` as inputs, and symlinks left for ``_data_file``.

    The same filtering as ``_data_file`` (hidden, ignored, not regular), inlined: this loop
    runs once per file on every no-change check.
    """
    files: list[InputFile] = []
    links: list[tuple[str, os.DirEntry[str] | None]] = []
    cut = len(root) + 1
    slash = os.sep != "/"
    stack = [folder]
    data, new, sig, is_reg = "data", InputFile, FileSig, stat.S_ISREG
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        stack.append(entry.path)
                    continue
                if is_ignored(entry.name):
                    continue
                if entry.is_symlink():
                    links.append((entry.path, entry))
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue  # vanished between listing and stat: the next change brings it
                if is_reg(st.st_mode):
                    path = entry.path
                    rel = path[cut:].replace(os.sep, "/") if slash else path[cut:]
                    files.append(new(rel, path, data, sig(st.st_size, st.st_mtime_ns, st.st_ino)))
    files.sort(key=_by_rel)
    return files, links


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
        raw = store.read_json(STAT_CACHE)
        raw = raw if isinstance(raw, dict) else {}
        version = raw.get("v")
        entries = raw.get("entries") if version in (1, 2) else None
        self.dirty = False  # entries changed since read
        if version == 1 and isinstance(entries, dict):  # lists: [size, mtime_ns, inode, hash]
            entries = {k: ":".join(map(str, v)) for k, v in entries.items()}
            self.dirty = True  # rewritten as version 2 by the next save
        self.entries: dict[str, str] = entries if isinstance(entries, dict) else {}
        self.last: dict[str, Any] | None = raw.get("last") if version in (1, 2) else None

    def hash_of(self, f: InputFile) -> str | None:
        entry = self.entries.get(f.rel)
        if entry is None:
            return None
        size, mtime_ns, inode = f.sig
        key = f"{size}:{mtime_ns}:{inode}:"
        return entry[len(key) :] if entry.startswith(key) else None

    def same_size(self, f: InputFile) -> bool:
        """True when the cache knows this path with this size (its mtime or inode moved)."""
        entry = self.entries.get(f.rel)
        return entry is not None and entry.startswith(f"{f.sig.size}:")

    def remember(self, f: InputFile, digest: str) -> None:
        size, mtime_ns, inode = f.sig
        self.entries[f.rel] = f"{size}:{mtime_ns}:{inode}:{digest}"
        self.dirty = True

    def save(self, keep: set[str], last: dict[str, Any] | None) -> None:
        """Write the cache for the inputs named in ``keep`` (others are dropped)."""
        entries = {k: v for k, v in self.entries.items() if k in keep}
        self.last = last
        self.store.write_json(STAT_CACHE, {"v": 2, "entries": entries, "last": last})
