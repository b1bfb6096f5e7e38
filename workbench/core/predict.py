"""``workbench predict INPUT -o OUTPUT [--version V]``: batch scoring with the champion (or V).

The input (CSV/TSV/Parquet) is read in batches of ``BATCH_ROWS`` rows through a polars
streaming scan, so it can be larger than memory; each batch is encoded with the model's stored
feature spec and scored, and written out as it comes. Output = the input columns unchanged
(extra columns pass through) plus: ``prediction`` (binary: P(class 1); regression: the value),
``prediction_label`` (classification: the predicted class) and ``proba_<class>`` per class for
multiclass. The output is written to a temp file and renamed, so a failed run leaves no half file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.features import missing_columns
from workbench.core.model import LoadedModel, load_version
from workbench.core.profile import DATA_SUFFIXES, PARQUET_SUFFIXES, scan, separator
from workbench.errors import DataError, UsageError
from workbench.store import Store
from workbench.store.registry import VersionRecord

if TYPE_CHECKING:
    import polars as pl

BATCH_ROWS = 250_000


@dataclass(frozen=True)
class PredictResult:
    version: str
    rows: int
    output: Path


def resolve_model(store: Store, ref: str | None) -> tuple[VersionRecord, LoadedModel]:
    with store.read() as s:
        version = s.version(ref) if ref is not None else s.champion()
        if version is None:
            raise UsageError("there is no champion yet", "run `workbench train` first")
    return version, load_version(store.objects, version)


def predict_file(
    store: Store, source: Path, output: Path, *, ref: str | None = None
) -> PredictResult:
    import polars as pl

    for path in (source, output):
        if path.suffix.lower() not in DATA_SUFFIXES:
            raise UsageError(f"{path} is not .csv, .tsv or .parquet", "name files by their format")
    if not source.is_file():
        raise UsageError(f"no input file {source}", "give the path of a CSV or Parquet file")
    version, model = resolve_model(store, ref)
    dates = "datetime" in model.spec.kinds.values()
    lf = scan(source, str(source), parse_dates=dates)  # else pass-through columns stay as text
    missing = missing_columns(lf.collect_schema().names(), model.spec)
    if missing:
        raise DataError(
            f"{source}: missing feature column(s) {', '.join(missing)}",
            f"{version.name} was trained with: {', '.join(model.spec.features)}",
        )
    tmp = output.with_name(f".{output.name}.wbtmp.{os.getpid()}")
    rows = 0
    try:
        with _Writer(tmp, output.suffix.lower()) as writer:
            try:
                for batch in lf.collect_batches(chunk_size=BATCH_ROWS):
                    writer.write(_score(batch, model))
                    rows += batch.height
            except pl.exceptions.PolarsError as e:
                raise DataError(f"cannot read {source}: {e}", "check the input file") from e
            if rows == 0:
                empty = lf.head(0).collect()
                writer.write(_score(empty, model))
        os.replace(tmp, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return PredictResult(version.name, rows, output)


def _score(batch: pl.DataFrame, model: LoadedModel) -> pl.DataFrame:
    import numpy as np
    import polars as pl

    spec = model.spec
    pred = model.predict(batch) if batch.height else np.zeros((0, max(len(spec.classes), 1)))
    cols: dict[str, Any] = {}
    if spec.task == "binary":
        p = pred.reshape(-1)
        cols["prediction"] = p
        cols["prediction_label"] = _labels(spec.classes, (p >= 0.5).astype(int))
    elif spec.task == "multiclass":
        pred = pred.reshape(-1, len(spec.classes))
        for k, cls in enumerate(spec.classes):
            cols[f"proba_{cls}"] = pred[:, k]
        cols["prediction_label"] = _labels(spec.classes, pred.argmax(axis=1))
    else:
        cols["prediction"] = pred.reshape(-1)
    return batch.with_columns(pl.Series(k, v) for k, v in cols.items())


def _labels(classes: list[Any], index: Any) -> list[Any]:
    return [classes[i] for i in index]


class _Writer:
    """Appends scored batches to one CSV or Parquet file."""

    def __init__(self, path: Path, suffix: str) -> None:
        self.path, self.suffix = path, suffix
        self.handle: Any = None
        self.parquet: Any = None

    def __enter__(self) -> _Writer:
        return self

    def write(self, frame: pl.DataFrame) -> None:
        if self.suffix in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            table = frame.to_arrow()
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.path, table.schema)
            self.parquet.write_table(table)
            return
        if self.handle is None:
            self.handle = open(self.path, "wb")  # noqa: SIM115 - closed in __exit__
            frame.write_csv(self.handle, separator=separator(self.suffix))
        else:
            frame.write_csv(self.handle, include_header=False, separator=separator(self.suffix))

    def __exit__(self, *exc: object) -> None:
        if self.parquet is not None:
            self.parquet.close()
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)  # durable before the rename, like the CSV path
            finally:
                os.close(fd)
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
