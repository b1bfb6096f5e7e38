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

No input may resolve outside the project: checkout rewrites and deletes inputs, so an input
reached through a symlink (a file, or a folder a glob descends into) or ``..`` that leads out
of the project would let it delete a file that is not the project's. Such an input is refused
(``OutsideProjectError``) rather than skipped, so nothing is silently left out of a snapshot.
``escapes`` is the one rule, shared by checkout and predict for the paths they write.
"""

from __future__ import annotations

import glob
import json
import os
import posixpath
import re
import stat
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import xxhash

from workbench.errors import DataError
from workbench.project import config_path

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


class OutsideProjectError(DataError):
    """A path that resolves outside the project folder (a symlink or ``..`` on the way).

    Its own class so that checkout, which treats "no data files yet" as nothing to protect,
    refuses on this one instead of going on without the inputs it could not list.
    """


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
    entries), no ``Path.resolve()``. The walk descends real folders only, so it checks the
    folder once and each symlinked file; a glob can descend into symlinked folders (and a
    named file can sit in one), so each folder it returns files from is resolved once.
    ``config_name`` only words the errors.
    """
    root = str(project.resolve())
    guard = _Guard(root, pattern, config_name)
    base = os.path.normpath(os.path.join(root, pattern))
    candidates: list[tuple[str, os.DirEntry[str] | None]] = []
    files: list[InputFile] = []
    if any(ch in pattern for ch in "*?["):
        candidates = [(p, None) for p in glob.glob(base, recursive=True)]
    elif os.path.isdir(base):
        guard.folder(base)  # checked when the config loaded, but entry lists without loading it
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
        files += filter(None, (_data_file(guard, p, e) for p, e in candidates))
        files.sort(key=_by_rel)  # the order of the absolute paths: one common prefix
    if not files:
        raise DataError(
            f"no CSV or Parquet files under {pattern!r}",
            f"add data files to {pattern}/ (or fix [data] path in {config_name})",
        )
    for f in files:
        _check_name(f.rel)
    cfg = str(config_path(project))
    files.append(InputFile(_rel(root, cfg), cfg, "config", FileSig.of(_config_stat(guard, cfg))))
    return files


def _check_name(rel: str) -> None:
    """A data file's name must be valid UTF-8: the store, the snapshot id and every report
    name files by their text."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(rel).decode("utf-8", "backslashreplace")
        raise DataError(
            f"{shown}: the file name is not valid UTF-8",
            "rename the file (for example with `mv` and a UTF-8 name), or move it out of the"
            " data path",
        ) from None


class _Guard:
    """Refuses inputs that resolve outside the project, resolving each folder once."""

    def __init__(self, root: str, pattern: str, config_name: str) -> None:
        self.root, self.pattern, self.config_name = root, pattern, config_name
        self.inside = root + os.sep
        self.folders: set[str] = set()  # folders already found inside

    def folder(self, path: str, file: str | None = None) -> None:
        """Check the folder ``path`` once; ``file``, the input in it, names the error."""
        if path not in self.folders:
            self.check(path, file)
            self.folders.add(path)

    def check(self, path: str, file: str | None = None) -> None:
        """Raise ``OutsideProjectError`` when ``path`` (normalised, absolute) leaves the project."""
        shown = file or path
        if not (path == self.root or path.startswith(self.inside)):  # `..` in [data] path
            raise OutsideProjectError(
                f"[data] path {self.pattern!r} reaches {path}, outside the project folder "
                f"{self.root}",
                f"remove '..' from [data] path in {self.config_name} so it stays in the project",
            )
        why = escapes(self.root, path)
        if why is not None:
            raise OutsideProjectError(
                f"{_rel(self.root, shown) or shown} resolves outside the project folder "
                f"{self.root}: {why}",
                "copy the files into the project instead of linking to them, or change "
                f"[data] path in {self.config_name} so it does not reach the link",
            )


def escapes(root: str, path: str) -> str | None:
    """Why the absolute ``path`` resolves outside the folder ``root`` (resolved), or None.

    The resolved path is what the OS opens, so it decides; the reason names the first symlink
    on the way (when ``path`` is spelled inside ``root``) so the user knows what to remove.
    """
    real = os.path.realpath(path)
    if real == root or real.startswith(root + os.sep):
        return None
    norm = os.path.normpath(path)
    if norm.startswith(root + os.sep):
        parts = norm[len(root) + 1 :].split(os.sep)
        for i in range(1, len(parts) + 1):
            step = os.path.join(root, *parts[:i])
            if os.path.islink(step):
                shown = _rel(root, step)
                return f"{shown} is a symlink to {os.path.realpath(step)}"
    return f"it is {real}"


def in_data_path(pattern: str, rel: str) -> bool:
    """True when the project-relative posix path ``rel`` is inside ``[data] path``.

    Inside = under the data folder, under the folder a glob starts from (unless that is the
    project root: then every file would be "inside"), or matched by the glob. A file written
    there is, or would become, an input: the next snapshot would take it as data.
    """
    pattern = posixpath.normpath(pattern.replace(os.sep, "/"))
    if not any(ch in pattern for ch in "*?["):
        return pattern == "." or rel == pattern or rel.startswith(pattern + "/")
    start = posixpath.dirname(re.split(r"[*?\[]", pattern, maxsplit=1)[0])
    if start and (rel == start or rel.startswith(start + "/")):
        return True
    return _matches(rel.split("/"), pattern.split("/"))


def _matches(parts: list[str], pats: list[str]) -> bool:
    """``glob``'s rules, segment by segment: ``**`` is any number of folders."""
    if not pats:
        return not parts
    if pats[0] == "**":
        return any(_matches(parts[i:], pats[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], pats[0]) and _matches(parts[1:], pats[1:])


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


def _data_file(guard: _Guard, path: str, entry: os.DirEntry[str] | None) -> InputFile | None:
    if entry is None:  # globbed or named (walked entries are filtered and in a checked folder)
        if is_ignored(os.path.basename(path)):
            return None
        path = os.path.normpath(path)
        guard.folder(os.path.dirname(path), path)  # a symlinked folder or `..` on the way
    link = entry.is_symlink() if entry is not None else os.path.islink(path)
    if link:
        guard.check(path)
    try:
        st = entry.stat() if entry is not None and not link else os.stat(path)
    except FileNotFoundError:
        return None  # vanished between listing and stat: the next change will bring it
    if not stat.S_ISREG(st.st_mode):
        return None
    return InputFile(_rel(guard.root, path), path, "data", FileSig.of(st))


def _rel(root: str, path: str) -> str:
    return path[len(root) + 1 :].replace(os.sep, "/")


def _config_stat(guard: _Guard, path: str) -> os.stat_result:
    """The config's stat; a symlinked config must resolve inside too (checkout rewrites it)."""
    try:
        st = os.lstat(path)  # the same one call as a stat when it is not a link
        if stat.S_ISLNK(st.st_mode):
            guard.check(path)
            st = os.stat(path)
    except FileNotFoundError as e:
        raise DataError(f"{path} disappeared while listing inputs", "try again") from e
    return st


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

    def previous(self, f: InputFile) -> tuple[str, int] | None:
        """The (hash, size) remembered for ``f``'s path whatever its stat now (the object a
        file that grew may extend), or None."""
        entry = self.entries.get(f.rel)
        if entry is None:
            return None
        size, _, _, digest = entry.split(":", 3)
        return digest, int(size)

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
