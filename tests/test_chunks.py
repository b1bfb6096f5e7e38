"""Chunked storage of large files (``store/chunks.py``): byte-exact round trips, appends that
store only the new bytes, edits that store only the edited chunks, and kill -9 mid-write.

Real files, a real store in tmp_path, real subprocesses; small thresholds and chunk sizes
(``WORKBENCH_CHUNKED_MIN_BYTES``, ``WORKBENCH_CHUNK_AVG_BYTES``) keep it fast.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xxhash

from workbench.store.chunks import Manifest
from workbench.store.objects import ObjectStore

AVG = 4096
MAX_CHUNK = 4 * AVG
THRESHOLD = 64 * 1024


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CHUNKED_MIN_BYTES", str(THRESHOLD))
    monkeypatch.setenv("WORKBENCH_CHUNK_AVG_BYTES", str(AVG))


def csv_bytes(rows: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    return "".join(
        f"{rnd.random():.9f},{rnd.random():.6f},{rnd.randint(0, 99999)}\n" for _ in range(rows)
    ).encode()


def manifest(store: ObjectStore, digest: str) -> Manifest:
    found = store._chunk_store().manifest(digest)
    assert found is not None, "stored chunked"
    return found


def pack_bytes(store: ObjectStore) -> int:
    return store.usage()["packs"]


def assert_round_trip(store: ObjectStore, digest: str, data: bytes, tmp: Path) -> None:
    assert digest == xxhash.xxh3_128_hexdigest(data)
    assert store.has(digest)
    assert store.read(digest) == data
    assert store.path(digest).read_bytes() == data
    target = tmp / "restored.csv"
    store.copy_to(digest, target)
    assert target.read_bytes() == data


@pytest.mark.parametrize("size", [THRESHOLD, THRESHOLD + 1, 5 * MAX_CHUNK, 300_001])
def test_chunked_round_trips_are_byte_exact(tmp_path: Path, size: int) -> None:
    data = (csv_bytes(size // 20 + 10, size))[:size]
    src = tmp_path / "big.csv"
    src.write_bytes(data)
    store = ObjectStore(tmp_path / ".workbench")
    stored = store.store_file(src)
    assert (stored.size, stored.appended_to) == (size, None)
    assert not (store.root / stored.digest[:2] / stored.digest[2:]).exists()  # no whole copy
    m = manifest(store, stored.digest)
    assert sum(n for _, n in m.chunks) == size and m.size == size
    assert all(n <= MAX_CHUNK for _, n in m.chunks)
    assert_round_trip(store, stored.digest, data, tmp_path)
    assert ObjectStore(tmp_path / ".workbench").read(stored.digest) == data  # another process


def test_a_file_shorter_than_one_chunk_over_the_threshold(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_CHUNKED_MIN_BYTES", "500")
    data = csv_bytes(30, 1)[:700]  # under the minimum chunk (1024): one chunk
    (tmp_path / "a.csv").write_bytes(data)
    store = ObjectStore(tmp_path / ".workbench")
    digest = store.store_file(tmp_path / "a.csv").digest
    assert manifest(store, digest).chunks == ((xxhash.xxh3_128_hexdigest(data), 700),)
    assert_round_trip(store, digest, data, tmp_path)


def test_an_append_stores_only_the_tail_and_chunks_as_a_fresh_store_would(tmp_path: Path) -> None:
    old = csv_bytes(40_000, 2)  # ~1 MB
    tail = csv_bytes(400, 3)
    src = tmp_path / "big.csv"
    src.write_bytes(old)
    store = ObjectStore(tmp_path / ".workbench")
    first = store.store_file(src)
    before = pack_bytes(store)
    src.write_bytes(old + tail)
    second = store.store_file(src, previous=first.digest)
    assert (second.appended_to, second.prefix_size) == (first.digest, len(old))
    grown = pack_bytes(store) - before
    assert len(tail) // 2 < grown <= len(tail) + 2 * MAX_CHUNK + 4096  # the tail, a chunk or two
    fresh = ObjectStore(tmp_path / "fresh")
    assert fresh.store_file(src).digest == second.digest
    assert manifest(fresh, second.digest).chunks == manifest(store, second.digest).chunks
    assert_round_trip(store, second.digest, old + tail, tmp_path)
    assert store.read(first.digest) == old  # the earlier version is intact


def test_an_empty_append_and_an_append_at_a_chunk_boundary(tmp_path: Path) -> None:
    data = csv_bytes(20_000, 4)
    store = ObjectStore(tmp_path / ".workbench")
    src = tmp_path / "big.csv"
    src.write_bytes(data)
    full = store.store_file(src)
    chunks = manifest(store, full.digest).chunks
    cut = sum(n for _, n in chunks[: len(chunks) // 2])  # exactly at a cut point
    src.write_bytes(data[:cut])
    half = store.store_file(src)
    before = pack_bytes(store)
    again = store.store_file(src, previous=half.digest)  # nothing appended
    assert (again.digest, again.appended_to, again.prefix_size) == (half.digest, half.digest, cut)
    src.write_bytes(data)
    grown = store.store_file(src, previous=half.digest)
    assert (grown.digest, grown.appended_to) == (full.digest, half.digest)
    assert pack_bytes(store) - before <= MAX_CHUNK  # its chunks were all there
    assert_round_trip(store, full.digest, data, tmp_path)


def test_an_edit_in_the_middle_stores_only_the_edited_chunks(tmp_path: Path) -> None:
    data = bytearray(csv_bytes(40_000, 5))
    src = tmp_path / "big.csv"
    src.write_bytes(data)
    store = ObjectStore(tmp_path / ".workbench")
    first = store.store_file(src)
    before = pack_bytes(store)
    middle = len(data) // 2
    data[middle] = ord("7") if data[middle] != ord("7") else ord("8")
    src.write_bytes(data)
    edited = store.store_file(src, previous=first.digest)
    assert edited.appended_to is None and edited.digest != first.digest
    assert pack_bytes(store) - before <= 3 * MAX_CHUNK
    old, new = manifest(store, first.digest).chunks, manifest(store, edited.digest).chunks
    assert len(set(new) - set(old)) <= 3
    assert_round_trip(store, edited.digest, bytes(data), tmp_path)


def test_previous_missing_wrong_or_whole_is_still_correct(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / ".workbench")
    small = csv_bytes(500, 6)  # under the threshold: a whole object
    other = csv_bytes(10_000, 7)
    src = tmp_path / "f.csv"
    src.write_bytes(small)
    whole = store.store_file(src)
    assert (store.root / whole.digest[:2] / whole.digest[2:]).is_file()
    src.write_bytes(other)
    unrelated = store.store_file(src)
    grown = small + csv_bytes(10_000, 8)
    src.write_bytes(grown)
    for previous in ("0" * 32, unrelated.digest):
        got = store.store_file(src, previous=previous)
        assert (got.appended_to, got.prefix_size) == (None, None)
        assert_round_trip(store, got.digest, grown, tmp_path)
    got = store.store_file(src, previous=whole.digest)  # whole before, chunked now
    assert (got.appended_to, got.prefix_size) == (whole.digest, len(small))
    assert_round_trip(store, got.digest, grown, tmp_path)


def test_text_that_compresses_well_is_stored_compressed(tmp_path: Path) -> None:
    data = b"".join(
        b"2024-01-%02d,store_%d,OK,category_alpha\n" % (i % 28 + 1, i % 7) for i in range(60_000)
    )
    (tmp_path / "t.csv").write_bytes(data)
    store = ObjectStore(tmp_path / ".workbench")
    digest = store.store_file(tmp_path / "t.csv").digest
    assert pack_bytes(store) < len(data) / 3
    assert_round_trip(store, digest, data, tmp_path)


WRITER = """
import sys
from pathlib import Path
from workbench.store.objects import ObjectStore
s = ObjectStore(Path(sys.argv[1]))
print("start", flush=True)
s.store_file(Path(sys.argv[2]))
s.sync()
print("done", flush=True)
"""


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.4, 0.8])
def test_kill_9_mid_store_leaves_no_manifest_with_a_missing_chunk(
    tmp_path: Path, monkeypatch, delay: float
) -> None:
    monkeypatch.setenv("WORKBENCH_CHUNK_AVG_BYTES", str(64 * 1024))
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(48 << 20))
    root = tmp_path / ".workbench"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(src)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "start\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = ObjectStore(root)
    digest = xxhash.xxh3_128_hexdigest(src.read_bytes())
    cs = store._chunk_store()
    for d in store.digests():  # every manifest names chunks that are there, with their bytes
        assert xxhash.xxh3_128_hexdigest(store.read(d)) == d
        assert all(cs.index.get(c) is not None for c, _ in manifest(store, d).chunks)
    if store.has(digest):
        assert store.read(digest) == src.read_bytes()
    with store.gc_lock():
        store.collect(store.digests(), dry_run=False)  # leftovers of the killed writer go
    assert store.usage()["tmp"] == 0
    assert store.store_file(src).digest == digest
    assert store.read(digest) == src.read_bytes()


READER = """
import sys
from pathlib import Path
from workbench.store.objects import ObjectStore
path = ObjectStore(Path(sys.argv[1])).path(sys.argv[2])
print(path, path.read_bytes() == Path(sys.argv[3]).read_bytes(), flush=True)
"""


def test_path_hands_out_the_pack_or_an_assembled_file_gone_at_exit(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / ".workbench")
    src = tmp_path / "big.csv"
    src.write_bytes(csv_bytes(20_000, 9))
    first = store.store_file(src)
    assert store.path(first.digest).parent == store._chunk_store().packs  # no copy at all
    with open(src, "ab") as f:
        f.write(csv_bytes(200, 10))
    second = store.store_file(src, previous=first.digest)
    stale = store.tmp / f"asm.{2**22 + 7}.{second.digest}"  # a dead process's leftover
    stale.write_bytes(b"stale")
    out = subprocess.run(
        [sys.executable, "-c", READER, str(store.store_root), second.digest, str(src)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[1] == "True" and Path(out[0]).parent == store.tmp
    assert not Path(out[0]).exists() and not stale.exists()  # unlinked at exit; swept


def test_a_large_file_growing_while_it_is_chunked_is_refused(tmp_path: Path, monkeypatch) -> None:
    from workbench.errors import FileChangedError
    from workbench.store import chunks

    src = tmp_path / "big.csv"
    src.write_bytes(csv_bytes(20_000, 11))
    real = chunks.HashingReader.readinto

    def append_once(self: chunks.HashingReader, buf: memoryview) -> int:
        if self.pos == 0:  # a writer appends while we are in the middle of reading
            with open(src, "ab") as f:
                f.write(b"1,2,3\n")
        return real(self, buf)

    monkeypatch.setattr(chunks.HashingReader, "readinto", append_once)
    store = ObjectStore(tmp_path / ".workbench")
    with pytest.raises(FileChangedError, match="changed while it was being read"):
        store.store_file(src)
    assert store.digests() == set() and store.usage()["packs"] == 0
    assert store.usage()["tmp"] == 0  # no temp pack left
