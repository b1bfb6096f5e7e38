"""The serving export: ``.workbench/serving/`` always holds the champion's model and metadata.

``serving`` is a symlink to ``exports/vN/`` (``model.txt``: LightGBM text model, byte-identical
to the version's object; ``model.json``: its metadata plus ``version``). A promotion or rollback
writes the new folder completely, then swaps the link with one ``rename`` — atomic on POSIX —
so a reader that resolves ``serving`` once sees one version's files, never a mix of two.
The database is the truth: ``reconcile`` re-points the link if a crash fell between the
registry commit and the swap.

The export carries what scoring needs, bounded: a category value longer than
``MAX_CATEGORY_CHARS`` (a 50 MB one-line text field, say) is written as a short placeholder
naming its length and digest (``capped``), so ``model.json`` stays small whatever the data
held. Codes are list positions, so every other category keeps its code; scoring from the
export treats such a value as unseen (missing), which is where LightGBM sends a category too
rare to split on. The version's own metadata in the store keeps the full value.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from workbench.store import Store
from workbench.store.objects import atomic_write, fsync_path
from workbench.store.registry import VersionRecord

SERVING = "serving"
EXPORTS = "exports"
MAX_CATEGORY_CHARS = 1024  # a longer category value is exported as a placeholder


def serving_dir(store: Store) -> Path:
    return store.root / SERVING


def served_version(store: Store) -> str | None:
    link = serving_dir(store)
    try:
        return Path(os.readlink(link)).name
    except OSError:
        return None


def export(store: Store, version: VersionRecord) -> Path:
    """Make ``version`` the served model (atomic link swap)."""
    assert version.model_hash and version.meta_hash
    (store.root / EXPORTS).mkdir(mode=0o700, exist_ok=True)
    folder = store.root / EXPORTS / version.name
    folder.mkdir(mode=0o700, exist_ok=True)
    meta = store.objects.read_json(version.meta_hash)
    meta = capped(meta) | {"version": version.name, "snapshot": version.snapshot_id}
    store.objects.copy_to(version.model_hash, folder / "model.txt", mode=0o600)
    atomic_write(folder / "model.json", json.dumps(meta, indent=1).encode(), mode=0o600)
    tmp = store.root / f".{SERVING}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(Path(EXPORTS) / version.name, tmp)
    os.replace(tmp, serving_dir(store))
    fsync_path(store.root)
    return folder


def capped(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with every category value over ``MAX_CATEGORY_CHARS`` replaced by a
    placeholder (prefix, length, digest: unique per value) and ``capped_categories`` counting
    them per column; unchanged (the same object) when none is that long."""
    spec = meta.get("spec") or {}
    categories = spec.get("categories") or {}
    counts: dict[str, int] = {}
    out: dict[str, list[str]] = {}
    for column, values in categories.items():
        long = [v for v in values if isinstance(v, str) and len(v) > MAX_CATEGORY_CHARS]
        if long:
            counts[column] = len(long)
            out[column] = [placeholder(v) if len(v) > MAX_CATEGORY_CHARS else v for v in values]
    if not counts:
        return meta
    return meta | {
        "spec": spec | {"categories": categories | out},
        "capped_categories": counts,
    }


def placeholder(value: str) -> str:
    """What the export holds for an over-long category value."""
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{value[:64]}… [{len(value):,} characters, sha256 {digest}]"


def reconcile(store: Store, champion: VersionRecord | None) -> bool:
    """Point ``serving`` at ``champion`` (the registry's, as the caller just read it) if it
    points elsewhere — a crash fell between a commit and the swap; True if it was repaired.

    Every command that reads the champion calls it (training, ``status``, the watcher's and
    the TUI's reads), so a kill during a rollback is repaired by whatever runs next.
    """
    if champion is None or not champion.model_hash or served_version(store) == champion.name:
        return False
    # the champion read may be stale (a rollback committed since): decide again under the
    # writers' lock, so a repair never swaps the link back to a version no longer champion
    with store.write("serving repair") as s:
        current = s.champion()
        if current is None or not current.model_hash or served_version(store) == current.name:
            return False
        export(store, current)
    return True
