"""The watch loop: one plain generator used by ``workbench watch`` and by the TUI.

``watch()`` yields ``CycleEvent``s: it runs a cycle at start (if the inputs are not trained
yet), then waits for changes and runs one cycle per settled batch of changes. The change
source is a parameter (``changes``) so tests and the TUI can feed batches; by default it is
``watchfiles`` on the project folder, filtered to the data files under ``[data] path`` and the
config file. Never inputs: the store (``.workbench/``), hidden, temp and editor swap files.

Event model: a burst of writes is collapsed by ``watchfiles``' debounce
(``[watch] debounce_ms``); then each changed file is stat'ed until its size and mtime stop
moving (a file still being written is waited for, never read half-written); then one cycle
runs. Changes that arrive while a cycle runs are buffered by ``watchfiles`` and come out as
the next batch, so they coalesce into one more cycle. The config is re-read before every
cycle: a broken config is a failed cycle event, and the next edit that fixes it recovers.

File watching survives what watchfiles cannot report: an event on a path that is not valid
UTF-8 (a ``notes/r\xe9sum\xe9.txt`` anywhere in the project) makes watchfiles raise; the loop
then starts watching again and runs one cycle (the snapshot finds whatever changed meanwhile).
If watching fails ``RESTARTS`` times in a row, or its thread ends for any reason while the loop
runs, the loop raises ``WatchStoppedError``: a watcher never stops silently with exit 0.

One watcher per project: the loop holds ``.workbench/watcher.lock`` (flock; released by the
kernel even on ``kill -9``), which is how ``status`` and the TUI know a watcher is running.

Progress is published for other processes: while a cycle runs, the loop writes the current
step (and boosting round) to ``.workbench/progress.json`` at most every
``PROGRESS_INTERVAL_S`` (atomic replace), and ``{"step": null}`` when the cycle ends. A TUI
attached to a headless watcher reads it; events themselves go through the store. Setting
``stop`` while a cycle runs abandons it at the next progress point (``Cancelled``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench import config as config_mod
from workbench.config import Settings
from workbench.data.inputs import is_ignored
from workbench.errors import ConfigError, StoreError, UsageError, WatchStoppedError
from workbench.pipeline.cycle import Cancelled, failed_to_start, mark_interrupted, run_cycle
from workbench.pipeline.events import CycleEvent
from workbench.pipeline.status import WATCHER_LOCK
from workbench.store import Store, locking, now_iso

SETTLE_POLL_S = 0.05
SETTLE_MAX_S = 600.0
PROGRESS_FILE = "progress.json"
PROGRESS_INTERVAL_S = 0.5
RESTARTS = 5  # file watching restarted this many times in a row at most
READY_TIMEOUT_MS = 5000  # a quiet watchfiles wakes this often (as by default): a restart
# knows it is watching again at its first batch or wake-up
RESCAN: set[Path] = set()  # a batch naming no path: something changed that watchfiles lost

Changes = Iterable[set[Path]]
Progress = Callable[[str, dict[str, Any]], None]


class _Publisher:
    """The progress callback a cycle gets: cancel on ``stop``, forward, publish for others."""

    def __init__(self, store: Store, stop: threading.Event, forward: Progress | None) -> None:
        self.store, self.stop, self.forward = store, stop, forward
        self.last = 0.0
        self.step = ""

    def __call__(self, step: str, info: dict[str, Any]) -> None:
        if self.stop.is_set():
            raise Cancelled(step)
        if self.forward is not None:
            self.forward(step, info)
        now = time.monotonic()
        if step != self.step or now - self.last >= PROGRESS_INTERVAL_S:
            self.step, self.last = step, now
            self._write({"step": step, **info, "pid": os.getpid(), "ts": now_iso()})

    def clear(self) -> None:
        self.step = ""
        self._write({"step": None, "pid": os.getpid(), "ts": now_iso()})

    def _write(self, value: dict[str, Any]) -> None:
        # progress is a courtesy to other processes; never fail a cycle for it
        with contextlib.suppress(OSError):  # live state: atomic, not fsynced
            self.store.write_json(PROGRESS_FILE, value, durable=False)


def read_progress(store: Store) -> dict[str, Any] | None:
    """What a running watcher (maybe another process) is doing now, or None when idle."""
    value = store.read_json(PROGRESS_FILE)
    return value if isinstance(value, dict) and value.get("step") else None


def input_filter(root: Path) -> Callable[[Path], bool]:
    """True for paths that are project inputs (data files, the config, delayed labels)."""
    root = root.resolve()
    store = root / ".workbench"

    def keep(path: Path) -> bool:
        if path.name in (config_mod.CONFIG_NAME, config_mod.PYPROJECT_NAME):
            return path.parent == root
        if store in path.parents or is_ignored(path.name):
            return False
        try:
            settings = config_mod.load(root)
        except ConfigError:
            return True  # the cycle will report the config error
        data = (root / settings.data.path).resolve()
        labels = (root / settings.monitor.labels).resolve() if settings.monitor.labels else None
        if labels is not None and labels in path.parents:  # delayed labels: a cycle joins them
            return True
        return data == path or data in path.parents or "*" in settings.data.path

    return keep


def watchfiles_changes(
    root: Path, debounce_ms: int, stop: threading.Event, ready: Callable[[], None] | None = None
) -> Changes:
    """Batches of changed input paths from watchfiles (inotify on Linux); ``ready()`` is
    called once, as soon as watching is set up (its first batch or first quiet timeout)."""
    import watchfiles

    keep = input_filter(root)
    for batch in watchfiles.watch(
        root,
        watch_filter=lambda _change, path: keep(Path(path)),
        debounce=max(debounce_ms, 1),
        step=50,
        stop_event=stop,
        raise_interrupt=False,
        ignore_permission_denied=True,
        rust_timeout=READY_TIMEOUT_MS,
        yield_on_timeout=True,
    ):
        if ready is not None:
            ready()
            ready = None
        if batch:
            yield {Path(p) for _, p in batch}


def wait_until_settled(paths: set[Path], poll_s: float = SETTLE_POLL_S) -> None:
    """Block until every path's size and mtime stay the same across one poll.

    A file whose mtime is already ``poll_s`` old has not been written for a poll's length
    (the same evidence one poll would give), so when every path is like that — the common
    case once the debounce is over — there is no wait at all.
    """
    deadline = time.monotonic() + SETTLE_MAX_S
    last = _stats(paths)
    quiet_since = time.time_ns() - int(poll_s * 1e9)
    if all(sig is None or sig[1] <= quiet_since for sig in last.values()):
        return
    while time.monotonic() < deadline:
        time.sleep(poll_s)
        now = _stats(paths)
        if now == last:
            return
        last = now


def _stats(paths: set[Path]) -> dict[Path, tuple[int, int] | None]:
    out: dict[Path, tuple[int, int] | None] = {}
    for p in paths:
        try:
            st = os.stat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
        except OSError:
            out[p] = None
    return out


@contextmanager
def watcher_lock(store: Store) -> Iterator[None]:
    """Hold the one-watcher-per-project lock, or refuse with who holds it."""
    store.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with locking.hold(store.root / WATCHER_LOCK, exclusive=True, purpose="watch", timeout=0):
            yield
    except locking.StoreBusyError as e:
        raise UsageError(
            f"a watcher is already running on this project ({e.message.split('(')[-1]}",
            "stop it first, or use `workbench status` / the TUI to follow it",
        ) from e


class _Background:
    """watchfiles running in a thread from construction on, its batches in a queue.

    Started *before* the first cycle so that nothing written while that cycle runs (or just
    after it) is missed: inotify is watching from the start, and such changes come out as the
    next batch.
    """

    def __init__(
        self,
        root: Path,
        debounce_ms: int,
        stop: threading.Event,
        requests: queue.Queue[str] | None = None,
    ) -> None:
        self.queue: queue.Queue[set[Path]] = queue.Queue()
        self.errors: queue.Queue[str] = queue.Queue()
        self.failure: str | None = None
        self.requests = requests
        self.stop = stop
        self.thread = threading.Thread(
            target=self._run, args=(root, debounce_ms), name="workbench-watchfiles", daemon=True
        )
        self.thread.start()

    def _run(self, root: Path, debounce_ms: int) -> None:
        failures = 0

        def rescan() -> None:  # watching again: one cycle finds what changed while it was not
            self.queue.put(set(RESCAN))

        while not self.stop.is_set():
            try:
                for batch in watchfiles_changes(
                    root, debounce_ms, self.stop, rescan if failures else None
                ):
                    failures = 0
                    self.queue.put(batch)
                return  # stopped
            except (RuntimeError, OSError) as e:  # watchfiles' own errors (a non-UTF-8 path)
                failures += 1
                self.errors.put(str(e))
                if failures > RESTARTS:
                    self.failure = f"file watching failed {failures} times in a row: {e}"
                    return
                time.sleep(min(0.1 * failures, 1.0))

    def __iter__(self) -> Iterator[set[Path] | str | None]:
        """Change batches; ``None`` when a front end asked for a cycle (``requests``); a
        ``str`` when watching failed and was restarted (what failed)."""
        while not self.stop.is_set():
            if not self.thread.is_alive() and self.queue.empty() and not self.stop.is_set():
                raise WatchStoppedError(
                    self.failure or "file watching stopped unexpectedly",
                    "restart the watcher; if it fails again, look for files it cannot watch",
                )
            while not self.errors.empty():
                yield self.errors.get_nowait()
            if self.requests is not None and not self.requests.empty():
                while not self.requests.empty():
                    self.requests.get_nowait()
                yield None
                continue
            try:
                batch = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            while not self.queue.empty():  # coalesce what piled up during a cycle
                batch |= self.queue.get_nowait()
            yield batch


def watch(
    root: Path,
    store: Store,
    *,
    changes: Changes | None = None,
    stop: threading.Event | None = None,
    once: bool = False,
    progress: Progress | None = None,
    requests: queue.Queue[str] | None = None,
) -> Iterator[CycleEvent]:
    """Yield the events of a cycle at start, then of one cycle per settled change batch.

    ``requests`` lets a front end ask for a cycle now (the TUI's "train now"): anything put
    in it makes the loop run one forced cycle (a new version even if the inputs are trained)
    between change batches, never two cycles at once.
    """
    stop = stop or threading.Event()
    publish = _Publisher(store, stop, progress)
    settings = _settings(root)
    debounce = settings.watch.debounce_ms if settings else 1000
    source: Iterable[set[Path] | str | None] | None = changes
    if source is None and not once:
        # watching before the first cycle runs
        source = _Background(root, debounce, stop, requests)
    try:
        yield from _interrupted(store)
        yield from _cycle(root, store, publish)
        if once or source is None:
            return
        yield CycleEvent("watching", f"watching {root} (debounce {debounce} ms)")
        for batch in source:
            if stop.is_set():
                break
            if isinstance(batch, str):
                yield CycleEvent("watch_restarted", f"file watching restarted: {batch}", "warning")
                continue
            if batch is None:
                yield CycleEvent("requested", "a training cycle was requested")
                yield from _cycle(root, store, publish, force=True)
                yield CycleEvent("watching", "waiting for changes")
                continue
            names = ", ".join(sorted(p.name for p in batch)[:5]) or "(a lost event: rescanning)"
            yield CycleEvent(
                "changed",
                f"{len(batch)} input(s) changed: {names}",
                data={"paths": sorted(str(p) for p in batch)},
            )
            wait_until_settled(batch)
            yield from _cycle(root, store, publish)
            yield CycleEvent("watching", "waiting for changes")
    finally:
        stop.set()


def _interrupted(store: Store) -> Iterator[CycleEvent]:
    """Cycles a killed process left unfinished; a busy store only delays recording them."""
    try:
        unfinished = mark_interrupted(store)
    except StoreError as e:
        yield CycleEvent("store_busy", f"interrupted cycles not checked: {e.message}", "warning")
        return
    for cycle in unfinished:
        yield CycleEvent("cycle_interrupted", f"cycle {cycle} was interrupted", "warning")


def _settings(root: Path) -> Settings | None:
    try:
        return config_mod.load(root)
    except ConfigError:
        return None


def _cycle(
    root: Path, store: Store, publish: _Publisher, *, force: bool = False
) -> Iterator[CycleEvent]:
    try:
        yield from _run(root, store, publish, force)
    finally:
        publish.clear()


def _run(root: Path, store: Store, publish: _Publisher, force: bool) -> Iterator[CycleEvent]:
    try:
        settings = config_mod.load(root)
    except ConfigError as e:
        yield failed_to_start(store, "config", e)
        return
    yield from run_cycle(settings, store, force=force, progress=publish)
