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
from dataclasses import dataclass
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
    path: Path
    kind: str  # "data" | "config"
    sig: FileSig


def is_ignored(name: str) -> bool:
    """Hidden, temp and editor swap files are never inputs."""
    return (
        name.startswith((".", "#", "~$"))
        or name.endswith(IGNORED_SUFFIXES)
        or not name.lower().endswith(DATA_SUFFIXES)
    )


def discover(settings: Settings) -> list[InputFile]:
    """The data files (sorted) followed by the config file."""
    root = settings.root
    pattern = settings.data.path
    base = root / pattern
    paths: list[Path]
    if any(ch in pattern for ch in "*?["):
        paths = [Path(p) for p in glob.glob(str(base), recursive=True)]
    elif base.is_dir():
        paths = list(_walk(base))
    elif base.is_file():
        paths = [base]
    else:
        raise DataError(
            f"the data folder {pattern!r} does not exist in {root}",
            f"create {pattern}/ and put CSV or Parquet files in it, or fix [data] path in "
            f"{settings.source.name}",
        )
    files = []
    for path in sorted(paths):
        if is_ignored(path.name) or not path.is_file():
            continue
        if not inside(root, path):
            raise DataError(
                f"{path} resolves outside the project folder {root}",
                "copy the file into the project instead of linking to it",
            )
        files.append(_input(root, path, "data"))
    if not files:
        raise DataError(
            f"no CSV or Parquet files under {pattern!r}",
            f"add data files to {pattern}/ (or fix [data] path in {settings.source.name})",
        )
    files.append(_input(root, config_path(root), "config"))
    return files


def _walk(folder: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        out.extend(Path(dirpath, name) for name in filenames)
    return out


def _input(root: Path, path: Path, kind: str) -> InputFile:
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise DataError(f"{path} disappeared while listing inputs", "try again") from e
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    return InputFile(rel, path, kind, FileSig.of(st))


class StatCache:
    """path -> (FileSig, hash), plus the id and summary of the last snapshot taken."""

    def __init__(self, store: Store) -> None:
        self.store = store
        raw = store.read_json(STAT_CACHE) or {}
        self.entries: dict[str, list[Any]] = raw.get("entries", {}) if raw.get("v") == 1 else {}
        self.last: dict[str, Any] | None = raw.get("last") if raw.get("v") == 1 else None

    def hash_of(self, f: InputFile) -> str | None:
        entry = self.entries.get(f.rel)
        if entry and FileSig(*entry[:3]) == f.sig:
            return str(entry[3])
        return None

    def remember(self, f: InputFile, digest: str) -> None:
        self.entries[f.rel] = [f.sig.size, f.sig.mtime_ns, f.sig.inode, digest]

    def save(self, keep: set[str], last: dict[str, Any] | None) -> None:
        """Write the cache for the inputs named in ``keep`` (others are dropped)."""
        entries = {k: v for k, v in self.entries.items() if k in keep}
        self.last = last
        self.store.write_json(STAT_CACHE, {"v": 1, "entries": entries, "last": last})
