"""What the app's workers report to the UI thread: one past-tense message per kind of news.

Workers (store reads, the watch loop, actions) never touch a widget; they post one of these
and return, and the app's ``on_<message>`` handler paints (harlequin's and toolong's rule:
attributes down, messages up). Named messages let a test wait for the news it cares about
(``ViewLoaded``, ``CycleEventPosted``) instead of for "some call".
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.message import Message

from workbench.errors import WorkbenchError
from workbench.pipeline.events import CycleEvent
from workbench.store.drift import FeatureDrift
from workbench.store.registry import VersionRecord
from workbench.store.session import EventRecord
from workbench.tui.view import View


class ViewLoaded(Message):
    """A fresh ``View`` was read (``seq`` orders overlapping loads: the newest wins)."""

    def __init__(self, view: View, seq: int) -> None:
        super().__init__()
        self.view, self.seq = view, seq


class StorePolled(Message):
    """The poll read the events after the last one seen, the watcher state and progress."""

    def __init__(
        self, events: list[EventRecord], watcher: str, progress: dict[str, Any] | None
    ) -> None:
        super().__init__()
        self.events, self.watcher, self.progress = events, watcher, progress


class WatcherModeChanged(Message):
    """The app's watch loop now runs here (``own``), follows another process (``attached``)
    or has stopped (``off``)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode


class CycleEventPosted(Message):
    """The watch loop (or a training started here) yielded a cycle event."""

    def __init__(self, event: CycleEvent) -> None:
        super().__init__()
        self.event = event


class StatusChanged(Message):
    """Something the status bar shows changed (a boosting round, a store wait)."""


class MoreVersionsLoaded(Message):
    def __init__(self, versions: list[VersionRecord], to_end: bool) -> None:
        super().__init__()
        self.versions, self.to_end = versions, to_end


class DetailsLoaded(Message):
    """A version's details were read; ``dialog``: show them in a dialog, not the pane."""

    def __init__(self, version: VersionRecord, info: dict[str, Any], dialog: bool) -> None:
        super().__init__()
        self.version, self.info, self.dialog = version, info, dialog


class FeatureHistoryLoaded(Message):
    def __init__(self, feature: FeatureDrift, history: list[dict[str, Any]]) -> None:
        super().__init__()
        self.feature, self.history = feature, history


class TextReady(Message):
    """A text for a dialog was prepared (a diff)."""

    def __init__(self, title: str, text: Text) -> None:
        super().__init__()
        self.title, self.text = title, text


class ActionDone(Message):
    """An action (snapshot, rollback) finished: say so and reload the view."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class ActionFailed(Message):
    """A worker met a ``WorkbenchError`` it reports without ending."""

    def __init__(self, error: WorkbenchError) -> None:
        super().__init__()
        self.error = error
