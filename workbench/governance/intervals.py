"""95% confidence intervals of a version's holdout metrics: a seeded percentile bootstrap.

The holdout's targets and scores are those training kept (an object named by the model's meta,
``holdout_scores``: numpy reads them, no LightGBM, no data); for a version trained before they
were kept, the holdout is rebuilt from the records: the labelled rows of the version's
snapshot that its split record says it never trained or validated on (``split.seen_by``).
Either way the metrics recomputed there must equal the registry's (to 1e-9), else the
intervals are reported unavailable (a split that cannot be rebuilt exactly) rather than
intervals of some other rows.

Bootstrap: ``model.bootstrap.intervals``, the one ``workbench compare`` and the challenger's
report use too (seeded percentile intervals, m-out-of-n above its ``MAX_ROWS``). The result
is cached per model (``cache_name``): the same records give the same card, and a card read
later costs no LightGBM.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.model import bootstrap
from workbench.model.bootstrap import LEVEL, RESAMPLES, SEED

if TYPE_CHECKING:
    import numpy as np

    from workbench.store import Store
    from workbench.store.registry import VersionRecord

METHOD = f"percentile bootstrap, {RESAMPLES} resamples, seed {SEED}"
FORMAT = 1


def cache_name(version: VersionRecord) -> str:
    return f"cards/intervals-{version.model_hash}-{version.meta_hash}.json"


def holdout_scores(store: Store, version: VersionRecord) -> tuple[np.ndarray, np.ndarray]:
    """(target, prediction) on the version's own holdout: the scores kept at training
    (``holdout_scores`` in the meta, numpy only), else rebuilt from the records."""
    import numpy as np

    kept = (
        store.objects.read_json(version.meta_hash).get("holdout_scores")
        if version.meta_hash
        else None
    )
    if isinstance(kept, dict):
        raw = np.frombuffer(store.objects.read(kept["object"]), dtype="<f8")
        rows, columns = int(kept["rows"]), int(kept["columns"])
        y, pred = raw[:rows], raw[rows:]
        return y, (pred if columns == 1 else pred.reshape(rows, columns))
    return _rebuilt(store, version)


def _rebuilt(store: Store, version: VersionRecord) -> tuple[np.ndarray, np.ndarray]:
    """(target, prediction) on the version's own holdout, rebuilt from its records (versions
    trained before the scores were kept)."""
    import numpy as np
    import polars as pl

    from workbench.model import split
    from workbench.model.features import encode_target
    from workbench.model.loading import load_version
    from workbench.model.train import labelled_rows

    model = load_version(store.objects, version)
    frame = labelled_rows(store, version.snapshot_id, model)
    seen = split.seen_by(
        frame, model.meta.get("split", {}), lambda: labelled_rows(store, version.snapshot_id, model)
    )
    rows = frame.filter(pl.Series(~seen))
    y = encode_target(rows, model.spec)
    known = ~np.isnan(y)
    return y[known], model.predict(rows.filter(pl.Series(known)))


def intervals(store: Store, version: VersionRecord) -> dict[str, Any]:
    """The cached intervals of ``version`` (computed and cached on first use).

    ``{"method", "level", "rows", "metrics": {name: [low, high]}}``, or with ``"unavailable":
    reason`` when the holdout cannot be rebuilt or scored."""
    name = cache_name(version)
    cached = store.read_json(name)
    if isinstance(cached, dict) and cached.get("format") == FORMAT:
        return cached
    result = _compute(store, version)
    store.write_json(name, result, durable=False)  # a cache: recomputed when lost
    return result


def _compute(store: Store, version: VersionRecord) -> dict[str, Any]:
    from workbench.model import metrics

    base: dict[str, Any] = {"format": FORMAT, "method": METHOD, "level": LEVEL}
    try:
        y, pred = holdout_scores(store, version)
    except WorkbenchError as e:
        return base | {"unavailable": f"the holdout could not be scored: {e.message}"}
    again = metrics.compute(version.task, y, pred)
    for key, value in sorted(version.metrics.items()):
        other = again.get(key, math.nan)
        if not (math.isclose(value, other, rel_tol=0, abs_tol=1e-9) or (value != value)):
            return base | {
                "rows": len(y),
                "unavailable": f"the rebuilt holdout gives {key} {other:.6f}, the record"
                f" {value:.6f}: intervals of other rows would mislead",
            }
    found = bootstrap.intervals(version.task, y, pred)
    return base | {
        "rows": len(y),
        "metrics": {k: [_num(lo), _num(hi)] for k, (lo, hi) in sorted(found.items())},
    }


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x
