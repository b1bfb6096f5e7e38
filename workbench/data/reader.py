"""Reading a stored snapshot: its config, its data files' objects and its rows.

Training, validation and drift all read a snapshot from the store's bytes (never the working
folder), through these functions; each data file is read once per process (``profile``'s
frame cache), so a snapshot, its validation and its training read each file once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import config as config_mod
from workbench.config import Settings

if TYPE_CHECKING:
    import polars as pl

    from workbench.store import Store
    from workbench.store.session import SnapshotRecord


def snapshot_settings(store: Store, snap: SnapshotRecord, root: Any) -> Settings:
    """The config as the snapshot holds it."""
    data = store.objects.read(snap.config_hash)
    return config_mod.parse(data, Path(root) / snap.config_path, Path(root))


def snapshot_files(store: Store, snap: SnapshotRecord) -> list[tuple[str, Path]]:
    """(label, object path) of the snapshot's data files."""
    return [(f.path, store.objects.path(f.hash)) for f in snap.data_files]


def snapshot_hashes(snap: SnapshotRecord) -> dict[str, str]:
    return {f.path: f.hash for f in snap.data_files}


def load_frame(store: Store, snap: SnapshotRecord) -> pl.DataFrame:
    """All rows of the snapshot (each file read once per process: ``profile.frame``), read
    with the snapshot's own ``[data] null_values``."""
    from workbench.data.profile import read_frames

    nulls = snapshot_settings(store, snap, store.root.parent).data.null_values
    return read_frames(snapshot_files(store, snap), snapshot_hashes(snap), nulls).collect()
