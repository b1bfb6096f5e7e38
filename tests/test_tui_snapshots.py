"""SVG snapshots of the whole screen (pytest-textual-snapshot) and the long-history paths.

The store holds a made-up history with fixed timestamps (``tests/tui_data.py``), so the
screens are byte-stable. Update the SVGs after an intended change with
``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at them before committing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from textual.worker import WorkerState

from tests.tui_data import build
from workbench import config
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens import RollbackScreen, TextScreen
from workbench.tui.view import PAGE
from workbench.tui.widgets import HistoryTable


def make_app(root: Path) -> WorkbenchApp:
    return WorkbenchApp(config.load(root), live=False, poll_s=3600)


async def settled(pilot: Any) -> None:
    app = pilot.app
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if app.view is not None and app.query_one(HistoryTable).row_count > 0:
            break
        await pilot.pause(0.05)
    while any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers):
        await pilot.pause(0.05)  # details and drift feature workers
    for _ in range(5):  # their results, then the tables' idle-time column sizing
        await pilot.pause(0.1)
    await pilot.wait_for_scheduled_animations()


async def until_screen(pilot: Any, kind: type) -> None:
    deadline = time.monotonic() + 20
    while not isinstance(pilot.app.screen, kind) and time.monotonic() < deadline:
        await pilot.pause(0.05)
    for _ in range(3):
        await pilot.pause(0.1)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return build(tmp_path / "proj", 12)


def test_screen_at_120x36(history: Path, snap_compare: Any) -> None:
    assert snap_compare(make_app(history), terminal_size=(120, 36), run_before=settled)


def test_screen_at_80x24(history: Path, snap_compare: Any) -> None:
    assert snap_compare(make_app(history), terminal_size=(80, 24), run_before=settled)


def test_rollback_dialog(history: Path, snap_compare: Any) -> None:
    async def open_dialog(pilot: Any) -> None:
        await settled(pilot)
        await pilot.press("down", "down", "r")
        await until_screen(pilot, RollbackScreen)
        await pilot.press(*"worse on week 48")
        await pilot.pause(0.2)

    assert snap_compare(make_app(history), terminal_size=(120, 36), run_before=open_dialog)


def test_help(history: Path, snap_compare: Any) -> None:
    async def open_help(pilot: Any) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        await until_screen(pilot, TextScreen)

    assert snap_compare(make_app(history), terminal_size=(80, 24), run_before=open_help)


async def test_ten_thousand_versions_first_paint_and_paging(tmp_path: Path) -> None:
    root = build(tmp_path / "big", 10_000)
    app = make_app(root)
    started = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(HistoryTable)
        while table.row_count == 0 and time.perf_counter() - started < 30:
            await pilot.pause(0.01)
        await pilot.pause(0)  # the frame with the rows is drawn
        first_paint = time.perf_counter() - started
        assert table.row_count == PAGE  # a page, not 10,000 rows
        assert app.view is not None and app.view.total_versions == 10_000
        assert table.border_subtitle == f"{PAGE} of 10000 · more load at the end"
        assert str(table.get_row_at(0)[1]) == "v10000"
        # generous bound for a loaded CI machine; tests/bench/bench_tui.py measures it
        assert first_paint < 5.0, first_paint
        await pilot.press("ctrl+end")  # the last loaded row: the next page loads
        while table.row_count == PAGE and time.perf_counter() - started < 30:
            await pilot.pause(0.05)
        assert table.row_count == 2 * PAGE
        assert str(table.get_row_at(PAGE)[1]) == f"v{10_000 - PAGE}"
        await pilot.press("end")
        while table.row_count < 10_000 and time.perf_counter() - started < 60:
            await pilot.pause(0.05)
        await pilot.pause(0.1)
        assert table.row_count == 10_000
        assert app.selected() is not None and app.selected().name == "v1"  # type: ignore[union-attr]
        await pilot.press("home")
        assert app.selected() is not None and app.selected().name == "v10000"  # type: ignore[union-attr]
