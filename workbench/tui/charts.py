"""The plots: each gate's same-rows delta per version, and one feature's drift over time.

The metric chart does not draw each version's own metric as one line: those come from
different holdouts and would read as a trend they are not. It draws what each gate measured
on one set of rows — the candidate minus the champion of that moment — with promotions marked
and zero as the line to beat.
"""

from __future__ import annotations

from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from workbench.store.drift import FeatureDrift
from workbench.tui.view import View, gate_comparison


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


def ticks(xs: list[int], width: int) -> tuple[list[float], list[str]]:
    """Version ticks (``v123``) with room between them."""
    fits = max(2, (width - 10) // 7)
    step = max(1, -(-len(xs) // fits))
    return [float(x) for x in xs[::step]], [f"v{x}" for x in xs[::step]]


class MetricChart(Chart):
    """Per version, its gate's delta on the same rows (``title`` names the metric); above
    zero is better for AUC-like metrics, below zero for losses."""

    view: View | None = None

    def show(self, view: View) -> None:
        self.view = view
        self.refresh()

    @property
    def title(self) -> str:
        metric = self.view.champion.metric if self.view and self.view.champion else "metric"
        return f"{metric} Δ at gate (same rows)"

    def draw(self, plt: Any, width: int) -> None:
        view = self.view
        if view is None:
            return
        points = [
            (v.number, c) for v in reversed(view.versions) if (c := gate_comparison(v)) is not None
        ]
        if not points:
            plt.title("no gate comparisons yet (a first model has none)")
            return
        xs = [n for n, _ in points]
        ys = [c.delta for _, c in points]
        plt.hline(0.0, "gray")
        plt.plot(xs, ys, marker="braille")
        won = [(n, c.delta) for n, c in points if c.decision == "promoted"]
        if won:
            plt.scatter([n for n, _ in won], [d for _, d in won], marker="●", color="green")
        spread = max(abs(y) for y in ys)
        if spread < 1e-9:  # all ties: a readable band around zero
            plt.ylim(-0.01, 0.01)
        plt.xticks(*ticks(xs, width))


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
