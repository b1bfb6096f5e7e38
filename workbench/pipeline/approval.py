"""Governance verbs: ``promote``, ``unpin``, ``approve``, ``reject`` (who, when, why).

Each verb checks its target in a read, then checks again and records in one write session
(the state may have moved in between: another process approved first), so a refused verb
changes nothing. After the commit the verbs that change the champion swap the serving export
(``serving.export``, as a gate promotion does) and run the ``on_promote`` hooks.

* ``promote VERSION``: any version with a model becomes champion by hand (a champion change of
  kind ``promote``); it ends a pin. A pending version can be promoted this way too.
* ``unpin``: releases the pin of the newest rollback; the champion stays.
* ``approve VERSION``: only a ``pending`` version (gate.approval = "manual"); it becomes
  champion (a champion change of kind ``approve`` plus an ``approve`` decision). The gate is
  not run again: the approver decides on the numbers the gate recorded, even when the champion
  changed since (a rollback); like ``promote``, an approval ends a pin.
* ``reject VERSION``: only a ``pending`` version; it becomes ``rejected``.

Refusals (empty reason, unknown version, not pending, already decided, not pinned, already
champion) are ``UsageError`` with a hint. Every verb needs a non-empty reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.config import Settings
from workbench.errors import UsageError
from workbench.model.rollback import check_servable
from workbench.pipeline.train import serve_champion
from workbench.store import Store, now_iso, os_user
from workbench.store.governance import Pin
from workbench.store.registry import VersionRecord
from workbench.store.session import Session


@dataclass(frozen=True)
class GovernanceResult:
    action: str  # promote | unpin | approve | reject
    version: VersionRecord  # the version acted on (unpin: the champion)
    previous: str | None  # the champion before (promote, approve)
    by: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "version": self.version.name,
            "status": self.version.status,
            "previous": self.previous,
            "by": self.by,
            "reason": self.reason,
        }


def promote(settings: Settings, store: Store, ref: str, *, reason: str) -> GovernanceResult:
    why = _reason(reason, "promote")
    with store.read() as s:
        check_servable(s.version(ref), s.champion_number(), "promote")
    with store.write("promote") as s:
        target = s.version(ref)
        current = s.champion_number()
        check_servable(target, current, "promote")
        result = _make_champion(s, target, current, "promote", why)
    _served(settings, store, result)
    return result


def approve(settings: Settings, store: Store, ref: str, *, reason: str) -> GovernanceResult:
    why = _reason(reason, "approve")
    with store.read() as s:
        _pending(s, s.version(ref), "approve")
    with store.write("approve") as s:
        target = s.version(ref)
        _pending(s, target, "approve")
        ts, who = now_iso(), os_user()
        s.add_decision("approve", ts=ts, actor=who, reason=why, number=target.number)
        result = _make_champion(s, target, s.champion_number(), "approve", why)
    _served(settings, store, result)
    return result


def reject(settings: Settings, store: Store, ref: str, *, reason: str) -> GovernanceResult:
    why = _reason(reason, "reject")
    with store.read() as s:
        _pending(s, s.version(ref), "reject")
    with store.write("reject") as s:
        target = s.version(ref)
        _pending(s, target, "reject")
        ts, who = now_iso(), os_user()
        s.add_decision("reject", ts=ts, actor=who, reason=why, number=target.number)
        s.add_event(
            "rejected_by_hand",
            f"{target.name} rejected by {who}: {why}",
            ts=ts,
            snapshot_id=target.snapshot_id,
            data={"version": target.name, "by": who, "reason": why},
        )
        return GovernanceResult("reject", s.version(target.number), None, who, why)


def unpin(settings: Settings, store: Store, *, reason: str) -> GovernanceResult:
    why = _reason(reason, "unpin")
    with store.write("unpin") as s:
        pin = _pinned(s.pin())
        ts, who = now_iso(), os_user()
        s.add_decision("unpin", ts=ts, actor=who, reason=why, change_id=pin.change_id)
        s.add_event(
            "unpinned",
            f"v{pin.number} unpinned by {who}: {why}; the gate may promote again",
            ts=ts,
            data={"version": f"v{pin.number}", "by": who, "reason": why},
        )
        return GovernanceResult("unpin", s.version(pin.number), None, who, why)


def _make_champion(
    s: Session, target: VersionRecord, current: int | None, kind: str, why: str
) -> GovernanceResult:
    ts, who = now_iso(), os_user()
    s.set_champion(target.number, ts=ts, actor=who, kind=kind, reason=f"{kind}: {why}")
    previous = f"v{current}" if current is not None else None
    s.add_event(
        "promoted_by_hand" if kind == "promote" else "approved",
        f"{target.name} {'promoted' if kind == 'promote' else 'approved'} by {who}"
        f" (was {previous or 'none'}): {why}",
        ts=ts,
        snapshot_id=target.snapshot_id,
        data={"version": target.name, "previous": previous, "by": who, "reason": why},
    )
    return GovernanceResult(kind, s.version(target.number), previous, who, why)


def _served(settings: Settings, store: Store, result: GovernanceResult) -> None:
    """After the commit: serve the new champion, then the ``on_promote`` hooks."""
    reason = f"{result.action} by {result.by}: {result.reason}"
    serve_champion(settings, store, result.version, reason)


def _reason(reason: str, verb: str) -> str:
    if not reason.strip():
        raise UsageError(f"{verb} needs a reason", f'pass --reason "why" to workbench {verb}')
    return reason.strip()


def _pending(s: Session, target: VersionRecord, verb: str) -> None:
    if target.status == "pending":
        return
    done = next((d for d in s.decisions(target.number) if d.kind in ("approve", "reject")), None)
    if done is not None:
        raise UsageError(
            f"{target.name} was already {done.kind.rstrip('e')}ed by {done.actor} at {done.ts}:"
            f" {done.reason}",
            "a decision stands; to change the champion use `workbench promote` or rollback",
        )
    raise UsageError(
        f"{target.name} is not pending (it is {target.status}); only a version waiting for"
        " approval can be approved or rejected",
        'pending versions show in `workbench history`; with gate.approval = "manual"'
        " a candidate that passes the gate waits there",
    )


def _pinned(pin: Pin | None) -> Pin:
    if pin is None:
        raise UsageError(
            "the champion is not pinned", "a rollback pins the champion; nothing to unpin"
        )
    return pin
