"""Dialogs over the main screen: rollback (confirm with a reason), a text viewer (diff,
details), and the key help. Each returns its answer through ``dismiss``; none touches the store.
"""

from __future__ import annotations

import textwrap
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from workbench.store.registry import VersionRecord
from workbench.tui.view import compared
from workbench.tui.widgets import fmt_metric

KEYS = (  # short enough for one line in the 80x24 dialog
    ("↑/↓ Home/End", "move in the history (or the focused pane)"),
    ("PgUp/PgDn", "a page up or down in the focused pane"),
    ("enter", "details of the selected version"),
    ("r", "roll back to the selected version (asks why)"),
    ("d", "diff the selected version with the champion"),
    ("m", "Performance pane (per chunk) in place of Drift"),
    ("t", "train now, even if the inputs are unchanged"),
    ("s", "snapshot the inputs now"),
    ("a / x", "approve / reject the selected pending version"),
    ("p / u", "promote the selected one / unpin the champion"),
    ("tab/shift+tab", "next/previous pane (the events pane grows)"),
    ("esc", "close a dialog; cancels a rollback"),
    ("ctrl+p", "command palette: every action, by name"),
    ("?", "this help"),
    ("q", "quit (a running cycle ends as cancelled)"),
)

READING = (
    "metric: each version's own holdout metric. Two versions' metrics come from different "
    "holdouts, so they are not set against each other.",
    "Δ gate, vs: the candidate minus the champion of that moment, both scored by the gate "
    "on the same rows. The chart plots it per version; the diff "
    "(older version first) and the rollback dialog show it when a gate compared the two.",
    "drift methods: wass Wasserstein, ks Kolmogorov-Smirnov, chi2 chi-square, "
    "js Jensen-Shannon, z Z-test, psi population stability index.",
    "The history cursor follows new versions while it is on the newest one.",
)


def comparison_text(a: VersionRecord, b: VersionRecord) -> Text:
    """What can be said about ``a`` against ``b``: a gate's same-rows comparison, or that
    none was made (and how to make one)."""
    c = compared(a, b)
    if c is not None:
        text = Text("same rows: ", style="bold")
        return text.append(c.sentence())
    older, newer = sorted((a, b), key=lambda v: v.number)
    return Text(
        f"no gate compared {older.name} and {newer.name} on the same rows: their metrics come"
        f" from different holdouts. `workbench compare {older.name} {newer.name}` scores both"
        " on the same rows.",
        style="dim",
    )


class ReasonDialog(ModalScreen[str | None]):
    """A dialog that ends in a reason: Enter confirms with it (an empty one is refused, naming
    ``needs``), Escape cancels. Subclasses compose their text, then ``reason_widgets``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    needs = "this"

    def reason_widgets(self) -> ComposeResult:
        yield Input(placeholder="reason (required), then Enter; Escape cancels", id="reason")
        yield Static("", id="dialog-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if not reason:
            self.query_one("#dialog-error", Static).update(
                Text(f"{self.needs} needs a reason: type one, or Escape to cancel", style="red")
            )
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RollbackScreen(ReasonDialog):
    """What will change, and a reason; Enter confirms with the reason, Escape cancels."""

    needs = "a rollback"

    def __init__(self, target: VersionRecord, champion: VersionRecord | None) -> None:
        super().__init__()
        self.target, self.champion = target, champion

    def compose(self) -> ComposeResult:
        t, c = self.target, self.champion
        text = Text()
        text.append("Roll back the champion\n\n", style="bold")
        if c is not None:
            text.append(f"  {c.name:<7}", style="bold green")
            text.append(f"champion now  {c.metric} {fmt_metric(c.metrics.get(c.metric))}")
            text.append(" on its own holdout\n", style="dim")
        text.append(f"→ {t.name:<7}", style="bold")
        text.append(f"{t.status:<14}{t.metric} {fmt_metric(t.metrics.get(t.metric))}")
        text.append(" on its own holdout", style="dim")
        when = t.created_at[:16].replace("T", " ")
        text.append(f"  snapshot {t.snapshot_id[:8]}  {when}\n\n")
        if c is not None:
            text.append_text(comparison_text(t, c))
            text.append("\n\n")
        text.append("The served model becomes this version's. Why?", style="italic")
        with Vertical(id="dialog"):
            yield Static(text)
            yield from self.reason_widgets()


class TextScreen(ModalScreen[None]):
    """A scrollable text (a diff, a version's details); Escape or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, title: str, body: Any) -> None:
        super().__init__()
        self.title_text, self.body = title, body

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog") as box:
            box.border_title = self.title_text
            box.border_subtitle = "Escape closes"
            yield Static(self.body)

    def action_close(self) -> None:
        self.dismiss(None)


def help_text() -> Text:
    text = Text()
    text.append("workbench keys\n\n", style="bold")
    for key, what in KEYS:
        text.append(f"  {key:<15}", style="bold cyan")
        text.append(f"{what}\n")
    text.append("\nreading the panes\n", style="bold")
    for line in READING:
        text.append(textwrap.fill(line, 62, initial_indent="  ", subsequent_indent="    "))
        text.append("\n")
    text.append(
        "\nThe TUI watches the project while open (or follows the headless "
        "`workbench watch` already running on it). Mouse: click a row, a pane or a footer key.",
        style="dim",
    )
    return text
