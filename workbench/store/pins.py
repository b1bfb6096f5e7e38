"""The gc lock ``.workbench/gc.lock``: objects pinned by writers and readers, removed by gc.

The protocol (decided; ``workbench gc`` and the snapshot code rely on it):

* Every process that stores an object or relies on one (any ``put_*``, ``store_file``, a
  ``has()`` — checked *after* the pin is taken — and the reads of a chunked file, whose packs
  must stay) first takes ``gc.lock`` SHARED, once, and keeps it: the process is *pinned*.
  ``Store.write`` releases the pin after its transaction commits (or rolls back): from then on
  the objects are referenced by the database, or were not needed. ``release()`` is safe to call
  at any time (a command that returns without writing calls it).
* ``workbench gc`` holds ``gc.lock`` EXCLUSIVE while it lists the references and deletes. It
  takes the gc lock *before* any ``Store`` session and never waits for the gc lock while
  holding the store's own ``lock``, so the two locks cannot deadlock.
* Waits are bounded like ``locking.hold``: a waiter is told once who holds the lock (the
  exclusive holder writes "pid N: gc" into the file; shared holders are named from
  ``/proc/locks``, since many of them cannot share one file's text) and gives up after
  ``WORKBENCH_LOCK_TIMEOUT`` seconds with ``StoreBusyError``.

The kernel drops a ``flock`` when its holder dies, so a killed writer never blocks gc.

What callers must know: the pin belongs to the ``ObjectStore`` (one per ``Store``), not to a
call, so *any* ``Store.write`` of that store releases it — also an unrelated one (an audit
event) between storing objects and the write that references them. Such code stores (or calls
``has()``, which pins again) after that other write, or wraps the whole in ``pinned()`` and
writes through another ``Store``. A long-lived process that pins (a ``has()``) and never writes
keeps gc waiting — gc gives up after ``WORKBENCH_LOCK_TIMEOUT`` naming that pid — until it
writes or calls ``release()`` (a TUI's refresh that only reads should end with it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from workbench.store import locking
from workbench.store.locking import WaitCallback, _default_timeout

GC_LOCK = "gc.lock"


def acquire(
    path: Path, *, exclusive: bool, purpose: str, on_wait: WaitCallback | None = None
) -> int:
    """An open descriptor holding ``path`` locked (closing it releases the lock)."""
    limit = _default_timeout()
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        locking.wait_for(
            fd,
            mode,
            limit=limit,
            what=str(path),
            holder=lambda: holders(path, exclusive),
            on_wait=on_wait,
        )
        if exclusive:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}: {purpose}".encode(), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def exclusive(path: Path, *, purpose: str, on_wait: WaitCallback | None = None) -> Iterator[None]:
    fd = acquire(path, exclusive=True, purpose=purpose, on_wait=on_wait)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # no stale "pid N: gc" for the next waiter to read
        os.close(fd)


def holders(path: Path, wanted_exclusive: bool) -> str:
    """Who holds ``path``: the exclusive holder's own text, else the pids in ``/proc/locks``."""
    pids = _lock_pids(path)
    text = ""
    with contextlib.suppress(OSError):
        text = path.read_text(errors="replace").strip()
    if text and not wanted_exclusive:
        return f"held by {text}"
    if pids:
        named = ", ".join(f"pid {pid} ({_command(pid)})" for pid in pids[:5])
        return f"pinned by {named}"
    return f"held by {text}" if text else "held by another workbench process"


def _lock_pids(path: Path) -> list[int]:
    try:
        ino = os.stat(path).st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    me = os.getpid()
    found: list[int] = []
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK" or "->" in parts:
            continue  # (a "->" line is a waiter, not a holder)
        with contextlib.suppress(ValueError, IndexError):
            pid = int(parts[4])
            if int(parts[5].split(":")[2]) == ino and pid != me and pid not in found:
                found.append(pid)
    return found


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    return " ".join(Path(w).name if i == 0 else w for i, w in enumerate(words[:4]))[:80] or "?"


def alive(pid: int) -> bool:
    """True when a process ``pid`` exists (it may be another program that reused the pid)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
