"""Chunked files: FastCDC chunks stored in packs, one manifest per file at its whole address.

Why: a large CSV that grows by appended rows would otherwise be stored again whole on every
snapshot. Cut into content-defined chunks (FastCDC: a cut depends only on the bytes since the
previous cut), the old rows keep their chunks and an append stores only the new bytes.

Which files: those of at least ``chunked_min()`` bytes (``CHUNKED_MIN``, 16 MiB;
``WORKBENCH_CHUNKED_MIN_BYTES`` overrides it, and ``WORKBENCH_CHUNK_AVG_BYTES`` the average
chunk size, 1 MiB, for benches and tests). Smaller files and ``put_bytes`` stay whole objects.
The address of a chunked file is still the xxh3-128 of its whole bytes.

Layout (under ``.workbench/``)::

    chunks/files/ab/cdef…   manifest (JSON: size, chunk size, [[chunk digest, length]…])
    chunks/packs/<id>.pack  the new chunks of one ``store_file`` call, raw or zstd (packs.py)
    chunks/packs/<id>.idx   its index, written only once the pack is durable
    tmp/pack.<pid>.*        a pack being written (w.<pid>.*: a manifest or index being written)

Chunks are named by the xxh3-128 of their bytes; a chunk already in any pack is not written
again (an edited byte in the middle of a file costs the one or two chunks around it).

Order of writes (nothing durable ever references bytes a crash could take back): the pack is
written to ``tmp/`` (writeback started every 8 MiB), fdatasynced, renamed into ``packs/``;
then its index (temp, fdatasync, rename); then ``packs/`` is fsynced; only then is the
manifest (temp, fdatasync) renamed to the file's address — a rename made durable by
``ObjectStore.sync`` like any object's. A kill -9 at any point leaves at most a temp file, or a
pack without index or manifest: all unreferenced, all removed by gc (``collect.py``).

Memory: the file is streamed through FastCDC's ``cut_stream`` (a buffer of twice the maximum
chunk, 8 MiB), never read whole or mapped; the cut itself, reads and writes release the GIL.

Compression "where it pays": the first new chunk of a file is probed with zstd level 1; the
file's new chunks are compressed (one zstd frame each) only when the probe shrinks it at least
``ZSTD_MIN_RATIO`` (3x: text-heavy CSVs with repeated strings). Below that — a CSV of random
floats compresses 2.2x at ~460 MB/s on one core — compressing costs more time than the smaller
write saves, and raw packs let a file be handed out or assembled with ``copy_file_range``.

Appends (``store(previous=...)``): a chunk of ``previous`` that starts at least ``max_size``
bytes before previous's end was cut exactly as it would be in any longer file (a cut looks at
most ``max_size`` bytes ahead), so those chunks are reused without being chunked again: their
bytes are only hashed. Chunking starts at the first chunk that the end of ``previous`` may
have cut short (a few chunks back), and the running hash at ``size(previous)`` confirms it was
an append; if not, the file is chunked again from its start (still deduplicated against every
pack, so only changed chunks are written).

Reading (``restore``, ``pack_itself``): the file is exactly one raw pack in order when it was
first stored without repeated chunks — ``ObjectStore.path`` then hands out the pack itself and
reading costs nothing extra; otherwise ``restore`` writes the chunks to a descriptor with
``copy_file_range`` for raw chunks (in the kernel, no Python bytes) and zstd for the others.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from workbench.errors import FileChangedError, StoreError
from workbench.store import packs

if TYPE_CHECKING:
    from workbench.store.objects import Stored

CHUNKED_MIN = 16 << 20
AVG_SIZE = 1 << 20
ZSTD_MIN_RATIO = 3.0
BLOCK = 8 << 20  # reads of the prefix that is only hashed
WRITEBACK_EVERY = 8 << 20


def _env_bytes(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not low <= value <= high:
        raise StoreError(
            f"{name}={raw!r} is not a number of bytes between {low} and {high}",
            f"unset {name} or set it to a whole number of bytes",
        )
    return value


def chunked_min() -> int:
    """Files of at least this many bytes are stored chunked (read when used, not at import)."""
    return _env_bytes("WORKBENCH_CHUNKED_MIN_BYTES", CHUNKED_MIN, 1, 1 << 50)


def avg_size() -> int:
    """FastCDC's average chunk size; the minimum is a quarter of it, the maximum 4x."""
    return _env_bytes("WORKBENCH_CHUNK_AVG_BYTES", AVG_SIZE, 256, 4 << 20)


@dataclass(frozen=True)
class Manifest:
    size: int
    avg: int  # the FastCDC average size its chunks were cut with
    chunks: tuple[tuple[str, int], ...]

    def to_bytes(self) -> bytes:
        body = {"v": 1, "size": self.size, "avg": self.avg, "chunks": list(self.chunks)}
        return json.dumps(body, separators=(",", ":")).encode()

    @staticmethod
    def from_bytes(data: bytes) -> Manifest:
        body = json.loads(data)
        chunks = tuple((str(d), int(n)) for d, n in body["chunks"])
        return Manifest(int(body["size"]), int(body["avg"]), chunks)


class PackWriter:
    """The new chunks of one ``store``: a temp pack, then (``finish``) a durable one."""

    def __init__(self, store: ChunkStore, *, whole: bool = False) -> None:
        from workbench.store.objects import _start_writeback

        self.store = store
        self.whole = whole  # a pack of small files: its entries are whole objects
        self.tmp = store.temp_name("pack")
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self.new: dict[str, packs.Loc] = {}
        store.index.refresh()  # packs other processes wrote since we looked
        self.offset = 0
        self.flushed = 0
        self.compressor: Any = None  # set once the probe said compression pays
        self.probed = False
        self.writeback = _start_writeback()

    def add(self, digest: str, data: memoryview | bytes) -> None:
        index = self.store.index
        if digest in self.new or (
            digest in index.locs and (not self.whole or digest in index.whole)
        ):
            return  # (a small file whose bytes are only a manifest's chunk is packed again)
        stored: bytes | memoryview = data
        codec = packs.RAW
        if not self.probed:
            self.probed = True
            import zstandard

            compressor = zstandard.ZstdCompressor(level=1)
            probe = compressor.compress(data)
            if len(probe) * ZSTD_MIN_RATIO <= len(data):
                self.compressor = compressor
                stored, codec = probe, packs.ZSTD
        elif self.compressor is not None:
            stored, codec = self.compressor.compress(data), packs.ZSTD
        _write_all(self.fd, stored)
        self.new[digest] = packs.Loc("", self.offset, len(stored), len(data), codec)
        self.offset += len(stored)
        if self.writeback is not None and self.offset - self.flushed >= WRITEBACK_EVERY:
            self.writeback(self.fd, self.flushed, self.offset - self.flushed)
            self.flushed = self.offset

    def finish(self) -> None:
        """Make the pack and its index durable under ``packs/`` (nothing new: no pack)."""
        if not self.new:
            self.abort()
            # every chunk is in another writer's pack: its index rename must be durable
            # before our manifest names those chunks (that writer may not have synced yet)
            _fsync_dir(self.store.packs)
            return
        os.fdatasync(self.fd)
        os.close(self.fd)
        self.fd = -1
        pack = packs.new_pack_id()
        folder = self.store.packs
        os.replace(self.tmp, packs.pack_path(folder, pack))
        rows = [(d, loc.offset, loc.stored, loc.raw, loc.codec) for d, loc in self.new.items()]
        index = packs.index_bytes(rows, whole=self.whole)
        self.store.write_durable(folder / f"{pack}.idx", index)
        _fsync_dir(folder)
        for digest, loc in self.new.items():
            self.store.index.locs.setdefault(
                digest, packs.Loc(pack, loc.offset, loc.stored, loc.raw, loc.codec)
            )
        if self.whole:
            self.store.index.whole.update(self.new)
        self.store.index._loaded.add(pack)

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


class HashingReader:
    """``readinto`` over a descriptor that hashes what it reads, noting on the way the digest
    of the first ``checkpoint`` bytes (the append check)."""

    def __init__(self, fd: int, checkpoint: int | None) -> None:
        self.fd = fd
        self.hasher = xxhash.xxh3_128()
        self.pos = 0
        self.checkpoint = checkpoint
        self.prefix: str | None = self.hasher.hexdigest() if checkpoint == 0 else None

    def readinto(self, buf: memoryview) -> int:
        n = os.readv(self.fd, [buf])
        cut = None if self.checkpoint is None else self.checkpoint - self.pos
        if cut is not None and 0 < cut <= n:
            self.hasher.update(buf[:cut])
            self.prefix = self.hasher.hexdigest()
            self.hasher.update(buf[cut:n])
        elif n:
            self.hasher.update(buf[:n])
        self.pos += n
        return n

    def hash_upto(self, end: int) -> None:
        """Read and hash, without chunking, up to offset ``end``."""
        buf = bytearray(min(BLOCK, max(end - self.pos, 1)))
        view = memoryview(buf)
        while self.pos < end and self.readinto(view[: min(len(buf), end - self.pos)]):
            pass


class ChunkStore:
    """Manifests, packs and the chunk index of one store (used through ``ObjectStore``)."""

    def __init__(self, root: Path, tmp: Path, unsynced: set[str]) -> None:
        self.files = root / "chunks" / "files"
        self.packs = root / "chunks" / "packs"
        self.tmp = tmp
        self.index = packs.ChunkIndex(self.packs)
        self._unsynced = unsynced  # ObjectStore's: folders whose renames sync() makes durable
        self._serial = itertools.count()

    def ensure(self) -> None:
        for folder in (self.files, self.packs):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def temp_name(self, kind: str) -> str:
        return f"{self.tmp}/{kind}.{os.getpid()}.{id(self)}.{next(self._serial)}"

    def write_durable(self, target: Path, data: bytes) -> None:
        """temp + fdatasync + rename (the caller fsyncs the folder)."""
        tmp = self.temp_name("w")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                _write_all(fd, data)
                os.fdatasync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def manifest_path(self, digest: str) -> Path:
        return self.files / digest[:2] / digest[2:]

    def has(self, digest: str) -> bool:
        """A chunked file's manifest, or a packed small file (``store_small``)."""
        if digest in self.index.whole:
            return True  # (packs are durable, their folder fsynced, before they are indexed)
        folder = f"{self.files}/{digest[:2]}"
        if os.path.isfile(f"{folder}/{digest[2:]}"):
            self._unsynced.add(folder)  # its writer may not have synced the folder yet
            return True
        return self.index.whole_object(digest) is not None

    def read_small(self, digest: str) -> bytes | None:
        """The bytes of a packed small file (None: ``digest`` is not one)."""
        loc = self.index.whole_object(digest) if not self._has_manifest(digest) else None
        if loc is None:
            return None
        fd = os.open(packs.pack_path(self.packs, loc.pack), os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.pread(fd, loc.stored, loc.offset)
        finally:
            os.close(fd)
        if len(data) != loc.stored:
            raise StoreError(
                f"the pack holding object {digest} is shorter than its index says",
                "the store is damaged; restore .workbench/ from a backup",
            )
        return data if loc.codec == packs.RAW else _decompress(data, loc)

    def _has_manifest(self, digest: str) -> bool:
        return os.path.isfile(self.manifest_path(digest))

    def manifest(self, digest: str) -> Manifest | None:
        try:
            return Manifest.from_bytes(self.manifest_path(digest).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StoreError(
                f"the manifest of {digest} in {self.files} is unreadable: {e}",
                "the store is damaged; restore .workbench/ from a backup",
            ) from e

    # ------------------------------------------------------------ reading

    def locate(self, digest: str) -> tuple[Manifest, list[packs.Loc]]:
        manifest = self.manifest(digest)
        if manifest is None and (small := self.index.whole_object(digest)) is not None:
            return Manifest(small.raw, 0, ((digest, small.raw),)), [small]  # a packed file
        if manifest is None:
            raise StoreError(
                f"object {digest} is missing from {self.files.parent.parent}",
                "the store is damaged; restore .workbench/ from a backup",
            )
        locs = [self.index.get(d) for d, _ in manifest.chunks]
        missing = sum(loc is None for loc in locs)
        if missing:
            raise StoreError(
                f"{missing} chunk(s) of {digest} are missing from {self.packs}",
                "the store is damaged; restore .workbench/ from a backup",
            )
        return manifest, [loc for loc in locs if loc is not None]

    def pack_itself(self, digest: str) -> Path | None:
        """The pack, when it holds exactly the file's bytes, raw and in order."""
        manifest, locs = self.locate(digest)
        offset = 0
        for loc in locs:
            if loc.pack != locs[0].pack or loc.codec != packs.RAW or loc.offset != offset:
                return None
            offset += loc.raw
        if not locs or offset != manifest.size:
            return None
        path = packs.pack_path(self.packs, locs[0].pack)
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_size == manifest.size:
                return path
        return None

    def restore(self, digest: str, out: int) -> int:
        """Write the file's bytes to descriptor ``out`` (at its position); their number."""
        manifest, locs = self.locate(digest)
        with contextlib.ExitStack() as stack:
            fds: dict[str, int] = {}
            for loc in _runs(locs):
                src = fds.get(loc.pack)
                if src is None:
                    src = os.open(packs.pack_path(self.packs, loc.pack), os.O_RDONLY | os.O_CLOEXEC)
                    stack.callback(os.close, src)
                    fds[loc.pack] = src
                if loc.codec == packs.RAW:
                    _copy_range(src, out, loc.offset, loc.raw)
                else:
                    _write_all(out, _decompress(os.pread(src, loc.stored, loc.offset), loc))
        return manifest.size

    # ------------------------------------------------------------ writing

    def store_small(
        self, sources: list[Path], keep: dict[int, bytes] | None = None
    ) -> list[tuple[str, int]]:
        """Store small files together in one pack, each a whole object; (digest, size) each.

        The pack is made durable (fdatasync, rename, index, folder fsync) before this returns,
        so, as for any object, nothing can reference these bytes before they are on disk. One
        pack and one index are created instead of a file per object: for 10,000 files of a
        few hundred bytes the file creations were most of a first snapshot. (Reading them on a
        thread pool was slower: a future costs more than the read of a small file.) ``keep``
        receives each file's bytes (by its index in ``sources``).
        """
        from workbench.store.objects import read_stable

        self.ensure()
        writer = PackWriter(self, whole=True)
        out: list[tuple[str, int]] = []
        try:
            for i, source in enumerate(sources):
                data = read_stable(source)
                digest = xxhash.xxh3_128_hexdigest(data)
                writer.add(digest, data)
                out.append((digest, len(data)))
                if keep is not None:
                    keep[i] = data
            writer.finish()
        finally:
            writer.abort()
        return out

    def store(self, source: Path, previous: str | None, previous_size: int | None) -> Stored:
        """Store ``source`` chunked (see the module docstring); ``previous_size`` is the size
        of ``previous`` when it is stored (else None)."""
        from workbench.store.objects import _sig, _stat, open_source

        self.ensure()
        before = _stat(source)
        base = self.manifest(previous) if previous and previous_size is not None else None
        if previous_size is not None and previous_size > before.st_size:
            base, previous_size = None, None  # shorter than before: no append
        fd = open_source(source)
        try:
            result = self._chunk(fd, previous, previous_size, base)
            if result is None:  # not an append after all: from the start, without reuse
                os.lseek(fd, 0, os.SEEK_SET)
                result = self._chunk(fd, previous, previous_size, None)
            assert result is not None
        finally:
            os.close(fd)
        writer, digest, size, listing, appended = result
        try:
            after = _stat(source)
            if _sig(before) != _sig(after) or size != after.st_size:
                raise FileChangedError(
                    f"{source} changed while it was being read ({before.st_size} -> "
                    f"{after.st_size} bytes)",
                    "wait until the file is completely written, then snapshot again",
                )
            if self._stored(digest):
                writer.abort()
            else:
                writer.finish()
                self._publish(digest, Manifest(size, avg_size(), tuple(listing)))
        finally:
            writer.abort()
        from workbench.store.objects import Stored

        return Stored(
            digest, size, previous if appended else None, previous_size if appended else None
        )

    def _stored(self, digest: str) -> bool:
        whole = self.files.parent.parent / "objects" / digest[:2] / digest[2:]
        return os.path.isfile(whole) or self.has(digest)

    def _chunk(
        self, fd: int, previous: str | None, previous_size: int | None, base: Manifest | None
    ) -> tuple[PackWriter, str, int, list[tuple[str, int]], bool] | None:
        """One pass over ``fd``; None when ``base``'s chunks were reused but the file turned
        out not to start with ``previous``'s bytes."""
        from pyfastcdc.cy import FastCDC

        avg = avg_size()
        cdc = FastCDC(avg_size=avg)
        reader = HashingReader(fd, previous_size)
        listing: list[tuple[str, int]] = []
        if base is not None and base.avg == avg and previous_size is not None:
            start = 0
            for digest, length in base.chunks:
                if previous_size - start < cdc.max_size:
                    break
                listing.append((digest, length))
                start += length
            reader.hash_upto(start)
        writer = PackWriter(self)
        try:
            for chunk in cdc.cut_stream(reader):
                data = chunk.data
                digest = xxhash.xxh3_128_hexdigest(data)
                writer.add(digest, data)
                listing.append((digest, chunk.length))
                if base is not None and reader.prefix not in (None, previous):
                    writer.abort()
                    return None
        except BaseException:
            writer.abort()
            raise
        if base is not None and reader.prefix != previous:
            writer.abort()
            return None
        appended = previous is not None and reader.prefix == previous
        return writer, reader.hasher.hexdigest(), reader.pos, listing, appended

    def _publish(self, digest: str, manifest: Manifest) -> None:
        folder = self.files / digest[:2]
        try:
            os.mkdir(folder, 0o700)
            self._unsynced.add(str(self.files))
        except FileExistsError:
            pass
        self.write_durable(folder / digest[2:], manifest.to_bytes())
        self._unsynced.add(str(folder))


def _runs(locs: list[packs.Loc]) -> list[packs.Loc]:
    """Raw chunks that follow each other in one pack, merged: one copy_file_range each."""
    out: list[packs.Loc] = []
    for loc in locs:
        last = out[-1] if out else None
        if (
            last is not None
            and loc.codec == last.codec == packs.RAW
            and loc.pack == last.pack
            and loc.offset == last.offset + last.stored
        ):
            out[-1] = packs.Loc(
                last.pack, last.offset, last.stored + loc.stored, last.raw + loc.raw, 0
            )
        else:
            out.append(loc)
    return out


def _decompress(data: bytes, loc: packs.Loc) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().decompress(data, max_output_size=loc.raw)


def _copy_range(src: int, out: int, offset: int, length: int) -> None:
    done = 0
    while done < length:
        n = os.copy_file_range(src, out, length - done, offset + done)
        if n == 0:
            raise StoreError(
                "a pack is shorter than its index says",
                "the store is damaged; restore .workbench/ from a backup",
            )
        done += n


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
