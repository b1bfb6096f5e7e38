"""The TUI under ``App.run_test()``: real store, real training, real watchfiles events.

A module template holds a small trained project: v1 (the first model, champion), v2 (the same
snapshot retrained: a tie, so rejected) and v3 (failed: the training part had one class).
Each test gets a copy. ``live=False`` tests look at the panes and keys; ``live=True`` tests run
the real watch loop in the app's worker thread.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from textual.widgets import DataTable, Static

from tests.conftest import SAMPLE, copy_sample
from tests.helpers import configure, copy_project, cut_sample, store_of, train
from workbench import config
from workbench.model import serving
from workbench.tui.app import WorkbenchApp
from workbench.tui.drift_pane import DriftPane
from workbench.tui.screens import KEYS, RollbackScreen, TextScreen
from workbench.tui.widgets import Details, EventsLog, HistoryTable, StatusBar

ROWS = 2000


class RecordingApp(WorkbenchApp):
    """The real app, also keeping the notifications it showed (message, severity)."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.notes: list[tuple[str, str]] = []

    def notify(self, message: str, *a: Any, **kw: Any) -> None:
        self.notes.append((str(message), str(kw.get("severity", "information"))))
        super().notify(message, *a, **kw)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tui") / "proj"
    copy_sample(root)
    configure(cut_sample(root, ROWS), rounds=20)
    with open(root / "workbench.toml", "a") as f:
        f.write("\n[watch]\ndebounce_ms = 100\n")
    train(root)  # v1: champion
    train(root, force=True)  # v2: same snapshot, a tie: rejected
    data = root / "data" / "batch_000.csv"
    original = data.read_bytes()
    frame = pl.read_csv(data).sort("event_time")
    newest = frame.height - int(frame.height * 0.15)
    keep = pl.int_range(pl.len()) >= newest
    frame.with_columns(pl.when(keep).then(pl.col("churned")).otherwise(0)).write_csv(data)
    with pytest.raises(Exception, match="1 class"):
        train(root)  # v3: failed
    data.write_bytes(original)
    return root


@pytest.fixture
def proj(template: Path, tmp_path: Path) -> Path:
    return copy_project(template, tmp_path)


def app_for(root: Path, **kw: Any) -> RecordingApp:
    kw.setdefault("live", False)
    kw.setdefault("poll_s", 0.2)
    return RecordingApp(config.load(root), **kw)


async def until(pilot: Any, cond: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what or cond}")


def status_text(app: WorkbenchApp) -> str:
    return app.query_one(StatusBar).text.plain


def events_text(app: WorkbenchApp) -> str:
    return app.query_one(EventsLog).plain


def details_text(app: WorkbenchApp) -> str:
    return app.query_one(Details).text.plain


def history_rows(app: WorkbenchApp) -> list[list[str]]:
    table = app.query_one(HistoryTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def loaded(app: WorkbenchApp) -> bool:
    return app.view is not None and app.query_one(HistoryTable).row_count > 0


def champion(root: Path) -> int | None:
    with store_of(root).read() as s:
        return s.champion_number()


# ---------------------------------------------------------------------------- panes


async def test_first_paint_shows_history_champion_status_and_events(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app), what="history")
        rows = history_rows(app)
        assert [r[1] for r in rows] == ["v3", "v2", "v1"]  # newest first
        assert [r[2] for r in rows] == ["failed", "rejected", "champion"]
        assert rows[2][0] == "★" and rows[0][0] == rows[1][0] == ""
        with store_of(proj).read() as s:
            v1, v2 = s.version(1), s.version(2)
        assert rows[2][3] == f"{v1.metrics['auc']:.4f}"  # its own holdout
        gate = v2.gate or {}
        # Δ gate: what v2's gate measured, v2 and the champion v1 on the same rows
        assert gate["champion_version"] == "v1" and rows[1][5] == "v1"
        assert rows[1][4] == f"{gate['candidate'] - gate['champion']:+.4f}"
        assert rows[2][4] == "first" and rows[0][4] == "-"  # no comparison: none shown
        status = status_text(app)
        assert "v1" in status and f"auc {v1.metrics['auc']:.4f}" in status
        assert "3 versions" in status and "not watching" in status
        text = events_text(app)
        assert "promoted" in text and "v3" in text and "1 class" in text
        assert app.focused is app.query_one(HistoryTable)


async def test_arrow_keys_move_and_details_follow(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        await until(pilot, lambda: "v3" in details_text(app))
        assert "1 class" in details_text(app)
        await pilot.press("end")
        details = await until(
            pilot,
            lambda: "v1" in (t := details_text(app)) and t,
            what="details of v1",
        )
        assert "first model" in details and "importance" in details
        assert "champion" in details and "num_leaves=15" in details
        await pilot.press("up")
        await until(pilot, lambda: details_text(app).startswith("v2"))
        await pilot.press("home")
        assert app.selected() is not None and app.selected().name == "v3"  # type: ignore[union-attr]


async def test_enter_opens_the_details_of_the_selected_version(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("end", "enter")
        screen = await until(pilot, lambda: isinstance(app.screen, TextScreen) and app.screen)
        assert screen.title_text == "v1" and "first model" in str(screen.body)
        await pilot.press("escape")
        assert not isinstance(app.screen, TextScreen)


async def test_help_lists_every_key_binding(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("question_mark")
        screen = await until(pilot, lambda: isinstance(app.screen, TextScreen) and app.screen)
        body = str(screen.body)
        for binding in WorkbenchApp.BINDINGS:
            key = getattr(binding, "key_display", None) or binding.key  # type: ignore[union-attr]
            assert any(k.split()[0].startswith(key) for k, _ in KEYS), key
        for key, what in KEYS:
            assert key in body and what in body
        for key in ("PgUp/PgDn", "esc", "ctrl+p", "tab"):
            assert any(k.startswith(key) for k, _ in KEYS), key
        assert "own holdout" in body and "same rows" in body  # how to read the numbers
        await pilot.press("escape")


async def test_palette_lists_workbench_actions_and_runs_them(proj: Path) -> None:
    from textual.command import CommandPalette

    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Train now", "Snapshot the inputs", "Roll back to the selected version"):
            assert title in titles
        await pilot.press("down")  # v2
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"roll back")
        await pilot.pause(0.5)  # the palette searches
        await pilot.press("enter")
        dialog = await until(pilot, lambda: isinstance(app.screen, RollbackScreen) and app.screen)
        assert dialog.target.name == "v2"
        await pilot.press("escape")


async def test_new_version_leaves_the_cursor_where_the_user_put_it(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("down")  # v2: not the newest
        await asyncio.to_thread(train, proj, True)  # v4, as another process would
        await until(pilot, lambda: history_rows(app)[0][1] == "v4", what="v4 in the pane")
        assert app.selected().name == "v2"  # type: ignore[union-attr]


async def test_events_pane_is_in_time_order_and_wraps_long_messages(proj: Path) -> None:
    long = "data/batch_long.csv: " + " ".join(f"word{i}" for i in range(60)) + " THE-END"
    app = app_for(proj)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: loaded(app))
        with store_of(proj).write("test events") as s:  # recorded late, happened early
            s.add_event("step", "late news", ts="2026-01-02T00:00:01.000+00:00")
            s.add_event("step", "early news", ts="2026-01-01T00:00:01.000+00:00")
            s.add_event("step", long, ts="2026-01-03T00:00:01.000+00:00", level="warning")
        log = app.query_one(EventsLog)
        await until(pilot, lambda: "THE-END" in events_text(app), what="the new events")
        shown = [e.message for e in log.shown]
        assert shown.index("early news") < shown.index("late news") < shown.index(long)
        times = [e.ts for e in log.shown]
        assert times == sorted(times)
        await pilot.pause(0.2)
        rendered = " ".join("".join(seg.text for seg in strip) for strip in log.lines)
        assert "THE-END" in " ".join(rendered.split())  # wrapped onto more lines, not cut
        assert max(len(strip.text) for strip in log.lines) <= log.size.width
        height = log.region.height
        await pilot.click(EventsLog)  # focused, the pane grows
        await pilot.pause(0.2)
        assert app.focused is log and log.region.height > height


# ---------------------------------------------------------------------------- rollback


async def test_rollback_confirm_changes_champion_everywhere(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("down")  # v2
        await pilot.press("r")
        dialog = await until(pilot, lambda: isinstance(app.screen, RollbackScreen) and app.screen)
        assert dialog.target.name == "v2" and dialog.champion.name == "v1"
        await pilot.press(*"v1 drifts on new data")
        await pilot.press("enter")
        await until(pilot, lambda: champion(proj) == 2, what="store champion v2")
        await until(pilot, lambda: history_rows(app)[1][0] == "★", what="star on v2")
        rows = history_rows(app)
        assert rows[1][2] == "champion" and rows[2][0] == "" and rows[2][2] == "retired"
        assert "v2" in status_text(app).split("│")[0]
        await until(pilot, lambda: "rolled back to v2" in events_text(app))
    with store_of(proj).read() as s:
        last = s.champion_history(limit=1)[0]
    assert last.kind == "rollback" and last.reason == "rollback: v1 drifts on new data"
    assert serving.served_version(store_of(proj)) == "v2"


async def test_rollback_escape_cancels_and_nothing_changes(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("down", "r")
        await until(pilot, lambda: isinstance(app.screen, RollbackScreen))
        await pilot.press(*"never mind")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RollbackScreen))
        await pilot.pause(0.3)
        assert ("rollback cancelled", "information") in app.notes
    assert champion(proj) == 1
    with store_of(proj).read() as s:
        assert len(s.champion_history()) == 1


async def test_rollback_needs_a_reason(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("down", "r")
        dialog = await until(pilot, lambda: isinstance(app.screen, RollbackScreen) and app.screen)
        await pilot.press("space", "enter")
        assert app.screen is dialog  # still asking
        assert "needs a reason" in str(dialog.query_one("#dialog-error", Static).content)
        await pilot.press("escape")
    assert champion(proj) == 1


async def test_rollback_to_failed_or_current_champion_is_refused(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("r")  # v3: failed
        await pilot.pause(0.1)
        assert not isinstance(app.screen, RollbackScreen)
        assert any("failed to train" in m and sev == "error" for m, sev in app.notes)
        await pilot.press("end", "r")  # v1: the champion already
        await pilot.pause(0.1)
        assert not isinstance(app.screen, RollbackScreen)
        assert any("already the champion" in m for m, _ in app.notes)
    assert champion(proj) == 1


async def test_rollback_made_elsewhere_appears_within_the_poll(proj: Path, cli: Any) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        proc = await asyncio.to_thread(cli, "rollback", "v2", "--reason", "from the CLI", cwd=proj)
        assert proc.returncode == 0, proc.stderr
        t0 = time.monotonic()
        await until(pilot, lambda: history_rows(app)[1][0] == "★", timeout=10)
        assert time.monotonic() - t0 < 2.0
        assert "from the CLI" in events_text(app)


# ---------------------------------------------------------------------------- other keys


async def dialog_after(pilot: Any, *keys: str) -> TextScreen:
    await pilot.press(*keys)
    screen = await until(
        pilot, lambda: isinstance(pilot.app.screen, TextScreen) and pilot.app.screen
    )
    assert isinstance(screen, TextScreen)
    return screen


async def test_diff_key_reads_older_to_newer_with_the_gates_comparison(proj: Path) -> None:
    with store_of(proj).read() as s:
        gate = s.version(2).gate or {}
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        assert app.selected().name == "v3"  # type: ignore[union-attr]
        screen = await dialog_after(pilot, "d")
        assert screen.title_text == "diff v1 (champion) → v3"  # older first
        body = str(screen.body)
        assert "batch_000.csv" in body  # v3 trained on a changed file (one-class target)
        assert "no gate compared v1 and v3 on the same rows" in body  # v3 failed: no gate
        await pilot.press("escape", "down")  # v2, gated against v1
        body = str((await dialog_after(pilot, "d")).body)
        delta = gate["candidate"] - gate["champion"]
        rows = f"{gate['rows']:,} " if gate.get("rows") else ""
        assert (
            f"same rows: auc at v2's gate, on the same {rows}rows: v2 {gate['candidate']:.4f}"
            in body
        )
        assert f"Δ {delta:+.4f}" in body
        await pilot.press("escape", "end", "d")  # v1: the champion and the first version
        await until(pilot, lambda: any("nothing to diff it with" in m for m, _ in app.notes))
        assert not isinstance(app.screen, TextScreen)
    rolled = app_for(proj)
    from workbench.model.rollback import rollback

    rollback(config.load(proj), store_of(proj), "v2", reason="try v2")
    async with rolled.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(rolled))
        await pilot.press("down")  # v2, now the champion: against the one it took over from
        screen = await dialog_after(pilot, "d")
        assert screen.title_text == "diff v1 → v2 (champion)"


async def test_snapshot_key_records_new_inputs(proj: Path) -> None:
    with store_of(proj).read() as s:
        before = s.snapshot_count()
    (proj / "data" / "batch_009.csv").write_text(
        pl.read_csv(SAMPLE / "data" / "batch_000.csv").slice(ROWS, 200).write_csv()
    )
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("s")
        await until(pilot, lambda: any("snapshot" in m and "(new)" in m for m, _ in app.notes))
    with store_of(proj).read() as s:
        assert s.snapshot_count() == before + 1


async def test_an_error_in_an_action_is_a_notification_not_a_crash(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        (proj / "workbench.toml").write_text("[modle]\nname = 1\n")
        await pilot.press("s")
        await until(pilot, lambda: any(sev == "error" for _, sev in app.notes))
        message = next(m for m, sev in app.notes if sev == "error")
        assert "workbench.toml" in message and "[model]" in message
        assert app.is_running


# ---------------------------------------------------------------------------- live


async def test_train_key_runs_a_cycle_in_the_watcher_and_shows_it(proj: Path) -> None:
    app = app_for(proj, live=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.mode == "own", what="own watcher")
        await until(pilot, lambda: "watching" in status_text(app))
        await pilot.press("t")
        await until(pilot, lambda: history_rows(app)[0][1] == "v4", timeout=60, what="v4")
        # the cursor was on the newest version: it follows to the new one, and details too
        await until(pilot, lambda: app.selected().name == "v4")  # type: ignore[union-attr]
        await until(pilot, lambda: details_text(app).startswith("v4"))
        assert "training requested" in events_text(app) or any(
            "training requested" in m for m, _ in app.notes
        )
        await until(pilot, lambda: "v4 auc=" in events_text(app))
    with store_of(proj).read() as s:
        assert s.version(4).snapshot_id == s.version(1).snapshot_id  # forced: same inputs


async def test_a_broken_batch_is_a_failure_event_live_and_the_champion_stays(proj: Path) -> None:
    app = app_for(proj, live=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.mode == "own" and "watching" in status_text(app))
        await pilot.pause(0.3)  # the watcher is waiting for changes
        bad = proj / "data" / ".batch_bad.tmp"
        bad.write_bytes(b"customer_id,event_time\n\x00\x01\x02garbage\xff\xfe\n")
        os.replace(bad, proj / "data" / "batch_bad.csv")
        await until(
            pilot,
            lambda: "batch_bad.csv" in events_text(app) and "failed" in events_text(app),
            timeout=30,
            what="failure event",
        )
        await until(pilot, lambda: "last cycle failed" in status_text(app))
        assert any(sev == "error" and "batch_bad.csv" in m for m, sev in app.notes)
        assert history_rows(app)[2][0] == "★"
        (proj / "data" / "batch_bad.csv").unlink()  # the inputs are trained ones again
        await until(pilot, lambda: "valid again" in events_text(app), timeout=30, what="recovery")
        await until(pilot, lambda: "last cycle failed" not in status_text(app))
        assert "watching" in status_text(app)
    assert champion(proj) == 1
    with store_of(proj).read() as s:
        last = s.last_event("cycle_finished")
        assert s.version_count() == 3  # recovering trained nothing
    assert last is not None and last.data["outcome"] == "recovered" and last.level == "info"


async def test_follows_a_headless_watcher_instead_of_starting_a_second(proj: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "watch", "--json"],
        cwd=proj,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        for line in watcher.stdout:  # the start cycle, then watching
            if '"watching"' in line:
                break
        app = app_for(proj, live=True)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.mode == "attached", what="attached")
            await until(pilot, lambda: "following" in status_text(app))
            tmp = proj / "data" / ".b.tmp"
            frame = pl.read_csv(SAMPLE / "data" / "batch_000.csv").slice(ROWS, 400)
            frame.write_csv(tmp)
            os.replace(tmp, proj / "data" / "batch_001.csv")
            await until(pilot, lambda: history_rows(app)[0][1] == "v4", timeout=60)
            with store_of(proj).read() as s:
                recorded = s.version(4).created_at
            assert "v4 auc=" in events_text(app) or "v4" in events_text(app)
        assert recorded
    finally:
        watcher.terminate()
        assert watcher.wait(timeout=20) == 0


async def test_quit_stops_the_watch_loop_and_releases_the_watcher_lock(proj: Path) -> None:
    from workbench.pipeline.status import watcher_state

    app = app_for(proj, live=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.mode == "own")
        assert watcher_state(store_of(proj)) == "running"
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, timeout=10)
    deadline = time.monotonic() + 10
    while watcher_state(store_of(proj)) == "running" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert watcher_state(store_of(proj)) == "stopped"
    with store_of(proj).read() as s:
        assert s.unfinished_cycles() == []  # the start cycle finished or was recorded cancelled


class HeldTraining(RecordingApp):
    """Holds the first boosting round for a second, so a test can act mid-training."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.mid_training = threading.Event()

    def _on_progress(self, step: str, info: dict[str, Any]) -> None:
        super()._on_progress(step, info)
        if "round" in info and not self.mid_training.is_set():
            self.mid_training.set()
            time.sleep(1.0)  # in the training thread: LightGBM waits for its callback


async def test_quit_in_the_middle_of_training_records_the_cycle_cancelled(proj: Path) -> None:
    app = HeldTraining(config.load(proj), live=True, poll_s=0.2)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.mode == "own" and "watching" in status_text(app))
        await pilot.press("t")
        await until(pilot, app.mid_training.is_set, timeout=60, what="training")
        # training is held at round 1 for a second: the status bar shows it meanwhile
        await until(pilot, lambda: "round 1/" in status_text(app), what="round 1 in the status")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, timeout=20)
    with store_of(proj).read() as s:
        assert s.unfinished_cycles() == []
        last = s.last_event("cycle_finished")
        assert s.version_count() == 3  # the abandoned training left no version
    assert last is not None and last.data["outcome"] == "cancelled"
    assert champion(proj) == 1


# ---------------------------------------------------------------------------- drift


async def test_drift_pane_sorts_features_and_shows_the_dataset_summary(proj: Path) -> None:
    from workbench.monitor.drift import run_drift

    subprocess.run(
        [sys.executable, str(proj / "generate.py"), "--drift", "--rows", "600"],
        cwd=proj,
        check=True,
        capture_output=True,
    )
    settings = config.load(proj)
    result = run_drift(settings, store_of(proj)).result.to_json()
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(
            pilot, lambda: loaded(app) and app.query_one("#drift-table", DataTable).row_count > 0
        )
        table = app.query_one("#drift-table", DataTable)
        shown = [key.value for key in table.rows]  # row keys: whole names, in row order
        drifted = [f for f in result["features"] if f["drifted"]]
        # drifted features first; among them the most drifted (largest distance, smallest p)
        assert set(shown[: len(drifted)]) == {f["name"] for f in drifted}
        assert len(shown) == len(result["features"])
        summary = str(app.query_one("#drift-summary", Static).content)
        assert ("DATASET DRIFT" in summary) == bool(result["dataset_drift"])
        assert f"{result['drifted_features']}/{len(result['features'])}" in summary
        assert app.query_one(DriftPane).selected_feature() == shown[0]


async def test_mouse_click_selects_a_version_and_a_footer_key_acts(proj: Path) -> None:
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        table = app.query_one(HistoryTable)
        # inside the border: line 1 the header, lines 2-4 v3, v2, v1
        await pilot.click(HistoryTable, offset=(10, 4))
        await until(pilot, lambda: table.cursor_row == 2, what="click on v1")
        selected = app.selected()
        assert selected is not None and selected.name == "v1"
        await pilot.click("FooterKey")  # the first footer key: t Train
        await until(pilot, lambda: history_rows(app)[0][1] == "v4", timeout=60, what="v4")


async def test_notifications_show_bracketed_text_as_written(proj: Path) -> None:
    """An error naming `[modle]` and `[model]` is shown as is, not swallowed as markup (the
    headless test app mounts no toasts, so the notification's own flag is what is checked)."""
    from rich.text import Text

    message = "workbench.toml:3: unknown section [modle]\ndid you mean [model]?"
    assert "[model]" not in Text.from_markup(message).plain  # what markup parsing did to it
    app = app_for(proj)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: loaded(app))
        app.notify(message)
        notes = await until(
            pilot, lambda: [n for n in app._notifications if "[modle]" in n.message]
        )
        (note,) = notes
        assert note.markup is False
