"""The terminal UI (``workbench`` with no command). Only this package imports Textual."""

from __future__ import annotations

from workbench.config import Settings


def run(settings: Settings) -> None:
    """Open the TUI on the project and block until the user quits."""
    from workbench.tui.app import WorkbenchApp

    WorkbenchApp(settings).run()
