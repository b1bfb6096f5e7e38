"""Where a card (``-o FILE``) or a challenger report (``--report FILE``) may be written: a
file inside the project, in a folder that exists, and not the store, the config or the
hand-written notes file (``[governance] card_notes`` is never overwritten). The write is
atomic (a temporary file renamed over the target)."""

from __future__ import annotations

from pathlib import Path

from workbench.config import Settings
from workbench.errors import UsageError
from workbench.project import inside
from workbench.store.objects import atomic_write


def write_output(settings: Settings, path: Path, text: str, *, what: str) -> None:
    check_output(settings, path, what=what)
    atomic_write(path, text.encode("utf-8"), durable=False)


def check_output(settings: Settings, path: Path, *, what: str) -> None:
    root = settings.root
    target = path.absolute()
    if not (inside(root, target.parent) and inside(root, target)):
        raise UsageError(
            f"{path} is outside the project folder {root}",
            f"write the {what} inside the project, e.g. {what.replace(' ', '-')}.md",
        )
    if not target.parent.is_dir():
        raise UsageError(
            f"the folder {path.parent} of {path} does not exist",
            f"create it first (mkdir -p {path.parent})",
        )
    real = target.resolve()
    if real.is_relative_to(settings.store_dir.resolve()):
        raise UsageError(
            f"{path} is inside the store, which only workbench writes",
            f"write the {what} to another file",
        )
    refused = {(root / settings.source.name).resolve(): "the project's config file"}
    if settings.governance.card_notes:
        notes = (root / settings.governance.card_notes).resolve()
        refused[notes] = "the hand-written card notes ([governance] card_notes), never overwritten"
    if real in refused:
        raise UsageError(f"{path} is {refused[real]}", f"write the {what} to another file")
