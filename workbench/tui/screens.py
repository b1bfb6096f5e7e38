"""Dialogs over the main screen: rollback (confirm with a reason), a text viewer (diff,
details), and the key help. Each returns its answer through ``dismiss``; none touches the store.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from workbench.store.registry import VersionRecord
from workbench.tui.widgets import fmt_metric

KEYS = (
    ("↑/↓ Home/End", "move in the history (or the focused table)"),
    ("enter", "details of the selected version"),
    ("r", "roll back: make the selected version the champion (asks for a reason)"),
    ("d", "diff the selected version against the champion"),
    ("t", "train now (a new version, even if the inputs are unchanged)"),
    ("s", "snapshot the inputs now"),
    ("tab", "next pane (history, drift features, events)"),
    ("?", "this help"),
    ("q", "quit (a running cycle is abandoned and recorded as cancelled)"),
)


class RollbackScreen(ModalScreen[str | None]):
    """What will change, and a reason; Enter confirms with the reason, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: VersionRecord, champion: VersionRecord | None) -> None:
        super().__init__()
        self.target, self.champion = target, champion

    def compose(self) -> ComposeResult:
        t, c = self.target, self.champion
        text = Text()
        text.append("Roll back the champion\n\n", style="bold")
        if c is not None:
            text.append(f"  {c.name}", style="bold green")
            text.append(f"  {c.metric} {fmt_metric(c.metrics.get(c.metric))}  (champion now)\n")
        text.append("  → ")
        text.append(t.name, style="bold")
        text.append(f"  {t.metric} {fmt_metric(t.metrics.get(t.metric))}")
        text.append(f"  snapshot {t.snapshot_id[:8]}  {t.created_at[:16]}\n\n")
        text.append("The served model becomes this version's. Why?", style="italic")
        with Vertical(id="dialog"):
            yield Static(text)
            yield Input(placeholder="reason (required), then Enter; Escape cancels", id="reason")
            yield Static("", id="dialog-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if not reason:
            self.query_one("#dialog-error", Static).update(
                Text("a rollback needs a reason: type one, or Escape to cancel", style="red")
            )
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


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
        text.append(f"  {key:<14}", style="bold cyan")
        text.append(f"{what}\n")
    text.append(
        "\nThe TUI watches the project while open (or follows the headless "
        "`workbench watch` already running on it). Mouse: click a row or a footer key.",
        style="dim",
    )
    return text
