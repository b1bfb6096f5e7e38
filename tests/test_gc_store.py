"""The gc side of the store: ``ObjectStore.collect`` keeps exactly the referenced bytes, and
the gc lock (``pins.py``) keeps writers and gc apart across real processes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import xxhash

from workbench.errors import StoreBusyError
from workbench.store import Store
from workbench.store.objects import ObjectStore

AVG = 4096


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CHUNKED_MIN_BYTES", str(64 * 1024))
    monkeypatch.setenv("WORKBENCH_CHUNK_AVG_BYTES", str(AVG))
    monkeypatch.setenv("WORKBENCH_LOCK_TIMEOUT", "0.6")


def rows(n: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    return "".join(f"{rnd.random():.9f},{rnd.randint(0, 9999)}\n" for _ in range(n)).encode()


def put(store: ObjectStore, path: Path, data: bytes, previous: str | None = None) -> str:
    path.write_bytes(data)
    return store.store_file(path, previous=previous).digest


def test_collect_keeps_referenced_bytes_and_removes_the_rest(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / ".workbench")
    base = rows(30_000, 1)
    a = put(store, tmp_path / "a.csv", base)
    b = put(store, tmp_path / "a.csv", base + rows(300, 2), previous=a)  # shares a's chunks
    c = put(store, tmp_path / "c.csv", rows(30_000, 3))  # shares nothing
    w1, w2 = store.put_bytes(b"kept"), store.put_bytes(b"dropped")
    assert store.digests() == {a, b, c, w1, w2}
    before = store.usage()
    dry = None
    with store.gc_lock():
        dry = store.collect({b, w1}, dry_run=True)
        assert store.digests() == {a, b, c, w1, w2} and store.usage() == before
        report = store.collect({b, w1}, dry_run=False)
    assert report == dry  # dry run tells exactly what the real one does
    assert set(report.removed) == {a, c, w2}
    assert (report.objects_removed, report.chunked_removed) == (1, 2)
    assert report.chunks_removed >= 1  # c's chunks (and a's last, cut by its end)
    assert store.digests() == {b, w1}
    assert store.read(b) == base + rows(300, 2) and store.read(w1) == b"kept"
    assert not store.has(a) and not store.has(c) and not store.has(w2)
    after = store.usage()
    assert before["total"] - after["total"] == report.bytes_freed
    assert after["packs"] + after["manifests"] + after["objects"] == report.bytes_kept
    assert after["packs"] < len(base) + len(rows(300, 2)) + 4 * 4 * AVG  # c's pack is gone


def test_a_mostly_dead_pack_is_rewritten_with_its_live_chunks(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / ".workbench")
    old = rows(40_000, 4)
    x = put(store, tmp_path / "x.csv", old)
    y = put(store, tmp_path / "y.csv", old[: len(old) // 10] + rows(40_000, 5))
    packs_before = store.usage()["packs"]
    with store.gc_lock():
        dry = store.collect({y}, dry_run=True)
        report = store.collect({y}, dry_run=False)
    assert report == dry  # the bytes a rewrite frees and keeps, told before it runs
    assert report.packs_rewritten == 1 and report.chunked_removed == 1
    assert store.read(y) == old[: len(old) // 10] + rows(40_000, 5)
    assert not store.has(x)
    assert store.usage()["packs"] < packs_before - len(old) * 0.7
    fresh = ObjectStore(tmp_path / ".workbench")  # a new process finds the rewritten chunks
    assert xxhash.xxh3_128_hexdigest(fresh.path(y).read_bytes()) == y


def test_collect_removes_temp_files_of_dead_processes_only(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / ".workbench")
    store.put_bytes(b"x")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    (store.tmp / f"pack.{pid}.1.2").write_bytes(b"half a pack")
    (store.tmp / f"asm.{pid}.abc").write_bytes(b"assembled")
    (store.tmp / f"drift-cur.{pid}.7.arrow").write_bytes(b"a drift run's columns")
    (store.tmp / f"asm.{pid}.small").mkdir()
    (store.tmp / f"asm.{pid}.small" / "ab12").write_bytes(b"a packed file as a path")
    mine = store.tmp / f"in.{os.getpid()}.1.2"
    mine.write_bytes(b"being written")
    with store.gc_lock():
        report = store.collect(store.digests(), dry_run=False)
    assert report.temp_removed == 4 and report.objects_removed == 0
    assert sorted(p.name for p in store.tmp.iterdir()) == [mine.name]


HOLD_PIN = """
import sys
from pathlib import Path
from workbench.store.objects import ObjectStore
s = ObjectStore(Path(sys.argv[1]))
assert s.has(sys.argv[2])
print("pinned", flush=True)
sys.stdin.readline()
s.release()
print("released", flush=True)
sys.stdin.readline()
"""

WRITE = """
import sys
from pathlib import Path
from workbench.errors import StoreBusyError
from workbench.store.objects import ObjectStore
try:
    ObjectStore(Path(sys.argv[1])).put_bytes(b"new bytes")
except StoreBusyError as e:
    print("busy:", e)
else:
    print("stored")
"""


def test_a_pinned_writer_blocks_gc_until_it_releases(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / ".workbench")
    digest = store.put_bytes(b"hello")
    store.release()
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_PIN, str(store.store_root), digest],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline() == "pinned\n"
        told: list[str] = []
        with pytest.raises(StoreBusyError, match=f"pid {child.pid}"), store.gc_lock(told.append):
            pass
        assert told and f"pid {child.pid}" in told[0]
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline() == "released\n"
        with store.gc_lock():
            assert store.collect({digest}, dry_run=False).objects_removed == 0
    finally:
        child.kill()
        child.wait()


def test_gc_blocks_a_writer_and_the_writer_says_who_holds_it(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / ".workbench")
    store.put_bytes(b"hello")
    with store.gc_lock():
        out = subprocess.run(
            [sys.executable, "-c", WRITE, str(store.store_root)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.startswith("busy:") and f"pid {os.getpid()}: gc" in out
    out = subprocess.run(
        [sys.executable, "-c", WRITE, str(store.store_root)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == "stored\n"


def test_store_write_releases_the_pin(tmp_path: Path) -> None:
    store = Store(tmp_path / ".workbench")
    digest = store.objects.put_bytes(b"referenced")
    gc = ObjectStore(tmp_path / ".workbench")
    with pytest.raises(StoreBusyError), gc.gc_lock():
        pass  # another ObjectStore opens gc.lock itself: flock excludes it like a process
    with store.write("test"):
        pass
    with gc.gc_lock():
        assert gc.collect({digest}, dry_run=True).removed == ()


def test_reading_and_storing_while_holding_the_gc_lock_does_not_wait_for_itself(
    tmp_path: Path,
) -> None:
    store = ObjectStore(tmp_path / ".workbench")
    (tmp_path / "a.csv").write_bytes(rows(30_000, 6))
    digest = store.store_file(tmp_path / "a.csv").digest
    with store.gc_lock():
        assert store.has(digest) and store.path(digest).read_bytes() == rows(30_000, 6)
        kept = store.put_bytes(b"written by gc")
        assert store.collect({digest, kept}, dry_run=False).removed == ()


def test_a_reader_that_only_checks_a_referenced_object_does_not_hold_gc_off(
    tmp_path: Path,
) -> None:
    store = ObjectStore(tmp_path / ".workbench")
    digest = store.put_bytes(b"a champion's model")
    store.release()
    reader = ObjectStore(tmp_path / ".workbench")  # a server that loaded its champion
    assert reader.exists(digest) and not reader.exists("0" * 32)
    with store.gc_lock():  # not pinned by exists(): gc goes ahead at once
        assert store.collect({digest}, dry_run=True).removed == ()
    assert reader.has(digest)  # about to reference it: pinned until its next write
    with pytest.raises(StoreBusyError), store.gc_lock():
        pass
    reader.release()
