"""A bounded-wait file lock (``flock``) that says who holds it.

``flock`` locks belong to an open file description, so two threads of one process that each open
the lock file exclude each other exactly as two processes do; the kernel drops the lock when the
holder dies, even by ``kill -9``, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from workbench.errors import StoreBusyError

TELL_AFTER_S = 0.2  # a wait shorter than this is not reported through ``on_wait``

WaitCallback = Callable[[str], None]


def _default_timeout() -> float:
    from workbench.config import env_seconds

    return env_seconds("WORKBENCH_LOCK_TIMEOUT", 60.0)


@contextlib.contextmanager
def hold(
    path: Path,
    *,
    exclusive: bool,
    purpose: str,
    timeout: float | None = None,
    on_wait: WaitCallback | None = None,
) -> Iterator[None]:
    """Hold ``path`` locked (shared or exclusive), waiting at most ``timeout`` seconds.

    ``on_wait`` is called once, with who holds the lock, if we have waited ``TELL_AFTER_S``
    (shorter waits are not worth a message) for another process; a holder writes its pid and
    purpose into the file so the message can say who it is.
    """
    limit = _default_timeout() if timeout is None else timeout
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        wait_for(
            fd,
            mode,
            limit=limit,
            what=f"the store {path.parent}",
            holder=lambda: _holder(path),
            on_wait=on_wait,
        )
        if exclusive:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}: {purpose}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def wait_for(
    fd: int,
    mode: int,
    *,
    limit: float,
    what: str,
    holder: Callable[[], str],
    on_wait: WaitCallback | None,
) -> None:
    """``flock(fd, mode)``, waiting at most ``limit`` seconds (the one bounded wait of the
    store's locks: ``hold`` here, the gc lock in ``pins``). ``on_wait`` hears once, after
    ``TELL_AFTER_S``, who holds it (``holder()``) unless it is this process itself (a thread,
    e.g. drift beside training: quiet); past ``limit``, ``StoreBusyError`` names the holder."""
    deadline = time.monotonic() + limit
    tell_at = time.monotonic() + TELL_AFTER_S
    told = False
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"{what} stayed busy for {limit:.0f} s ({holder()})",
                    "wait for that command to finish and run this one again, or raise "
                    "WORKBENCH_LOCK_TIMEOUT (seconds)",
                ) from None
            if not told and on_wait is not None and time.monotonic() >= tell_at:
                held_by = holder()
                if not held_by.startswith(f"held by pid {os.getpid()}:"):
                    on_wait(f"waiting for the store: {held_by}")
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _holder(path: Path) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        text = ""
    return f"held by {text}" if text else "held by another workbench process"


def is_held(path: Path) -> bool:
    """True when another open file description holds ``path`` exclusively."""
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
