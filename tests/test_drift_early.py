"""``workbench drift`` taking the snapshot itself: the records it needs are read in the
snapshot's own session, and (without a time column) the current rows are read on a thread
from that moment, before the session writes the snapshot's rows. The result must be the one
drift computes after the snapshot was taken on its own."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.helpers import configure, cut_sample, store_of, train
from workbench import config
from workbench.caches import clear_process_caches
from workbench.data import snapshot
from workbench.data.inputs import LAST_SNAPSHOT
from workbench.monitor import drift as drift_mod
from workbench.store import Store
from workbench.store.session import Session

ROWS = 3000


class SessionStore(Store):
    """The real store, telling which write session is open (its purpose) at any moment."""

    open_for: str | None = None

    @contextlib.contextmanager
    def write(self, purpose: str) -> Iterator[Session]:
        with super().write(purpose) as s:
            self.open_for = purpose
            try:
                yield s
            finally:
                self.open_for = None


@pytest.fixture
def untimed(project: Path) -> Path:
    """The sample cut short as one Parquet file, no time column, a champion trained on it."""
    cut_sample(project, ROWS)
    csv = project / "data" / "batch_000.csv"
    frame = pl.read_csv(csv)
    frame.write_parquet(project / "data" / "batch_000.parquet")
    csv.unlink()
    configure(project, split="random")
    toml = project / "workbench.toml"
    toml.write_text(toml.read_text().replace('time_column = "event_time"\n', ""))
    train(project)
    batch = frame.tail(ROWS - 1).with_columns(pl.col("monthly_charges") * 1.5)
    batch.write_parquet(project / "data" / "batch_001.parquet")
    return project


def _current_calls(monkeypatch: pytest.MonkeyPatch, store: SessionStore) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []
    real = drift_mod._current

    def current(*args: Any, **kw: Any) -> Any:
        calls.append((threading.current_thread().name, store.open_for))
        return real(*args, **kw)

    monkeypatch.setattr(drift_mod, "_current", current)
    return calls


def test_the_current_rows_are_read_while_the_snapshot_session_is_open(
    untimed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = config.load(untimed)
    store = SessionStore(settings.store_dir)
    calls = _current_calls(monkeypatch, store)
    early = drift_mod.run_drift(settings, store)
    assert early.computed
    assert calls == [("drift-current", "snapshot")]  # read once, from inside that session
    assert early.result.current_rows == ROWS - 1 and early.result.reference_rows == ROWS

    # the same numbers as drift on a snapshot taken before it (read after the session)
    clear_process_caches()
    calls.clear()
    taken = snapshot.take(settings, store)
    later = drift_mod.run_drift(settings, store, taken=taken, force=True)
    assert calls == [("drift-current", None)]
    assert later.result.current == early.result.current
    assert [f["score"] for f in later.result.to_json()["features"]] == [
        f["score"] for f in early.result.to_json()["features"]
    ]
    assert early.result.dataset_drift == later.result.dataset_drift
    monthly = next(f for f in early.result.to_json()["features"] if f["name"] == "monthly_charges")
    assert monthly["drifted"]


def test_a_stored_result_is_returned_without_reading_the_rows(
    untimed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = config.load(untimed)
    first = drift_mod.run_drift(settings, store_of(untimed))
    (settings.store_dir / LAST_SNAPSHOT).unlink()  # the snapshot finds itself in a session
    clear_process_caches()
    store = SessionStore(settings.store_dir)
    calls = _current_calls(monkeypatch, store)
    again = drift_mod.run_drift(settings, store)
    assert not again.computed and again.result == first.result
    assert calls == []  # the stored result seen in that session: no read was started


def test_take_with_context_hands_the_records_over_before_the_rows_are_written(
    untimed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    real = Session.insert_snapshot

    def insert(self: Session, record: Any) -> None:
        order.append("rows")
        real(self, record)

    monkeypatch.setattr(Session, "insert_snapshot", insert)
    settings = config.load(untimed)
    seen: list[Any] = []

    def then(context: Any) -> None:
        order.append("then")
        seen.append(context)

    snap, context = snapshot.take_with_context(settings, store_of(untimed), then=then)
    assert snap.created and order == ["then", "rows"]
    assert context is seen[0] and context.record.id == snap.id
    assert context.champion is not None and context.champion_snapshot is not None
    assert context.champion_snapshot.id != snap.id
