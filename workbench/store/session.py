"""Typed verbs over one open DuckDB connection, returning frozen records.

A ``Session`` lives only inside ``Store.read()`` / ``Store.write()``; see the ``store``
package docstring for why connections are short. SQL always takes parameters (``?``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import UsageError
from workbench.store.drift import DriftReference, DriftResult, DriftVerbs
from workbench.store.registry import RegistryVerbs, VersionRecord

if TYPE_CHECKING:
    import duckdb

    from workbench.store.objects import ObjectStore


@dataclass(frozen=True)
class FileRecord:
    path: str
    hash: str
    bytes: int
    rows: int | None
    kind: str  # "data" | "config"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "hash": self.hash, "bytes": self.bytes, "rows": self.rows}


@dataclass(frozen=True)
class SnapshotRecord:
    id: str
    created_at: str
    git_commit: str | None
    git_branch: str | None
    git_dirty: bool
    in_git: bool
    config_path: str
    config_hash: str
    rows: int
    bytes: int
    profile: dict[str, Any]
    created_by: str
    files: tuple[FileRecord, ...] = ()

    @property
    def data_files(self) -> tuple[FileRecord, ...]:
        return tuple(f for f in self.files if f.kind == "data")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "git_commit": self.git_commit,
            "git_branch": self.git_branch,
            "git_dirty": self.git_dirty,
            "in_git": self.in_git,
            "rows": self.rows,
            "bytes": self.bytes,
            "config": {"path": self.config_path, "hash": self.config_hash},
            "files": [f.to_json() for f in self.data_files],
        }


@dataclass(frozen=True)
class EventRecord:
    id: int
    ts: str
    kind: str
    level: str
    message: str
    snapshot_id: str | None
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "event": self.kind,
            "level": self.level,
            "message": self.message,
            "snapshot": self.snapshot_id,
            **({"data": self.data} if self.data else {}),
        }


@dataclass(frozen=True)
class SnapshotContext:
    """What the store held about a snapshot, read in the session that found or recorded it.

    A cycle hands it to drift and training so they need not open the store again just to
    look up the same records (``snapshot.take(read=...)``). Decisions that must be current
    (the gate) still read the champion again in their own write session.
    """

    record: SnapshotRecord
    champion: VersionRecord | None
    champion_snapshot: SnapshotRecord | None
    trained_as: VersionRecord | None  # a version already trained on this snapshot
    drift_reference: DriftReference | None  # the champion's cached drift reference
    drift_result: DriftResult | None  # a stored drift result (this snapshot vs champion)


_SNAPSHOT_COLS = (
    "id, created_at, git_commit, git_branch, git_dirty, in_git, config_path, config_hash, "
    "rows, bytes, profile, created_by"
)


class Session(RegistryVerbs, DriftVerbs):
    def __init__(self, con: duckdb.DuckDBPyConnection, objects: ObjectStore) -> None:
        self.con = con
        self.objects = objects

    # ------------------------------------------------------------ snapshots

    def has_snapshot(self, snapshot_id: str) -> bool:
        row = self.con.execute("SELECT 1 FROM snapshots WHERE id = ?", [snapshot_id]).fetchone()
        return row is not None

    def insert_snapshot(self, snap: SnapshotRecord) -> None:
        self.con.execute(
            f"INSERT INTO snapshots ({_SNAPSHOT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                snap.id,
                snap.created_at,
                snap.git_commit,
                snap.git_branch,
                snap.git_dirty,
                snap.in_git,
                snap.config_path,
                snap.config_hash,
                snap.rows,
                snap.bytes,
                json.dumps(snap.profile, separators=(",", ":")),
                snap.created_by,
            ],
        )
        if snap.files:
            cols = list(
                zip(*[(f.path, f.hash, f.bytes, f.rows, f.kind) for f in snap.files], strict=True)
            )
            self.con.execute(
                "INSERT INTO snapshot_files SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),"
                " unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[])",
                [snap.id, *[list(c) for c in cols]],
            )

    def snapshot(self, snapshot_id: str) -> SnapshotRecord:
        row = self.con.execute(
            f"SELECT {_SNAPSHOT_COLS} FROM snapshots WHERE id = ?", [snapshot_id]
        ).fetchone()
        if row is None:
            raise UsageError(f"no snapshot {snapshot_id}", "list them with `workbench snapshots`")
        files = self.con.execute(
            "SELECT path, hash, bytes, rows, kind FROM snapshot_files WHERE snapshot_id = ?"
            " ORDER BY kind DESC, path",
            [snapshot_id],
        ).fetchall()
        return _snapshot(row, tuple(FileRecord(*f) for f in files))

    def snapshots(self, limit: int | None = None) -> list[SnapshotRecord]:
        """Newest first, without files or profile details loaded beyond the row."""
        rows = self.con.execute(
            f"SELECT {_SNAPSHOT_COLS} FROM snapshots ORDER BY created_at DESC, id"
            + (" LIMIT ?" if limit else ""),
            [limit] if limit else [],
        ).fetchall()
        return [_snapshot(r, ()) for r in rows]

    def context(self, record: SnapshotRecord) -> SnapshotContext:
        """The champion and its records as they stand now, beside ``record``."""
        champion = self.champion()
        return SnapshotContext(
            record=record,
            champion=champion,
            champion_snapshot=self.snapshot(champion.snapshot_id) if champion else None,
            trained_as=self.version_for_snapshot(record.id),
            drift_reference=self.drift_reference(champion.number) if champion else None,
            drift_result=self.drift_result(record.id, champion.number) if champion else None,
        )

    def snapshot_count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM snapshots").fetchone()
        return int(row[0]) if row else 0

    def latest_snapshot_id(self) -> str | None:
        row = self.con.execute(
            "SELECT id FROM snapshots ORDER BY created_at DESC, id LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def resolve_snapshot(self, ref: str) -> str:
        """A full snapshot id from an id prefix (at least 4 characters) or ``latest``."""
        if ref in ("latest", "HEAD", "@"):
            latest = self.latest_snapshot_id()
            if latest is None:
                raise UsageError("there are no snapshots yet", "run `workbench snapshot`")
            return latest
        matches = [
            r[0]
            for r in self.con.execute(
                "SELECT id FROM snapshots WHERE starts_with(id, ?) ORDER BY id", [ref.lower()]
            ).fetchall()
        ]
        if len(ref) < 4 or not matches:
            raise UsageError(
                f"no snapshot matches {ref!r}",
                "list them with `workbench snapshots` (an id prefix of 4+ characters works)",
            )
        if len(matches) > 1:
            raise UsageError(
                f"{ref!r} matches {len(matches)} snapshots: {', '.join(matches[:5])}",
                "give more characters of the id",
            )
        return matches[0]

    def known_hashes(self) -> set[str]:
        return {
            r[0] for r in self.con.execute("SELECT DISTINCT hash FROM snapshot_files").fetchall()
        }

    def rows_by_hash(self, hashes: list[str]) -> dict[str, int]:
        """Row counts already known for file contents (so unchanged files are not recounted)."""
        if not hashes:
            return {}
        rows = self.con.execute(
            "SELECT hash, any_value(rows) FROM snapshot_files"
            " WHERE hash IN (SELECT unnest(?::VARCHAR[])) AND rows IS NOT NULL GROUP BY hash",
            [hashes],
        ).fetchall()
        return {h: int(n) for h, n in rows}

    def file_profiles(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Stored per-file profiles by key (``profile.profile_key``); unknown keys are absent."""
        if not keys:
            return {}
        rows = self.con.execute(
            "SELECT key, profile FROM file_profiles WHERE key IN (SELECT unnest(?::VARCHAR[]))",
            [keys],
        ).fetchall()
        return {k: json.loads(p) for k, p in rows}

    def put_file_profiles(self, profiles: dict[str, dict[str, Any]], *, ts: str) -> None:
        """Store the per-file profiles whose key is not stored yet (same key, same profile;
        a key already stored is left as it is)."""
        if not profiles:
            return
        keys = list(profiles)
        self.con.execute(
            "INSERT INTO file_profiles SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), ?"
            " ON CONFLICT DO NOTHING",
            [keys, [json.dumps(profiles[k], separators=(",", ":")) for k in keys], ts],
        )

    # ------------------------------------------------------------ events

    def add_event(
        self,
        kind: str,
        message: str,
        *,
        ts: str,
        level: str = "info",
        snapshot_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        row = self.con.execute(
            "INSERT INTO events (ts, kind, level, message, snapshot_id, data)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [ts, kind, level, message, snapshot_id, json.dumps(data or {}, default=str)],
        ).fetchone()
        assert row is not None
        return int(row[0])

    def last_event(self, kind: str) -> EventRecord | None:
        row = self.con.execute(
            "SELECT id, ts, kind, level, message, snapshot_id, data FROM events"
            " WHERE kind = ? ORDER BY id DESC LIMIT 1",
            [kind],
        ).fetchone()
        return _event(row) if row else None

    def unfinished_cycles(self) -> list[tuple[str, str]]:
        """(cycle id, start time) of cycles with a start event and no end event."""
        rows = self.con.execute(
            "SELECT json_extract_string(data, '$.cycle') AS cycle, min(ts) FROM events"
            " WHERE kind IN ('cycle_started', 'cycle_finished', 'cycle_interrupted')"
            " GROUP BY cycle HAVING count(*) FILTER (WHERE kind <> 'cycle_started') = 0"
        ).fetchall()
        return [(str(c), str(t)) for c, t in rows]

    def events(self, *, after_id: int = 0, limit: int = 100) -> list[EventRecord]:
        """Events newer than ``after_id``, newest first."""
        rows = self.con.execute(
            "SELECT id, ts, kind, level, message, snapshot_id, data FROM events"
            " WHERE id > ? ORDER BY id DESC LIMIT ?",
            [after_id, limit],
        ).fetchall()
        return [EventRecord(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]

    def snapshot_events(self, snapshot_id: str, kinds: tuple[str, ...]) -> list[EventRecord]:
        """The events of these kinds about one snapshot, oldest first (a model card's)."""
        marks = ",".join("?" * len(kinds))
        rows = self.con.execute(
            "SELECT id, ts, kind, level, message, snapshot_id, data FROM events"
            f" WHERE snapshot_id = ? AND kind IN ({marks}) ORDER BY id",
            [snapshot_id, *kinds],
        ).fetchall()
        return [_event(r) for r in rows]


def _event(row: tuple[Any, ...]) -> EventRecord:
    event_id, ts, kind, level, message, snapshot_id, data = row
    return EventRecord(event_id, ts, kind, level, message, snapshot_id, json.loads(data))


def _snapshot(row: tuple[Any, ...], files: tuple[FileRecord, ...]) -> SnapshotRecord:
    (sid, created, commit, branch, dirty, in_git, cpath, chash, rows, size, profile, by) = row
    return SnapshotRecord(
        sid,
        created,
        commit,
        branch,
        dirty,
        in_git,
        cpath,
        chash,
        rows,
        size,
        json.loads(profile),
        by,
        files,
    )
