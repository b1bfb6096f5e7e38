"""LightGBM for a process that only scores: imported without scikit-learn and pandas.

``import lightgbm`` imports scikit-learn (which imports scipy.stats) and pandas whenever they
are installed, for its estimator classes and its DataFrame inputs: about 0.9 s of its 1.1 s
import on a 2-core machine and ~120 MB of memory, none of which loading a Booster, training
one on numpy arrays (``lightgbm.train``) or predicting on numpy arrays uses. ``workbench
drift`` right after a batch spent a sixth of its time there, on both cores' worth of GIL.

``lean_lightgbm()`` makes LightGBM find both absent, which it supports (they are optional
dependencies; it records their absence in ``lightgbm.compat``): a finder at the front of
``sys.meta_path`` refuses ``sklearn`` and ``pandas`` to imports made *by LightGBM's own
modules* (the importing frame's module name is ``lightgbm`` or ``lightgbm.*``), and only until
``lightgbm.compat`` has been imported; it then removes itself. Imports of scikit-learn or
pandas by anything else — the user's code, workbench, another thread — are untouched, before
and after; one imported already is LightGBM's to use too (nothing is refused from
``sys.modules``). It does nothing once LightGBM is imported.

The cost of the choice: in such a process LightGBM's scikit-learn estimators and
``lightgbm.dask`` are unavailable, and the Dask engine needs both. So only one-shot commands
call it — ``train``, ``predict``, ``drift``, ``monitor``, ``compare`` (when the project's
``engine`` is not ``"dask"``: ``drift`` and ``monitor`` may retrain) and ``serve`` (it never
trains) — never the watcher or the TUI, whose config may switch engines while they run; and
the Dask engine checks ``imported_lean()`` to say what happened instead of LightGBM's generic
"dask, pandas and scikit-learn are required".
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

HIDDEN = ("sklearn", "pandas")
_LOCK = threading.Lock()


class _HideFromLightGBM(importlib.abc.MetaPathFinder):
    """Refuses ``HIDDEN`` packages to LightGBM's own imports, until LightGBM is imported."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if _compat_done():
            _remove(self)  # LightGBM decided what it has: nothing more to hide
            return None
        if fullname.partition(".")[0] in HIDDEN and _asked_by_lightgbm():
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def _compat_done() -> bool:
    """``lightgbm.compat`` has finished importing (a module being imported is in
    ``sys.modules`` already, its spec marked ``_initializing``)."""
    compat = sys.modules.get("lightgbm.compat")
    spec = getattr(compat, "__spec__", None)
    return compat is not None and not getattr(spec, "_initializing", False)


def _asked_by_lightgbm() -> bool:
    """True when the import being resolved was made by a LightGBM module's code."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not name.startswith(("importlib", "_frozen_importlib")):
            return bool(name == "lightgbm" or name.startswith("lightgbm."))
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _remove(finder: importlib.abc.MetaPathFinder) -> None:
    with _LOCK:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)


def lean_lightgbm() -> bool:
    """Have this process import LightGBM without scikit-learn and pandas; True if it will.

    False when LightGBM is imported already (it keeps what it has)."""
    if "lightgbm" in sys.modules:
        return False
    with _LOCK:
        if not any(isinstance(f, _HideFromLightGBM) for f in sys.meta_path):
            sys.meta_path.insert(0, _HideFromLightGBM())
    return True


def imported_lean() -> bool:
    """True when LightGBM in this process was imported without scikit-learn although it is
    installed (so ``lightgbm.dask`` and the estimators are unavailable here)."""
    compat = sys.modules.get("lightgbm.compat")
    if compat is None or getattr(compat, "SKLEARN_INSTALLED", True):
        return False
    return importlib.util.find_spec("sklearn") is not None
