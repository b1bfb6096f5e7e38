"""The store in ``.workbench/``: DuckDB metadata and content-addressed objects.

The only module that imports duckdb.

Layout::

    .workbench/
      meta.duckdb      metadata (snapshots, files, events; later versions and champions)
      objects/ab/...   content-addressed bytes (see ``objects.py``)
      cache/stat.json  stat cache: path -> size, mtime_ns, inode, hash (a cache, safe to delete)
      cache/last.json  the last snapshot + the stat listing of its inputs (``core.inputs``)
      chunks/files/ab/...  manifests of large files stored as chunks (see ``chunks.py``)
      chunks/packs/    packs of chunks and their indexes (see ``packs.py``)
      tmp/             temp files of atomic writes; assembled chunked files (``asm.<pid>.*``)
      lock             serialises access to meta.duckdb (flock)
      gc.lock          the gc lock: writers pin (shared), ``workbench gc`` holds it exclusive
                       (see ``pins.py``); ``write()`` releases this process's pin at its end

How processes share the store (decided here, relied on by every later feature)
-------------------------------------------------------------------------------
DuckDB allows one read-write process per database file, and while it has the file open no
other process can open it at all, not even read-only. So **no process keeps the database
open**. Every access is a short session:

* ``Store.read()`` takes a *shared* ``flock`` on ``.workbench/lock`` and opens DuckDB
  read-only. Any number of readers (TUI refresh, ``status``, ``history``) run at once.
* ``Store.write(purpose)`` takes the *exclusive* ``flock``, opens DuckDB read-write, runs the
  caller's verbs in one transaction, commits and closes. Sessions last milliseconds: slow work
  (hashing, profiling, training) happens *outside* a session, and only its result is written.
* A session that has to wait says so once through ``on_wait`` (the CLI prints "waiting for the
  store: held by pid 123: snapshot") and gives up after ``WORKBENCH_LOCK_TIMEOUT`` seconds
  (default 60) with ``StoreBusyError``: a user never sees DuckDB's "could not set lock".

Objects before references: ``write()`` (and ``write_json``, which holds the stat cache) first
makes every object this process stored or relied on durable (``ObjectStore.sync``, which
fsyncs the touched object folders once each), then writes what references them.

The TUI, a headless watcher and CLI commands therefore work on one project together, and a
change one of them writes (a rollback) is what the next session of any other reads. ``flock`` is
released by the kernel when a process dies, so ``kill -9`` leaves no stale lock; DuckDB's WAL
makes a killed transaction vanish whole.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import StoreError
from workbench.store import locking
from workbench.store.locking import WaitCallback
from workbench.store.objects import ObjectStore, atomic_write, private_root
from workbench.store.schema import MIGRATIONS, SCHEMA_VERSION
from workbench.store.session import Session

if TYPE_CHECKING:
    import duckdb

__all__ = ["Session", "Store", "now_iso", "os_user"]

DB_NAME = "meta.duckdb"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def import_driver() -> None:
    """Import the database driver now (~30 ms): a command that will open the store soon
    imports it on a thread while other work runs."""
    import duckdb  # noqa: F401


def os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


class Store:
    """One project's ``.workbench`` folder."""

    def __init__(self, root: Path, *, on_wait: WaitCallback | None = None) -> None:
        self.root = root
        self.db_path = root / DB_NAME
        self.lock_path = root / "lock"
        self.objects = ObjectStore(root, on_wait=on_wait)
        self.on_wait = on_wait
        self._checked = False

    # ------------------------------------------------------------ sessions

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (shared lock). Creates or upgrades the store first if needed.

        A process's first session checks the schema version on the session's own connection:
        one DuckDB open instead of two (each costs ~20-30 ms).
        """
        if not self._checked and self.db_path.exists():
            with contextlib.ExitStack() as stack:
                try:
                    con, version = stack.enter_context(self._read_session())
                except StoreError:
                    version = None  # e.g. a WAL to replay: the exclusive path handles it
                if version == SCHEMA_VERSION:
                    self._checked = True
                    yield Session(con, self.objects)
                    return
        if not self._checked:
            self._upgrade()
        with self._read_session() as (con, _):
            yield Session(con, self.objects)

    @contextlib.contextmanager
    def _read_session(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, int | None]]:
        """A shared lock and a read-only connection, with the schema version when not yet
        checked (None when checked, or when it cannot be read)."""
        with locking.hold(self.lock_path, exclusive=False, purpose="read", on_wait=self.on_wait):
            con = self._connect(read_only=True)
            try:
                yield con, None if self._checked else _current_version(con)
            finally:
                con.close()

    @contextlib.contextmanager
    def write(self, purpose: str) -> Iterator[Session]:
        """A read-write session in one transaction (exclusive lock).

        Objects stored before it are made durable first (outside the lock: it is disk I/O).
        A process's first session creates or upgrades the schema on its own connection (it
        holds the exclusive lock that needs), rather than opening one more.
        """
        if not self._checked:
            self._make_folders()
        self.objects.sync()
        with locking.hold(self.lock_path, exclusive=True, purpose=purpose, on_wait=self.on_wait):
            con = self._connect(read_only=False)
            try:
                if not self._checked:
                    self._up_to_date(con)
                con.execute("BEGIN TRANSACTION")
                yield Session(con, self.objects)
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    con.execute("ROLLBACK")
                raise
            finally:
                con.close()
                self.objects.release()  # committed or rolled back: the pin has done its job

    # ------------------------------------------------------------ set-up

    def _upgrade(self) -> None:
        """Create or migrate the schema in a session of its own (the exclusive lock).

        ``read`` comes here when its own connection found no store, another schema version,
        or a database it could not open read-only (a WAL to replay).
        """
        self._make_folders()
        with locking.hold(self.lock_path, exclusive=True, purpose="migrate", on_wait=self.on_wait):
            con = self._connect(read_only=False)
            try:
                self._up_to_date(con)
            finally:
                con.close()

    def _up_to_date(self, con: duckdb.DuckDBPyConnection) -> None:
        """Migrate the schema on ``con`` (nothing to do when current); the caller holds the
        exclusive lock."""
        self._migrate(con)
        os.chmod(self.db_path, 0o600)
        self._checked = True

    def _make_folders(self) -> None:
        private_root(self.root)
        self.objects.ensure()

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        version = _current_version(con) or 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.db_path} has schema version {version}; this workbench knows up to "
                f"{SCHEMA_VERSION}",
                "upgrade workbench (pip install -U workbench)",
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(MIGRATIONS[target - 1])
                con.execute("INSERT INTO schema_version VALUES (?, ?)", [target, now_iso()])
                con.execute("COMMIT")
            except Exception as e:
                con.execute("ROLLBACK")
                raise StoreError(
                    f"migrating {self.db_path} to schema {target} failed: {e}",
                    "report this; the store was left at its previous version",
                ) from e

    def _connect(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        import duckdb

        try:
            return duckdb.connect(str(self.db_path), read_only=read_only)
        except duckdb.Error as e:
            raise StoreError(
                f"cannot open {self.db_path}: {str(e).splitlines()[0]}",
                "if another program (not workbench) has it open, close that program",
            ) from e

    # ------------------------------------------------------------ small shared files

    def read_json(self, name: str) -> Any:
        try:
            return json.loads((self.root / name).read_bytes())
        except (OSError, ValueError):
            return None

    def write_json(self, name: str, value: Any, *, durable: bool = True) -> None:
        """Replace ``name`` atomically; ``durable=False`` for live state (no fsyncs, and no
        object sync first: it names no objects)."""
        path = self.root / name
        private_root(self.root)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if durable:
            self.objects.sync()  # the stat cache names objects: they must be durable first
        data = json.dumps(value, separators=(",", ":")).encode()
        atomic_write(path, data, mode=0o600, durable=durable)


def _current_version(con: duckdb.DuckDBPyConnection) -> int | None:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return None
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else None
