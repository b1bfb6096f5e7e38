"""``workbench rollback VERSION --reason TEXT``: make an earlier version the champion again.

Refused, with nothing changed, for an unknown version, a failed one (it has no model), the
current champion, or an empty reason. Otherwise one transaction appends the change (who, when,
why) to the champion history, then the serving link is swapped to that version's export: the
served ``model.txt`` is byte-identical to the version's stored model, so it predicts exactly
what that version predicted. ``restore_inputs`` also checks out the snapshot it was trained on.

A rollback pins the champion: while the newest champion change is a rollback (and no
``unpin`` released it), a candidate that would win the gate is recorded as ``held`` and not
promoted (``store/governance.py``). ``workbench unpin`` or ``workbench promote`` end the pin.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.config import Settings
from workbench.data.checkout import CheckoutPlan, checkout
from workbench.errors import UsageError
from workbench.model import serving
from workbench.store import Store, now_iso, os_user
from workbench.store.registry import VersionRecord


@dataclass(frozen=True)
class RollbackResult:
    version: VersionRecord
    previous: str | None
    checkout: CheckoutPlan | None


def rollback(
    settings: Settings, store: Store, ref: str, *, reason: str, restore_inputs: bool = False
) -> RollbackResult:
    if not reason.strip():
        raise UsageError("a rollback needs a reason", 'pass --reason "why"')
    with store.read() as s:
        target = s.version(ref)
        check_servable(target, s.champion_number(), "roll back")
        snapshot_id = target.snapshot_id
    # inputs first: checkout refuses (changing nothing) before the champion moves
    plan = checkout(settings, store, snapshot_id) if restore_inputs else None
    with store.write("rollback") as s:
        target = s.version(ref)
        current = s.champion_number()
        check_servable(target, current, "roll back")
        s.set_champion(
            target.number,
            ts=now_iso(),
            actor=os_user(),
            kind="rollback",
            reason=f"rollback: {reason.strip()}",
        )
        s.add_event(
            "rolled_back",
            f"rolled back to {target.name} (was v{current}) by {os_user()}: {reason.strip()};"
            f" {target.name} is pinned until `workbench unpin` or `workbench promote`",
            ts=now_iso(),
            snapshot_id=target.snapshot_id,
            data={
                "version": target.name,
                "previous": f"v{current}" if current else None,
                "pinned": True,
            },
        )
        target = s.version(target.number)
    serving.export(store, target)
    return RollbackResult(target, f"v{current}" if current else None, plan)


def check_servable(target: VersionRecord, champion: int | None, verb: str) -> None:
    """``target`` can become the champion (by ``verb``): it has a model and is not it already."""
    if target.status == "failed" or not target.model_hash:
        raise UsageError(
            f"{target.name} failed to train and has no model: {target.error}",
            "pick a version listed with a metric in `workbench history`",
        )
    if target.number == champion:
        raise UsageError(f"{target.name} is already the champion", f"nothing to {verb}")
