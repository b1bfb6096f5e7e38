"""The Performance pane: the champion's realized and estimated gate metric (or KPI) per chunk.

One line per series over the chunks, oldest left: realized (where labels came), estimated
(CBPE / DLE), and the alert band's bounds; a chunk whose value left its band is marked red.
A summary line above names the newest chunk and says any open alert; the status bar shows the
same newest value (``status_text``).

The chunks are read in a thread worker (one read session, ``store.outcomes.chunks``), and only
when the store has news (the view's last event id moved), never on the UI thread.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static

from workbench.store import Store
from workbench.store import outcomes as table
from workbench.store.outcomes import ChunkRecord
from workbench.tui.charts import Chart
from workbench.tui.view import View

CHUNKS = 60  # newest chunks drawn


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def value_of(c: ChunkRecord, name: str) -> tuple[float | None, str]:
    m = c.metric(name)
    if m is None:
        return None, ""
    if m.realized is not None:
        return m.realized, "realized"
    return m.estimated, "estimated"


def summary(chunks: list[ChunkRecord], name: str, version: str | None) -> Text:
    if version is None:
        return Text("no champion yet", style="dim")
    if not chunks:
        return Text(
            f"{version}: no chunk yet (new labelled files or delayed labels are monitored)",
            style="dim",
        )
    last = chunks[-1]
    value, how = value_of(last, name)
    text = Text(f"{version} {name} {fmt(value)} {how} on {last.key}")
    alerts = [c for c in chunks if c.alerts]
    if last.alerts:
        text.append(f"\nALERT: {', '.join(last.alerts)}", style="bold red")
    elif alerts:
        text.append(f"\n{len(alerts)} earlier chunk(s) alerted", style="yellow")
    return text


class PerformanceChart(Chart):
    """Realized and estimated ``name`` per chunk with the band; alerts marked."""

    chunks: list[ChunkRecord]
    name: str = ""

    def draw(self, plt: Any, width: int) -> None:
        chunks = getattr(self, "chunks", [])
        if not chunks or not self.name:
            plt.title("performance per chunk: no chunk yet")
            return
        xs = list(range(1, len(chunks) + 1))
        rows = [c.metric(self.name) for c in chunks]

        def series(attr: str) -> tuple[list[int], list[float]]:
            pts = [(x, getattr(m, attr)) for x, m in zip(xs, rows, strict=True) if m is not None]
            kept = [(x, float(v)) for x, v in pts if v is not None]
            return [x for x, _ in kept], [v for _, v in kept]

        for attr, color in (("lower", "gray"), ("upper", "gray")):
            bx, by = series(attr)
            if bx:
                plt.plot(bx, by, color=color)
        ex, ey = series("estimated")
        if ex:
            plt.plot(ex, ey, marker="braille", color="cyan", label="estimated")
        rx, ry = series("realized")
        if rx:
            plt.plot(rx, ry, marker="braille", color="green", label="realized")
        bad = [
            (x, v)
            for x, c in zip(xs, chunks, strict=True)
            if self.name in c.alerts and (v := value_of(c, self.name)[0]) is not None
        ]
        if bad:
            plt.scatter([x for x, _ in bad], [v for _, v in bad], marker="●", color="red")
        plt.title(f"{self.name} per chunk")


class PerformancePane(Vertical):
    """Summary above, the chart below (see the module docstring)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.chunks: list[ChunkRecord] = []
        self.version: str | None = None
        self.metric = ""
        self._seen: tuple[int, str | None] | None = None

    def compose(self) -> Any:
        yield Static(id="performance-summary")
        yield PerformanceChart(id="performance-chart")

    def show(self, view: View, store: Store, metric: str) -> None:
        """Reload the chunks in a worker when the store has news."""
        champion = view.champion
        key = (view.last_event_id, champion.name if champion else None)
        if key == self._seen:
            return
        self._seen = key
        self.metric = metric
        number = champion.number if champion is not None else None
        name = champion.name if champion is not None else None
        self.run_worker(
            lambda: self._load(store, number, name),
            thread=True,
            group="performance",
            exclusive=True,
            exit_on_error=False,
        )

    def _load(self, store: Store, number: int | None, name: str | None) -> None:
        chunks: list[ChunkRecord] = []
        if number is not None:
            with store.read() as s:
                chunks = table.chunks(s, number, limit=CHUNKS)
        self.app.call_from_thread(self.paint, chunks, name)

    def paint(self, chunks: list[ChunkRecord], version: str | None) -> None:
        self.chunks, self.version = chunks, version
        self.query_one("#performance-summary", Static).update(summary(chunks, self.metric, version))
        chart = self.query_one(PerformanceChart)
        chart.chunks, chart.name = chunks, self.metric
        chart.refresh()
        status = getattr(self.app, "_paint_status", None)
        if callable(status):
            status()

    def status_text(self) -> Text | None:
        """The status bar's segment: the newest chunk's value, red when it alerts."""
        if not self.chunks:
            return None
        last = self.chunks[-1]
        value, how = value_of(last, self.metric)
        text = Text(f"  │ {self.metric} {fmt(value)} {how}")
        if last.alerts:
            text.append(" ALERT", style="bold red")
        return text
