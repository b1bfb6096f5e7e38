"""The screen at the sizes people use: SVG snapshots (pytest-textual-snapshot), what each pane
shows at 80x24, 100x30 and 120x36 read from the rendered screen, and the long-history paths.

The store holds a made-up history with fixed timestamps (``tests/tui_data.py``), so the
screens are byte-stable. Update the SVGs after an intended change with
``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at them before committing.
"""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widget import Widget
from textual.worker import WorkerState

from tests.tui_data import IMPORTANCE, build
from workbench import config
from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.charts import MetricChart
from workbench.tui.drift_pane import DriftPane, DriftTable, FeatureHistogram
from workbench.tui.screens import RollbackScreen, TextScreen
from workbench.tui.view import PAGE
from workbench.tui.widgets import Details, HistoryTable, StatusBar

SIZES = [(80, 24), (100, 30), (120, 36)]


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


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_screen(history: Path, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(history), terminal_size=size, run_before=settled)


def screen_lines(app: WorkbenchApp) -> list[str]:
    """The screen as a person sees it: every cell, as text (what the SVG snapshot draws)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False).splitlines()


def pane(app: WorkbenchApp, widget: Widget) -> list[str]:
    """The lines of the screen inside one widget's borders (none when it is not shown)."""
    r = widget.content_region
    return [line[r.x : r.right] for line in screen_lines(app)[r.y : r.bottom]]


def words(lines: list[str]) -> str:
    """Wrapped lines read as one text."""
    return " ".join(" ".join(lines).split())


def braille_rows(lines: list[str]) -> int:
    return sum(1 for line in lines if any("\u2801" <= ch <= "\u28ff" for ch in line))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_pane_shows_its_essential_columns(history: Path, size: tuple[int, int]) -> None:
    app = make_app(history)
    async with app.run_test(size=size) as pilot:
        await settled(pilot)
        (status,) = pane(app, app.query_one(StatusBar))
        assert "champion v5 auc 0.8324" in status and "not watching" in status
        rows = pane(app, app.query_one(HistoryTable))
        for column in ("version", "status", "metric", "Δ gate"):
            assert column in rows[0], (column, rows[0])
        v5 = next(line for line in rows if line.startswith("★ v5 "))
        assert "champion" in v5 and "0.8324" in v5 and "+0.0060" in v5  # whole, not -0.000
        assert len([r for r in rows if " v" in r]) >= 10  # versions, not a sliver
        chart = pane(app, app.query_one(MetricChart))
        assert braille_rows(chart) >= 3, "\n".join(chart)  # a plot, not one flat row
        drift = pane(app, app.query_one(DriftTable))
        for column in ("feature", "method", "score", "thresh", "drift"):
            assert column in drift[0], (column, drift[0])
        assert "0.910" in drift[1] and "0.100" in drift[1] and "yes" in drift[1]
        assert len([r for r in drift[1:] if r.strip()]) >= 4  # rows, not just a header
        histogram = pane(app, app.query_one(FeatureHistogram))
        details = pane(app, app.query_one(Details))
        if size == (80, 24):  # the plots and the details give way to the tables
            assert histogram == [] and details == []
        else:
            assert any("ref ▁" in line for line in histogram)
            assert any("gate rejected" in line for line in details)
        if size == (120, 36):
            assert "0009aab*" in v5 and "11-01 01:25" in v5  # commit and time whole
            await pilot.press(*["down"] * 7)  # v5, the champion
            await settled(pilot)
            shown = "\n".join(pane(app, app.query_one(Details)))
            assert all(name in shown for name in IMPORTANCE), shown  # the top 10
            assert "champion 2026-11-01 01:25 by ana: gate: better" in shown


async def test_details_pane_takes_focus_and_scrolls(history: Path) -> None:
    app = make_app(history)
    async with app.run_test(size=(100, 30)) as pilot:
        await settled(pilot)
        details = app.query_one(Details)
        assert details.max_scroll_y > 0  # more than the pane holds at 100x30
        await pilot.press("tab")
        assert app.focused is details
        first = pane(app, details)
        await pilot.press("pagedown")
        await settled(pilot)
        assert details.scroll_y > 0 and pane(app, details) != first
        await pilot.press("end")
        await settled(pilot)
        assert "timings  train 1.50s" in "\n".join(pane(app, details))  # the end is reachable


async def test_drift_pane_says_when_its_result_is_against_a_former_champion(
    history: Path,
) -> None:
    """A rollback makes v3 the champion while the stored drift is against v5: the pane says
    so; once a result against v3 is stored, it shows that one."""
    store = Store(history / ".workbench")
    with store.write("test rollback") as s:
        s.set_champion(
            3,
            ts="2026-11-02T00:00:00.000+00:00",
            actor="ana",
            kind="rollback",
            reason="rollback: v5 is worse on week 48",
        )
    app = make_app(history)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(pilot)
        summary = words(pane(app, app.query_one("#drift-summary")))
        assert "vs v5" in summary
        assert "v5 is no longer the champion: the next cycle measures against v3" in summary
    with store.read() as s:
        stale = s.latest_drift()
    assert stale is not None
    with store.write("test drift") as s:
        s.put_drift_result(
            replace(
                stale,
                reference_version="v3",
                drift_share=0.0,
                drifted_features=0,
                dataset_drift=False,
                computed_at="2026-11-01T00:00:00.000+00:00",
            ),
            3,
            ts="2026-11-01T00:00:00.000+00:00",  # older than v5's: found by champion, not date
        )
    app = make_app(history)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(pilot)
        summary = words(pane(app, app.query_one("#drift-summary")))
        assert "no drift 0/6 features (0%) vs v3" in summary and "no longer" not in summary
        assert app.query_one(DriftPane).has_class("empty") is False


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
        assert (
            table.border_subtitle == f"{PAGE} of 10000 · more load at the end · Δ: gate, same rows"
        )
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
