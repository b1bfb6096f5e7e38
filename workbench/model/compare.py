"""``workbench compare A B [--on SNAPSHOT]``: two versions scored on the same rows.

Each version's own metrics come from its own holdout, so two versions' stored numbers are not
comparable. ``compare`` scores both on one set of rows: the labelled rows of a snapshot (the
newest by default) that *neither* version trained or validated on (``split.seen_by`` of each
version's split record, as the gate does). The answer names the rows used and how many were
left out, every metric of the task for both, and the deltas ``B - A``. The uncertainty of a
delta is a paired bootstrap (the same resampled rows for both models: ``bootstrap.intervals``,
seeded, m-out-of-n above its ``MAX_ROWS``), reported as a 95% interval for the gate metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import DataError, UsageError
from workbench.model import bootstrap, metrics, split
from workbench.model.loading import LoadedModel, load_version
from workbench.model.train import labelled_rows

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from workbench.store import Store
    from workbench.store.registry import VersionRecord


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    snapshot: str
    metric: str
    rows: int
    excluded: dict[str, int]  # version -> labelled rows left out because it had seen them
    metrics: dict[str, dict[str, float]]  # version -> metric -> value on the shared rows
    delta: dict[str, float]  # metric -> B - A
    interval: tuple[float, float]  # 95% paired-bootstrap interval of the gate metric's delta

    @property
    def better(self) -> str | None:
        d = self.delta[self.metric]
        if d == 0 or d != d:
            return None
        return self.b if (d > 0) == metrics.higher_is_better(self.metric) else self.a

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "snapshot": self.snapshot,
            "metric": self.metric,
            "rows": self.rows,
            "excluded": self.excluded,
            "metrics": self.metrics,
            "delta": self.delta,
            "delta_interval": list(self.interval),
            "better": self.better,
        }


def compare(store: Store, a_ref: str, b_ref: str, on: str | None = None) -> Comparison:

    with store.read() as s:
        a, b = _version(s, a_ref), _version(s, b_ref)
        snapshot_id = s.resolve_snapshot(on or "latest")
    if a.number == b.number:
        raise UsageError(f"{a.name} is compared with itself", "name two different versions")
    ma, mb = load_version(store.objects, a), load_version(store.objects, b)
    _check_comparable(a, ma, b, mb)
    frame = labelled_rows(store, snapshot_id, ma)
    seen: dict[str, np.ndarray] = {}
    for version, model in ((a, ma), (b, mb)):
        seen[version.name] = split.seen_by(
            frame,
            model.meta.get("split", {}),
            lambda v=version, m=model: labelled_rows(store, v.snapshot_id, m),  # type: ignore[misc]
        )
    use = ~(seen[a.name] | seen[b.name])
    if not use.any():
        raise UsageError(
            f"every labelled row of snapshot {snapshot_id[:12]} was trained on by {a.name} or"
            f" {b.name}",
            "compare on a snapshot with newer rows: --on SNAPSHOT (see `workbench snapshots`)",
        )
    rows = frame.filter(_mask(use))
    y = _target(rows, ma)
    pa, pb = _scores(ma, rows, a.name), _scores(mb, rows, b.name)
    task = ma.spec.task
    ours = {a.name: metrics.compute(task, y, pa), b.name: metrics.compute(task, y, pb)}
    delta = {k: ours[b.name][k] - ours[a.name][k] for k in ours[a.name]}
    metric = a.metric if a.metric in delta else metrics.BY_TASK[task][0]
    return Comparison(
        a.name,
        b.name,
        snapshot_id,
        metric,
        rows.height,
        {name: int(s.sum()) for name, s in seen.items()},
        ours,
        delta,
        _interval(task, metric, y, pa, pb),
    )


def _version(s: Any, ref: str) -> VersionRecord:
    if ref == "champion":
        champion = s.champion()
        if champion is None:
            raise UsageError("there is no champion yet", "run `workbench train` first")
        return champion
    return s.version(ref)


def _check_comparable(a: VersionRecord, ma: LoadedModel, b: VersionRecord, mb: LoadedModel) -> None:
    sa, sb = ma.spec, mb.spec
    if sa.task != sb.task or sa.target != sb.target or sa.classes != sb.classes:
        raise UsageError(
            f"{a.name} ({sa.task}, target {sa.target!r}) and {b.name} ({sb.task}, target"
            f" {sb.target!r}) do not predict the same thing",
            "compare versions of the same task, target and classes",
        )


def _mask(use: np.ndarray) -> pl.Series:
    import polars as pl

    return pl.Series(use)


def _target(rows: pl.DataFrame, model: LoadedModel) -> np.ndarray:
    from workbench.model.features import encode_target

    y = encode_target(rows, model.spec)
    if (y != y).any():
        raise DataError(
            f"the target {model.spec.target!r} has classes the models do not know",
            "compare on a snapshot whose labels are the models' classes",
        )
    return y


def _scores(model: LoadedModel, rows: pl.DataFrame, name: str) -> np.ndarray:
    try:
        return model.predict(rows)
    except DataError as e:
        raise DataError(f"{name} cannot score these rows: {e.message}", e.hint) from e


def _interval(
    task: str, metric: str, y: np.ndarray, pa: np.ndarray, pb: np.ndarray
) -> tuple[float, float]:
    """The paired bootstrap interval of ``metric(B) - metric(A)`` (``bootstrap.intervals``)."""
    return bootstrap.intervals(task, y, pb, pa)[metric]
