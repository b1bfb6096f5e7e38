"""Delayed labels: ``[monitor] labels`` files joined to the rows the prediction log holds.

A labels file (CSV, TSV or Parquet in the folder ``[monitor] labels`` names) carries
``data.id_column`` and ``data.target``; other columns are ignored. Ids are compared as text, as
the prediction log stores them. When an id is labelled in several files the later file (by
path) wins.

Decisions:

* The rows a version scored (``workbench predict``, ``workbench serve``) are cut into chunks by
  the time they were scored: windows of ``[monitor] chunk`` when it is a time window, else one
  day; keyed ``"predictions:<window start ISO>"``. A chunk holds every row the version scored
  in that window, labelled or not: its estimate is there before any label, its realized
  metrics once labels match (side by side). Its content hash covers its rows' ids, scores and
  labels, so a window is recomputed exactly when new labels (or rows) reach it.
* A labels file without the id column (or the target) is an error naming the file and the key
  (``data.id_column`` / ``data.target``): nothing is stored from that run, nothing lost.
* Label ids that the prediction log does not hold are not an error: the known ones are joined,
  the unknown ones counted (``unknown_ids``, said in the ``monitored`` event and by
  ``workbench monitor``).
* A label that is not one of the version's classes counts as no label for that row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.config import Settings
from workbench.errors import DataError
from workbench.monitor.outcomes import Chunk
from workbench.store import predictions

if TYPE_CHECKING:
    import polars as pl

    from workbench.model.loading import LoadedModel
    from workbench.store import Store
    from workbench.store.registry import VersionRecord

SUFFIXES = (".csv", ".tsv", ".parquet")
TRUTH = "__truth"  # the delayed label beside the log's own (predicted) ``label``


@dataclass(frozen=True)
class Joined:
    chunks: list[Chunk]
    unknown_ids: int
    labels: int  # distinct labelled ids read
    notes: tuple[str, ...] = ()


def label_files(settings: Settings) -> list[Path]:
    if not settings.monitor.labels:
        return []
    folder = settings.root / settings.monitor.labels
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def read_labels(settings: Settings) -> pl.DataFrame:
    """``id`` and the label (``TRUTH``), both text, of every labels file, one row per id."""
    import polars as pl

    id_col, target = settings.data.id_column or "", settings.data.target
    frames = []
    for order, path in enumerate(label_files(settings)):
        rel = path.relative_to(settings.root)
        try:
            if path.suffix.lower() == ".parquet":
                frame = pl.read_parquet(path)
            else:
                sep = "\t" if path.suffix.lower() == ".tsv" else ","
                frame = pl.read_csv(path, separator=sep, infer_schema=False)
        except (OSError, pl.exceptions.PolarsError) as e:
            raise DataError(
                f"cannot read the labels file {rel}: {e}",
                "labels files are CSV, TSV or Parquet with the id column and the target",
            ) from e
        for key, col in (("data.id_column", id_col), ("data.target", target)):
            if col not in frame.columns:
                raise DataError(
                    f"the labels file {rel} has no column {col!r} ({key})",
                    f"add the {key} column to {rel} (its columns: "
                    + ", ".join(frame.columns[:10])
                    + "); nothing was joined",
                )
        frames.append(
            frame.select(
                pl.col(id_col).cast(pl.String).alias("id"),
                pl.col(target).cast(pl.String).alias(TRUTH),
                pl.lit(order).alias("__order"),
            )
        )
    if not frames:
        return pl.DataFrame(schema={"id": pl.String, TRUTH: pl.String})
    return (
        pl.concat(frames)
        .filter(pl.col("id").is_not_null() & pl.col(TRUTH).is_not_null())
        .sort("__order")
        .unique("id", keep="last", maintain_order=True)
        .drop("__order")
    )


def prediction_chunks(
    settings: Settings,
    store: Store,
    version: VersionRecord,
    model: LoadedModel,
    stored: dict[str, str],
    logged: Sequence[predictions.PredictionBatch] | None = None,
) -> Joined:
    """The version's prediction-log chunks joined with the delayed labels, except those
    ``stored`` (key -> content hash) already holds with the same content. ``logged``: the
    log's batches as the caller's session read them (None: read them here)."""
    import numpy as np
    import polars as pl

    if logged is None:
        with store.read() as s:
            logged = predictions.batches(s)
    if not logged and not settings.monitor.labels:
        return Joined([], 0, 0)  # nothing scored, no labels: no read at all
    labels = read_labels(settings)
    log = (
        pl.scan_parquet([store.objects.path(b.object_hash) for b in logged])
        if logged
        else pl.LazyFrame(schema=predictions.log_schema())
    )
    mine = log.filter(pl.col("version") == version.name).collect()
    unknown = 0
    if labels.height:
        scored_ids = log.select(pl.col("id").drop_nulls().unique()).collect()["id"]
        unknown = int((~labels["id"].is_in(scored_ids.implode())).sum())
    if not mine.height:
        return Joined([], unknown, labels.height)
    spec = model.spec
    mine = mine.join(labels, on="id", how="left")
    mine = mine.with_columns(_window(settings.monitor.chunk).alias("__window"))
    out: list[Chunk] = []
    for (window,), part in mine.group_by("__window", maintain_order=True):
        key = f"predictions:{window}"
        digest = hashlib.sha256(
            part.select("id", "prediction", "probabilities", TRUTH)
            .hash_rows(seed=0)
            .to_numpy()
            .tobytes()
        ).hexdigest()[:32]
        if stored.get(key) == digest:
            continue
        if spec.task == "multiclass":
            scores = np.asarray(part["probabilities"].to_list(), dtype=float)
        else:
            scores = part["prediction"].to_numpy().astype(float)
        y = _encoded(part[TRUTH], spec)
        frame = pl.DataFrame(
            {
                settings.data.id_column or "id": part["id"],
                spec.target: part[TRUTH],
            }
        )
        out.append(
            Chunk(
                key,
                "predictions",
                digest,
                frame,
                part["ts"].min(),  # type: ignore[arg-type]
                part["ts"].max(),  # type: ignore[arg-type]
                scores=scores,
                y=y,
            )
        )
    out.sort(key=lambda c: c.key)
    return Joined(out, unknown, labels.height)


def _window(rule: str | int) -> pl.Expr:
    import polars as pl

    every = rule if isinstance(rule, str) and rule != "file" else "1d"
    ts = pl.col("ts").str.to_datetime(time_unit="ms", strict=False)
    return ts.dt.truncate(every).dt.strftime("%Y-%m-%dT%H:%M:%S")


def _encoded(labels: pl.Series, spec: Any) -> Any:
    import numpy as np
    import polars as pl

    if spec.task == "regression":
        return labels.cast(pl.Float64, strict=False).to_numpy().astype(float)
    mapping = {str(c): float(i) for i, c in enumerate(spec.classes)}
    # a float class read back as text ("1.0") and an int one ("1") both map
    mapping |= {
        str(int(c)): float(i)
        for i, c in enumerate(spec.classes)
        if isinstance(c, float) and c.is_integer()
    }
    values = labels.replace_strict(mapping, default=None, return_dtype=pl.Float64)
    return values.fill_null(np.nan).to_numpy().astype(float)
