"""Outcome monitoring: the champion's performance on arriving chunks, realized and estimated.

Decisions:

* **Reference.** Computed once per version, on that version's own holdout (the rows of its
  training snapshot that ``split.seen_by`` says it neither trained nor validated on), scored by
  the version: the realized metrics and KPIs there, their standard errors, and the estimator
  fitted there (CBPE for classification, DLE for regression: ``monitor.cbpe`` / ``monitor.dle``,
  JSON through their ``to_json``). Stored as a JSON object, pointed at by
  ``monitor_references``; never pickled.
* **Chunks.** Rows of the data files of a snapshot that the version did not train on (file
  content hash not among its snapshot's), cut by ``[monitor] chunk``: ``"file"`` (one chunk per
  file, keyed by its path), a time window over ``data.time_column`` (``"7d"``: windows aligned
  to the Unix epoch; a numeric time column is read as seconds; keyed
  ``"<N>d:<window start ISO>"``), or a row count (``"rows:<i>"``, the new files' rows in path
  order). Each chunk carries a content hash (a file chunk: its file's hash; a window or a row
  range: its rows' hash): a chunk already stored with that hash is not recomputed.
* **Per chunk.** The realized metrics (the gate metric and the task's others) on the rows with a
  label; the estimate on all rows; one SE per metric (the estimator's, for this chunk's size;
  without an estimate the reference SE scaled by sqrt(reference rows / chunk rows)).
* **Bands.** ``[monitor.bands.NAME]`` (or a KPI's ``lower``/``upper``) when given: a value
  outside either fixed bound alerts. Otherwise reference +- ``band_sigmas`` x the chunk's SE,
  and only the worse side alerts (a chunk whose AUC is far *above* the reference is not a
  degradation). The value checked is the realized one when the chunk has labels, else the
  estimate.
* CBPE assumes no concept drift: P(y | scores) on new data is as on the reference holdout
  (the scores stay calibrated). Under concept drift the estimate is wrong until labels come.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.config import Settings
from workbench.errors import DataError
from workbench.model import metrics as metrics_mod
from workbench.model.features import FeatureSpec, encode_target
from workbench.model.loading import LoadedModel
from workbench.model.split import seen_by
from workbench.model.train import labelled_rows
from workbench.store.outcomes import ChunkRecord, MetricRow

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from workbench.monitor.kpi import Kpi, KpiBand
    from workbench.store import Store
    from workbench.store.registry import VersionRecord
    from workbench.store.session import SnapshotRecord

# ---------------------------------------------------------------- the math API, in one place


def realized(
    task: str, y: np.ndarray, scores: np.ndarray, classes: Sequence[Any]
) -> dict[str, float]:
    from workbench.monitor import realized as realized_mod

    return dict(realized_mod.realized(task, y, scores, list(classes)))


def _fit(spec: FeatureSpec, y: np.ndarray, scores: np.ndarray, x: pl.DataFrame) -> dict[str, Any]:
    if spec.task == "regression":
        from workbench.monitor import dle

        return {"kind": "dle", "reference": dle.fit(x, scores, y, seed=0, spec=spec).to_json()}
    from workbench.monitor import cbpe

    fitted = cbpe.fit(spec.task, y, scores, list(spec.classes), seed=0)
    return {"kind": "cbpe", "reference": fitted.to_json()}


def _estimate(
    estimator: dict[str, Any] | None, scores: np.ndarray, x: pl.DataFrame | None
) -> tuple[dict[str, float], dict[str, float]] | None:
    """(metrics, se) estimated for these rows; None without an estimator (or DLE without the
    feature columns: prediction-log rows carry none)."""
    if estimator is None or not len(scores):
        return None
    if estimator["kind"] == "dle":
        if x is None:
            return None
        from workbench.monitor import dle

        est = dle.estimate(dle.DLEReference.from_json(estimator["reference"]), x, scores)
    else:
        from workbench.monitor import cbpe

        est = cbpe.estimate(cbpe.Reference.from_json(estimator["reference"]), scores)
    return _floats(est.metrics), _floats(est.se)


def _se_at(estimator: dict[str, Any] | None, metric: str, n: int) -> float | None:
    """The sampling SE of ``metric`` on ``n`` rows like the reference's."""
    if estimator is None or n < 1:
        return None
    ref = estimator["reference"]
    se, rows = ref["se"].get(metric), int(ref["se_rows"])
    return None if se is None else float(se) * math.sqrt(rows / n)


def _floats(values: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in dict(values).items() if v is not None and math.isfinite(v)}


# ---------------------------------------------------------------- the reference


@dataclass(frozen=True)
class Reference:
    """A version's monitoring reference (see the module docstring). ``se``: each metric's
    sampling SE on ``rows`` rows; ``kpis``: each KPI's ``KpiBand`` JSON."""

    version: str
    task: str
    metric: str
    rows: int
    metrics: dict[str, float]
    se: dict[str, float]
    estimator: dict[str, Any] | None = None
    kpis: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "task": self.task,
            "metric": self.metric,
            "rows": self.rows,
            "metrics": self.metrics,
            "se": self.se,
            "estimator": self.estimator,
            "kpis": self.kpis,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Reference:
        return cls(
            d["version"],
            d["task"],
            d["metric"],
            int(d["rows"]),
            dict(d["metrics"]),
            dict(d["se"]),
            d.get("estimator"),
            dict(d.get("kpis") or {}),
        )

    def kpi_values(self) -> dict[str, float | None]:
        """Each KPI's reference value on the holdout (its ``rows``)."""
        return {name: _kpi_band(b).value_at(self.rows) for name, b in self.kpis.items()}


def holdout_of(store: Store, version: VersionRecord, model: LoadedModel) -> pl.DataFrame:
    """The version's holdout rows with a label (every column)."""
    import polars as pl

    frame = labelled_rows(store, version.snapshot_id, model)
    seen = seen_by(frame, model.meta.get("split", {}), lambda: frame)
    return frame.filter(pl.Series(~seen))


def build_reference(
    settings: Settings, store: Store, version: VersionRecord, model: LoadedModel
) -> Reference:
    """Score the version's holdout once: realized metrics, SEs, the estimator, KPI bands."""
    import numpy as np

    holdout = holdout_of(store, version, model)
    spec = model.spec
    y = encode_target(holdout, spec)
    keep = ~np.isnan(y)
    holdout = holdout.filter(_mask(keep))
    y = y[keep]
    if len(y) < 2:
        raise DataError(
            f"{version.name} has {len(y)} labelled holdout row(s): nothing to monitor against",
            "train on more labelled rows ([train] holdout_fraction)",
        )
    scores = model.predict(holdout)
    base = _floats(realized(spec.task, y, scores, spec.classes))
    estimator = _fit(spec, y, scores, holdout)
    se = {m: s for m in base if (s := _se_at(estimator, m, len(y))) is not None}
    kpis = compile_kpis(settings, spec, holdout.columns)
    bands = {
        name: k.band(holdout, y, scores).to_json()
        for name, k in zip(kpis.names, kpis.kpis, strict=True)
    }
    return Reference(
        version.name, spec.task, settings.gate.metric, len(y), base, se, estimator, bands
    )


def _mask(keep: np.ndarray) -> pl.Series:
    import polars as pl

    return pl.Series(keep)


# ---------------------------------------------------------------- KPIs


@dataclass(frozen=True)
class CompiledKpis:
    names: tuple[str, ...]
    kpis: tuple[Kpi, ...]


def compile_kpis(settings: Settings, spec: FeatureSpec, columns: Sequence[str]) -> CompiledKpis:
    """The configured KPIs compiled for this version's task and classes (``compile_kpi``
    raises a ``ConfigError`` naming ``monitor.kpi[i]`` for one that does not compile)."""
    from workbench.monitor import kpi as kpi_mod

    compiled = tuple(
        kpi_mod.compile_kpi(k, i, spec.task, list(spec.classes), list(columns))
        for i, k in enumerate(settings.monitor.kpi)
    )
    return CompiledKpis(tuple(k.name for k in settings.monitor.kpi), compiled)


def _kpi_band(d: dict[str, Any]) -> KpiBand:
    from workbench.monitor.kpi import KpiBand

    return KpiBand.from_json(d)


# ---------------------------------------------------------------- chunks


@dataclass(frozen=True)
class Chunk:
    """Rows to monitor: a data chunk (feature columns, the target where known) or rows of the
    prediction log joined with delayed labels (``scores`` given, no feature columns)."""

    key: str
    source: str  # data | predictions
    content_hash: str
    frame: pl.DataFrame
    start: str | None = None
    end: str | None = None
    scores: np.ndarray | None = None
    y: np.ndarray | None = None  # encoded target, NaN where unknown (predictions source)


def new_files(snap: SnapshotRecord, trained_on: SnapshotRecord | None) -> list[tuple[str, str]]:
    """(path, hash) of the snapshot's data files whose content the version did not train on."""
    known = {f.hash for f in trained_on.data_files} if trained_on is not None else set()
    return sorted((f.path, f.hash) for f in snap.data_files if f.hash not in known)


def data_chunks(
    settings: Settings, store: Store, files: list[tuple[str, str]], stored: dict[str, str]
) -> list[Chunk]:
    """The chunks of these files by ``[monitor] chunk``, except those ``stored`` (key ->
    content hash) already holds with the same content."""
    from workbench.data import profile

    rule = settings.monitor.chunk
    nulls = settings.data.null_values
    if not files:
        return []

    def read(path: str, digest: str) -> pl.DataFrame:
        return profile.frame(path, store.objects.path(digest), digest, nulls)

    time_col = settings.data.time_column
    if rule == "file":
        out = []
        for path, digest in files:
            h = _hash(path, digest)
            if stored.get(path) == h:
                continue
            frame = read(path, digest)
            out.append(Chunk(path, "data", h, frame, *_span(frame, time_col)))
        return out
    import polars as pl

    whole = profile.combine([read(p, d).lazy() for p, d in files]).collect()
    if isinstance(rule, int):
        out = []
        for i, start in enumerate(range(0, whole.height, rule)):
            key = f"rows:{i}"
            part = whole.slice(start, rule)
            h = _hash(key, _rows_hash(part))
            if stored.get(key) != h:
                out.append(Chunk(key, "data", h, part, *_span(part, time_col)))
        return out
    seconds = int(rule[:-1]) * (86400 if rule.endswith("d") else 3600)
    from workbench.data.times import as_time

    t = as_time(whole[time_col or ""])
    if t.dtype == pl.Float64:
        bucket = (t // seconds) * seconds
        starts = bucket.to_list()
        label = [None if b is None else _iso_seconds(b) for b in starts]
    else:
        label = [
            None if v is None else v.isoformat()
            for v in t.dt.truncate(f"{rule[:-1]}{rule[-1]}").to_list()
        ]
    whole = whole.with_columns(pl.Series("__window", label, dtype=pl.String))
    out = []
    for (window,), part in whole.group_by("__window", maintain_order=True):
        key = f"{rule}:{window}"
        part = part.drop("__window")
        h = _hash(key, _rows_hash(part))
        if stored.get(key) != h:
            out.append(Chunk(key, "data", h, part, *_span(part, time_col)))
    out.sort(key=lambda c: c.key)
    return out


def _rows_hash(part: pl.DataFrame) -> str:
    """What a window's or a row range's rows hash to (polars' row hash, fixed seed): a chunk
    whose rows did not change keeps its hash when other files arrive."""
    return hashlib.sha256(part.hash_rows(seed=0).to_numpy().tobytes()).hexdigest()


def _iso_seconds(value: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(value, UTC).replace(tzinfo=None).isoformat()


def _span(frame: pl.DataFrame, time_col: str | None) -> tuple[str | None, str | None]:
    import polars as pl

    if not time_col or time_col not in frame.columns or not frame.height:
        return None, None
    from workbench.data.times import as_time

    t = as_time(frame[time_col]).drop_nulls()
    if not len(t):
        return None, None
    lo, hi = t.min(), t.max()
    if t.dtype == pl.Float64:
        return str(lo), str(hi)
    return _iso(lo), _iso(hi)


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


# ---------------------------------------------------------------- one chunk's result


def compute_chunk(
    settings: Settings,
    ref: Reference,
    model: LoadedModel,
    chunk: Chunk,
    kpis: CompiledKpis,
    *,
    number: int,
    snapshot_id: str | None,
    now: str,
) -> ChunkRecord:
    """The chunk's realized and estimated metrics and KPIs, with their bands and alerts."""
    import numpy as np

    spec = model.spec
    frame = chunk.frame
    x: pl.DataFrame | None = None
    if chunk.scores is not None:
        scores = chunk.scores
        y = chunk.y if chunk.y is not None else np.full(len(scores), np.nan)
    else:
        scores = model.predict(frame) if frame.height else np.zeros(0)
        y = (
            encode_target(frame, spec)
            if spec.target in frame.columns
            else np.full(frame.height, np.nan)
        )
        x = frame
    known = ~np.isnan(y)
    labelled = int(known.sum())
    real = _floats(realized(spec.task, y[known], scores[known], spec.classes)) if labelled else {}
    found = _estimate(ref.estimator, scores, x)
    est, est_se = found if found else ({}, {})
    rows = len(scores)
    out: list[MetricRow] = []
    for name in ref.metrics or dict.fromkeys(metrics_mod.BY_TASK[spec.task]):
        # the SE of a value measured on this chunk: on its labelled rows when realized
        n = labelled if name in real else rows
        se = _se_at(ref.estimator, name, n) if name in real else est_se.get(name)
        if se is None:
            se = _se_at(ref.estimator, name, n)
        higher = metrics_mod.higher_is_better(name) or name.startswith("macro_")
        out.append(
            _row(
                settings,
                name,
                "metric",
                ref.metrics.get(name),
                real.get(name),
                est.get(name),
                se,
                higher,
                None,
            )
        )
    calibrated = _calibrated(ref, scores) if kpis.kpis else None
    for spec_k, k in zip(settings.monitor.kpi, kpis.kpis, strict=True):
        band = _kpi_band(ref.kpis[k.name]) if k.name in ref.kpis else None
        readable = all(c in frame.columns for c in k.columns)
        kr = (
            k.realized(frame.filter(_mask(known)), y[known], scores[known])
            if labelled and readable
            else None
        )
        ke = k.estimated(frame, calibrated, scores) if readable and calibrated is not None else None
        n = labelled if kr is not None else rows
        base = band.value_at(n) if band is not None and n else None
        se = band.se_at(n) if band is not None and n else None
        out.append(
            _row(
                settings,
                f"kpi:{k.name}",
                "kpi",
                base,
                kr,
                ke,
                se,
                spec_k.direction == "higher_is_better",
                (spec_k.lower, spec_k.upper),
            )
        )
    return ChunkRecord(
        number,
        chunk.key,
        chunk.content_hash,
        chunk.source,
        snapshot_id,
        chunk.start,
        chunk.end,
        rows,
        labelled,
        now,
        tuple(out),
    )


def _calibrated(ref: Reference, scores: np.ndarray) -> np.ndarray | None:
    """What ``Kpi.estimated`` reads: CBPE's calibrated probabilities, or for regression the
    predictions themselves."""
    if ref.estimator is None or not len(scores):
        return None
    if ref.estimator["kind"] != "cbpe":
        return scores
    from workbench.monitor import cbpe

    return cbpe.calibrate(cbpe.Reference.from_json(ref.estimator["reference"]), scores)


def _row(
    settings: Settings,
    name: str,
    kind: str,
    reference: float | None,
    real: float | None,
    est: float | None,
    se: float | None,
    higher: bool,
    fixed: tuple[float | None, float | None] | None,
) -> MetricRow:
    real, est, se = _finite(real), _finite(est), _finite(se)
    if fixed is None:
        override = settings.monitor.bands.get(name)
        fixed = (override.lower, override.upper) if override is not None else (None, None)
    lower, upper = fixed
    value = real if real is not None else est
    if lower is not None or upper is not None:  # fixed bounds: either side alerts
        alert = value is not None and (
            (lower is not None and value < lower) or (upper is not None and value > upper)
        )
        return MetricRow(name, kind, real, est, se, lower, upper, alert)
    if reference is None or se is None or not math.isfinite(reference):
        return MetricRow(name, kind, real, est, se, None, None, False)
    k = settings.monitor.band_sigmas
    lower, upper = reference - k * se, reference + k * se
    alert = value is not None and (value < lower if higher else value > upper)
    return MetricRow(name, kind, real, est, se, lower, upper, alert)


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)
