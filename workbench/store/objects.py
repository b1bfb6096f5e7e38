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
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import stat
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import xxhash

from workbench.errors import DataError, FileChangedError, StoreError

CHUNK = 32 << 20
SMALL = 1 << 20  # files up to this size are copied with one buffer and no early writeback
SYNCFS_FOLDERS = 8  # more unsynced folders than this: one syncfs instead of an fsync each
_SYNC_FILE_RANGE_WRITE = 2


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
    def __init__(self, root: Path) -> None:
        self.store_root = root
        self.root = root / "objects"
        self.tmp = root / "tmp"
        self._root = str(self.root)
        self._ready = False
        self._unsynced: set[str] = set()  # folders whose new entries are not fsynced yet
        self._serial = itertools.count()  # temp file names

    def ensure(self) -> None:
        if self._ready:
            return
        private_root(self.store_root)
        for folder in (self.root, self.tmp):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._ready = True

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def has(self, digest: str) -> bool:
        folder = f"{self._root}/{digest[:2]}"
        if os.path.isfile(f"{folder}/{digest[2:]}"):
            self._unsynced.add(folder)  # its writer may not have synced the folder yet
            return True
        return False

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
        return self.put_files([source])[0]

    def put_files(self, sources: list[Path]) -> list[tuple[str, int]]:
        """Store several files; return (digest, size) of each, in order.

        Each is read, hashed and written to a temp file as in ``put_file``; the temp files
        are then made durable together — one ``syncfs`` of the store's filesystem where there
        is one (Linux), else one ``fdatasync`` each — and only then renamed to their
        addresses. Ten thousand small files thus cost one filesystem sync instead of ten
        thousand (about 3 ms each on an ordinary disk). A single file is synced by itself.
        """
        self.ensure()
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
        try:
            src_fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        except PermissionError as e:
            raise DataError(
                f"{source} is not readable: permission denied", f"chmod u+r {source}"
            ) from e
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
        if self.has(digest):
            return digest
        self.ensure()
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
            os.mkdir(folder, 0o700)
            self._unsynced.add(self._root)  # the new folder's own entry
        except FileExistsError:
            pass
        os.replace(tmp, target)

    def read(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except OSError as e:
            raise StoreError(
                f"object {digest} is missing from {self.root}",
                "the store is damaged; restore .workbench/ from a backup",
            ) from e

    def set_aside(self, digest: str) -> None:
        """Move a damaged object out of its address (to ``tmp/damaged.<digest>``), so that
        storing its bytes again writes them instead of finding the address taken."""
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path(digest), self.tmp / f"damaged.{digest}")

    def read_json(self, digest: str) -> Any:
        """An object holding JSON (model metadata), parsed."""
        return json.loads(self.read(digest))

    def copy_to(self, digest: str, target: Path, mode: int = 0o644) -> None:
        """Restore an object's bytes to ``target`` atomically (temp, fsync, rename)."""
        tmp = target.with_name(f".{target.name}.wbtmp.{os.getpid()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with open(self.path(digest), "rb") as src, open(fd, "wb") as out:
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
