"""Content-addressed object store: ``.workbench/objects/ab/cdef…`` named by xxh3-128.

Why xxh3-128: it hashes at memory speed (about 10x md5), 128 bits make accidental collisions
irrelevant for a project's files, and content addressing here is about identity, not defence
against an adversary who can write into the project anyway.

Writing an object: bytes are streamed once — read, hashed and written to a temp file under
``.workbench/tmp`` in the same pass — then the temp file is fsynced, renamed to its address and
the directory is fsynced. An object that exists is never rewritten: its temp copy is dropped.
Because the rename is the last step, a kill at any moment leaves either no object or a whole
one; the metadata database only references an object after ``put`` returned. Objects and
folders are owner-only (0600 / 0700).

While copying, writeback of each chunk is started at once (``sync_file_range``) so that the
final fsync does not have to push a whole file to the disk at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from workbench.errors import DataError, FileChangedError, StoreError

CHUNK = 32 << 20
_SYNC_FILE_RANGE_WRITE = 2


def _sync_file_range() -> Callable[[int, int, int], None] | None:
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]

    def start_writeback(fd: int, offset: int, length: int) -> None:
        fn(fd, offset, length, _SYNC_FILE_RANGE_WRITE)

    return start_writeback


_start_writeback = _sync_file_range()


@dataclass(frozen=True)
class FileSig:
    """What the stat cache compares before reading any bytes."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileSig:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


def hash_bytes(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via temp file + fsync + rename (+ fsync of the folder)."""
    tmp = path.with_name(f".{path.name}.wbtmp.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root / "objects"
        self.tmp = root / "tmp"

    def ensure(self) -> None:
        for folder in (self.root, self.tmp):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put_file(self, source: Path) -> tuple[str, int]:
        """Store the bytes of ``source``; return (digest, size).

        Raises ``FileChangedError`` when the file's size or mtime moved while it was read.
        """
        self.ensure()
        before = _stat(source)
        tmp = self.tmp / f"in.{os.getpid()}.{id(self)}.{before.st_ino}"
        hasher = xxhash.xxh3_128()
        size = 0
        try:
            src_file = open(source, "rb", buffering=0)  # noqa: SIM115 - closed below
        except PermissionError as e:
            raise DataError(
                f"{source} is not readable: permission denied", f"chmod u+r {source}"
            ) from e
        try:
            with src_file as src, open(tmp, "wb", buffering=0) as out:
                os.fchmod(out.fileno(), 0o600)
                buf = bytearray(min(CHUNK, max(before.st_size, 1 << 16)))
                view = memoryview(buf)
                while n := src.readinto(buf):
                    hasher.update(view[:n])
                    out.write(view[:n])
                    if _start_writeback is not None:
                        _start_writeback(out.fileno(), size, n)
                    size += n
                os.fdatasync(out.fileno())
            after = _stat(source)
            if FileSig.of(before) != FileSig.of(after) or size != after.st_size:
                raise FileChangedError(
                    f"{source} changed while it was being read ({before.st_size} -> "
                    f"{after.st_size} bytes)",
                    "wait until the file is completely written, then snapshot again",
                )
            digest = hasher.hexdigest()
            self._publish(tmp, digest)
            return digest, size
        except OSError as e:
            raise StoreError(
                f"could not store {source} in {self.root}: {e.strerror or e}",
                "check free disk space and permissions of .workbench/",
            ) from e
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

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
        tmp = self.tmp / f"b.{os.getpid()}.{digest}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, data)
                os.fdatasync(fd)
            finally:
                os.close(fd)
            self._publish(tmp, digest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return digest

    def _publish(self, tmp: Path, digest: str) -> None:
        target = self.path(digest)
        if target.is_file():
            return  # never rewritten; the temp copy is dropped by the caller
        target.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(tmp, target)
        fsync_dir(target.parent)

    def read(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except OSError as e:
            raise StoreError(
                f"object {digest} is missing from {self.root}",
                "the store is damaged; restore .workbench/ from a backup",
            ) from e

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
            fsync_dir(target.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _write_all(fd: int, data: bytes) -> None:
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
