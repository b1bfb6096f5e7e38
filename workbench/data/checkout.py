"""``workbench checkout SNAPSHOT``: restore the data and config files of a snapshot exactly.

Every file is restored byte for byte from the object store with an atomic replace; data files
that the snapshot did not have are removed. Before anything is touched, every file that would
be overwritten or removed is checked: if its current bytes are held by no snapshot (a local
edit nobody versioned), checkout refuses and names the files, unless ``force``. So a checkout
never destroys the only copy of anything.

Nor anything outside the project: the resolved path of every file it would write or remove
is checked before the first one is touched (a symlinked folder in the working tree can point
anywhere), and current inputs that resolve outside refuse the checkout instead of being left
out of the plan. One such path refuses the whole checkout, with nothing changed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import xxhash

from workbench.config import Settings
from workbench.data.inputs import (
    FileSig,
    InputFile,
    OutsideProjectError,
    StatCache,
    discover,
    escapes,
)
from workbench.errors import ConflictError, DataError, StoreError
from workbench.store import Store, now_iso
from workbench.store.session import FileRecord, SnapshotRecord


@dataclass
class CheckoutPlan:
    snapshot: str
    restore: list[FileRecord] = field(default_factory=list)
    remove: list[InputFile] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unsaved: list[str] = field(default_factory=list)  # local changes no snapshot holds

    def to_json(self) -> dict[str, object]:
        return {
            "snapshot": self.snapshot,
            "restored": [f.path for f in self.restore],
            "removed": [f.rel for f in self.remove],
            "unchanged": self.unchanged,
        }


def checkout(settings: Settings, store: Store, ref: str, *, force: bool = False) -> CheckoutPlan:
    with store.read() as s:
        snap = s.snapshot(s.resolve_snapshot(ref))
        known = s.known_hashes()
    cache = StatCache(store)
    current = _current_inputs(settings)
    plan = _plan(settings, store, snap, current, cache, known)
    if plan.unsaved and not force:
        raise ConflictError(
            "checkout would overwrite local changes that no snapshot holds: "
            + ", ".join(plan.unsaved),
            "run `workbench snapshot` first to keep them, or pass --force to discard them",
        )
    for record in plan.restore:
        target = settings.root / record.path
        target.parent.mkdir(parents=True, exist_ok=True)
        store.objects.copy_to(record.hash, target, mode=_mode_of(target))
    for f in plan.remove:
        f.path.unlink(missing_ok=True)
    for record in plan.restore:
        path = settings.root / record.path
        sig = FileSig.of(path.stat())
        cache.remember(InputFile(record.path, str(path), record.kind, sig), record.hash)
    cache.save({r.path for r in snap.files})
    with store.write("checkout") as s:
        s.add_event(
            "checkout",
            f"checked out snapshot {snap.id}: {len(plan.restore)} restored,"
            f" {len(plan.remove)} removed",
            ts=now_iso(),
            snapshot_id=snap.id,
            data=plan.to_json(),
        )
    return plan


def _current_inputs(settings: Settings) -> list[InputFile]:
    try:
        return discover(settings)
    except OutsideProjectError:
        raise  # an input it cannot safely remove or overwrite: refuse, before any change
    except DataError:
        return []  # no data folder or no files yet: nothing to protect


def _plan(
    settings: Settings,
    store: Store,
    snap: SnapshotRecord,
    current: list[InputFile],
    cache: StatCache,
    known: set[str],
) -> CheckoutPlan:
    plan = CheckoutPlan(snap.id)
    by_rel = {f.rel: f for f in current}
    wanted = {f.path for f in snap.files}
    for record in snap.files:
        target = settings.root / record.path
        if not _spelled_inside(settings.root, record.path):
            raise StoreError(
                f"snapshot {snap.id} names a path outside the project: {record.path}",
                "the store is damaged; do not check out this snapshot",
            )
        _check_inside(settings.root, record.path, "write")
        if not store.objects.exists(record.hash):
            raise StoreError(
                f"the bytes of {record.path} in snapshot {snap.id} are missing from the store",
                "the object store is damaged; restore .workbench/objects from a backup",
            )
        existing = by_rel.get(record.path)
        if existing is None and target.is_file():
            existing = InputFile(record.path, str(target), record.kind, FileSig.of(target.stat()))
        if existing is None:
            plan.restore.append(record)
            continue
        digest = _hash(existing, cache)
        if digest == record.hash:
            plan.unchanged.append(record.path)
            continue
        plan.restore.append(record)
        if digest not in known:
            plan.unsaved.append(record.path)
    for f in current:
        if f.rel not in wanted and f.kind == "data":
            _check_inside(settings.root, f.rel, "remove")
            plan.remove.append(f)
            if _hash(f, cache) not in known:
                plan.unsaved.append(f.rel)
    return plan


def _spelled_inside(root: Path, rel: str) -> bool:
    """A stored path is relative and has no ``..`` that climbs out (else the store is bad)."""
    norm = os.path.normpath(os.path.join(root, rel))
    return not os.path.isabs(rel) and norm.startswith(str(root) + os.sep)


def _check_inside(root: Path, rel: str, verb: str) -> None:
    """Refuse a file to ``verb`` whose resolved path (through any symlink) leaves ``root``."""
    why = escapes(str(root), os.path.join(root, rel))
    if why is not None:
        raise OutsideProjectError(
            f"checkout would {verb} {rel}, which resolves outside the project folder {root}: {why}",
            "checkout only changes files inside the project; remove the link (or replace it"
            " with a real folder) and check out again",
        )


def _hash(f: InputFile, cache: StatCache) -> str:
    digest = cache.hash_of(f)
    if digest is not None:
        return digest
    h = xxhash.xxh3_128()
    with open(Path(f.path), "rb") as src:
        while chunk := src.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def _mode_of(target: Path) -> int:
    """A restored file keeps the mode of the file it replaces (a 0600 file stays private);
    a new one gets the usual 0644 (less the umask)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o644
