"""The panes of the TUI: each formats a ``View`` (or part of it) and holds no state of its own
beyond what it shows. Nothing here touches the store: the app loads, the panes paint.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from rich.text import Text
from textual.app import RenderResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, RichLog, Static
from textual.widgets.data_table import CellDoesNotExist
from textual_plotext import PlotextPlot

from workbench.monitor.stats import P_VALUE_METHODS
from workbench.render import plural
from workbench.store.drift import DriftResult, FeatureDrift
from workbench.store.registry import VersionRecord
from workbench.store.session import EventRecord
from workbench.tui.view import View

STATUS_STYLE = {
    "champion": "bold green",
    "candidate": "cyan",
    "rejected": "yellow",
    "failed": "red",
    "retired": "dim",
}
LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "info": ""}


def fmt_metric(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"


def short_time(ts: str | None) -> str:
    """``2026-11-26T16:55:07.183+00:00`` -> ``11-26 16:55``."""
    return f"{ts[5:10]} {ts[11:16]}" if ts else "-"


def commit_label(v: VersionRecord) -> str:
    if not v.git_commit:
        return "-"
    return v.git_commit[:7] + ("*" if v.git_dirty else "")


def cursor_key(table: DataTable[Any]) -> str | None:
    """The row key under a table's cursor, or None for an empty table."""
    if table.row_count == 0:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except CellDoesNotExist:
        return None


class StatusBar(Static):
    """Project, champion and its gate metric, watcher state, last event time."""

    def show(self, view: View, watcher: str, state_style: str = "") -> None:
        text = Text()
        text.append(f" {view.project} ", style="bold reverse")
        text.append("  champion ")
        if view.champion is not None:
            c = view.champion
            text.append(c.name, style="bold green")
            text.append(f" {c.metric}={fmt_metric(view.metric_of(c))}")
        else:
            text.append("none yet", style="dim")
        text.append("  │ ")
        text.append(watcher, style=state_style)
        text.append("  │ last event ")
        text.append(view.last_event_ts[11:19] if view.last_event_ts else "-")
        text.append(
            f"  │ {plural(view.total_versions, 'version')}, {plural(view.snapshots, 'snapshot')}"
        )
        self.update(text)


class HistoryTable(DataTable[Any]):
    """Model versions newest first; row keys are version numbers."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "Newest", show=False),
        Binding("end", "oldest", "Oldest", show=False),
    ]

    # the columns people scan first come first: narrow terminals cut (and scroll) the rest
    # fixed widths: columns do not jump as live rows arrive
    COLUMNS = (
        ("", 1),
        ("version", 7),
        ("status", 9),
        ("metric", 6),
        ("Δ champ", 7),
        ("time", 11),
        ("rows", 9),
        ("commit", 8),
        ("snapshot", 8),
    )

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label, width in self.COLUMNS:
            self.add_column(label, width=width)

    class WantsAll(Message):
        """End was pressed while older versions are not loaded yet."""

    def action_oldest(self) -> None:
        self.post_message(self.WantsAll())
        self.action_scroll_bottom()

    def show(self, view: View, versions: list[VersionRecord]) -> None:
        """Replace the rows, keeping the highlighted version highlighted."""
        selected = self.selected_number()
        self.clear()
        self.add_rows_for(view, versions)
        if selected is not None and str(selected) in self.rows:
            self.move_cursor(row=self.get_row_index(str(selected)), animate=False)

    def add_rows_for(self, view: View, versions: list[VersionRecord]) -> None:
        for v in versions:
            if str(v.number) in self.rows:
                continue
            self.add_row(*self.cells(view, v), key=str(v.number))

    def cells(self, view: View, v: VersionRecord) -> list[Any]:
        is_champ = view.champion is not None and v.number == view.champion.number
        delta = view.delta(v)
        better = view.better(v)
        delta_text = Text(
            "-" if delta is None or is_champ else f"{delta:+.4f}",
            style="green" if better else ("red" if better is False else ""),
        )
        return [
            Text("★", style="bold green") if is_champ else "",
            Text(v.name, style="bold" if is_champ else ""),
            Text(v.status, style=STATUS_STYLE.get(v.status, "")),
            fmt_metric(view.metric_of(v)),
            delta_text,
            short_time(v.created_at),
            f"{v.rows:,}" if v.rows is not None else "-",
            Text(commit_label(v)),  # a branch name is user text: never markup
            v.snapshot_id[:8],
        ]

    def selected_number(self) -> int | None:
        key = cursor_key(self)
        return int(key) if key is not None else None


def details_text(v: VersionRecord, info: dict[str, Any]) -> Text:
    """The details of one version: gate, metrics, params, importance, champion history."""
    text = Text()
    text.append(f"{v.name}", style="bold")
    text.append(f"  {v.status}", style=STATUS_STYLE.get(v.status, ""))
    text.append(f"  snapshot {v.snapshot_id}  by {v.created_by}  {v.created_at[:19]}\n")
    if v.error:
        text.append(f"failed: {v.error}\n", style="red")
    if v.gate:
        text.append(f"{v.gate.get('reason', '')}\n", style="italic")
    if v.metrics:
        text.append("metrics  ", style="bold")
        text.append("  ".join(f"{k}={fmt_metric(float(x))}" for k, x in v.metrics.items()) + "\n")
    params = info.get("params") or {}
    if params:
        shown = {k: x for k, x in params.items() if k not in ("verbosity", "deterministic")}
        text.append("params   ", style="bold")
        text.append(", ".join(f"{k}={x}" for k, x in shown.items()))
        if info.get("best_iteration") is not None:
            text.append(f", rounds={info['best_iteration']}/{info.get('num_boost_round')}")
        text.append("\n")
    importance = info.get("importance") or []
    if importance:
        total = sum(float(g) for _, g in importance) or 1.0
        text.append("importance (gain, top 10)\n", style="bold")
        for name, gain in importance:
            share = float(gain) / total
            text.append(f"  {name:<22.22} {'█' * max(1, round(share * 20)):<20} {share:5.1%}\n")
    for c in info.get("champion_changes") or []:
        text.append(f"champion {c.ts[:19]} by {c.actor}: {c.reason}\n", style="green")
    if v.timings:
        text.append("timings  ", style="bold")
        text.append("  ".join(f"{k} {s:.2f}s" for k, s in v.timings.items()))
    return text


class Details(Static):
    def show(self, v: VersionRecord | None, info: dict[str, Any] | None) -> None:
        if v is None:
            self.update(Text("no version yet: add data or press t to train", style="dim"))
        else:
            self.update(details_text(v, info or {}))


class Chart(PlotextPlot):
    """A plot drawn from scratch on every render: a pure function of its data and its size.

    (Plotext keeps tick and size state between builds; redrawing everything each time keeps
    a resized or repainted chart identical to a fresh one.)
    """

    def render(self) -> RenderResult:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self.draw(plt, self.size.width)
        return super().render()

    def draw(self, plt: Any, width: int) -> None:
        raise NotImplementedError


class MetricChart(Chart):
    """The gate metric per version, champions marked, the champion's level as a line."""

    view: View | None = None

    def show(self, view: View) -> None:
        self.view = view
        self.refresh()

    def draw(self, plt: Any, width: int) -> None:
        view = self.view
        if view is None:
            return
        ok = [v for v in reversed(view.versions) if view.metric_of(v) is not None]
        if view.champion is not None:
            ok = [v for v in ok if v.metric == view.champion.metric]
        if not ok:
            plt.title("no trained versions yet")
            return
        metric = ok[-1].metric
        xs = [v.number for v in ok]
        ys = [view.metric_of(v) or 0.0 for v in ok]
        plt.plot(xs, ys, marker="braille", label=metric)
        if max(ys) - min(ys) < 1e-9:  # one level: a readable band around it, not 0.4 to 1.25
            plt.ylim(ys[0] - 0.01, ys[0] + 0.01)
        champs = [v for v in ok if v.number in view.ever_champion]
        if champs:
            plt.scatter(
                [v.number for v in champs],
                [view.metric_of(v) or 0.0 for v in champs],
                marker="●",
                color="green",
                label="champion",
            )
        if view.champion is not None and view.metric_of(view.champion) is not None:
            plt.hline(view.metric_of(view.champion) or 0.0, "green")
        fits = max(2, (width - 10) // 7)  # tick labels like "v123" with room between them
        step = max(1, -(-len(xs) // fits))
        plt.xticks([float(x) for x in xs[::step]], [f"v{x}" for x in xs[::step]])
        plt.title(f"{metric} per version")


SPARK = " ▁▂▃▄▅▆▇█"


def spark(values: list[float], top: float) -> str:
    """One character per value, its height relative to ``top``."""
    if top <= 0:
        return " " * len(values)
    return "".join(SPARK[min(8, round(8 * max(v, 0.0) / top))] for v in values)


def histogram_text(feature: FeatureDrift, width: int, height: int = 7) -> Text:
    """Reference vs current share of rows per bin (or category) for one feature.

    Numerical bins: two sparklines on one scale with the range under them. Categories: one
    line per level, a reference bar then a current bar. Text, not a plot, so it reads in a
    few lines and renders identically every time.
    """
    h = feature.histogram or {}
    labels = [str(x) for x in h.get("labels", [])]
    ref = [float(x) for x in h.get("reference", [])]
    cur = [float(x) for x in h.get("current", [])]
    top = max([*ref, *cur, 0.0])
    text = Text()
    text.append(f"{feature.name}", style="bold")
    text.append("  share of rows: ")
    text.append("reference", style="cyan")
    text.append(" / ")
    text.append("current\n", style="magenta")
    edges = h.get("edges")
    if edges:
        n = min(len(ref), max(4, width - 5))
        k = max(1, min(4, (width - 5) // max(n, 1)))  # characters per bin
        text.append("ref ", style="cyan")
        text.append("".join(ch * k for ch in spark(ref[:n], top)) + "\n", style="cyan")
        text.append("cur ", style="magenta")
        text.append("".join(ch * k for ch in spark(cur[:n], top)) + "\n", style="magenta")
        lo, hi = f"{float(edges[0]):.3g}", f"{float(edges[n]):.3g}"
        text.append(f"    {lo}{' ' * max(1, n * k - len(lo) - len(hi))}{hi}")
        return text
    room = max(2, (width - 14) // 2)
    for label, r, c in list(zip(labels, ref, cur, strict=False))[: max(1, height - 1)]:
        text.append(f"{label[:10]:>10} ")
        text.append(f"{'█' * round(room * r / (top or 1)):<{room}} ", style="cyan")
        text.append(f"{'█' * round(room * c / (top or 1))}\n", style="magenta")
    return text


class FeatureHistogram(Static):
    """Reference vs current distribution of the selected feature (see ``histogram_text``)."""

    feature: FeatureDrift | None = None

    def render(self) -> RenderResult:
        if self.feature is None or not self.feature.histogram:
            return Text("")
        return histogram_text(self.feature, self.size.width, self.size.height)


class FeatureOverTime(Chart):
    """One feature's drift score over the stored results, with its threshold."""

    feature: FeatureDrift | None = None
    history: list[dict[str, Any]] | None = None

    def draw(self, plt: Any, width: int) -> None:
        feature = self.feature
        points = [
            float(h["feature"]["score"])
            for h in self.history or []
            if h.get("feature") and h["feature"].get("score") is not None
        ]
        if feature is None or len(points) < 2:
            plt.title("drift over time: needs two results")
            return
        plt.plot(list(range(1, len(points) + 1)), points, marker="braille")
        if feature.threshold is not None:
            plt.hline(float(feature.threshold), "red")
        plt.title(f"{feature.name} score, last {len(points)} results")


def drift_summary(drift: DriftResult | None) -> Text:
    if drift is None:
        return Text("no drift result yet (needs a champion and newer data)", style="dim")
    if not drift.features and drift.note:
        return Text(f"{drift.note} (reference {drift.reference_version})", style="dim")
    text = Text()
    flag = drift.dataset_drift
    text.append(
        "DATASET DRIFT" if flag else "no dataset drift", style="bold red" if flag else "green"
    )
    text.append(
        f"  {drift.drifted_features}/{len(drift.features)} features"
        f" ({drift.drift_share:.0%})"
        f"  vs {drift.reference_version}  {drift.current_rows:,} rows"
    )
    pred = drift.prediction_drift
    if pred is not None:
        text.append("  prediction: ")
        text.append(f"{pred.method} {fmt_metric(pred.score)}", style="red" if pred.drifted else "")
    if drift.note:
        text.append(f"\n{drift.note}", style="dim")
    return text


def sorted_features(drift: DriftResult | None) -> list[FeatureDrift]:
    """Features by score, largest first (p-value methods: smallest p first)."""
    feats = list(drift.features) if drift is not None else []

    def key(f: FeatureDrift) -> tuple[int, float]:
        score = f.score
        if score is None or (isinstance(score, float) and math.isnan(score)):
            return (2, 0.0)
        lower_is_worse = f.method in P_VALUE_METHODS
        return (0 if f.drifted else 1, float(score) if lower_is_worse else -float(score))

    return sorted(feats, key=key)


class DriftPane(Vertical):
    def compose(self) -> Any:
        yield Static(id="drift-summary")
        yield DataTable(id="drift-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="drift-plots"):
            yield Static(id="drift-note")
            yield FeatureHistogram(id="drift-hist")
            yield FeatureOverTime(id="drift-time")

    def on_mount(self) -> None:
        table = self.query_one("#drift-table", DataTable)
        for label, width in (
            ("feature", 18),
            ("method", 13),
            ("score", 6),
            ("thresh", 6),
            ("drift", 5),
        ):
            table.add_column(label, width=width)

    def show(self, drift: DriftResult | None) -> None:
        self.query_one("#drift-summary", Static).update(drift_summary(drift))
        self.query_one("#drift-plots").display = bool(drift is not None and drift.features)
        table = self.query_one("#drift-table", DataTable)
        selected = self.selected_feature()
        table.clear()
        for f in sorted_features(drift):
            table.add_row(
                Text(f.name),  # a column name is user text: never markup
                f.method or "-",
                fmt_metric(f.score),
                fmt_metric(f.threshold),
                Text("yes", style="bold red") if f.drifted else Text("no", style="dim"),
                key=f.name,
            )
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    def selected_feature(self) -> str | None:
        return cursor_key(self.query_one("#drift-table", DataTable))

    def show_feature(
        self, feature: FeatureDrift | None, history: list[dict[str, Any]] | None
    ) -> None:
        """The selected feature: reference vs current histogram, and its score over time."""
        histogram = feature.histogram if feature is not None else None
        note = self.query_one("#drift-note", Static)
        if feature is None or not histogram:
            note.update(
                Text(
                    "select a feature"
                    if feature is None
                    else f"{feature.name}: this result has no histogram "
                    "(recompute with `workbench drift --force`)",
                    style="dim",
                )
            )
        else:
            note.update("")
        hist = self.query_one(FeatureHistogram)
        hist.feature = feature
        hist.display = bool(histogram)
        hist.refresh()
        over = self.query_one(FeatureOverTime)
        over.feature, over.history = feature, history
        over.refresh()


def event_line(e: EventRecord) -> Text:
    text = Text(f"{e.ts[11:19]} ", style="dim")
    text.append(e.message, style=LEVEL_STYLE.get(e.level, ""))
    hint = e.data.get("hint") if isinstance(e.data, dict) else None
    if hint:
        text.append(f" — {hint}", style="italic")
    return text


class EventsLog(RichLog):
    """The live log: every event the store records, oldest at the top."""

    def add(self, events: list[EventRecord]) -> None:
        for e in events:
            self.write(event_line(e))
