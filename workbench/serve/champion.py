"""Following the champion: the model the server answers with, swapped when the export moves.

Promotion and rollback (from the watcher, the TUI or the CLI) end by swapping the serving link
``.workbench/serving -> exports/vN`` with one rename (``model.serving``). ``Follower.poll``
reads that link (one ``readlink``, a few microseconds: cheap enough to run every
``POLL_SECONDS``) and, when it names another folder, loads that folder's ``model.txt`` and
``model.json`` through ``LoadedModel.from_text`` — the loader everything else scores with —
then replaces ``current`` with one reference assignment. The link is resolved once per load
and the files are read from the folder it named, so a load never mixes two versions' files.

A request takes ``current`` once, at its start, and scores only with that ``Served``: a
request in flight finishes on the model it started with and no response mixes versions
(the version it names is the one that scored every row). Loading happens off the event loop
(a thread), so requests keep being answered by the previous model while the next one parses.

The store's database is read only for what the export does not hold (when the version became
champion), after the swap and never on the request path: a busy store can delay
``promoted_at`` in ``/version``, never the swap.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.caches import LRU
from workbench.errors import StoreError, WorkbenchError
from workbench.model.loading import LoadedModel
from workbench.model.serving import serving_dir
from workbench.store import Store, now_iso

POLL_SECONDS = 0.1
_MODELS = LRU(4)  # parsed models by export folder and file identity: swaps back are free


@dataclass(frozen=True)
class Served:
    """One loaded version: everything a request needs, never changed after it is made."""

    version: str
    model: LoadedModel
    folder: Path
    loaded_at: str
    promoted_at: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        meta = self.model.meta
        return {
            "champion": self.version,
            "metrics": meta.get("metrics", {}),
            "metric": meta.get("gate_metric"),
            "task": self.model.spec.task,
            "snapshot": meta.get("snapshot"),
            "promoted_at": self.promoted_at,
            "loaded_at": self.loaded_at,
            "features": list(self.model.spec.features),
            "classes": self.model.spec.classes,
        }


class Follower:
    """Holds ``current`` (None until a champion's export exists) and keeps it on the export."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.link = serving_dir(store)
        self.current: Served | None = None
        self.swaps = 0
        self.last_error: str | None = None
        self._target: str | None = None  # the link's text when ``current`` was loaded
        self._lock = threading.Lock()  # one load at a time

    def moved(self) -> bool:
        """Whether the link names another folder than the one served (one ``readlink``)."""
        try:
            return os.readlink(self.link) != self._target
        except OSError:
            return False

    def poll(self) -> bool:
        """Load the export if the link moved; True when ``current`` changed."""
        try:
            target = os.readlink(self.link)
        except OSError:
            return False  # no champion yet (or the link is being made): keep what is served
        if target == self._target:
            return False
        with self._lock:
            if target == self._target:
                return False
            try:
                served = _load(self.link.parent / target, target)
            except (OSError, ValueError, KeyError, WorkbenchError) as e:
                self.last_error = f"cannot load {target}: {e}"
                return False  # a folder being replaced: the next poll tries again
            self.current, self._target = served, target
            self.swaps += 1
            self.last_error = None
        return True

    def fill_promoted_at(self) -> None:
        """Add when the served version became champion (from the store; off the request path)."""
        served = self.current
        if served is None or served.promoted_at is not None:
            return
        try:
            with self.store.read() as s:
                number = int(served.version.removeprefix("v"))
                change = next((c for c in s.champion_history(20) if c.number == number), None)
        except (StoreError, ValueError):
            return  # busy or damaged: /version says null, the next swap asks again
        if change is not None and self.current is served:
            self.current = replace(served, promoted_at=change.ts)


def _load(folder: Path, target: str) -> Served:
    model_path, meta_path = folder / "model.txt", folder / "model.json"
    st = os.stat(model_path)
    key = f"{folder.resolve()}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    model = _MODELS.get(key)
    if model is None:
        meta = json.loads(meta_path.read_bytes())
        model = LoadedModel.from_text(model_path.read_text(encoding="utf-8"), meta)
        _MODELS.put(key, model)
    version = str(model.meta.get("version") or Path(target).name)
    return Served(version, model, folder, now_iso())
