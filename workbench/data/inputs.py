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

Format (``"v": 3``): ``{"entries": {path: "size:mtime_ns:inode:hash"}}``. One string per file
rather than a list parses about 5x faster; version-1 (lists) and version-2 caches are still
read and rewritten as version 3 on next save.

The last snapshot (``.workbench/cache/last.json``): ``{"v": 1, "listing", "id", "summary"}``,
where ``listing`` is the xxh3-128 of every input's (kind, path, size, mtime_ns, inode) when the
snapshot was taken (``listing_digest``). It makes the no-change check one comparison: walk the
inputs, digest the listing, and if it equals the recorded one the inputs are those of the last
snapshot (the same per-file rule as the stat cache, applied to all files at once), so neither
the per-file cache nor DuckDB is read. Any moved, added or removed file changes the digest and
takes the per-file path.

The no-change path is the hot one: ``discover`` walks with ``os.scandir`` (one ``stat`` per
file, from the directory entry), builds plain tuples, and computes relative paths by slicing.
"""

from __future__ import annotations

import glob
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import xxhash

from workbench.errors import DataError
from workbench.project import config_path, inside

if TYPE_CHECKING:
    from workbench.config import Settings
    from workbench.store import Store

STAT_CACHE = "cache/stat.json"
LAST_SNAPSHOT = "cache/last.json"
# the suffixes profile.py reads (equal to profile.DATA_SUFFIXES, which a test checks); spelled
# out here so the no-change path does not import the profiling module
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
HIDDEN_PREFIXES = (".", "#", "~$")
IGNORED_SUFFIXES = (".swp", ".swx", ".swo", ".tmp", ".part", ".crdownload", ".partial", "~")


class FileSig(NamedTuple):
    """What the stat cache compares before reading any bytes (a tuple: cheap to build)."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileSig:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


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
        name.startswith(HIDDEN_PREFIXES)
        or name.endswith(IGNORED_SUFFIXES)
        or not name.lower().endswith(DATA_SUFFIXES)
    )


def discover(settings: Settings) -> list[InputFile]:
    """The data files (sorted) followed by the config file."""
    return list_inputs(settings.root, settings.data.path, settings.source.name)


def list_inputs(project: Path, pattern: str, config_name: str) -> list[InputFile]:
    """The data files under ``[data] path`` = ``pattern`` (sorted), then the config file.

    Hot path of the no-change check: plain strings and one ``stat`` per file (``os.scandir``
    entries), no ``Path.resolve()``; only symlinked files are resolved, to refuse those that
    point outside the project (the data folder itself was checked when the config loaded).
    ``config_name`` only words the errors.
    """
    root = str(project.resolve())
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
            f"{config_name}",
        )
    if candidates:  # globbed, a single file, or symlinks found by the walk: the slow path
        files += filter(None, (_data_file(root, p, e) for p, e in candidates))
        files.sort(key=_by_rel)  # the order of the absolute paths: one common prefix
    if not files:
        raise DataError(
            f"no CSV or Parquet files under {pattern!r}",
            f"add data files to {pattern}/ (or fix [data] path in {config_name})",
        )
    cfg = str(config_path(project))
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
    data, new, sig = "data", InputFile, FileSig
    is_reg, is_link, is_dir = stat.S_ISREG, stat.S_ISLNK, stat.S_ISDIR
    suffixes, skip = DATA_SUFFIXES, HIDDEN_PREFIXES
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                name = entry.name
                if not name.lower().endswith(suffixes) or name.startswith(skip):
                    # not an input by name (that covers swap and temp files too); a folder
                    # is known from the directory entry, without a stat
                    if entry.is_dir(follow_symlinks=False) and not name.startswith("."):
                        stack.append(entry.path)
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # vanished between listing and stat: the next change brings it
                mode = st.st_mode
                if is_reg(mode):
                    path = entry.path
                    rel = path[cut:].replace(os.sep, "/") if slash else path[cut:]
                    files.append(new(rel, path, data, sig(st.st_size, st.st_mtime_ns, st.st_ino)))
                elif is_link(mode):
                    links.append((entry.path, entry))
                elif is_dir(mode) and not name.startswith("."):  # a folder named like a file
                    stack.append(entry.path)
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


def listing_digest(inputs: list[InputFile]) -> str:
    """The xxh3-128 of every input's (kind, path, size, mtime_ns, inode), in order."""
    return xxhash.xxh3_128_hexdigest(
        "\n".join([f"{f.kind}\0{f.rel}\0{f.sig[0]}:{f.sig[1]}:{f.sig[2]}" for f in inputs]).encode()
    )


class LastSnapshot(NamedTuple):
    data_path: str  # [data] path when it was taken
    listing: str
    id: str
    summary: dict[str, Any]


def read_last(store_dir: Path) -> LastSnapshot | None:
    """The last snapshot taken here (``cache/last.json``) when the record is whole and of
    this version, else None."""
    try:
        raw = json.loads((store_dir / LAST_SNAPSHOT).read_bytes())
    except (OSError, ValueError):
        return None
    if (
        isinstance(raw, dict)
        and raw.get("v") == 1
        and isinstance(raw.get("data_path"), str)
        and isinstance(raw.get("listing"), str)
        and isinstance(raw.get("id"), str)
        and isinstance(raw.get("summary"), dict)
    ):
        return LastSnapshot(raw["data_path"], raw["listing"], raw["id"], raw["summary"])
    return None


def remember_last(
    store: Store, settings: Settings, listing: str, sid: str, summary: dict[str, Any]
) -> None:
    """Record the last snapshot, the listing of its inputs, and where they were listed from.

    ``data_path`` lets ``entry`` list the inputs without loading the config: the config file
    is in the listing, so while the listing matches, ``[data] path`` is still this one.
    """
    store.write_json(
        LAST_SNAPSHOT,
        {
            "v": 1,
            "data_path": settings.data.path,
            "listing": listing,
            "id": sid,
            "summary": summary,
        },
    )


class StatCache:
    """path -> (FileSig, hash) for every input hashed so far."""

    def __init__(self, store: Store) -> None:
        self.store = store
        raw = store.read_json(STAT_CACHE)
        raw = raw if isinstance(raw, dict) else {}
        version = raw.get("v")
        entries = raw.get("entries") if version in (1, 2, 3) else None
        self.dirty = version != 3  # entries changed since read, or an older format
        if version == 1 and isinstance(entries, dict):  # lists: [size, mtime_ns, inode, hash]
            entries = {k: ":".join(map(str, v)) for k, v in entries.items()}
        self.entries: dict[str, str] = entries if isinstance(entries, dict) else {}

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

    def save(self, keep: set[str]) -> None:
        """Write the cache for the inputs named in ``keep`` (others are dropped)."""
        entries = {k: v for k, v in self.entries.items() if k in keep}
        self.store.write_json(STAT_CACHE, {"v": 3, "entries": entries})
        self.dirty = False
