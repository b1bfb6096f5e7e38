"""Content-addressed object store: ``.workbench/objects/ab/cdef…`` named by xxh3-128.

Why xxh3-128: it hashes at memory speed (about 10x md5), 128 bits make accidental collisions
irrelevant for a project's files, and content addressing here is about identity, not defence
against an adversary who can write into the project anyway.

Writing an object: bytes are streamed once — read, hashed and written to a temp file under
``.workbench/tmp`` in the same pass — then the temp file is fdatasynced and renamed to its
address. An object that exists is never rewritten: its temp copy is dropped. Because the rename
comes after the data is on disk, a kill or a crash at any moment leaves either no object or a
whole one under an address. Objects and folders are owner-only (0600 / 0700).

The directory entries (the renames, and new ``ab/`` folders) are made durable in batches:
``put_*`` only notes the folder it touched, and ``sync()`` fsyncs each noted folder once. The
store calls ``sync()`` before anything that references objects is written (``Store.write``
opens its transaction after it; the stat cache is saved after it), so the rule stays: nothing
durable ever references an object that a crash could take back. Storing 10,000 small files
thus costs at most 257 folder syncs instead of 10,000, or one ``syncfs`` when more than a few
folders wait (``SYNCFS_FOLDERS``). An object found already present (``has``, or a ``put`` of
known bytes) is noted too, because the process that wrote it may not have synced its folder
yet.

While copying a large file, writeback of each chunk is started at once (``sync_file_range``)
so that the final fdatasync does not have to push the whole file to the disk at the end.

Many files at once (``put_files``, a first snapshot of a folder of small files): each is
copied to its temp file unsynced, then one ``syncfs`` makes all of them durable, then they are
renamed — the order (data durable, then rename) is the same as for one file, at the cost of
one filesystem sync instead of one per file.

Large files (at least ``chunks.CHUNKED_MIN``, 16 MiB) are stored as content-defined chunks in
packs, under the same address (the xxh3-128 of the whole file): see ``chunks.py`` and
``packs.py``. ``store_file(source, previous=...)`` stores only the new tail of an append.

Many small files at once (``put_files`` of at least ``PACK_FILES`` files up to ``PACKED_MAX``,
a first snapshot of a folder of small CSVs) go into one pack whose index marks its entries as
whole objects (``ChunkStore.store_small``): creating a file per object was most of the time of
a first snapshot of 10,000 files (a create costs ~40 µs here, as much as reading and hashing the
file). Their address is the same xxh3-128; ``read``, ``has``, ``copy_to`` and ``path`` find them
in the pack index; ``packed(digest)`` hands a reader their bytes without any file.
Layout::

    objects/ab/cdef…           whole objects (single small files, put_bytes)
    chunks/files/ab/cdef…      manifest of a chunked file: its chunks (digest, length) + size
    chunks/packs/<id>.pack     chunk payloads written by one store_file (raw or zstd), or the
                               small files of one put_files
    chunks/packs/<id>.idx      the pack's index, written only after the pack is durable
    tmp/asm.<pid>.<digest>     a chunked file assembled for ``path()`` (see below)
    gc.lock                    the gc lock (``pins.py``)

``path(digest)`` of a chunked object returns a file holding its bytes: the pack itself when
the file is exactly one raw pack in order (a first snapshot: no copy at all), else assembled once
per process into ``tmp/asm.<pid>.<digest>`` (kernel-side ``copy_file_range`` from raw packs; a
temp name renamed when complete). The process unlinks its assembled files at exit and keeps at
most ``assembled.KEEP`` of them (least recently asked for are unlinked first); files of dead
processes are swept by the next process that assembles one, and by gc. ``read`` and
``copy_to`` restore chunked bytes directly, without an assembled file.

The gc lock: every ``put_*``/``store_file``, a ``has()`` answering True and a read of a chunked
object first *pin* the process (``gc.lock`` shared, once, kept) until ``release()``, which
``Store.write`` calls after its transaction ends; ``gc_lock()`` is the exclusive side,
``collect`` the removal (``collect.py``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from workbench.errors import DataError, FileChangedError, StoreError
from workbench.store import pins
from workbench.store.locking import WaitCallback

if TYPE_CHECKING:
    from workbench.store.assembled import Assembled
    from workbench.store.chunks import ChunkStore

CHUNK = 32 << 20
SMALL = 1 << 20  # files up to this size are copied with one buffer and no early writeback
PACKED_MAX = 1 << 20  # put_files packs files up to this size together ...
PACK_FILES = 8  # ... when at least this many are that small
SYNCFS_FOLDERS = 8  # more unsynced folders than this: one syncfs instead of an fsync each
_SYNC_FILE_RANGE_WRITE = 2


@dataclass(frozen=True)
class Stored:
    """What ``store_file`` stored."""

    digest: str  # xxh3-128 of the whole file
    size: int
    appended_to: str | None  # == previous when the file's first bytes are exactly previous's
    prefix_size: int | None  # size of ``previous`` when appended_to is set


@dataclass(frozen=True)
class CollectReport:
    """What ``collect`` removed (or, with dry_run, would remove)."""

    objects_removed: int
    chunked_removed: int
    chunks_removed: int
    packs_rewritten: int
    bytes_freed: int
    bytes_kept: int
    temp_removed: int
    removed: tuple[str, ...]  # digests of removed objects / chunked files


@cache
def _start_writeback() -> Callable[[int, int, int], None] | None:
    """``sync_file_range(fd, off, n, SYNC_FILE_RANGE_WRITE)``, or None where unavailable.

    Looked up on the first large copy only: ctypes is not imported by commands that store
    nothing.
    """
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]

    def start_writeback(fd: int, offset: int, length: int) -> None:
        fn(fd, offset, length, _SYNC_FILE_RANGE_WRITE)

    return start_writeback


def _sig(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


def hash_bytes(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def fsync_path(path: Path) -> None:
    """fsync a file or a folder, by its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` via temp file + fsync + rename (+ fsync of the folder).

    ``durable=False`` (live state that a crash makes stale anyway, like a watcher's progress)
    keeps the temp + rename, so a reader never sees half a file, without the two fsyncs.
    """
    tmp = path.with_name(f".{path.name}.wbtmp.{os.getpid()}.{threading.get_ident()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if durable:
            fsync_path(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@cache
def _syncfs() -> Callable[[int], int] | None:
    """``syncfs(fd)`` (Linux), or None where unavailable."""
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


GITIGNORE = b"# created by workbench: the store is never committed\n*\n"
_PRIVATE: set[str] = set()  # store folders made private by this process


def private_root(root: Path) -> None:
    """The store folder exists, is owner-only (0700) and ignores itself in git — however it
    was first made (an older workbench, a ``mkdir``, a copy): every path that creates
    anything in the store comes through here first, once per process."""
    key = str(root)
    if key in _PRIVATE:
        return
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(os.stat(root).st_mode) & 0o077:
        os.chmod(root, 0o700)
    if not (root / ".gitignore").exists():
        atomic_write(root / ".gitignore", GITIGNORE, mode=0o600)
    _PRIVATE.add(key)


class ObjectStore:
    def __init__(self, root: Path, *, on_wait: WaitCallback | None = None) -> None:
        self.store_root = root
        self.root = root / "objects"
        self.tmp = root / "tmp"
        self.on_wait = on_wait
        self._root = str(self.root)
        self._ready = False
        self._unsynced: set[str] = set()  # folders whose new entries are not fsynced yet
        self._serial = itertools.count()  # temp file names
        self._chunks: ChunkStore | None = None
        self._pin_fd: int | None = None
        self._gc_held = False  # this ObjectStore holds gc.lock exclusive (gc_lock)
        self._pin_lock = threading.RLock()
        self._assembled: Assembled | None = None  # chunked files assembled for path()

    # ------------------------------------------------------------ the gc pin

    def pin(self) -> None:
        """Hold ``gc.lock`` shared (once; kept until ``release``): gc waits for us."""
        if self._pin_fd is not None or self._gc_held:
            return  # (holding gc.lock exclusive covers us: a pin would wait for ourselves)
        with self._pin_lock:
            if self._pin_fd is None:
                self.ensure()
                self._pin_fd = pins.acquire(
                    self.store_root / pins.GC_LOCK,
                    exclusive=False,
                    purpose="pin",
                    on_wait=self.on_wait,
                )
                if self._chunks is not None:  # gc may have rewritten packs while unpinned
                    self._chunks.index.forget()

    def release(self) -> None:
        """Drop the pin (safe at any time; ``Store.write`` calls it after its transaction)."""
        with self._pin_lock:
            fd, self._pin_fd = self._pin_fd, None
            if fd is not None:
                os.close(fd)

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        self.pin()
        try:
            yield
        finally:
            self.release()

    @contextlib.contextmanager
    def gc_lock(self, on_wait: WaitCallback | None = None) -> Iterator[None]:
        """``gc.lock`` exclusive (bounded wait, says who holds it) for ``collect``."""
        self.release()  # our own pin would block us
        self.ensure()
        with pins.exclusive(self.store_root / pins.GC_LOCK, purpose="gc", on_wait=on_wait):
            self._chunk_store().index.forget()
            self._gc_held = True
            try:
                yield
            finally:
                self._gc_held = False

    def collect(self, referenced: set[str], *, dry_run: bool) -> CollectReport:
        """Remove what ``referenced`` does not name (call it holding ``gc_lock``)."""
        from workbench.store.collect import collect

        return collect(self, self._chunk_store(), referenced, dry_run=dry_run)

    def usage(self) -> dict[str, int]:
        """Bytes by kind: objects, packs, manifests, tmp (incl. assembled files)."""
        from workbench.store.collect import usage

        return usage(self, self._chunk_store())

    def digests(self) -> set[str]:
        """Every stored address: whole, chunked or packed."""
        from workbench.store.collect import addresses

        chunks = self._chunk_store()
        chunks.index.refresh()
        return set(addresses(self.root)) | set(addresses(chunks.files)) | chunks.index.whole

    def _chunk_store(self) -> ChunkStore:
        if self._chunks is None:
            from workbench.store.chunks import ChunkStore

            self._chunks = ChunkStore(self.store_root, self.tmp, self._unsynced)
        return self._chunks

    def _in_chunks(self, digest: str) -> bool:
        """Chunked (a manifest) or a packed small file: bytes in packs, not ``objects/``."""
        return os.path.isdir(self.store_root) and self._chunk_store().has(digest)

    def ensure(self) -> None:
        if self._ready:
            return
        private_root(self.store_root)
        for folder in (self.root, self.tmp):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._ready = True

    def path(self, digest: str) -> Path:
        """A file with the object's bytes (a chunked one is assembled, see the docstring)."""
        whole = self.root / digest[:2] / digest[2:]
        if len(digest) < 3 or os.path.isfile(whole) or not os.path.isdir(self.store_root):
            return whole
        self.pin()
        small = self._chunk_store().read_small(digest)
        if small is not None:  # a packed small file: written out as it is, no copy from packs
            return self._assembler().put(digest, small)
        if not self._in_chunks(digest):
            return whole
        itself = self._chunk_store().pack_itself(digest)
        if itself is not None:
            return itself
        return self._assembler().get(digest)

    def _assembler(self) -> Assembled:
        if self._assembled is None:
            from workbench.store.assembled import Assembled

            self._assembled = Assembled(self.tmp, self._chunk_store())
        return self._assembled

    def exists(self, digest: str) -> bool:
        """Whether ``digest`` is stored, asked by a reader of an object a record names.

        No pin: gc never removes what a record names, so a long-lived process that only reads
        (``serve`` loading its champion, the TUI) does not hold gc off until its next write.
        A caller about to *reference* the object asks ``has`` instead.
        """
        if os.path.isfile(self.root / digest[:2] / digest[2:]):
            return True
        return os.path.isdir(self.store_root) and self._chunk_store().has(digest)

    def has(self, digest: str) -> bool:
        if self._pin_fd is None and os.path.isdir(self.store_root):
            self.pin()  # before looking: gc cannot remove it between our look and our commit
        folder = f"{self._root}/{digest[:2]}"
        if os.path.isfile(f"{folder}/{digest[2:]}"):
            self._unsynced.add(folder)  # its writer may not have synced the folder yet
            return True
        return os.path.isdir(self.store_root) and self._chunk_store().has(digest)

    def sync(self) -> None:
        """Make every rename done (or relied on) since the last ``sync`` durable.

        Called by the store before it writes anything that references objects.
        """
        if len(self._unsynced) > SYNCFS_FOLDERS and self._syncfs_all():
            self._unsynced.clear()
            return
        for folder in sorted(self._unsynced, key=len, reverse=True):  # ab/ before objects/
            with contextlib.suppress(FileNotFoundError):  # a store deleted meanwhile
                fsync_path(Path(folder))
            self._unsynced.discard(folder)

    def put_file(self, source: Path) -> tuple[str, int]:
        """Store the bytes of ``source``; return (digest, size).

        Raises ``FileChangedError`` when the file's size or mtime moved while it was read.
        """
        stored = self.store_file(source)
        return stored.digest, stored.size

    def store_file(self, source: Path, *, previous: str | None = None) -> Stored:
        """Store ``source`` — chunked when large — reusing ``previous``'s chunks on an append.

        ``previous``: the digest of the earlier version of the same path (whole or chunked,
        possibly missing). See ``chunks.py`` for how an append is detected and stored.
        """
        from workbench.store.chunks import chunked_min

        self.pin()
        before = _stat(source)
        previous_size = self._size_of(previous) if previous else None
        if before.st_size < chunked_min():
            digest, size = self.put_files([source])[0]
            appended = previous_size is not None and self._starts_with(
                digest, size, previous or "", previous_size
            )
            return Stored(
                digest, size, previous if appended else None, previous_size if appended else None
            )
        try:
            return self._chunk_store().store(source, previous, previous_size)
        except OSError as e:
            raise StoreError(
                f"could not store {source} in {self.store_root}: {e.strerror or e}",
                "check free disk space and permissions of .workbench/",
            ) from e

    def _size_of(self, digest: str) -> int | None:
        try:
            return os.stat(self.root / digest[:2] / digest[2:]).st_size
        except FileNotFoundError:
            pass
        if not os.path.isdir(self.store_root):
            return None
        manifest = self._chunk_store().manifest(digest)
        if manifest is None:
            small = self._chunk_store().index.whole_object(digest)
            return None if small is None else small.raw
        return manifest.size

    def _starts_with(self, digest: str, size: int, previous: str, prefix: int) -> bool:
        """Whether whole object ``digest``'s first ``prefix`` bytes hash to ``previous``."""
        if prefix > size:
            return False
        if prefix == size:
            return digest == previous
        with open(self.root / digest[:2] / digest[2:], "rb") as f:
            return hash_bytes(f.read(prefix)) == previous

    def put_files(
        self, sources: list[Path], *, keep: dict[int, bytes] | None = None
    ) -> list[tuple[str, int]]:
        """Store several files; return (digest, size) of each, in order.

        Large files (``chunks.chunked_min()``) are chunked one by one. When at least
        ``PACK_FILES`` are small (``PACKED_MAX``), those go into one pack together
        (``ChunkStore.store_small``: one file created instead of one per object). The rest are
        each read, hashed and written to a temp file as in ``put_file``; the temp files are
        then made durable together — one ``syncfs`` of the store's filesystem where there is
        one (Linux), else one ``fdatasync`` each — and only then renamed to their addresses.
        A single file is synced by itself.

        ``keep``: the bytes of the packed files are put there (index in ``sources`` -> the
        bytes hashed), for a caller that reads them next (the snapshot profile).
        """
        self.pin()
        from workbench.store.chunks import chunked_min

        limit = chunked_min()
        sizes = [_size_or_zero(s) for s in sources]
        large = [i for i, n in enumerate(sizes) if n >= limit]
        small = [i for i, n in enumerate(sizes) if n <= PACKED_MAX and n < limit]
        if len(small) < PACK_FILES:
            small = []
        done: dict[int, tuple[str, int]] = {}
        for i in large:
            stored = self.store_file(sources[i])
            done[i] = (stored.digest, stored.size)
        if small:
            kept: dict[int, bytes] | None = None if keep is None else {}
            try:
                packed = self._chunk_store().store_small([sources[i] for i in small], kept)
            except OSError as e:
                raise StoreError(
                    f"could not store {len(small)} file(s) in {self.store_root}: {e.strerror or e}",
                    "check free disk space and permissions of .workbench/",
                ) from e
            done.update(zip(small, packed, strict=True))
            if keep is not None and kept is not None:
                keep.update((small[j], data) for j, data in kept.items())
        rest = [i for i in range(len(sources)) if i not in done]
        done.update(zip(rest, self._put_whole([sources[i] for i in rest]), strict=True))
        return [done[i] for i in range(len(sources))]

    def _put_whole(self, sources: list[Path]) -> list[tuple[str, int]]:
        """Whole objects of ``sources`` (none large), made durable by one sync."""
        if not sources:
            return []
        staged: list[tuple[str, str, int]] = []  # (temp path, digest, size)
        try:
            for source in sources:
                staged.append(self._stage(source, sync=len(sources) == 1))
            if len(sources) > 1:
                self._sync_all([tmp for tmp, _, _ in staged])
            for tmp, digest, _ in staged:
                self._publish(tmp, digest)
            return [(digest, size) for _, digest, size in staged]
        except OSError as e:
            raise StoreError(
                f"could not store {len(sources)} file(s) in {self.root}: {e.strerror or e}",
                "check free disk space and permissions of .workbench/",
            ) from e
        finally:
            for tmp, _, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    def _stage(self, source: Path, *, sync: bool) -> tuple[str, str, int]:
        """Copy ``source`` to a new temp file, hashing it; (temp path, digest, size)."""
        before = _stat(source)
        tmp = f"{self.tmp}/in.{os.getpid()}.{id(self)}.{next(self._serial)}"
        hasher = xxhash.xxh3_128()
        src_fd = open_source(source)
        try:
            out = self._create(tmp)
            try:
                if before.st_size <= SMALL:
                    data = os.read(src_fd, before.st_size + 1)
                    while chunk := os.read(src_fd, SMALL):  # it grew meanwhile: read it all
                        data += chunk
                    hasher.update(data)
                    _write_all(out, data)
                    size = len(data)
                else:
                    size = _copy_hashing(src_fd, out, before.st_size, hasher)
                if sync:
                    os.fdatasync(out)
            finally:
                os.close(out)
            after = _stat(source)
            if _sig(before) != _sig(after) or size != after.st_size:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise FileChangedError(
                    f"{source} changed while it was being read ({before.st_size} -> "
                    f"{after.st_size} bytes)",
                    "wait until the file is completely written, then snapshot again",
                )
            return tmp, hasher.hexdigest(), size
        except OSError as e:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise StoreError(
                f"could not store {source} in {self.root}: {e.strerror or e}",
                "check free disk space and permissions of .workbench/",
            ) from e
        finally:
            os.close(src_fd)

    def _syncfs_all(self) -> bool:
        """``syncfs`` of the store's filesystem; False where there is none or it failed."""
        syncfs = _syncfs()
        if syncfs is None:
            return False
        fd = os.open(self.tmp if os.path.isdir(self.tmp) else self._root, os.O_RDONLY)
        try:
            return syncfs(fd) == 0
        finally:
            os.close(fd)

    def _sync_all(self, temps: list[str]) -> None:
        """Make the data of every temp file durable (see ``put_files``)."""
        if self._syncfs_all():
            return
        for tmp in temps:  # no syncfs, or it failed: one by one
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)

    def hash_file(self, source: Path) -> str:
        """The xxh3-128 of a file's bytes, without storing them."""
        hasher = xxhash.xxh3_128()
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        with open(source, "rb", buffering=0) as src:
            while n := src.readinto(buf):
                hasher.update(view[:n])
        return hasher.hexdigest()

    def put_bytes(self, data: bytes) -> str:
        digest = hash_bytes(data)
        self.pin()
        if self.has(digest):
            return digest
        tmp = f"{self.tmp}/b.{os.getpid()}.{digest}"
        try:
            fd = self._create(tmp)
            try:
                _write_all(fd, data)
                os.fdatasync(fd)
            finally:
                os.close(fd)
            self._publish(tmp, digest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return digest

    def _create(self, tmp: str) -> int:
        """Open a new owner-only temp file (re-creating the folders if they were deleted)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        try:
            return os.open(tmp, flags, 0o600)
        except FileNotFoundError:
            self._ready = False
            self.ensure()
            return os.open(tmp, flags, 0o600)

    def _publish(self, tmp: str, digest: str) -> None:
        """Rename a synced temp file to its address (unless present); note the folder."""
        folder = f"{self._root}/{digest[:2]}"
        target = f"{folder}/{digest[2:]}"
        self._unsynced.add(folder)
        if os.path.isfile(target):
            return  # never rewritten; the temp copy is dropped by the caller
        try:
            os.replace(tmp, target)
        except FileNotFoundError:  # the first object of its ``ab/`` folder (or tmp is gone)
            try:
                os.mkdir(folder, 0o700)
                self._unsynced.add(self._root)  # the new folder's own entry
            except FileExistsError:
                pass
            os.replace(tmp, target)

    def read(self, digest: str) -> bytes:
        try:
            whole = self.root / digest[:2] / digest[2:]
            if not os.path.isfile(whole) and self._in_chunks(digest):
                return self._read_chunked(digest)
            return whole.read_bytes()
        except OSError as e:
            raise StoreError(
                f"object {digest} is missing from {self.root}",
                "the store is damaged; restore .workbench/ from a backup",
            ) from e

    def set_aside(self, digest: str) -> None:
        """Move a damaged object out of its address (to ``tmp/damaged.<digest>``), so that
        storing its bytes again writes them instead of finding the address taken."""
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.root / digest[:2] / digest[2:], self.tmp / f"damaged.{digest}")
        if os.path.isdir(self.store_root):
            with contextlib.suppress(FileNotFoundError):
                os.replace(
                    self._chunk_store().manifest_path(digest), self.tmp / f"damaged.m.{digest}"
                )
            if self._assembled is not None:
                self._assembled.drop(digest)

    def packed(self, digest: str) -> bytes | None:
        """The bytes of a packed small file, read from its pack (None: not a packed file).

        Readers of many small files use this instead of ``path``, which would assemble each
        into a file of its own."""
        if os.path.isfile(self.root / digest[:2] / digest[2:]) or not os.path.isdir(
            self.store_root
        ):
            return None
        self.pin()
        return self._chunk_store().read_small(digest)

    def _read_chunked(self, digest: str) -> bytes:
        self.pin()
        small = self._chunk_store().read_small(digest)
        if small is not None:
            return small
        tmp = f"{self.tmp}/rd.{os.getpid()}.{id(self)}.{next(self._serial)}"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.unlink(tmp)
            size = self._chunk_store().restore(digest, fd)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)

    def read_json(self, digest: str) -> Any:
        """An object holding JSON (model metadata), parsed."""
        return json.loads(self.read(digest))

    def copy_to(self, digest: str, target: Path, mode: int = 0o644) -> None:
        """Restore an object's bytes to ``target`` atomically (temp, fsync, rename)."""
        tmp = target.with_name(f".{target.name}.wbtmp.{os.getpid()}")
        whole = self.root / digest[:2] / digest[2:]
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            if not os.path.isfile(whole) and self._in_chunks(digest):
                self.pin()
                try:
                    self._chunk_store().restore(digest, fd)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, target)
                fsync_path(target.parent)
                return
            with open(whole, "rb") as src, open(fd, "wb") as out:
                total = os.fstat(src.fileno()).st_size
                copied = 0
                while copied < total:
                    n = os.copy_file_range(src.fileno(), out.fileno(), total - copied)
                    if n == 0:
                        break
                    copied += n
                os.fsync(out.fileno())
            os.replace(tmp, target)
            fsync_path(target.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _copy_hashing(src: int, out: int, expected: int, hasher: Any) -> int:
    """Copy ``src`` to ``out`` in one pass, hashing each chunk between its read and write."""
    writeback = _start_writeback()
    buf = bytearray(min(CHUNK, expected + 1))
    view = memoryview(buf)
    size = 0
    with open(src, "rb", buffering=0, closefd=False) as reader:
        while n := reader.readinto(buf):
            chunk = view[:n]
            hasher.update(chunk)
            _write_all(out, chunk)
            if writeback is not None:
                writeback(out, size, n)
            size += n
    return size


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def open_source(source: Path) -> int:
    """A read-only descriptor of a file to store; a ``DataError`` when it is not readable."""
    try:
        return os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    except PermissionError as e:
        raise DataError(
            f"{source} is not readable: permission denied", f"chmod u+r {source}"
        ) from e


def read_stable(source: Path) -> bytes:
    """The bytes of a small file, read whole; ``FileChangedError`` if it moved meanwhile."""
    before = _stat(source)
    try:
        fd = open_source(source)
    except FileNotFoundError:
        _stat(source)  # raises "disappeared"
        raise
    try:
        data = os.read(fd, before.st_size + 1)
        while chunk := os.read(fd, SMALL):  # it grew meanwhile: read it all (and refuse it)
            data += chunk
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if _sig(before) != _sig(after) or len(data) != after.st_size:
        raise FileChangedError(
            f"{source} changed while it was being read ({before.st_size} -> {after.st_size} bytes)",
            "wait until the file is completely written, then snapshot again",
        )
    return data


def _size_or_zero(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # the staging path reports it


def _stat(path: Path) -> os.stat_result:
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise FileChangedError(
            f"{path} disappeared while it was being read",
            "wait until files stop moving, then snapshot again",
        ) from e
    except PermissionError as e:
        raise DataError(f"{path} is not readable: permission denied", f"chmod u+r {path}") from e
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path} is not a regular file", "keep only data files in the data folder")
    return st
