"""``workbench log``: every state change leaves its entry; nothing rewrites or deletes one."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import configure, cut_sample, store_of, train
from workbench import config
from workbench.data import snapshot
from workbench.errors import UsageError
from workbench.model.rollback import rollback
from workbench.pipeline import approval
from workbench.pipeline.audit import read_log
from workbench.render import log_text
from workbench.store import Store

KEYS = {"ts", "kind", "version", "by", "reason", "detail"}


@pytest.fixture
def small(project: Path) -> Path:
    cut_sample(project, 2000)
    return project


def entries(root: Path) -> list[dict]:
    return [e.to_json() for e in read_log(store_of(root))]


def as_set(rows: list[dict]) -> Counter[str]:
    return Counter(json.dumps(r, sort_keys=True) for r in rows)


def append(root: Path, text: str) -> None:
    with open(root / "workbench.toml", "a") as f:
        f.write(text)


def set_manual(root: Path, rounds: int) -> None:
    configure(root, rounds=rounds, min_delta=-1.0)  # any candidate passes the gate
    path = root / "workbench.toml"
    path.write_text(path.read_text().replace("[gate]\n", '[gate]\napproval = "manual"\n'))


def test_every_state_change_leaves_an_entry_and_none_changes(small: Path) -> None:
    def s() -> tuple[config.Settings, Store]:
        return config.load(small), store_of(small)

    hook = [[sys.executable, "-c", "pass"]]
    steps: list[tuple[str, Callable[[], object], dict[str, object]]] = [
        ("snapshot", lambda: (configure(small, rounds=2), snapshot.take(*s())), {"snapshot": 1}),
        ("train v1", lambda: train(small), {"version": 1, "gate": 1, "promotion": 1}),
        (
            "config + train v2",
            lambda: (configure(small, rounds=40), train(small)),
            {"snapshot": 1, "config": 1, "version": 1, "gate": 1, "promotion": 1},
        ),
        ("rollback", lambda: rollback(*s(), "v1", reason="bad v2"), {"rollback": 1, "pin": 1}),
        ("held", lambda: train(small, force=True), {"version": 1, "gate": 1}),
        ("unpin", lambda: approval.unpin(*s(), reason="fixed"), {"unpin": 1}),
        ("promote", lambda: approval.promote(*s(), "v3", reason="by hand"), {"promotion": 1}),
        ("pending", lambda: (set_manual(small, 30), train(small)), {"config": 1, "gate": 1}),
        ("approve", lambda: approval.approve(*s(), "v4", reason="ok"), {"approve": 1}),
        ("pending 2", lambda: (set_manual(small, 20), train(small)), {"version": 1, "gate": 1}),
        ("reject", lambda: approval.reject(*s(), "v5", reason="no"), {"reject": 1}),
        (
            "hook",
            lambda: (
                append(small, f"[hooks]\non_promote = {json.dumps(hook)}\n"),
                approval.promote(*s(), "v3", reason="back"),
            ),
            {"promotion": 1, "hook": 1, "snapshot": 0},
        ),
    ]
    seen: list[dict] = []
    for name, act, added in steps:
        act()
        now = entries(small)
        assert not as_set(seen) - as_set(now), f"{name} rewrote or deleted an entry"
        new = as_set(now) - as_set(seen)
        kinds = Counter(json.loads(n)["kind"] for n in new.elements())
        for kind, count in added.items():
            assert kinds[kind] >= count, (name, kind, kinds)
        assert sum(new.values()) == len(now) - len(seen)
        seen = now
    by_kind = {e["kind"]: e for e in seen}  # newest of each kind (the log is newest first)
    assert by_kind["reject"] == by_kind["reject"] | {"version": "v5", "reason": "no"}
    assert by_kind["approve"]["version"] == "v4" and by_kind["approve"]["by"]
    assert by_kind["unpin"]["version"] == "v1" and by_kind["unpin"]["reason"] == "fixed"
    assert by_kind["pin"]["reason"] == "rollback: bad v2"
    gates = [e["detail"]["decision"] for e in seen if e["kind"] == "gate"]
    assert gates == ["pending", "pending", "held", "promoted", "promoted"]
    rounds = [
        e for e in seen if e["kind"] == "config" and e["detail"]["key"] == "model.num_boost_round"
    ]
    assert [(e["detail"]["before"], e["detail"]["after"]) for e in rounds][-1] == (2, 40)
    approval_keys = [
        e for e in seen if e["kind"] == "config" and e["detail"]["key"] == "gate.approval"
    ]
    assert (approval_keys[-1]["detail"]["before"], approval_keys[-1]["detail"]["after"]) == (
        None,
        "manual",
    )
    assert all(set(e) == KEYS for e in seen)
    text = log_text(read_log(store_of(small), limit=50))
    assert "model.num_boost_round: 2 -> 40" in text and "unpin" in text and ": bad v2" in text
    assert [e["ts"] for e in seen] == sorted((e["ts"] for e in seen), reverse=True)


def test_log_json_cli_shape_since_limit(small: Path, cli) -> None:
    configure(small, rounds=2)
    train(small)
    proc = cli("log", "--json", cwd=small, check=True)
    rows = json.loads(proc.stdout)
    assert [r["kind"] for r in rows] == ["promotion", "gate", "version", "snapshot"]
    assert all(set(r) == KEYS for r in rows)
    assert rows[0]["version"] == "v1" and rows[-1]["version"] is None
    assert rows[-1]["reason"] is None and rows[0]["reason"]
    assert isinstance(rows[0]["detail"], dict) and rows[-1]["detail"]["snapshot"]
    later = read_log(store_of(small), since=rows[0]["ts"])
    assert later and all(e.ts >= rows[0]["ts"] for e in later) and len(later) < len(rows)
    assert len(read_log(store_of(small), since="2999-01-01")) == 0
    assert len(read_log(store_of(small), limit=2)) == 2
    bad = cli("log", "--since", "yesterday", cwd=small)
    assert bad.returncode == 2 and "--since" in bad.stderr
    refused = cli("unpin", "--reason", "x", cwd=small)
    assert refused.returncode == 2 and "not pinned" in refused.stderr
    assert json.loads(cli("log", "--json", cwd=small, check=True).stdout) == rows


def test_bad_since_is_a_usage_error(small: Path) -> None:
    with pytest.raises(UsageError, match="ISO-8601"):
        read_log(store_of(small), since="31/01/2026")
