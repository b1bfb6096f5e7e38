"""Snapshots: the exact bytes of every input at one moment, the git state, and a data profile.

``take(settings, store)`` is the one entry point (the CLI, the watch loop and the TUI call it):

1. list the inputs; when no input moved since the last snapshot (the listing digest in
   ``cache/last.json`` matches, see ``inputs``) that snapshot is the answer, read from that
   one file. Otherwise compare each input with the stat cache; only files whose (size,
   mtime_ns, inode) moved are read — hashed and stored in one pass (``ObjectStore.put_file``);
2. the snapshot id is derived from the (kind, path, hash) of every input, so the same inputs
   always give the same id; if that id is the last one taken or already in the store, nothing
   is written (``created: false``) and DuckDB is not even opened in the common case;
3. otherwise the data is profiled and the git state read — outside any store session, since
   both are slow — then every input is stat'ed again: a file that moved since it was hashed
   makes the snapshot fail (``FileChangedError``) instead of recording a mix of two states.
   Profiling reads the source files, not the stored objects (a chunked object would have to
   be assembled first): the final stat check vouches that the bytes profiled are the bytes
   hashed, as it does for the hash itself. Only files whose per-file profile is not known yet
   (in this process or in ``file_profiles``) are read, and the snapshot profile is merged from
   the per-file ones (``profile.profile_files``; many small CSVs are read in groups, see
   ``grouped``). A new large file (``PROFILE_BESIDE_BYTES``) is profiled while a thread stores
   it, in one streaming pass (``sketch``), so a new 1 GB file costs about one read;
4. the snapshot row, its file rows, the new per-file profiles and a ``snapshot`` event are
   written in one transaction. When this process already knows file profiles (a watcher or
   the TUI), the existence check happens in that same transaction — one store session — and
   only files new to the process are profiled.

A failure is recorded as a ``snapshot_failed`` event naming the file, and re-raised.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import xxhash

from workbench import config as config_mod
from workbench.config import Settings
from workbench.data import gitinfo
from workbench.data.inputs import (
    FileSig,
    InputFile,
    StatCache,
    discover,
    listing_digest,
    read_last,
    remember_last,
)
from workbench.errors import FileChangedError, StoreError, WorkbenchError
from workbench.store import Store, now_iso, os_user
from workbench.store.session import FileRecord, Session, SnapshotContext, SnapshotRecord

ID_LENGTH = 16
BATCH_FILE_BYTES = 1 << 20  # new files up to this size are stored in batches (put_files) ...
BATCH_FILES = 2048  # ... of up to this many, each batch one filesystem sync
PROFILE_BESIDE_BYTES = 64 << 20  # new data files this large are profiled while stored
KEEP_BYTES = 64 << 20  # new small files' bytes, up to this much, go from the store to the profile


@dataclass(frozen=True)
class SnapshotResult:
    id: str
    created: bool
    summary: dict[str, Any]  # the `snapshot --json` shape

    def to_json(self) -> dict[str, Any]:
        return {**self.summary, "id": self.id, "created": self.created}


def snapshot_id(files: list[tuple[str, str, str]]) -> str:
    """Deterministic id of a set of inputs given as (kind, path, hash)."""
    h = xxhash.xxh3_128(b"workbench-snapshot-v1\n")
    for kind, path, digest in sorted(files):
        h.update(f"{kind}\x00{path}\x00{digest}\n".encode())
    return h.hexdigest()[:ID_LENGTH]


Also = Callable[[Session, str], None]
Read = Callable[[Session, SnapshotRecord], None]


def take(
    settings: Settings, store: Store, *, also: Also | None = None, read: Read | None = None
) -> SnapshotResult:
    """Version the current inputs (see the module docstring); record failures as events.

    ``also(session, id)`` runs inside the transaction that records a new snapshot (and only
    then): a cycle writes its own events there instead of opening another session.
    ``read(session, record)`` runs in whichever session found or recorded the snapshot (not
    at all when no session was needed), before a new snapshot's rows are written: a caller
    reads what it needs next beside it.
    """
    try:
        return _take(settings, store, also, read)
    except WorkbenchError as e:
        if not isinstance(e, StoreError):
            record_failure(store, "snapshot_failed", e)
        raise
    finally:
        store.objects.release()  # a snapshot that wrote nothing still holds its gc pin


def take_with_context(
    settings: Settings,
    store: Store,
    *,
    also: Also | None = None,
    then: Callable[[SnapshotContext], None] | None = None,
) -> tuple[SnapshotResult, SnapshotContext | None]:
    """``take``, with the store's records beside the snapshot (``Session.context``) read in
    the session that found or recorded it: None when no session was needed (nothing moved
    since the last snapshot). ``then(context)`` runs as soon as they are read, before that
    session writes the snapshot's rows (drift starts reading the new rows on a thread)."""
    found: list[SnapshotContext] = []

    def read(s: Session, record: SnapshotRecord) -> None:
        found.append(s.context(record))
        if then is not None:
            then(found[-1])

    snap = take(settings, store, also=also, read=read)
    return snap, (found[-1] if found else None)


def record_failure(store: Store, kind: str, error: WorkbenchError) -> None:
    with store.write(kind) as s:
        s.add_event(
            kind,
            error.message,
            ts=now_iso(),
            level="error",
            data={"error": type(error).__name__, "hint": error.hint},
        )


def _take(settings: Settings, store: Store, also: Also | None, read: Read | None) -> SnapshotResult:
    from workbench.data import profile as profile_mod

    inputs = discover(settings)
    listing = listing_digest(inputs)
    last = read_last(store.root)
    if last is not None and last.listing == listing:  # no input moved: nothing else to read
        return SnapshotResult(last.id, False, last.summary)
    cache = StatCache(store)
    profiled_beside: set[str] = set()
    contents: dict[str, bytes] = {}
    hashes = _hash_inputs(inputs, cache, store, settings, profiled_beside, contents)
    if cache.dirty:
        cache.save({f.rel for f in inputs})
    sid = snapshot_id([(f.kind, f.rel, hashes[f.rel]) for f in inputs])
    if last is not None and last.id == sid:  # files moved but their bytes did not
        remember_last(store, settings, listing, sid, last.summary)
        return SnapshotResult(sid, False, last.summary)
    nulls = settings.data.null_values
    keys = [
        profile_mod.profile_key(f.rel, hashes[f.rel], nulls) for f in inputs if f.kind == "data"
    ]
    known: dict[str, dict[str, Any]] = {}
    # a cold process asks the store first; so does one that knows only the large files it
    # just profiled (the others' profiles are in the store: never profile them again); a warm
    # one (a watcher) checks for the snapshot in its write session instead
    if (
        store.db_path.exists()  # (a new store has no snapshot and no profile yet)
        and not profile_mod.all_profiles_in_memory(keys)
        and (profiled_beside or not profile_mod.any_profile_in_memory(keys))
    ):
        with store.read() as s:
            existing = s.snapshot(sid) if s.has_snapshot(sid) else None
            known = s.file_profiles(keys)
            if existing is not None and read is not None:
                read(s, existing)
        if existing is not None:
            summary = existing.to_json()
            remember_last(store, settings, listing, sid, summary)
            return SnapshotResult(sid, False, summary)
    _ensure_stored(inputs, hashes, store)
    record, new_profiles = _build(settings, store, inputs, hashes, sid, known, contents)
    contents.clear()
    with store.write("snapshot") as s:
        created = not s.has_snapshot(sid)  # another process may have recorded it meanwhile
        stored = record if created else s.snapshot(sid)
        if read is not None:  # first: work a caller starts on it runs while the rows are written
            read(s, stored)
        if created:
            s.insert_snapshot(record)
            s.put_file_profiles(new_profiles, ts=record.created_at)  # only keys not stored
            s.add_event(
                "snapshot",
                f"snapshot {sid}: {len(record.data_files)} files, {record.rows} rows",
                ts=now_iso(),
                snapshot_id=sid,
                data={"files": len(record.data_files), "rows": record.rows},
            )
            if also is not None:
                also(s, sid)
    summary = stored.to_json()
    remember_last(store, settings, listing, sid, summary)
    return SnapshotResult(sid, created, summary)


def _hash_inputs(
    inputs: list[InputFile],
    cache: StatCache,
    store: Store,
    settings: Settings,
    profiled_beside: set[str],
    contents: dict[str, bytes],
) -> dict[str, str]:
    """Every input's digest (stored as needed); the new large data files profiled while they
    were stored are added to ``profiled_beside`` (their paths), and the bytes of new small
    data files as they were hashed, up to ``KEEP_BYTES`` in all, to ``contents`` (path ->
    bytes: the profile reads them instead of the files)."""
    hashes: dict[str, str] = {}
    batch: list[InputFile] = []  # new small files: stored together, one filesystem sync
    beside: list[InputFile] = []  # new large data files: stored while profiled
    for f in inputs:
        digest = cache.hash_of(f)  # the cache only names objects that were stored whole
        if digest is None:
            if f.sig.size <= BATCH_FILE_BYTES and not cache.same_size(f):
                batch.append(f)
                continue
            if f.kind == "data" and f.sig.size >= PROFILE_BESIDE_BYTES and not cache.same_size(f):
                beside.append(f)  # (a file of the same size was most likely only touched:
                continue  # hashed first, its profile is then found by its hash)
            digest = _store(f, cache, store)
            cache.remember(f, digest)
        hashes[f.rel] = digest
    if beside:
        hashes |= _store_and_profile(beside, cache, store, settings)
        profiled_beside.update(f.rel for f in beside)
    kept = 0
    for start in range(0, len(batch), BATCH_FILES):  # (a batch of one syncs that one file)
        part = batch[start : start + BATCH_FILES]
        size = sum(f.sig.size for f in part)
        keep: dict[int, bytes] | None = {} if kept + size <= KEEP_BYTES else None
        stored = store.objects.put_files([f.path for f in part], keep=keep)
        for i, (f, (digest, _)) in enumerate(zip(part, stored, strict=True)):
            cache.remember(f, digest)
            hashes[f.rel] = digest
            if keep is not None and f.kind == "data" and i in keep:
                contents[f.rel] = keep[i]
        kept += size if keep is not None else 0
    return hashes


def _store_and_profile(
    files: list[InputFile], cache: StatCache, store: Store, settings: Settings
) -> dict[str, str]:
    """Store large files in a thread while their sources are profiled here (both release the
    GIL: the copy in system calls, polars as it parses), so a new 1 GB file costs about one
    read instead of a copy and then a read. The profile reads the source, not the object it
    becomes: ``_check_unchanged`` later makes sure the file did not move meanwhile (the same
    rule that vouches for its hash). A profile that fails waits for the stores to finish."""
    from concurrent.futures import ThreadPoolExecutor

    from workbench.data import profile as profile_mod

    nulls = settings.data.null_values
    olds = _old_profiles(files, cache, store, nulls)
    profiles: dict[str, dict[str, Any] | None] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        stored = [pool.submit(_store_file, f, cache, store) for f in files]
        try:
            for f in files:
                old = olds.get(f.rel)
                if old is not None:  # grew: profile the appended rows only, if it was appended
                    profiles[f.rel] = profile_mod.profile_appended(f.rel, f.path, *old, nulls)
                else:
                    profiles[f.rel] = profile_mod.profile_source(
                        f.rel, f.path, nulls, settings.data.max_columns
                    )
        finally:
            for future in stored:
                future.exception()  # every store ends before this returns or raises
    hashes: dict[str, str] = {}
    for f, future in zip(files, stored, strict=True):
        digest, appended = future.result()
        profile = profiles[f.rel]
        previous = cache.previous(f)
        if f.rel in olds and (profile is None or previous is None or appended != previous[0]):
            # not an append after all (the old bytes were edited): the whole file's profile
            profile = profile_mod.profile_source(f.rel, f.path, nulls, settings.data.max_columns)
        cache.remember(f, digest)
        hashes[f.rel] = digest
        if profile is not None:
            profile_mod.remember_profile(profile_mod.profile_key(f.rel, digest, nulls), profile)
    return hashes


def _old_profiles(
    files: list[InputFile], cache: StatCache, store: Store, nulls: Any
) -> dict[str, tuple[dict[str, Any], int]]:
    """rel -> (the stored profile of the object a grown file may extend, its size)."""
    from workbench.data import profile as profile_mod

    grown = {}
    for f in files:
        previous = cache.previous(f)
        if previous is not None and previous[1] < f.sig.size:
            grown[f.rel] = (profile_mod.profile_key(f.rel, previous[0], nulls), previous[1])
    if not grown or not store.db_path.exists():
        return {}
    with store.read() as s:
        found = s.file_profiles([key for key, _ in grown.values()])
    return {rel: (found[key], size) for rel, (key, size) in grown.items() if key in found}


def _ensure_stored(inputs: list[InputFile], hashes: dict[str, str], store: Store) -> None:
    """Before a new snapshot references them: every object exists (re-store any lost one)."""
    for f in inputs:
        if not store.objects.has(hashes[f.rel]):
            digest, _ = store.objects.put_file(f.path)
            if digest != hashes[f.rel]:
                raise _changed(f)


def _store(f: InputFile, cache: StatCache, store: Store) -> str:
    """Hash and store one file, reading it once in the common case.

    New content (a new file, a file that grew or shrank) is hashed while it is copied. A file
    whose size is what the cache remembers was most likely only touched, checked out or
    restored: hash it first and copy only if those bytes are not stored yet.
    """
    if cache.same_size(f):
        digest = store.objects.hash_file(f.path)
        if store.objects.has(digest) and FileSig.of(os.stat(f.abspath)) == f.sig:
            return digest
    return _store_file(f, cache, store)[0]


def _store_file(f: InputFile, cache: StatCache, store: Store) -> tuple[str, str | None]:
    """Store ``f``: its digest, and the object it extends when it is that object's bytes
    followed by appended ones (the store then keeps only the tail)."""
    previous = cache.previous(f)
    stored = store.objects.store_file(f.path, previous=previous[0] if previous else None)
    appended = stored.appended_to if previous and stored.prefix_size == previous[1] else None
    return stored.digest, appended


def _build(
    settings: Settings,
    store: Store,
    inputs: list[InputFile],
    hashes: dict[str, str],
    sid: str,
    known: dict[str, dict[str, Any]],
    contents: dict[str, bytes] | None = None,
) -> tuple[SnapshotRecord, dict[str, dict[str, Any]]]:
    """The snapshot record and the per-file profiles computed for it (key -> profile)."""
    from workbench.data import profile as profile_mod

    config_file = next(f for f in inputs if f.kind == "config")
    # the config that was hashed must parse: a snapshot of a broken config is refused
    config_mod.parse(store.objects.read(hashes[config_file.rel]), config_file.path, settings.root)
    data = [f for f in inputs if f.kind == "data"]
    profile = profile_mod.profile_files(
        [(f.rel, f.path) for f in data],  # the sources: see the module docstring
        hashes={f.rel: hashes[f.rel] for f in data},
        known=known,
        null_values=settings.data.null_values,
        max_columns=settings.data.max_columns,
        contents=contents,
    )
    file_rows: dict[str, int] = profile.pop("file_rows")
    new_profiles: dict[str, dict[str, Any]] = profile.pop("file_profiles", {})
    git = gitinfo.state(settings.root)
    _check_unchanged(inputs)
    files = tuple(
        FileRecord(
            f.rel,
            hashes[f.rel],
            f.sig.size,
            file_rows.get(f.rel) if f.kind == "data" else None,
            f.kind,
        )
        for f in inputs
    )
    if git.note:
        profile["git_note"] = git.note
    record = SnapshotRecord(
        id=sid,
        created_at=now_iso(),
        git_commit=git.commit,
        git_branch=git.branch,
        git_dirty=git.dirty,
        in_git=git.in_git,
        config_path=config_file.rel,
        config_hash=hashes[config_file.rel],
        rows=int(profile["rows"]),
        bytes=sum(f.sig.size for f in data),
        profile=profile,
        created_by=os_user(),
        files=files,
    )
    return record, new_profiles


def _check_unchanged(inputs: list[InputFile]) -> None:
    for f in inputs:
        try:
            now = FileSig.of(os.stat(f.abspath))
        except FileNotFoundError:
            now = None
        if now != f.sig:
            raise _changed(f)


def _changed(f: InputFile) -> FileChangedError:
    return FileChangedError(
        f"{f.rel} changed while the snapshot was being taken",
        "wait until the file is completely written, then snapshot again",
    )
