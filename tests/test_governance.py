"""Pin on rollback, manual approval, promote and unpin by hand — real store, real LightGBM."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers import configure, cut_sample, store_of, train
from workbench import config
from workbench.errors import UsageError
from workbench.model import serving
from workbench.model.rollback import rollback
from workbench.pipeline import approval
from workbench.pipeline.status import history, status
from workbench.render import history_text, train_text

RECORDER = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


@pytest.fixture
def small(project: Path) -> Path:
    cut_sample(project, 2000)
    return project


def weak_then_strong(root: Path) -> None:
    """v1 (2 rounds) champion, then v2 (40 rounds) beats it."""
    configure(root, rounds=2)
    train(root)
    configure(root, rounds=40)
    assert train(root).version.status == "champion"  # type: ignore[union-attr]


def append(root: Path, text: str) -> None:
    with open(root / "workbench.toml", "a") as f:
        f.write(text)


def manual(root: Path, rounds: int, pending_out: Path | None = None) -> None:
    configure(root, rounds=rounds)
    text = ""
    if pending_out is not None:
        argv = [[sys.executable, "-c", RECORDER, str(pending_out)]]
        text += f"[hooks]\non_pending = {json.dumps(argv)}\n"
    path = root / "workbench.toml"
    path.write_text(path.read_text().replace("[gate]\n", '[gate]\napproval = "manual"\n') + text)


def champion(root: Path) -> int | None:
    with store_of(root).read() as s:
        return s.champion_number()


# ------------------------------------------------------------------ pin


def test_rollback_pins_and_a_winning_candidate_is_held(small: Path) -> None:
    weak_then_strong(small)
    settings, store = config.load(small), store_of(small)
    rollback(settings, store, "v1", reason="v2 misbehaves")
    outcome = train(small, force=True)  # v2's inputs again: it would beat v1
    held = outcome.version
    assert "workbench unpin" in train_text(outcome) and "v1 is pinned" in train_text(outcome)
    assert held is not None and held.status == "held" and held.outcome == "held"
    assert held.gate and held.gate["decision"] == "held" and held.gate["pinned"] == 1
    assert held.gate["candidate"] > held.gate["champion"]  # the gate's numbers are kept
    assert champion(small) == 1 and serving.served_version(store) == "v1"
    rows = history(store, 10)
    assert rows[0]["status"] == "held" and "pinned" not in rows[0]
    assert rows[2] == rows[2] | {"version": "v1", "status": "champion", "pinned": True}
    assert "champion (pinned)" in history_text(rows)
    st = status(settings, store)
    assert st["pinned"] and st["pinned"]["version"] == "v1"
    assert st["pinned"]["reason"] == "rollback: v2 misbehaves"


def test_unpin_lets_the_gate_promote_again(small: Path) -> None:
    weak_then_strong(small)
    settings, store = config.load(small), store_of(small)
    rollback(settings, store, "v1", reason="r")
    result = approval.unpin(settings, store, reason="v2's data fixed")
    assert result.version.name == "v1" and result.version.status == "champion"
    assert not result.version.pinned and status(settings, store)["pinned"] is None
    assert champion(small) == 1  # unpin does not move the champion
    with pytest.raises(UsageError, match="not pinned"):
        approval.unpin(settings, store, reason="again")
    promoted = train(small, force=True).version
    assert promoted is not None and promoted.status == "champion"
    assert serving.served_version(store) == promoted.name


def test_promote_by_hand_ends_the_pin_and_serves(small: Path, tmp_path: Path) -> None:
    weak_then_strong(small)
    settings, store = config.load(small), store_of(small)
    rollback(settings, store, "v1", reason="r")
    held = train(small, force=True).version
    assert held is not None and held.status == "held"
    out = tmp_path / "promote.json"
    append(
        small, f"[hooks]\non_promote = {json.dumps([[sys.executable, '-c', RECORDER, str(out)]])}\n"
    )
    settings = config.load(small)
    result = approval.promote(settings, store, held.name, reason="held one is good")
    assert result.previous == "v1" and result.version.status == "champion"
    assert not result.version.pinned
    assert serving.served_version(store) == held.name
    assert json.loads(out.read_text())["WORKBENCH_VERSION"] == held.name
    with store.read() as s:
        change = s.champion_history(1)[0]
    assert (change.kind, change.reason) == ("promote", "promote: held one is good")
    with pytest.raises(UsageError, match="already the champion"):
        approval.promote(settings, store, held.name, reason="twice")


@pytest.mark.parametrize(
    ("ref", "reason", "message"),
    [("v9", "r", "no model version v9"), ("v1", " ", "needs a reason"), ("x", "r", "not a model")],
)
def test_refused_promote_changes_nothing(small: Path, ref: str, reason: str, message: str) -> None:
    configure(small, rounds=2)
    train(small)
    store = store_of(small)
    before = history(store, 10)
    with pytest.raises(UsageError, match=message):
        approval.promote(config.load(small), store, ref, reason=reason)
    assert history(store, 10) == before and champion(small) == 1


# ------------------------------------------------------------------ approval


def test_manual_approval_pending_then_approve(small: Path, tmp_path: Path) -> None:
    configure(small, rounds=2)
    train(small)
    out = tmp_path / "pending.json"
    manual(small, 40, out)
    pending = train(small).version
    assert pending is not None and pending.status == "pending"
    assert pending.gate and pending.gate["decision"] == "pending"
    assert json.loads(out.read_text())["WORKBENCH_VERSION"] == "v2"  # on_pending ran
    settings, store = config.load(small), store_of(small)
    assert champion(small) == 1 and serving.served_version(store) == "v1"
    assert status(settings, store)["pending"] == ["v2"]
    result = approval.approve(settings, store, "v2", reason="looks right")
    assert result.version.status == "champion" and result.previous == "v1"
    assert serving.served_version(store) == "v2"
    with store.read() as s:
        (decision,) = s.decisions(2)
        change = s.champion_history(1)[0]
    assert (decision.kind, decision.reason) == ("approve", "looks right")
    assert decision.actor and decision.ts
    assert (change.kind, change.number, change.previous) == ("approve", 2, 1)
    assert status(settings, store)["pending"] == []
    with pytest.raises(UsageError, match="already approved") as e:
        approval.approve(settings, store, "v2", reason="again")
    assert e.value.hint
    with pytest.raises(UsageError, match="already approved"):
        approval.reject(settings, store, "v2", reason="too late")


def test_reject_keeps_the_champion_and_refusals_change_nothing(small: Path) -> None:
    configure(small, rounds=2)
    train(small)
    manual(small, 40)
    train(small)
    settings, store = config.load(small), store_of(small)
    with pytest.raises(UsageError, match="no model version v7"):
        approval.approve(settings, store, "v7", reason="r")
    with pytest.raises(UsageError, match="not pending"):
        approval.approve(settings, store, "v1", reason="r")
    with pytest.raises(UsageError, match="needs a reason"):
        approval.reject(settings, store, "v2", reason="")
    assert history(store, 10)[0]["status"] == "pending"
    result = approval.reject(settings, store, "v2", reason="a leak in feature x")
    assert result.version.status == "rejected"
    assert champion(small) == 1 and serving.served_version(store) == "v1"
    with pytest.raises(UsageError, match="already rejected"):
        approval.approve(settings, store, "v2", reason="changed my mind")
    assert champion(small) == 1


def test_pin_wins_over_manual_approval(small: Path) -> None:
    weak_then_strong(small)
    rollback(config.load(small), store_of(small), "v1", reason="r")
    manual(small, 40)
    held = train(small, force=True).version
    assert held is not None and held.status == "held"


# ------------------------------------------------------------------ TUI keys


async def test_tui_approves_a_pending_row_and_refuses_others(small: Path) -> None:
    from tests.test_tui import app_for, loaded, until
    from workbench.tui.governance import ReasonScreen

    configure(small, rounds=2)
    train(small)
    manual(small, 40)
    train(small)  # v2 pending: the newest row, where the cursor starts
    app = app_for(small)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        assert app.selected() is not None and app.selected().name == "v2"
        await pilot.press("u")  # not pinned: a warning, no dialog
        await until(pilot, lambda: any("not pinned" in n for n, _ in app.notes))
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ReasonScreen))
        await pilot.press(*"ship it", "enter")
        await until(pilot, lambda: champion(small) == 2, what="approved")
        await until(pilot, lambda: app.view is not None and app.view.champion.name == "v2")
        await pilot.press("x")  # v2 is the champion now, not pending
        await until(pilot, lambda: any("only a pending" in n for n, _ in app.notes))
    with store_of(small).read() as s:
        assert s.decisions(2)[0].reason == "ship it"
