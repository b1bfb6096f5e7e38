"""The Textual app: one screen of panes over one project, live while open.

Threads and messages (the rule: the UI thread never touches the store, polars or LightGBM):

- **The watch loop** runs in a thread worker: the same ``workbench.watch.watch`` generator as
  ``workbench watch``, holding ``.workbench/watcher.lock``. Its events and progress callbacks
  come back to the UI thread as past-tense messages (``messages``: ``CycleEventPosted``,
  ``StatusChanged``; posting never blocks the worker). ``t``
  asks it for a forced cycle through its ``requests`` queue, so a requested training never
  runs beside a change-driven one.
- **Attached mode**: if another process (a headless ``workbench watch``) already holds the
  watcher lock, the app does not start a second loop; it follows that watcher instead.
- **One refresh path for both modes**: a timer polls the store every ``poll_s`` in a thread
  worker (a shared-lock read of the events after the last one seen, the watcher state and
  ``.workbench/progress.json``); when anything new arrived it reloads the ``View`` (paged
  history, champion, drift) and the panes repaint. So a cycle of a headless watcher appears
  within ``poll_s`` (+ a read), and an in-process cycle's events trigger a reload at once.
- **Training does not starve the keys**: LightGBM and polars release the GIL while they
  compute, so the UI thread answers a key in a few ms while a cycle trains (measured by
  ``tests/bench/bench_tui.py``). Lowering the training threads' priority was measured too: it
  trimmed the latency tail but cost training throughput on a busy machine, so cycles run at
  normal priority.
- **Actions** (snapshot, rollback, diff, details) run in thread workers and answer with a
  notification; a ``WorkbenchError`` becomes an error notification with its hint, anything
  else an error notification naming the bug — the app keeps running. Each is a key, a footer
  entry and a command in the palette (``ctrl+p``).
- **Three layouts** by terminal size (``layout_for``): ``compact`` below 100x30 (history and
  drift table side by side; details open with enter), ``medium`` below 120x36 (smaller
  panes), and the full one. Tables show whole columns only (``columns``).
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer
from textual.worker import Worker, WorkerState

from workbench import config as config_mod
from workbench.config import Settings
from workbench.errors import UsageError, WorkbenchError
from workbench.pipeline.events import CycleEvent
from workbench.render import plural
from workbench.store import Store
from workbench.store.drift import FeatureDrift
from workbench.store.registry import VersionRecord
from workbench.tui import view as view_mod
from workbench.tui.charts import MetricChart
from workbench.tui.drift_pane import DriftPane
from workbench.tui.governance import GovernanceActions
from workbench.tui.messages import (
    ActionDone,
    ActionFailed,
    CycleEventPosted,
    DetailsLoaded,
    FeatureHistoryLoaded,
    MoreVersionsLoaded,
    StatusChanged,
    StorePolled,
    TextReady,
    ViewLoaded,
    WatcherModeChanged,
)
from workbench.tui.performance_pane import PerformancePane
from workbench.tui.screens import RollbackScreen, TextScreen, comparison_text, help_text
from workbench.tui.view import View
from workbench.tui.widgets import Details, EventsLog, HistoryTable, StatusBar, details_text

PROGRESS_REFRESH_S = 0.1
QUIT_WAIT_S = 15.0  # at most this long for a cycle to reach a point where it can stop
_W = TypeVar("_W", bound=Widget)
_H = TypeVar("_H", bound=Callable[..., None])


def _live(handler: _H) -> _H:
    """A message handler that does nothing once the app is closing (a worker's late news)
    and tolerates panes already gone during shutdown; anywhere else a missing pane is a bug."""

    @functools.wraps(handler)
    def run(app: WorkbenchApp, message: Any) -> None:
        if app.closing:
            return
        try:
            handler(app, message)
        except NoMatches:
            if app.is_running and app.screen_stack:
                raise

    return cast(_H, run)


COMPACT = (100, 30)  # below either: the compact layout
MEDIUM = (120, 36)  # below either (and not compact): the medium layout


def layout_for(width: int, height: int) -> str:
    if width < COMPACT[0] or height < COMPACT[1]:
        return "compact"
    return "medium" if width < MEDIUM[0] or height < MEDIUM[1] else "full"


class WorkbenchApp(GovernanceActions):  # its keys: approve, reject, promote, unpin
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "workbench"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "train", "Train"),
        Binding("s", "snapshot", "Snapshot"),
        Binding("r", "rollback", "Rollback"),
        Binding("d", "diff", "Diff"),
        Binding("m", "performance", "Performance", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        *,
        live: bool = True,
        poll_s: float = 1.0,
        page: int = view_mod.PAGE,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.root: Path = settings.root
        self.project = settings.project.name or settings.root.name
        self.store = store or Store(settings.store_dir, on_wait=self._waiting)
        self.live, self.poll_s, self.page = live, poll_s, page
        self.stop = threading.Event()
        self.watch_done = threading.Event()
        self.watch_done.set()  # no loop running yet
        self.requests: queue.Queue[str] = queue.Queue()
        self.view: View | None = None
        self.versions: list[VersionRecord] = []
        self.mode = "off"  # own | attached | off
        self.progress: dict[str, Any] | None = None
        self.cycle_running = False
        self.last_event_id = 0
        self._progress_painted = 0.0
        self._polling = False
        self._loading_more = False
        self.store_wait: str | None = None
        self._load_seq = 0
        self._applied_seq = 0

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield HistoryTable(id="history")
                yield Details(id="details")
            with Vertical(id="right"):
                yield MetricChart(id="chart")
                yield DriftPane(id="drift")
                yield PerformancePane(id="performance")
        yield EventsLog(id="events")
        yield Footer()

    def on_mount(self) -> None:
        titles = {
            "#history": "History",
            "#details": "Details",
            "#chart": "Metric",
            "#drift": "Drift",
            "#performance": "Performance",
            "#events": "Events",
        }
        for selector, title in titles.items():
            self.screen.query_one(selector).border_title = title
        self.screen.query_one("#events").border_subtitle = "tab here to enlarge"
        self._pane(HistoryTable).focus()
        self._fit(self.size.width, self.size.height)
        self._paint_status()
        self.load_view(first=True)
        self.set_interval(self.poll_s, self.poll)
        if self.live:
            self.watch_loop()

    def _pane(self, kind: type[_W]) -> _W:
        """A pane of the main screen (``query_one`` would search a dialog on top instead)."""
        return self.screen_stack[0].query_one(kind)

    def on_resize(self, event: Any) -> None:
        if self.closing:
            return
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        layout = layout_for(width, height)
        screen = self.screen_stack[0]
        for name in ("compact", "medium"):
            screen.set_class(layout == name, name)

    # ------------------------------------------------------------------ loading

    def load_view(self, first: bool = False) -> None:
        """Reload the view off the UI thread; of loads that overlap, the newest one wins."""
        self._load_seq += 1
        self._load(self._load_seq, first)

    @work(thread=True, group="load", exit_on_error=False)
    def _load(self, seq: int, first: bool) -> None:
        view = view_mod.load(
            self.project,
            self.store,
            limit=max(self.page, len(self.versions)),
            events_after=0 if first else self.last_event_id,
        )
        self.post_message(ViewLoaded(view, seq))

    @_live
    def on_view_loaded(self, message: ViewLoaded) -> None:
        self._apply(message.view, message.seq)

    def _apply(self, view: View, seq: int = 0) -> None:
        if seq < self._applied_seq:
            return  # an older load finished after a newer one: its view is stale
        self._applied_seq = seq
        self.view = view
        self.store_wait = None
        self.versions = list(view.versions)
        self._pane(HistoryTable).show(view, self.versions)
        self._subtitle()
        chart = self._pane(MetricChart)
        chart.show(view)
        chart.border_title = chart.title
        self._pane(DriftPane).show(view)
        self._pane(PerformancePane).show(view, self.store, self.settings.gate.metric)
        fresh = [e for e in view.events if e.id > self.last_event_id]
        self._pane(EventsLog).add(fresh)
        if fresh:
            self.last_event_id = max(e.id for e in fresh)
        self.last_event_id = max(self.last_event_id, view.last_event_id)
        self._paint_status()
        self._selected_changed()
        self._feature_changed()
        if self.mode == "attached" and view.watcher == "stopped" and self.live:
            self.watch_loop()  # the other watcher went away: take over

    def _subtitle(self) -> None:
        table = self._pane(HistoryTable)
        total = self.view.total_versions if self.view else 0
        shown = len(self.versions)
        count = (
            f"{shown} of {total} · more load at the end"
            if shown < total
            else plural(total, "version")
        )
        table.border_subtitle = f"{count} · Δ: gate, same rows"

    def poll(self) -> None:
        if not self._polling:
            self._polling = True
            self._poll()

    @work(thread=True, group="poll", exit_on_error=False)
    def _poll(self) -> None:
        from workbench.pipeline.status import watcher_state
        from workbench.watch import read_progress

        try:
            events = view_mod.new_events(self.store, self.last_event_id)
            watcher = watcher_state(self.store)
            progress = read_progress(self.store) if self.mode == "attached" else None
        except WorkbenchError:
            events, watcher, progress = [], "stopped", None  # busy store: try next tick
        self.post_message(StorePolled(events, watcher, progress))

    @_live
    def on_store_polled(self, message: StorePolled) -> None:
        events, watcher, progress = message.events, message.watcher, message.progress
        self._polling = False
        if self.mode == "attached":
            self.progress = progress
        if events or (self.view is not None and watcher != self.view.watcher):
            self.load_view()
        else:
            self._paint_status()

    # ------------------------------------------------------------------ watching

    @work(thread=True, group="watch", exit_on_error=False)
    def watch_loop(self) -> None:
        from workbench.watch import watch, watcher_lock

        self.watch_done.clear()
        try:
            with watcher_lock(self.store):
                self.post_message(WatcherModeChanged("own"))
                for ev in watch(
                    self.root,
                    self.store,
                    stop=self.stop,
                    progress=self._on_progress,
                    requests=self.requests,
                ):
                    # no break on stop: the loop ends by itself once a running cycle has
                    # recorded its end (``cancelled`` at the next progress point)
                    self.post_message(CycleEventPosted(ev))
        except UsageError:  # a headless watcher holds the lock: follow it
            self.post_message(WatcherModeChanged("attached"))
        except WorkbenchError as e:
            self.post_message(ActionFailed(e))
            self.post_message(WatcherModeChanged("off"))
        finally:
            self.watch_done.set()

    @property
    def closing(self) -> bool:
        return not self.screen_stack or (self.stop.is_set() and not self.is_running)

    @_live
    def on_watcher_mode_changed(self, message: WatcherModeChanged) -> None:
        self.mode = mode = message.mode
        if mode == "attached":
            self.notify("a watcher is already running on this project: following it")
        self._paint_status()

    def _on_progress(self, step: str, info: dict[str, Any]) -> None:
        """Called in the watch thread for every step and boosting round."""
        self.progress = {"step": step, **info}
        now = time.monotonic()
        edge = info.get("round") in (1, info.get("total"))  # always show the first and last
        if now - self._progress_painted >= PROGRESS_REFRESH_S or "round" not in info or edge:
            self._progress_painted = now
            self.post_message(StatusChanged())

    @_live
    def on_status_changed(self, _message: StatusChanged) -> None:
        self._paint_status()

    @_live
    def on_cycle_event_posted(self, message: CycleEventPosted) -> None:
        ev = message.event
        if ev.event == "cycle_started":
            self.cycle_running = True
        elif ev.event in ("cycle_finished", "watching"):
            self.cycle_running = False
            self.progress = None
        if ev.event == "cycle_finished" and ev.level == "error":
            hint = ev.data.get("hint")
            self.notify(
                ev.message + (f"\n{hint}" if hint else ""),
                title="cycle failed",
                severity="error",
                timeout=8,
            )
        self.load_view()

    def _paint_status(self) -> None:
        view = self.view
        if view is None:
            self._pane(StatusBar).say(Text(f" {self.project}  loading…"))
            return
        style = ""
        p = self.progress
        if p and p.get("step"):
            state = f"running: {p['step']}"
            if p.get("round"):
                state += f" round {p['round']}/{p.get('total', '?')}"
            style = "bold yellow"
        elif self.mode == "own":
            state = "watching"
            style = "green"
        elif self.mode == "attached":
            state = "following the headless watcher"
            style = "green"
        else:
            state = "not watching"
            style = "dim"
        if view.last_failure is not None and not (p and p.get("step")):
            state += " · last cycle failed"
            style = "bold red"
        if self.store_wait:
            state += f" · {self.store_wait}"
        extra = self._pane(PerformancePane).status_text()  # the newest monitored value
        self._pane(StatusBar).show(view, state, style, extra=extra)

    # ------------------------------------------------------------------ selection

    @on(DataTable.RowHighlighted, "#history")
    def _history_moved(self, event: DataTable.RowHighlighted) -> None:
        if self.closing:
            return
        self._selected_changed()
        table = self._pane(HistoryTable)
        if (
            self.view is not None
            and event.cursor_row >= table.row_count - 5
            and len(self.versions) < self.view.total_versions
            and not self._loading_more
        ):
            self._loading_more = True
            self._more(len(self.versions), self.page)

    @on(HistoryTable.WantsAll)
    def _load_all(self) -> None:
        """End: the oldest version, loading the rest of the history first if needed."""
        if self.closing:
            return
        if self.view is not None and len(self.versions) < self.view.total_versions:
            self._loading_more = True
            self._more(len(self.versions), None, True)

    @work(thread=True, group="more", exit_on_error=False)
    def _more(self, offset: int, limit: int | None = None, to_end: bool = False) -> None:
        try:
            more = view_mod.more_versions(self.store, offset, limit)
        except WorkbenchError as e:
            self.post_message(ActionFailed(e))
            more = []
        self.post_message(MoreVersionsLoaded(more, to_end))

    @_live
    def on_more_versions_loaded(self, message: MoreVersionsLoaded) -> None:
        more, to_end = message.versions, message.to_end
        self._loading_more = False
        if self.view is None:
            return
        known = {v.number for v in self.versions}
        more = [v for v in more if v.number not in known]
        self.versions.extend(more)
        table = self._pane(HistoryTable)
        table.add_rows_for(self.view, more)
        self._subtitle()
        if to_end:
            table.action_scroll_bottom()

    @on(DataTable.RowSelected, "#history")
    def _history_selected(self, _event: DataTable.RowSelected) -> None:
        if self.closing:
            return
        v = self.selected()
        if v is not None:
            self._open_details(v)

    def selected(self) -> VersionRecord | None:
        number = self._pane(HistoryTable).selected_number()
        return next((v for v in self.versions if v.number == number), None)

    def _selected_changed(self) -> None:
        v = self.selected()
        if v is None:
            self._pane(Details).show(None, None)
        else:
            self._details(v)

    @work(thread=True, group="details", exclusive=True, exit_on_error=False)
    def _details(self, v: VersionRecord) -> None:
        self.post_message(DetailsLoaded(v, view_mod.details(self.store, v), dialog=False))

    @_live
    def on_details_loaded(self, message: DetailsLoaded) -> None:
        """Paint a details result unless the selection moved on meanwhile (workers race)."""
        v, info = message.version, message.info
        if message.dialog:
            self.push_screen(TextScreen(v.name, details_text(v, info, self.size.width - 8)))
            return
        selected = self.selected()
        if selected is not None and selected.number == v.number:
            self._pane(Details).show(v, info)

    @work(thread=True, group="details", exit_on_error=False)
    def _open_details(self, v: VersionRecord) -> None:
        self.post_message(DetailsLoaded(v, view_mod.details(self.store, v), dialog=True))

    @on(DataTable.RowHighlighted, "#drift-table")
    def _feature_moved(self, _event: DataTable.RowHighlighted) -> None:
        if self.closing:
            return
        self._feature_changed()

    def _feature_changed(self) -> None:
        pane = self._pane(DriftPane)
        name = pane.selected_feature()
        drift = self.view.drift if self.view else None
        feature = drift.feature(name) if drift is not None and name is not None else None
        if feature is None:
            pane.show_feature(None, None)
        else:
            self._feature_history(feature)

    @work(thread=True, group="feature", exclusive=True, exit_on_error=False)
    def _feature_history(self, feature: FeatureDrift) -> None:
        try:
            history = view_mod.drift_history(self.store, feature.name)
        except WorkbenchError:
            history = []
        self.post_message(FeatureHistoryLoaded(feature, history))

    @_live
    def on_feature_history_loaded(self, message: FeatureHistoryLoaded) -> None:
        pane = self._pane(DriftPane)
        if pane.selected_feature() == message.feature.name:
            pane.show_feature(message.feature, message.history)

    # ------------------------------------------------------------------ actions

    def action_train(self) -> None:
        if self.mode == "own":
            self.requests.put("train")
            self.notify("training requested: the watcher runs it next")
        elif self.cycle_running:
            self.notify("a cycle is already running", severity="warning")
        else:
            self._train_here()

    @work(thread=True, group="cycle", exit_on_error=False)
    def _train_here(self) -> None:
        from workbench.pipeline.cycle import run_cycle

        settings = config_mod.load(self.root)
        self.post_message(CycleEventPosted(CycleEvent("cycle_started", "training requested")))
        for ev in run_cycle(settings, self.store, force=True, progress=self._on_progress):
            if ev.event == "cycle_finished":
                self.post_message(CycleEventPosted(ev))

    def action_snapshot(self) -> None:
        self._snapshot()

    @work(thread=True, group="snapshot", exit_on_error=False)
    def _snapshot(self) -> None:
        from workbench.data import snapshot

        snap = snapshot.take(config_mod.load(self.root), self.store)
        state = "new" if snap.created else "unchanged, already recorded"
        self.post_message(ActionDone(f"snapshot {snap.id} ({state})"))

    def action_rollback(self) -> None:
        v = self.selected()
        champion = self.view.champion if self.view else None
        if v is None:
            self.notify("no version selected", severity="warning")
            return
        if champion is not None and v.number == champion.number:
            self.notify(f"{v.name} is already the champion", severity="warning")
            return
        if v.status == "failed" or v.model_hash is None:
            self.notify(
                f"{v.name} failed to train and has no model: pick another version",
                severity="error",
            )
            return

        def confirmed(reason: str | None) -> None:
            if reason:
                self._rollback(v.name, reason)
            else:
                self.notify("rollback cancelled")

        self.push_screen(RollbackScreen(v, champion), confirmed)

    @work(thread=True, group="rollback", exit_on_error=False)
    def _rollback(self, version: str, reason: str) -> None:
        from workbench.model.rollback import rollback

        result = rollback(config_mod.load(self.root), self.store, version, reason=reason)
        self.post_message(
            ActionDone(f"{result.version.name} is the champion (was {result.previous})")
        )

    def action_diff(self) -> None:
        """The selected version against the champion, older first; on the champion, against
        the version it took over from."""
        v = self.selected()
        champion = self.view.champion if self.view else None
        if v is None or champion is None:
            self.notify("select a version; a diff needs a champion too", severity="warning")
            return
        other = champion if v.number != champion.number else self._before(champion)
        if other is None:
            self.notify(f"{v.name} is the first version: nothing to diff it with")
            return
        older, newer = sorted((v, other), key=lambda x: x.number)
        self._diff(older, newer, champion.number)

    def _before(self, champion: VersionRecord) -> VersionRecord | None:
        """The champion before ``champion`` took over, else the newest version before it."""
        changes = self.view.champion_changes if self.view else []
        previous = next((c.previous for c in changes if c.number == champion.number), None)
        older = [x for x in self.versions if x.number < champion.number]
        return next((x for x in older if x.number == previous), older[0] if older else None)

    @work(thread=True, group="diff", exit_on_error=False)
    def _diff(self, older: VersionRecord, newer: VersionRecord, champion: int) -> None:
        from workbench.data.diff import diff
        from workbench.render import diff_text

        text = comparison_text(older, newer)
        text.append("\n\n")
        text.append(diff_text(diff(self.store, older.name, newer.name)))

        def named(v: VersionRecord) -> str:
            return f"{v.name} (champion)" if v.number == champion else v.name

        self.post_message(TextReady(f"diff {named(older)} → {named(newer)}", text))

    @_live
    def on_text_ready(self, message: TextReady) -> None:
        self.push_screen(TextScreen(message.title, message.text))

    @_live
    def on_action_done(self, message: ActionDone) -> None:
        self.notify(message.message)
        self.load_view()

    @_live
    def on_action_failed(self, message: ActionFailed) -> None:
        self._error(message.error)

    def action_help(self) -> None:
        self.push_screen(TextScreen("help", help_text()))

    def action_details(self) -> None:
        v = self.selected()
        if v is None:
            self.notify("no version selected", severity="warning")
        else:
            self._open_details(v)

    def action_performance(self) -> None:
        """Show the Performance pane in the drift pane's place, or the drift pane again."""
        screen = self.screen_stack[0]
        screen.set_class(not screen.has_class("performance"), "performance")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette (ctrl+p): workbench's actions by name, then Textual's own."""
        yield SystemCommand(
            "Train now", "a new version, even if the inputs are unchanged (t)", self.action_train
        )
        yield SystemCommand(
            "Snapshot the inputs", "version data and config now (s)", self.action_snapshot
        )
        yield SystemCommand(
            "Roll back to the selected version",
            "make it the champion; asks for a reason (r)",
            self.action_rollback,
        )
        yield SystemCommand(
            "Diff the selected version with the champion", "older first (d)", self.action_diff
        )
        yield SystemCommand(
            "Details of the selected version",
            "gate, metrics, importance (enter)",
            self.action_details,
        )
        yield SystemCommand(
            "Approve the selected pending version", "it becomes champion (a)", self.action_approve
        )
        yield SystemCommand(
            "Reject the selected pending version", "the champion stays (x)", self.action_reject
        )
        yield SystemCommand(
            "Promote the selected version by hand", "ends a pin (p)", self.action_promote
        )
        yield SystemCommand(
            "Unpin the champion", "the gate may promote again (u)", self.action_unpin
        )
        yield SystemCommand(
            "Performance pane / drift pane",
            "realized and estimated metric per chunk, in the drift pane's place (m)",
            self.action_performance,
        )
        yield SystemCommand("Keys and how to read the panes", "the help (?)", self.action_help)
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        """Stop the watch loop (a running cycle ends as ``cancelled``, recorded), then exit."""
        self.stop.set()  # the loop abandons a running cycle at its next progress point
        if not self.watch_done.is_set():
            self._pane(StatusBar).say(Text(" stopping the watcher…", style="bold yellow"))
            await asyncio.to_thread(self.watch_done.wait, QUIT_WAIT_S)
        self.exit()

    def on_unmount(self) -> None:
        self.stop.set()  # however the app ends, the watch thread ends with it

    # ------------------------------------------------------------------ errors

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications carry user text and file content (``[modle]``, a column name): never
        parsed as markup unless a caller asks."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def _error(self, e: WorkbenchError) -> None:
        self.notify(
            e.message + (f"\n{e.hint}" if e.hint else ""),
            title=type(e).__name__,
            severity="error",
            timeout=10,
        )

    def _waiting(self, message: str) -> None:
        """A store session waits for another process: say so in the status bar."""
        self.store_wait = message
        self.post_message(StatusChanged())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every error a worker raises ends here (workers run with ``exit_on_error=False``): a
        ``WorkbenchError`` is a notification with its hint, anything else a notification naming
        the bug; never a crash. Workers catch only what they handle differently."""
        worker = event.worker
        if event.state != WorkerState.ERROR or worker.error is None:
            return
        if worker.group == "poll":
            self._polling = False
        if isinstance(worker.error, WorkbenchError):
            self._error(worker.error)
        else:
            self.notify(
                f"{type(worker.error).__name__}: {worker.error}\n"
                "this is a workbench bug; the app keeps running",
                title="internal error",
                severity="error",
                timeout=15,
            )
