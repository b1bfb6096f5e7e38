"""The TUI's governance keys: ``a`` approve / ``x`` reject a pending row, ``p`` promote the
selected version, ``u`` unpin the champion. Each asks for a reason (``ReasonScreen``, like the
rollback dialog) and runs ``pipeline.approval`` in a thread worker; a refusal arrives as the
worker's ``WorkbenchError`` (the app notifies it with its hint), nothing changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from workbench import config as config_mod
from workbench.store import Store
from workbench.store.registry import VersionRecord
from workbench.tui.messages import ActionDone
from workbench.tui.screens import ReasonDialog
from workbench.tui.view import View

VERBS = {  # action -> (dialog title, what happens)
    "approve": ("Approve", "it becomes the champion and is served."),
    "reject": ("Reject", "it stays out; the champion stays."),
    "promote": ("Promote", "it becomes the champion and is served; a pin ends."),
    "unpin": ("Unpin", "the champion stays; the gate may promote again."),
}


class ReasonScreen(ReasonDialog):
    """What the action does, and a reason; Enter confirms, Escape cancels."""

    def __init__(self, action: str, version: str) -> None:
        super().__init__()
        self.action, self.version, self.needs = action, version, action

    def compose(self) -> ComposeResult:
        title, what = VERBS[self.action]
        text = Text(f"{title} {self.version}\n\n", style="bold")
        text.append(f"{self.version}: {what} Why?", style="italic")
        with Vertical(id="dialog"):
            yield Static(text)
            yield from self.reason_widgets()


class GovernanceActions(App[None]):
    """Mixed into the app: its keys' actions (the app provides ``selected`` and the rest)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve", show=False),
        Binding("x", "reject", "Reject", show=False),
        Binding("p", "promote", "Promote", show=False),
        Binding("u", "unpin", "Unpin", show=False),
    ]
    root: Path
    store: Store
    view: View | None

    def selected(self) -> VersionRecord | None:
        raise NotImplementedError

    def action_approve(self) -> None:
        self._ask("approve", pending_only=True)

    def action_reject(self) -> None:
        self._ask("reject", pending_only=True)

    def action_promote(self) -> None:
        self._ask("promote", pending_only=False)

    def action_unpin(self) -> None:
        champion = self.view.champion if self.view else None
        if champion is None or not champion.pinned:
            self.notify("the champion is not pinned: nothing to unpin", severity="warning")
            return
        self._confirm("unpin", champion.name, None)

    def _ask(self, action: str, *, pending_only: bool) -> None:
        v = self.selected()
        if v is None:
            self.notify("no version selected", severity="warning")
        elif pending_only and v.status != "pending":
            self.notify(
                f"{v.name} is {v.status}: only a pending version can be {action}d",
                severity="warning",
            )
        else:
            self._confirm(action, v.name, v.name)

    def _confirm(self, action: str, shown: str, version: str | None) -> None:
        def confirmed(reason: str | None) -> None:
            if reason:
                self._govern(action, version, reason)
            else:
                self.notify(f"{action} cancelled")

        self.push_screen(ReasonScreen(action, shown), confirmed)

    @work(thread=True, group="governance", exit_on_error=False)
    def _govern(self, action: str, version: str | None, reason: str) -> None:
        from workbench.pipeline import approval
        from workbench.render import governance_text

        settings = config_mod.load(self.root)
        if action == "unpin":
            result = approval.unpin(settings, self.store, reason=reason)
        else:
            result = getattr(approval, action)(settings, self.store, version, reason=reason)
        self.post_message(ActionDone(governance_text(result)))
