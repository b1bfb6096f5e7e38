"""Acting on a drift result: the ``on_drift`` hooks, and a training when configured.

Monitoring measures (``workbench.monitor.drift``); what follows from a measurement is the
pipeline's, since it may train. ``workbench drift`` calls it after a computed result; a cycle
calls it with ``retrain=False`` (it trains next anyway).
"""

from __future__ import annotations

from workbench.config import Settings
from workbench.pipeline.hooks import run_hooks
from workbench.store import Store
from workbench.store.drift import DriftResult


def act_on_drift(
    settings: Settings, store: Store, result: DriftResult, *, retrain: bool = True
) -> list[str]:
    """On dataset drift: the ``on_drift`` hooks, then training if ``retrain_on_drift``;
    what was done, one line each."""
    if not result.dataset_drift:
        return []
    said = []
    env = {
        "drift_share": str(result.drift_share),
        "reference_version": result.reference_version,
        "snapshot": result.current,
        "drifted": ",".join(result.drifted),
    }
    runs = run_hooks(settings, store, "drift", env)
    if runs:
        said.append(f"ran {len(runs)} on_drift hook(s)")
    if retrain and settings.drift.retrain_on_drift:
        from workbench.pipeline.train import run_train

        outcome = run_train(settings, store)
        v = outcome.version or outcome.previous
        said.append(f"retrain_on_drift: {v.name if v else '-'} ({v.status if v else '-'})")
    return said
