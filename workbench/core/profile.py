"""Reading the project's data files and profiling them into a JSON-able summary.

A snapshot's profile is everything later work needs about the data without reading it again:
schema, row counts, and per column nulls, min/max/mean/std, quantiles (percentiles 1/5/95/99
and every decile, which PSI uses as bin edges), an equal-width histogram, and the top categories
with counts. Drift and the TUI read it instead of rescanning the reference data.

Reading goes through polars lazy scans so files larger than memory stream; all files of a
snapshot are combined with ``diagonal_relaxed`` (a column missing from one file is null there,
int/float widen). Errors are wrapped into ``DataError`` naming the file and, for ragged CSV rows,
the line (found with the csv module only on the failure path, so the happy path pays nothing).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import DataError

if TYPE_CHECKING:
    import polars as pl

QUANTILES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
HIST_BINS = 20
TOP_K = 20
IN_MEMORY_BYTES = 2 << 30  # smaller inputs are read once into memory; larger ones stream
CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
DATA_SUFFIXES = CSV_SUFFIXES + PARQUET_SUFFIXES


def scan(path: Path, label: str | None = None, *, parse_dates: bool = True) -> pl.LazyFrame:
    """A lazy frame over one CSV or Parquet file; errors name the file."""
    import polars as pl

    name = label or str(path)
    suffix = Path(name).suffix.lower()  # objects in the store have no suffix; labels do
    if path.stat().st_size == 0:
        raise DataError(
            f"{name} is empty (0 bytes)",
            "remove the file, or wait until it has been written completely",
        )
    try:
        if suffix in PARQUET_SUFFIXES:
            lf = pl.scan_parquet(path)
        else:
            lf = pl.scan_csv(path, separator=separator(suffix), infer_schema_length=10_000)
            lf = _parse_dates(lf) if parse_dates else lf
        lf.collect_schema()
    except Exception as e:
        raise _wrap(e, path, name) from e
    return lf


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def _parse_dates(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Cast string columns whose first rows are all ISO dates/datetimes.

    polars' own ``try_parse_dates`` tries every column and costs ~50x the read itself;
    looking at a sample and casting only the matching columns costs next to nothing.
    """
    import polars as pl

    strings = [n for n, t in lf.collect_schema().items() if t == pl.String]
    if not strings:
        return lf
    sample = lf.select(strings).head(200).collect()
    casts = []
    for name in strings:
        values = sample[name].drop_nulls().to_list()
        if not values:
            continue
        if all(_DATE.match(v) for v in values):
            casts.append(pl.col(name).str.to_date("%Y-%m-%d", strict=False))
        elif all(_DATETIME.match(v) for v in values):
            casts.append(pl.col(name).str.to_datetime(strict=False))
    return lf.with_columns(casts) if casts else lf


def read_frames(files: Sequence[tuple[str, Path]]) -> pl.LazyFrame:
    """All files combined into one lazy frame (columns union, types widened)."""
    return combine([scan(path, label) for label, path in files])


def combine(frames: Sequence[pl.LazyFrame]) -> pl.LazyFrame:
    """Frames of several files as one: columns united, types widened (``diagonal_relaxed``)."""
    import polars as pl

    if not frames:
        raise DataError("no data files to read", "add CSV or Parquet files to the data folder")
    try:
        return pl.concat(frames, how="diagonal_relaxed")
    except Exception as e:
        raise DataError(
            f"the data files cannot be combined: {_first_line(e)}",
            "make the same column hold the same type in every file",
        ) from e


def profile_files(files: Sequence[tuple[str, Path]]) -> dict[str, Any]:
    """Profile every file together; also return rows per file (``file_rows``)."""
    import polars as pl

    frames = [scan(path, label) for label, path in files]
    try:
        if sum(path.stat().st_size for _, path in files) <= IN_MEMORY_BYTES:
            # one read per file; the row counts and both profile passes then run in memory
            eager = [frame.collect() for frame in frames]
            per_file = [frame.height for frame in eager]
            lf = combine([frame.lazy() for frame in eager]).collect().lazy()
        else:
            per_file = [_count(frame) for frame in frames]
            lf = combine(frames)
        profile = profile_frame(lf)
    except DataError:
        raise
    except pl.exceptions.PolarsError as e:
        raise _locate(e, files) from e
    profile["file_rows"] = {label: rows for (label, _), rows in zip(files, per_file, strict=True)}
    return profile


def _count(lf: pl.LazyFrame) -> int:
    import polars as pl

    return int(lf.select(pl.len()).collect(engine="streaming").item())


def profile_frame(lf: pl.LazyFrame) -> dict[str, Any]:
    """Schema and per-column statistics of a lazy frame (two streaming passes)."""
    import polars as pl

    schema = lf.collect_schema()
    exprs: list[pl.Expr] = [pl.len().alias("__rows")]
    kinds = {name: column_kind(dtype) for name, dtype in schema.items()}
    for name, kind in kinds.items():
        c = pl.col(name)
        exprs += [c.null_count().alias(f"{name}\x00nulls"), c.n_unique().alias(f"{name}\x00unique")]
        if kind == "numeric":
            x = c.cast(pl.Float64)
            x = x.filter(x.is_finite())
            exprs += [
                x.min().alias(f"{name}\x00min"),
                x.max().alias(f"{name}\x00max"),
                x.mean().alias(f"{name}\x00mean"),
                x.std().alias(f"{name}\x00std"),
            ]
            # one expression for all quantiles: one sort per column, not one per quantile
            exprs.append(
                x.quantile(list(QUANTILES), interpolation="linear").alias(f"{name}\x00quantiles")
            )
        elif kind in ("datetime", "boolean"):
            exprs += [
                c.min().cast(pl.String).alias(f"{name}\x00min"),
                c.max().cast(pl.String).alias(f"{name}\x00max"),
            ]
    row = lf.select(exprs).collect(engine="streaming").row(0, named=True)
    columns = []
    for name, kind in kinds.items():
        col: dict[str, Any] = {
            "name": name,
            "dtype": str(schema[name]),
            "kind": kind,
            "nulls": int(row[f"{name}\x00nulls"]),
            "unique": int(row[f"{name}\x00unique"]),
        }
        if kind == "numeric":
            for stat in ("min", "max", "mean", "std"):
                col[stat] = _num(row[f"{name}\x00{stat}"])
            values = row[f"{name}\x00quantiles"] or [None] * len(QUANTILES)
            col["quantiles"] = {str(q): _num(v) for q, v in zip(QUANTILES, values, strict=True)}
        elif kind in ("datetime", "boolean"):
            col["min"], col["max"] = row[f"{name}\x00min"], row[f"{name}\x00max"]
        columns.append(col)
    _add_distributions(lf, columns)
    return {"rows": int(row["__rows"]), "columns": columns}


def _add_distributions(lf: pl.LazyFrame, columns: list[dict[str, Any]]) -> None:
    """Histograms of numeric columns and top categories of the others (second pass)."""
    import polars as pl

    exprs: list[pl.Expr] = []
    for col in columns:
        name = col["name"]
        if col["kind"] == "numeric" and col["min"] is not None:
            edges = _edges(col["min"], col["max"])
            col["histogram"] = {"edges": edges, "counts": []}
            x = pl.col(name).cast(pl.Float64)
            x = x.filter(x.is_finite())
            # bins as numpy.histogram has them: [e_i, e_i+1), the last one closed
            insert_at = pl.lit(pl.Series(edges)).search_sorted(x, side="right").cast(pl.Int32)
            index = (insert_at - 1).clip(0, HIST_BINS - 1)
            exprs.append(index.alias(name).value_counts().implode())
        elif col["kind"] in ("categorical", "boolean"):
            exprs.append(
                pl.col(name)
                .cast(pl.String)
                .drop_nulls()
                .value_counts(sort=True)
                .implode()
                .alias(name)
            )
    if not exprs:
        return
    result = lf.select(exprs).collect(engine="streaming").row(0, named=True)
    for col in columns:
        name = col["name"]
        if name not in result:
            continue
        pairs = [(item[name], item["count"]) for item in result[name]]
        if col["kind"] == "numeric":
            counts = [0] * HIST_BINS
            for index, count in pairs:
                counts[int(index)] += int(count)
            col["histogram"]["counts"] = counts
        else:
            pairs.sort(key=lambda p: (-p[1], str(p[0])))
            col["top"] = [{"value": v, "count": int(n)} for v, n in pairs[:TOP_K]]
            col["other_count"] = int(sum(n for _, n in pairs[TOP_K:]))


def column_kind(dtype: Any) -> str:
    """numeric | categorical | datetime | boolean, as the profile and drift see a dtype."""
    import polars as pl

    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_temporal():
        return "datetime"
    return "categorical"


def _edges(lo: float, hi: float) -> list[float]:
    """Equal-width edges exactly as ``numpy.histogram`` makes them."""
    import numpy as np

    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return [float(e) for e in np.linspace(lo, hi, HIST_BINS + 1)]


def separator(suffix: str) -> str:
    """The field separator of a CSV-family file by its suffix."""
    return "\t" if suffix == ".tsv" else ","


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _wrap(e: Exception, path: Path, name: str) -> DataError:
    text = _first_line(e)
    if "utf-8" in text.lower() or "utf8" in text.lower():
        return DataError(
            f"{name} is not UTF-8 text: {text}",
            "save the file as UTF-8 CSV, or convert it to Parquet",
        )
    if "empty" in text.lower():
        return DataError(f"{name} has no header and no rows", "remove the file or write a header")
    suffix = Path(name).suffix.lower()
    line = ragged_line(path, separator(suffix)) if suffix in CSV_SUFFIXES else None
    if line is not None:
        number, expected, got = line
        return DataError(
            f"{name}:{number}: expected {expected} fields (as in the header), found {got}",
            "fix that line (a missing quote or a stray delimiter), or remove the file",
        )
    return DataError(f"cannot read {name}: {text}", "check that it is a valid CSV or Parquet file")


def _locate(e: Exception, files: Sequence[tuple[str, Path]]) -> DataError:
    """Find which file makes a combined query fail, re-reading one file at a time."""
    import polars as pl

    for label, path in files:
        try:
            scan(path, label).collect(engine="streaming")
        except DataError as inner:
            return inner
        except pl.exceptions.PolarsError as inner:
            return _wrap(inner, path, label)
    return DataError(f"cannot read the data: {_first_line(e)}", "check the data files")


def ragged_line(path: Path, sep: str = ",") -> tuple[int, int, int] | None:
    """(line number, header fields, fields found) of the first ragged CSV row, if any."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.reader(f, delimiter=sep)
            header = next(reader, None)
            if header is None:
                return None
            for row in reader:
                if row and len(row) != len(header):
                    return reader.line_num, len(header), len(row)
    except (OSError, csv.Error):
        return None
    return None
