"""The drift pane: the dataset summary, the per-feature table, the selected feature's plots.

The summary names the version the drift was measured against. After a rollback (or any
change of champion) the newest stored result may be against the old champion; ``view.load``
takes a result against the new one when the store has it, and otherwise the summary says the
result is against a former champion and that the next cycle measures against the new one.
In small terminals the plots give way to the table (the ``compact`` layout), never the
other way round.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.app import RenderResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from workbench.monitor.stats import P_VALUE_METHODS
from workbench.store.drift import DriftResult, FeatureDrift
from workbench.tui.charts import FeatureOverTime
from workbench.tui.columns import Column, FitTable, cursor_key
from workbench.tui.view import View

# the table's method column; the help and the histogram's title spell them out
METHOD_SHORT = {
    "wasserstein": "wass",
    "jensenshannon": "js",
    "chisquare": "chi2",
    "ks": "ks",
    "z": "z",
    "psi": "psi",
}


def fmt_score(value: float | None) -> str:
    """A score or threshold in at most 6 cells: ``0.910``, ``0.004``, ``3e-05``, ``12.3``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    x = float(value)
    if x != 0 and abs(x) < 0.001:
        return f"{x:.0e}"
    return f"{x:.3f}" if abs(x) < 10 else f"{x:.4g}"


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
    text.append(f" ({feature.method}) ")
    text.append("ref", style="cyan")
    text.append(" / ")
    text.append("cur\n", style="magenta")
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


def drift_summary(view: View | None) -> Text:
    drift = view.drift if view is not None else None
    if view is None or drift is None:
        return Text("no drift result yet (needs a champion and newer data)", style="dim")
    if not drift.features and drift.note:
        return Text(f"{drift.note} (reference {drift.reference_version})", style="dim")
    text = Text()
    flag = drift.dataset_drift
    text.append("DATASET DRIFT" if flag else "no drift", style="bold red" if flag else "green")
    text.append(
        f" {drift.drifted_features}/{len(drift.features)} features ({drift.drift_share:.0%})"
        f" vs {drift.reference_version}\n"
    )
    if view.drift_is_stale and view.champion is not None:  # before the details: it must show
        text.append(
            f"{drift.reference_version} is no longer the champion: the next cycle measures"
            f" against {view.champion.name}\n",
            style="yellow",
        )
    text.append(f"{drift.current_rows:,} rows")
    pred = drift.prediction_drift
    if pred is not None:
        text.append(" · prediction ")
        text.append(
            f"{METHOD_SHORT.get(pred.method or '', pred.method)} {fmt_score(pred.score)}",
            style="red" if pred.drifted else "",
        )
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


class DriftTable(FitTable):
    """One row per feature, the most drifted first; row keys are feature names."""

    COLUMNS = (
        Column("feature", "feature", 10, grow=14),
        Column("method", "method", 5),
        Column("score", "score", 6),
        Column("thresh", "thresh", 6),
        Column("drift", "drift", 5),
        Column("psi", "psi", 6, priority=1),
    )

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.features: list[FeatureDrift] = []

    def show(self, features: list[FeatureDrift]) -> None:
        selected = cursor_key(self)
        self.features = features
        self.clear()
        self.fill()
        self.move_to(selected)

    def fill(self) -> None:
        for f in self.features:
            self.add_cells(
                {
                    "feature": f.name,  # a column name is user text: never markup
                    "method": METHOD_SHORT.get(f.method or "", f.method or "-"),
                    "score": fmt_score(f.score),
                    "thresh": fmt_score(f.threshold),
                    "drift": Text("yes", style="bold red")
                    if f.drifted
                    else Text("no", style="dim"),
                    "psi": fmt_score(f.psi),
                },
                key=f.name,
            )


class DriftPane(Vertical):
    def compose(self) -> Any:
        yield Static(id="drift-summary")
        yield DriftTable(id="drift-table")
        with Horizontal(id="drift-plots"):
            yield Static(id="drift-note")
            yield FeatureHistogram(id="drift-hist")
            yield FeatureOverTime(id="drift-time")

    def show(self, view: View) -> None:
        drift = view.drift
        self.query_one("#drift-summary", Static).update(drift_summary(view))
        self.set_class(drift is None or not drift.features, "empty")
        self.set_class(view.drift_is_stale, "stale")  # room for the note saying so
        self.query_one(DriftTable).show(sorted_features(drift))

    def selected_feature(self) -> str | None:
        return cursor_key(self.query_one(DriftTable))

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
