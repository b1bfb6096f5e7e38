"""The store's state now, as `status` and the TUI read it: failed cycles wherever they failed,
a watcher that outlives a busy store, and a serving export that any reader repairs."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from tests.conftest import copy_sample
from tests.helpers import configure, copy_project, cut_sample, store_of, train
from workbench import watch as watch_mod
from workbench.model import serving
from workbench.pipeline.status import read_state
from workbench.store import locking


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "proj"
    copy_sample(root)
    configure(cut_sample(root, 2000), rounds=10)
    train(root)
    return root


@pytest.fixture
def small(template: Path, tmp_path: Path) -> Path:
    return copy_project(template, tmp_path)


def test_a_watchers_config_error_is_a_failed_cycle_in_status(small: Path, cli) -> None:
    cfg = small / "workbench.toml"
    good = cfg.read_text()
    cfg.write_text(good.replace("[model]", "[modle]"))
    events = list(watch_mod.watch(small, store_of(small), changes=iter([])))
    (fail,) = [e for e in events if e.event == "cycle_finished"]
    assert fail.data["outcome"] == "failed" and fail.data["step"] == "config"
    state = read_state(store_of(small))  # what the TUI shows
    assert state.last_cycle is not None and state.last_cycle.data["outcome"] == "failed"
    assert "did you mean [model]" in state.last_cycle.data["hint"]
    cfg.write_text(good)  # `status` needs a readable config; the failure is in the store
    status = json.loads(cli("status", "--json", cwd=small, check=True).stdout)
    assert status["last_cycle"]["outcome"] == "failed"
    assert status["last_cycle"]["step"] == "config"


def test_a_busy_store_does_not_end_the_watcher(small: Path, monkeypatch) -> None:
    """Another process holds the store past the wait limit while the watcher records a broken
    config: the loop reports it and goes on watching."""
    monkeypatch.setenv("WORKBENCH_LOCK_TIMEOUT", "0.3")
    cfg = small / "workbench.toml"
    cfg.write_text(cfg.read_text().replace("[model]", "[model"))
    store = store_of(small)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with locking.hold(store.root / "lock", exclusive=True, purpose="test"):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        events = list(watch_mod.watch(small, store, changes=iter([{cfg}])))
    finally:
        release.set()
        holder.join()
    finished = [e for e in events if e.event == "cycle_finished"]
    assert len(finished) == 2  # the start cycle and the change's cycle: still watching
    assert all(e.data["outcome"] == "failed" for e in finished)
    assert all("not_recorded" in e.data for e in finished)


@pytest.mark.parametrize("command", [("status", "--json"), ("history",), ("watch", "--once")])
def test_any_reader_of_the_champion_repairs_a_serving_link_left_by_a_crash(
    small: Path, cli, command: tuple[str, ...]
) -> None:
    """A kill between a champion's commit and the link swap leaves `serving` on another
    version; the next `status`, `history` or watcher cycle (not only a later `train`) repairs it."""
    store = store_of(small)
    with store.read() as s:
        champion = s.champion()
    assert champion is not None and champion.model_hash
    link = store.root / "serving"
    tmp = store.root / ".serving.crash"
    os.symlink(Path("exports") / "v7", tmp)
    os.replace(tmp, link)  # as a crash after a commit, before the swap, leaves it
    assert serving.served_version(store) == "v7"
    proc = cli(*command, cwd=small)
    assert proc.returncode == 0, proc.stderr
    assert serving.served_version(store) == champion.name
    assert (link / "model.txt").read_bytes() == store.objects.read(champion.model_hash)
