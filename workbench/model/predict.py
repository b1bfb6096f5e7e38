"""``workbench predict INPUT -o OUTPUT [--version V]``: batch scoring with the champion (or V).

The input (CSV/TSV/Parquet) is read in batches of ``BATCH_ROWS`` rows through a polars
streaming scan, so it can be larger than memory; each batch is encoded with the model's stored
feature spec and scored, and polars' own CSV/Parquet writer streams the scored batches out
(``_Scored``: they are the source of a lazy frame that is sunk to the file). Output = the
input columns unchanged (extra columns pass through) plus: ``prediction`` (binary: P(class 1);
regression: the value), ``prediction_label`` (classification: the predicted class) and
``proba_<class>`` per class for multiclass. The output is written to a temp file and renamed,
so a failed run leaves no half file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.data.profile import DATA_SUFFIXES, PARQUET_SUFFIXES, scan, separator
from workbench.errors import DataError, UsageError
from workbench.model.features import missing_columns
from workbench.model.loading import LoadedModel, load_version
from workbench.store import Store
from workbench.store.objects import fsync_path
from workbench.store.registry import VersionRecord

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
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
    scored = _Scored(lf, model, str(source))
    try:
        try:
            sink = scored.frame()
            if output.suffix.lower() in PARQUET_SUFFIXES:
                sink.sink_parquet(tmp)
            else:
                sink.sink_csv(tmp, separator=separator(output.suffix.lower()))
        except Exception as e:
            if scored.error is not None:  # raised while reading or scoring a batch
                raise scored.error from None
            raise DataError(
                f"cannot read {source} or write {output}: {e}",
                "check the input and the output path",
            ) from e
        if scored.error is not None:
            raise scored.error
        fsync_path(tmp)  # durable before the rename
        os.replace(tmp, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return PredictResult(version.name, scored.rows, output)


class _Scored:
    """The scored input as a lazy frame: polars' own writer streams it to CSV or Parquet.

    Each ``BATCH_ROWS`` batch of the input is encoded, scored and handed to the sink (polars'
    multi-threaded writer; LightGBM releases the GIL while it scores the next batch).
    An error raised while reading or scoring is kept in ``error``: polars reports it as its
    own, and the caller re-raises the original.
    """

    def __init__(self, lf: pl.LazyFrame, model: LoadedModel, name: str) -> None:
        self.lf, self.model, self.name = lf, model, name
        self.rows = 0
        self.error: Exception | None = None

    def frame(self) -> pl.LazyFrame:
        from polars.io.plugins import register_io_source

        schema = _score(self.lf.head(0).collect(), self.model).schema
        return register_io_source(self._batches, schema=schema)

    def _batches(self, with_columns: list[str] | None, *_: Any) -> Iterator[pl.DataFrame]:
        import polars as pl

        try:
            for batch in self.lf.collect_batches(chunk_size=BATCH_ROWS):
                if not batch.height:
                    continue
                self.rows += batch.height
                out = _score(batch, self.model)
                yield out if with_columns is None else out.select(with_columns)
            if self.rows == 0:  # an empty input still gets its header / schema
                empty = _score(self.lf.head(0).collect(), self.model)
                yield empty if with_columns is None else empty.select(with_columns)
        except pl.exceptions.PolarsError as e:
            self.error = DataError(f"cannot read {self.name}: {e}", "check the input file")
            raise
        except Exception as e:
            self.error = e
            raise


def _score(batch: pl.DataFrame, model: LoadedModel) -> pl.DataFrame:
    import numpy as np
    import polars as pl

    spec = model.spec
    pred = model.predict(batch) if batch.height else np.zeros((0, max(len(spec.classes), 1)))
    cols: dict[str, Any] = {}
    if spec.task == "binary":
        p = pred.reshape(-1)
        cols["prediction"] = p
        cols["prediction_label"] = _labels(spec.classes, (p >= 0.5).astype(np.int64))
    elif spec.task == "multiclass":
        pred = pred.reshape(-1, len(spec.classes))
        for k, cls in enumerate(spec.classes):
            cols[f"proba_{cls}"] = pred[:, k]
        cols["prediction_label"] = _labels(spec.classes, pred.argmax(axis=1))
    else:
        cols["prediction"] = pred.reshape(-1)
    return batch.with_columns(pl.Series(k, v) for k, v in cols.items())


def _labels(classes: list[Any], index: np.ndarray) -> pl.Series:
    """``classes[i]`` for each i, vectorised (the classes' own dtype, as ``pl.Series(classes)``)."""
    import polars as pl

    return pl.Series(classes).gather(index)
