"""The panes of the TUI: each formats a ``View`` (or part of it) and holds no state of its own
beyond what it shows. Nothing here touches the store: the app loads, the panes paint.

The charts are in ``charts``, the drift pane in ``drift_pane``; tables fit their width through
``columns``. Metrics: a version's own metric is from its own holdout; every delta shown is a
gate's same-rows ``Comparison`` (``view``), and the panes say so.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import RichLog, Static

from workbench.render import plural
from workbench.store.registry import VersionRecord
from workbench.store.session import EventRecord
from workbench.tui.columns import Column, FitTable, clip, cursor_key
from workbench.tui.view import View, gate_comparison

STATUS_STYLE = {
    "champion": "bold green",
    "candidate": "cyan",
    "rejected": "yellow",
    "failed": "red",
    "retired": "dim",
    "held": "magenta",
    "pending": "bold cyan",
}
LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "info": ""}


def fmt_metric(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"


def fmt_rows(n: int | None) -> str:
    """Row counts in at most 7 cells: ``12,000``, ``1.2M``."""
    if n is None:
        return "-"
    return f"{n:,}" if n < 1_000_000 else f"{n / 1e6:.1f}M"


def short_time(ts: str | None) -> str:
    """``2026-11-26T16:55:07.183+00:00`` -> ``11-26 16:55``."""
    return f"{ts[5:10]} {ts[11:16]}" if ts else "-"


def commit_label(v: VersionRecord) -> str:
    if not v.git_commit:
        return "-"
    return v.git_commit[:7] + ("*" if v.git_dirty else "")


def styled(style: str, text: str) -> Text:
    return Text(text, style=style)


class StatusBar(Static):
    """Project, champion and its metric, watcher state, last event time, counts: what does not
    fit the width is left out, least needed first (the state, a failure above all, stays)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.parts: list[tuple[int, Text]] = []  # (priority: lower stays longer, segment)

    def show(
        self, view: View, watcher: str, state_style: str = "", extra: Text | None = None
    ) -> None:
        parts: list[tuple[int, Text]] = [(0, styled("bold reverse", f" {view.project} "))]
        champ = Text("  champion ")
        if view.champion is not None:
            c = view.champion
            champ.append(c.name, style="bold green")
            champ.append(f" {c.metric} {fmt_metric(view.metric_of(c))}")
            if c.pinned:
                champ.append(" pinned", style="bold magenta")
        else:
            champ.append("none yet", style="dim")
        parts.append((0, champ))
        parts.append((0, Text("  │ ").append(watcher, style=state_style)))
        last = view.last_event_ts[11:19] if view.last_event_ts else "-"
        parts.append((2, Text(f"  │ last event {last}")))
        counts = f"{plural(view.total_versions, 'version')}, {plural(view.snapshots, 'snapshot')}"
        parts.append((1, Text(f"  │ {counts}")))
        if extra is not None:  # the newest monitored value (the Performance pane's)
            parts.append((1, extra))
        self.parts = parts
        self.refresh()

    def say(self, text: Text) -> None:
        """A whole-bar message (loading, stopping)."""
        self.parts = [(0, text)]
        self.refresh()

    @property
    def text(self) -> Text:
        return self._fitted(10_000)

    def render(self) -> RenderResult:
        return self._fitted(self.size.width)

    def _fitted(self, width: int) -> Text:
        keep = list(self.parts)
        while len(keep) > 1 and sum(len(t) for _, t in keep) > width:
            drop = max(range(len(keep)), key=lambda i: (keep[i][0], i))
            if keep[drop][0] == 0:
                break
            del keep[drop]
        out = Text(no_wrap=True, overflow="ellipsis")
        for _, t in keep:
            out.append_text(t)
        return out


class HistoryTable(FitTable):
    """Model versions newest first; row keys are version numbers.

    ``metric`` is each version's own holdout metric; ``Δ gate`` and ``vs`` are its gate's
    comparison with the champion of that moment, on the same rows. When a new version arrives
    while the cursor is on the newest row, the cursor moves to it (as ``tail -f`` follows);
    anywhere else the cursor stays on the version it was on.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "Newest", show=False),
        Binding("end", "oldest", "Oldest", show=False),
    ]
    COLUMNS = (
        Column("mark", "", 1),
        Column("version", "version", 6),
        Column("status", "status", 9),
        Column("metric", "metric", 6),
        Column("delta", "Δ gate", 7),
        Column("vs", "vs", 6, priority=1),
        Column("time", "time", 11, priority=2),
        Column("commit", "commit", 8, priority=3),
        Column("rows", "rows", 7, priority=4),
        Column("snapshot", "snapshot", 8, priority=5),
    )

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.view: View | None = None
        self.versions: list[VersionRecord] = []

    class WantsAll(Message):
        """End was pressed while older versions are not loaded yet."""

    def action_oldest(self) -> None:
        self.post_message(self.WantsAll())
        self.action_scroll_bottom()

    def show(self, view: View, versions: list[VersionRecord]) -> None:
        """Replace the rows: the cursor follows a new newest version if it was on the newest,
        else stays on its version."""
        selected = self.selected_number()
        newest_before = self.versions[0].number if self.versions else None
        follow = selected is None or selected == newest_before
        self.view, self.versions = view, list(versions)
        self.clear()
        self.fill()
        if follow and versions:
            self.move_cursor(row=0, animate=False)
        else:
            self.move_to(str(selected) if selected is not None else None)

    def add_rows_for(self, view: View, versions: list[VersionRecord]) -> None:
        """Append older versions (a page loaded as the cursor nears the end)."""
        self.view = view
        self.versions.extend(v for v in versions if str(v.number) not in self.rows)
        self._add(versions)

    def fill(self) -> None:
        self._add(self.versions)

    def _add(self, versions: list[VersionRecord]) -> None:
        if self.view is None:
            return
        for v in versions:
            if str(v.number) not in self.rows:
                self.add_cells(self.cells(self.view, v), key=str(v.number))

    def cells(self, view: View, v: VersionRecord) -> dict[str, Any]:
        is_champ = view.champion is not None and v.number == view.champion.number
        c = gate_comparison(v)
        if c is not None:
            style = "green" if c.better else ("red" if c.better is False else "")
            delta, vs = styled(style, f"{c.delta:+.4f}"), c.older
        else:
            first = v.gate is not None and v.gate.get("champion_version") is None
            delta, vs = styled("dim", "first" if first else "-"), "-"
        return {
            "mark": styled("bold green", "★") if is_champ else "",
            "version": styled("bold" if is_champ else "", v.name),
            "status": styled(STATUS_STYLE.get(v.status, ""), v.status),
            "metric": fmt_metric(view.metric_of(v)),
            "delta": delta,
            "vs": vs,
            "time": short_time(v.created_at),
            "commit": commit_label(v),  # a branch or commit is user text: never markup
            "rows": fmt_rows(v.rows),
            "snapshot": v.snapshot_id[:8],
        }

    def selected_number(self) -> int | None:
        key = cursor_key(self)
        return int(key) if key is not None else None


def importance_lines(importance: list[tuple[str, float]], width: int) -> list[Text]:
    """The top features by gain, in as many columns of ~36 cells as ``width`` holds."""
    total = sum(float(g) for _, g in importance) or 1.0
    cols = max(1, min(2, width // 36))
    per = -(-len(importance) // cols)
    lines = [Text("  ") for _ in range(per)]
    for i, (name, gain) in enumerate(importance):
        share = float(gain) / total
        bar = "█" * max(1, round(share * 8))
        cell = Text(f"{clip(name, 18):<18} ")  # a column name is user text: never markup
        cell.append(f"{bar:<8}", style="cyan")
        cell.append(f" {share:5.1%}  ")
        lines[i % per].append_text(cell)
    return lines


def details_text(v: VersionRecord, info: dict[str, Any], width: int = 80) -> Text:
    """One version: its gate (the same-rows comparison), metrics on its own holdout, champion
    entries, params, importance (top 10) and timings — the short things first."""
    text = Text()
    text.append(v.name, style="bold")
    text.append(f"  {v.status}", style=STATUS_STYLE.get(v.status, ""))
    when = v.created_at[:16].replace("T", " ")
    text.append(f"  snapshot {v.snapshot_id}  by {v.created_by}  {when}\n")
    if v.error:
        text.append(f"failed: {v.error}\n", style="red")
    c = gate_comparison(v)
    if c is not None:
        text.append(f"gate {c.decision}: ", style="bold")
        text.append(f"{c.sentence()}\n")
    elif v.gate:
        text.append(f"{v.gate.get('reason', '')}\n", style="italic")
    if v.metrics:
        text.append("metrics (own holdout)  ", style="bold")
        text.append("  ".join(f"{k}={fmt_metric(float(x))}" for k, x in v.metrics.items()) + "\n")
    for change in info.get("champion_changes") or []:
        text.append(
            f"champion {change.ts[:16].replace('T', ' ')} by {change.actor}: {change.reason}\n",
            style="green",
        )
    params = info.get("params") or {}
    if params:
        shown = {k: x for k, x in params.items() if k not in ("verbosity", "deterministic")}
        text.append("params  ", style="bold")
        text.append(", ".join(f"{k}={x}" for k, x in shown.items()))
        if info.get("best_iteration") is not None:
            text.append(f", rounds={info['best_iteration']}/{info.get('num_boost_round')}")
        text.append("\n")
    importance = info.get("importance") or []
    if importance:
        text.append(f"importance (gain, top {len(importance)})\n", style="bold")
        for line in importance_lines(importance, width):
            line.rstrip()
            text.append_text(line)
            text.append("\n")
    if v.timings:
        text.append("timings  ", style="bold")
        text.append("  ".join(f"{k} {s:.2f}s" for k, s in v.timings.items()))
    text.rstrip()
    return text


class Details(VerticalScroll, can_focus=True):
    """The selected version's details; focusable (tab), scrolls with the arrow keys."""

    version: VersionRecord | None = None
    info: dict[str, Any] | None = None

    def compose(self) -> Any:
        yield Static(id="details-body")

    def show(self, v: VersionRecord | None, info: dict[str, Any] | None) -> None:
        self.version, self.info = v, info
        self._paint()

    def on_resize(self, _event: events.Resize) -> None:
        self._paint()

    @property
    def text(self) -> Text:
        if self.version is None:
            return Text("no version yet: add data or press t to train", style="dim")
        return details_text(self.version, self.info or {}, self.size.width)

    def _paint(self) -> None:
        self.query_one("#details-body", Static).update(self.text)


def event_line(e: EventRecord) -> Text:
    text = Text(f"{e.ts[5:10]} {e.ts[11:19]} ", style="dim")
    text.append(e.message, style=LEVEL_STYLE.get(e.level, ""))
    hint = e.data.get("hint") if isinstance(e.data, dict) else None
    if hint:
        text.append(f" — {hint}", style="italic")
    return text


class EventsLog(RichLog):
    """Every event the store records, in time order, long ones wrapped (the store records a
    cycle's held events after others that happened later, so order comes from ``ts``).
    Focused (tab or a click), the pane grows to show more (app.tcss)."""

    MAX = 2000

    def __init__(self, **kw: Any) -> None:
        super().__init__(wrap=True, min_width=20, max_lines=self.MAX, **kw)
        self.shown: list[EventRecord] = []

    def add(self, events: list[EventRecord]) -> None:
        known = {e.id for e in self.shown}
        fresh = sorted((e for e in events if e.id not in known), key=_order)
        if not fresh:
            return
        in_order = not self.shown or _order(fresh[0]) >= _order(self.shown[-1])
        self.shown = sorted([*self.shown, *fresh], key=_order)[-self.MAX :]
        if in_order:
            for e in fresh:
                self.write(event_line(e))
        else:
            self._rewrite()

    def on_resize(self, _event: events.Resize) -> None:
        self._rewrite()  # wrapped lines follow the new width

    def _rewrite(self) -> None:
        self.clear()
        for e in self.shown:
            self.write(event_line(e))

    @property
    def plain(self) -> str:
        return "\n".join(event_line(e).plain for e in self.shown)


def _order(e: EventRecord) -> tuple[str, int]:
    return (e.ts, e.id)
