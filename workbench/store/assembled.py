"""Chunked files assembled for ``ObjectStore.path``: ``tmp/asm.<pid>.<digest>``.

Readers such as polars' ``scan_csv`` and the Dask engine want a path to a file with the
object's bytes. When a chunked file is not one raw pack in order (``ChunkStore.pack_itself``),
it is assembled here once per process: ``ChunkStore.restore`` into ``asm.<pid>.<digest>.part``
(``copy_file_range`` from raw packs: in the kernel, no Python bytes, no RSS), renamed when
whole. No fsync: it is a cache that a crash only leaves behind. A packed small file (one entry
of a pack of small files) is written as it is, from the bytes the store read, into the
process's own folder ``asm.<pid>.small/``: a folder made new for it, because creating a file
in a folder that once held many (``tmp/`` after a snapshot of 10,000 files: ext4 folders never
shrink) cost ~160 µs here against ~10 µs in a new one.

A process keeps its ``KEEP`` most recently asked-for files, and any number while they hold at
most ``KEEP_BYTES`` together (older ones are unlinked: a reader that still has one open keeps
reading it; the budget keeps the paths of many small packed files valid for a reader that is
handed a list of them, such as the Dask engine's workers) and unlinks them all at exit;
files of processes that died without doing so are swept by the next process that assembles
one, and by gc. Two threads of one process (training beside drift) share one assembly: it is
made under a lock.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import StoreError

if TYPE_CHECKING:
    from workbench.store.chunks import ChunkStore

KEEP = 8
KEEP_BYTES = 256 << 20


class Assembled:
    def __init__(self, tmp: Path, chunks: ChunkStore) -> None:
        self.tmp = tmp
        self.chunks = chunks
        self.files: OrderedDict[str, Path] = OrderedDict()  # digest -> assembled file
        self.sizes: dict[str, int] = {}
        self.held = 0  # bytes of the files kept
        self.lock = threading.Lock()
        self.swept = False

    def get(self, digest: str) -> Path:
        """The assembled file of ``digest`` (made now unless this process has it)."""
        with self.lock:
            done = self._hit(digest)
            if done is not None:
                return done
            target = self.tmp / f"asm.{os.getpid()}.{digest}"
            self._keep(digest, target, self._make(digest, target))
            return target

    def _hit(self, digest: str) -> Path | None:
        """The file this process made for ``digest``, if it is still there; else the sweep
        of dead processes' files runs once (``_start``) before one is made. Under the lock."""
        done = self.files.get(digest)
        if done is not None and done.is_file():
            self.files.move_to_end(digest)
            return done
        self._start()
        return None

    def put(self, digest: str, data: bytes) -> Path:
        """The file of a packed small object whose bytes the caller has read (``data``)."""
        with self.lock:
            done = self._hit(digest)
            if done is not None:
                return done
            folder = self.tmp / f"asm.{os.getpid()}.small"
            target = folder / digest
            try:  # (this process's own folder, written under the lock: no temp name needed)
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
                try:
                    fd = os.open(target, flags, 0o600)
                except FileNotFoundError:
                    folder.mkdir(mode=0o700, exist_ok=True)
                    fd = os.open(target, flags, 0o600)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                finally:
                    os.close(fd)
            except OSError as e:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                raise StoreError(
                    f"could not write object {digest} to {self.tmp}: {e.strerror or e}",
                    "check free disk space and permissions of .workbench/",
                ) from e
            self._keep(digest, target, len(data))
            return target

    def _start(self) -> None:
        if not self.swept:
            self.swept = True
            sweep(self.tmp)
            atexit.register(self.drop_all)

    def _keep(self, digest: str, target: Path, size: int) -> None:
        old_size = self.sizes.pop(digest, None)
        if old_size is not None:
            self.held -= old_size
        self.files[digest] = target
        self.files.move_to_end(digest)
        self.sizes[digest] = size
        self.held += size
        while len(self.files) > KEEP and self.held > KEEP_BYTES:
            old_digest, old = self.files.popitem(last=False)
            self.held -= self.sizes.pop(old_digest, 0)
            with contextlib.suppress(FileNotFoundError):
                old.unlink()

    def _make(self, digest: str, target: Path) -> int:
        part = target.with_name(target.name + ".part")
        try:
            out = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                size = self.chunks.restore(digest, out)
            finally:
                os.close(out)
            os.replace(part, target)
            return size
        except OSError as e:
            raise StoreError(
                f"could not assemble object {digest} in {self.tmp}: {e.strerror or e}",
                "check free disk space and permissions of .workbench/",
            ) from e
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()

    def drop(self, digest: str) -> None:
        with self.lock:
            path = self.files.pop(digest, None)
            self.held -= self.sizes.pop(digest, 0)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def drop_all(self) -> None:
        for path in list(self.files.values()):
            with contextlib.suppress(OSError):
                path.unlink()
        with contextlib.suppress(OSError):
            (self.tmp / f"asm.{os.getpid()}.small").rmdir()
        self.files.clear()
        self.sizes.clear()
        self.held = 0


def sweep(tmp: Path) -> None:
    """Remove the assembled files of processes that are gone."""
    from workbench.store.collect import dead_temps

    for path in dead_temps(tmp, kinds=("asm",)):
        remove_temp(path)


def remove_temp(path: Path) -> None:
    """Remove a temp file, or a folder of them (a process's assembled small files)."""
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()
