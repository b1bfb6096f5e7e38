"""``workbench predict INPUT -o OUTPUT [--version V]``: batch scoring with the champion (or V).

The input (CSV/TSV/Parquet) is read in batches of ``BATCH_ROWS`` rows through a polars
streaming scan, so it can be larger than memory. A CSV is read as the model reads it
(``read_input``): the null values it was trained with, its numeric features as floats, the
other columns with the type all their values share, so a batch whose first rows look like
integers still scores. Each batch is encoded with the model's stored feature spec and scored,
and polars' own CSV/Parquet writer streams the scored batches out (``_Scored``: they are the
source of a lazy frame that is sunk to the file). Output = the input columns unchanged (extra
columns pass through) plus: ``prediction`` (binary: P(class 1); regression: the value),
``prediction_label`` (classification: the predicted class) and
``proba_<class>`` per class for multiclass. The output is written to a temp file and renamed,
so a failed run leaves no half file.

The output must land inside the project and must not be, or become, an input: it may not be
the input file itself, the config, a file in the store, inside ``[data] path`` (the next
snapshot would train on the predictions) or an input reached through a symlink. Outside the
project is refused too, like checkout: workbench changes files of its own project only. Every
check runs before the model is loaded, so a refused run writes nothing.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.config import Settings, load
from workbench.data.inputs import discover, escapes, in_data_path
from workbench.data.profile import DATA_SUFFIXES, PARQUET_SUFFIXES, scan, separator
from workbench.errors import DataError, UsageError
from workbench.model.features import FeatureSpec, missing_columns
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
    store: Store,
    source: Path,
    output: Path,
    *,
    ref: str | None = None,
    settings: Settings | None = None,
) -> PredictResult:
    """Score ``source`` into ``output``; ``settings`` is the project's (loaded when None)."""
    if output.is_dir():
        raise UsageError(
            f"{output} is a folder", f"name the output file, e.g. -o {output / 'scored.csv'}"
        )
    for path in (source, output):
        if path.suffix.lower() not in DATA_SUFFIXES:
            raise UsageError(f"{path} is not .csv, .tsv or .parquet", "name files by their format")
    if not source.is_file():
        raise UsageError(f"no input file {source}", "give the path of a CSV or Parquet file")
    # the store lives in the project's .workbench/: its config says where the inputs are
    check_output(settings or load(store.root.parent), source, output)
    version, model = resolve_model(store, ref)
    lf = read_input(source, model.spec)
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


def check_output(settings: Settings, source: Path, output: Path) -> None:
    """Refuse an output outside the project, or one that is or would become an input."""
    root = str(settings.root)
    # the folder the temp file and the rename happen in, and the file (through a symlink
    # named as the output, where it points): both must stay inside
    where = output.absolute()
    why = escapes(root, str(where.parent)) or escapes(root, str(where))
    if why is not None:
        raise UsageError(
            f"{output} is outside the project folder {root} ({why})",
            "predict writes only inside the project: give a path in it, e.g. -o scored/out.csv,"
            " and copy the file from there",
        )
    if not output.parent.is_dir():
        raise UsageError(
            f"the folder {output.parent} of {output} does not exist",
            f"create it first (mkdir -p {output.parent}) or write elsewhere in the project",
        )
    real = os.path.realpath(where)
    rel = real[len(root) + 1 :].replace(os.sep, "/")
    refusal = _refusal(settings, source, real, rel)
    if refusal is not None:
        raise UsageError(
            f"{output} {refusal}",
            "write the predictions elsewhere in the project, outside [data] path"
            f" ({settings.data.path!r}), e.g. -o scored/out.csv",
        )


def _refusal(settings: Settings, source: Path, real: str, rel: str) -> str | None:
    """Why the resolved output ``real`` (``rel`` in the project) must not be written, if so."""
    if os.path.realpath(source) == real:
        return "is the input file itself: scoring would overwrite it"
    store = settings.store_dir.name
    if rel == store or rel.startswith(f"{store}/"):
        return f"is inside the store ({store}/), which only workbench writes"
    if os.path.realpath(settings.root / settings.source.name) == real:
        return "is the project's config file"
    if in_data_path(settings.data.path, rel):
        return (
            f"is inside [data] path {settings.data.path!r}: the next snapshot would take the"
            " predictions as training data"
        )
    if real in _input_paths(settings):
        return "is one of the project's inputs (through a symlink in the data folder)"
    return None


def _input_paths(settings: Settings) -> set[str]:
    """The resolved paths of the current inputs (a symlinked one lives elsewhere)."""
    try:
        return {os.path.realpath(f.abspath) for f in discover(settings)}
    except DataError:
        return set()  # no inputs can be listed: none can be overwritten


def read_input(source: Path, spec: FeatureSpec) -> pl.LazyFrame:
    """The input as the model reads it: its numeric features as floats, whatever a batch's
    first rows look like (integers, then ``2.5`` at row 11,000 still score), the other columns
    with the type all their values share; dates are parsed only when a feature is a datetime
    (else pass-through columns stay as text)."""
    import polars as pl

    numeric = {f: pl.Float64 for f in spec.features if spec.kinds.get(f) == "numeric"}
    dates = "datetime" in spec.kinds.values()
    return scan(
        source, str(source), parse_dates=dates, dtypes=numeric, null_values=spec.null_values
    )


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


def score_frame(rows: pl.DataFrame, model: LoadedModel) -> pl.DataFrame:
    """``rows`` plus the columns ``predict`` writes for them (``prediction``,
    ``prediction_label``, ``proba_<class>``): the scoring server answers with these values."""
    return _score(rows, model)


def log_prediction(
    store: Store, settings: Settings, result: PredictResult, *, request: str
) -> None:
    """Append what ``predict_file`` wrote to the store's prediction log (read back from the
    output, streamed): ids, scores, version, time (``store.predictions``)."""
    from workbench.store import now_iso
    from workbench.store.predictions import log_scored_file

    _, model = resolve_model(store, result.version)
    spec = model.spec
    log_scored_file(
        store,
        result.output,
        version=result.version,
        task=spec.task,
        classes=spec.classes,
        id_column=settings.data.id_column,
        request=request,
        now=now_iso(),
    )
