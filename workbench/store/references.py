"""Every object digest that something durable names: what ``workbench gc`` must keep.

``referenced(session_or_store)`` is the live set: ``pipeline.gc`` computes it in one read
session while it holds ``gc.lock`` exclusively, and ``ObjectStore.collect`` removes every stored
object (and chunked file, and chunk no kept file uses) outside it. Anything missing here is
deleted by the next gc, so **a new kind of object must be added here** — the test
``test_every_store_call_site_is_known`` fails until its ``put_bytes`` / ``put_file`` /
``put_files`` / ``store_file`` call site is listed in ``CALL_SITES`` below.

Where each kind of object is named (table.column, or JSON inside an object):

=========================  ==========================================  =========================
kind                       named by                                    stored by
=========================  ==========================================  =========================
snapshot data files        ``snapshot_files.hash`` (kind ``data``)     ``data/snapshot.py``
snapshot config file       ``snapshot_files.hash`` (kind ``config``),  ``data/snapshot.py``
                           ``snapshots.config_hash``,
                           ``model_versions.config_hash``
model text                 ``model_versions.model_hash``               ``pipeline/train.py``
model metadata (JSON)      ``model_versions.meta_hash``                ``pipeline/train.py``
holdout scores             the meta JSON: ``holdout_scores.object``    ``pipeline/train.py``
drift reference (Parquet)  ``drift_references.object_hash``            ``monitor/drift.py``
prediction log batches     ``prediction_log.object_hash``              ``store/predictions.py``
monitoring reference       ``monitor_references.object_hash``          ``pipeline/monitor_step``
=========================  ==========================================  =========================

Tables that name no object: ``drift_results`` (numbers; its snapshots are referenced through
their files), ``monitor_chunks`` (``content_hash`` is a hash of a chunk's path and digest or
rows, not an address; included anyway, a digest is cheap to keep), ``monitor_metrics``,
``champion_history``, ``governance``, ``mlflow_targets`` / ``mlflow_runs`` (exports write
outside the store), ``file_profiles`` (keys derived from digests: a profile cache, which
never makes bytes live). Model cards and their interval caches live in ``cards/`` as files,
not objects; ``workbench export metrics`` writes a file the user names.

A safety net for digests named only inside JSON: every quoted 32-hex-digit string (an
xxh3-128 digest's form) in the JSON objects (model metadata, monitoring references) and in
the JSON text columns (``events.data``, ``model_versions`` metrics / gate / timings,
``drift_results.result``) is kept too. Keeping a stray string costs nothing; losing bytes a
record names is not recoverable. A JSON object that is named but missing or unreadable stops
gc (``StoreError``): what it names cannot be known, so nothing may be collected.

Caches are deliberately not references: ``cache/stat.json`` (a file's digest, and the digest
a grown file extends) and ``cache/last.json`` name digests, but the snapshot code stores any
object it is about to reference again when it is missing (``data.snapshot._ensure_stored``:
every input of a new snapshot is checked with ``has()`` and re-stored from the file), and the
last snapshot they name is recorded, so its objects are referenced anyway (``tests/test_gc``
takes a refused snapshot's objects, then snapshots and checks out the same files exactly).

The JSON objects read here (meta, monitoring references) are ``put_bytes`` objects, always
stored whole: reading them does not pin the process, which matters because gc reads them
while it holds ``gc.lock`` exclusively (a chunked read would wait for gc's own lock). A new
JSON kind stored chunked would need a read that does not pin.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from workbench.errors import StoreError

if TYPE_CHECKING:
    from workbench.store import Store
    from workbench.store.session import Session

# every place in workbench/ that puts bytes into the object store, as (module, innermost
# function): the kinds above. A new call site fails ``test_every_store_call_site_is_known``
# until it is added here and what it stores is named by ``referenced``.
CALL_SITES: frozenset[tuple[str, str]] = frozenset(
    {
        ("workbench/data/snapshot.py", "_hash_inputs"),  # snapshot files, in batches
        ("workbench/data/snapshot.py", "_ensure_stored"),  # a lost snapshot file, again
        ("workbench/data/snapshot.py", "_store"),  # one snapshot file
        ("workbench/data/snapshot.py", "_store_file"),  # one snapshot file, streamed
        ("workbench/pipeline/train.py", "run_train"),  # model text and meta
        ("workbench/pipeline/train.py", "_keep_holdout_scores"),  # holdout scores
        ("workbench/monitor/drift.py", "_reference"),  # drift reference
        ("workbench/monitor/drift.py", "store_it"),  # drift reference, on a thread
        ("workbench/store/predictions.py", "write_batch"),  # prediction log (serve)
        ("workbench/store/predictions.py", "log_scored_file"),  # prediction log (predict)
        ("workbench/pipeline/monitor_step.py", "reference_of"),  # monitoring reference
    }
)

DIGEST = re.compile(rb'"([0-9a-f]{32})"')
_SQL_DIGEST = '"([0-9a-f]{32})"'

# (table, column) naming objects directly
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("snapshot_files", "hash"),
    ("snapshots", "config_hash"),
    ("model_versions", "config_hash"),
    ("model_versions", "model_hash"),
    ("model_versions", "meta_hash"),
    ("drift_references", "object_hash"),
    ("prediction_log", "object_hash"),
    ("monitor_references", "object_hash"),
    ("monitor_chunks", "content_hash"),
)
# JSON text columns searched for digests (the safety net)
_JSON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("events", "data"),
    ("model_versions", "metrics"),
    ("model_versions", "gate"),
    ("model_versions", "timings"),
    ("drift_results", "result"),
)
# objects holding JSON that may name other objects: (table, column)
_JSON_OBJECTS: tuple[tuple[str, str], ...] = (
    ("model_versions", "meta_hash"),
    ("monitor_references", "object_hash"),
)


def referenced(source: Session | Store) -> set[str]:
    """Every digest a record names (see the module docstring); a ``Store`` is read in one
    session of its own."""
    from workbench.store.session import Session

    if isinstance(source, Session):
        return _referenced(source)
    with source.read() as s:
        return _referenced(s)


def _referenced(s: Session) -> set[str]:
    found: set[str] = set()
    for table, column in _COLUMNS:
        found |= _column(s, table, column)
    for table, column in _JSON_COLUMNS:
        rows = s.con.execute(
            f"SELECT DISTINCT unnest(regexp_extract_all({column}, ?, 1)) FROM {table}",
            [_SQL_DIGEST],
        ).fetchall()
        found |= {r[0] for r in rows if r[0]}
    for table, column in _JSON_OBJECTS:
        for digest in sorted(_column(s, table, column)):
            found |= named_in(s, digest, f"{table}.{column}")
    return found


def _column(s: Session, table: str, column: str) -> set[str]:
    rows = s.con.execute(
        f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL"
    ).fetchall()
    return {r[0] for r in rows}


def named_in(s: Session, digest: str, where: str) -> set[str]:
    """The digests a JSON object names (``holdout_scores.object`` of a model's meta, and any
    other quoted digest); a missing or unreadable object stops gc."""
    try:
        data = s.objects.read(digest)
    except StoreError as e:
        raise StoreError(
            f"object {digest} named by {where} is missing, so gc cannot tell which objects it"
            " names; nothing was removed",
            "restore .workbench/ from a backup, or report this if it was never touched",
        ) from e
    return {m.decode() for m in DIGEST.findall(data)}
