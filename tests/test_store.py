"""The store: migrations, objects, and several processes sharing one project."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from tests.helpers import CountingStore
from workbench.errors import FileChangedError, StoreBusyError, StoreError
from workbench.store import Store, objects
from workbench.store.objects import ObjectStore
from workbench.store.schema import SCHEMA_VERSION


def test_new_store_is_created_with_schema_version(tmp_path: Path) -> None:
    store = Store(tmp_path / ".workbench")
    with store.read() as s:
        assert s.snapshot_count() == 0
    con = duckdb.connect(str(store.db_path), read_only=True)
    versions = [r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()]
    con.close()
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    mode = stat.S_IMODE((tmp_path / ".workbench").stat().st_mode)
    assert mode == 0o700
    assert (tmp_path / ".workbench" / ".gitignore").read_text().strip().endswith("*")


def test_a_process_first_session_checks_the_schema_on_its_own_connection(
    tmp_path: Path,
) -> None:
    root = tmp_path / ".workbench"
    first = CountingStore(root)
    with first.write("create") as s:  # creates the store and the schema: one connection
        s.add_event("test", "created", ts="t")
    assert len(first.opened) == 1
    assert (stat.S_IMODE(first.db_path.stat().st_mode)) == 0o600
    reader, writer = CountingStore(root), CountingStore(root)  # new processes, as it were
    with reader.read() as s:
        assert [e.kind for e in s.events(limit=10)] == ["test"]
    assert len(reader.opened) == 1
    with writer.write("more") as s:
        s.add_event("test", "again", ts="t")
    assert len(writer.opened) == 1
    with reader.read(), reader.read():
        pass
    assert len(reader.opened) == 3  # one connection per session from then on


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / ".workbench")
    with store.write("test") as s:
        s.con.execute("INSERT INTO schema_version VALUES (99, 'future')")
    with (
        pytest.raises(StoreError, match="schema version 99"),
        Store(tmp_path / ".workbench").read(),
    ):
        pass


def test_write_session_rolls_back_on_error(tmp_path: Path) -> None:
    store = Store(tmp_path / ".workbench")
    with pytest.raises(RuntimeError), store.write("test") as s:
        s.add_event("x", "first", ts="t")
        raise RuntimeError("boom")
    with store.read() as s:
        assert s.events() == []


def test_objects_are_content_addressed_owner_only_and_never_rewritten(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_bytes(b"a,b\n1,2\n" * 1000)
    store = ObjectStore(tmp_path / ".workbench")
    digest, size = store.put_file(src)
    assert size == src.stat().st_size
    assert digest == objects.hash_bytes(src.read_bytes())
    path = store.path(digest)
    assert path.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assert store.put_file(src) == (digest, size)
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before
    assert list((tmp_path / ".workbench" / "tmp").iterdir()) == []


def test_put_file_detects_a_file_growing_while_read(tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "growing.csv"
    src.write_bytes(b"x" * (2 * objects.SMALL))  # large enough for the chunked copy
    store = ObjectStore(tmp_path / ".workbench")
    monkeypatch.setattr(objects, "CHUNK", 1 << 16)
    real = objects._start_writeback()

    def writer_appends(fd: int, offset: int, length: int) -> None:
        if offset == 0:  # a writer appends while we are in the middle of reading
            with open(src, "ab") as f:
                f.write(b"more rows\n")
        if real is not None:
            real(fd, offset, length)

    monkeypatch.setattr(objects, "_start_writeback", lambda: writer_appends)
    with pytest.raises(FileChangedError, match="changed while it was being read"):
        store.put_file(src)
    stored = [p for p in (tmp_path / ".workbench").rglob("*") if p.is_file()]
    stored = [p for p in stored if p.name not in (".gitignore", "gc.lock")]  # the store's own
    assert stored == []  # neither a partial object nor a leftover temp file


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from workbench.store import Store
    store = Store(Path(sys.argv[1]))
    with store.write("holder test") as s:
        s.add_event("held", "from the other process", ts="t")
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    print("released", flush=True)
    """
)


def _start_holder(root: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_waits_for_a_writer_and_then_reads(tmp_path: Path) -> None:
    root = tmp_path / ".workbench"
    with Store(root).read():
        pass
    proc = _start_holder(root, 1.0)
    told: list[str] = []
    start = time.monotonic()
    with Store(root, on_wait=told.append).read() as s:
        events = s.events()
    waited = time.monotonic() - start
    proc.wait(timeout=10)
    assert [e.kind for e in events] == ["held"]  # saw the other process's committed write
    assert waited >= 0.5
    assert told and "holder test" in told[0] and str(proc.pid) in told[0]


def test_a_wait_for_a_thread_of_this_process_is_not_reported(tmp_path: Path) -> None:
    import threading

    from workbench.store import locking

    lock = tmp_path / "lock"
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with locking.hold(lock, exclusive=True, purpose="drift"):
            held.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    threading.Timer(0.5, release.set).start()
    told: list[str] = []
    start = time.monotonic()
    with locking.hold(lock, exclusive=False, purpose="read", on_wait=told.append):
        waited = time.monotonic() - start
    t.join()
    assert waited >= 0.4 and told == []  # waited past TELL_AFTER_S, but for itself: quiet


def test_busy_store_gives_a_clear_error_after_the_wait_limit(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / ".workbench"
    with Store(root).read():
        pass
    proc = _start_holder(root, 5.0)
    monkeypatch.setenv("WORKBENCH_LOCK_TIMEOUT", "0.3")
    try:
        with pytest.raises(StoreBusyError) as info, Store(root).write("second"):
            pass
        assert "holder test" in info.value.message
        assert "WORKBENCH_LOCK_TIMEOUT" in str(info.value.hint)
    finally:
        proc.kill()
        proc.wait()
    # the killed holder's transaction vanished whole; the store opens and writes again
    with Store(root).write("after kill") as s:
        s.add_event("after", "ok", ts="t")
    with Store(root).read() as s:
        assert [e.kind for e in s.events()] == ["after"]


def test_many_processes_write_concurrently_without_lock_errors(tmp_path: Path) -> None:
    root = tmp_path / ".workbench"
    with Store(root).read():
        pass
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from workbench.store import Store
        store = Store(Path(sys.argv[1]))
        for i in range(15):
            with store.write("writer") as s:
                s.add_event("w", sys.argv[2] + ":" + str(i), ts="t")
            with store.read() as s:
                s.events(limit=1)
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(root), str(n)], stderr=subprocess.PIPE)
        for n in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with Store(root).read() as s:
        messages = {e.message for e in s.events(limit=1000)}
    assert messages == {f"{n}:{i}" for n in range(4) for i in range(15)}


def test_kill_9_during_a_write_leaves_a_store_that_opens(tmp_path: Path) -> None:
    root = tmp_path / ".workbench"
    with Store(root).write("first") as s:
        s.add_event("kept", "committed before the kill", ts="t")
    proc = _start_holder(root, 30)
    os.kill(proc.pid, 9)
    proc.wait()
    with Store(root).read() as s:
        kinds = [e.kind for e in s.events()]
    assert kinds == ["kept"]


def test_live_state_is_replaced_atomically_without_fsync(tmp_path: Path, monkeypatch) -> None:
    store = Store(tmp_path / ".workbench")
    store.objects.ensure()  # the store folder itself (made once, durably) exists already
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    store.write_json("progress.json", {"step": "train", "round": 3}, durable=False)
    assert synced == []
    assert store.read_json("progress.json") == {"step": "train", "round": 3}
    store.write_json("cache/x.json", {"a": 1})  # the default: file and folder synced
    assert len(synced) == 2
    assert not [p for p in (tmp_path / ".workbench").rglob("*wbtmp*")]
