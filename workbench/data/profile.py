"""Reading the project's data files and profiling them into a JSON-able summary.

A snapshot's profile is everything later work needs about the data without reading it again:
schema, row counts, and per column nulls, min/max/mean/std, quantiles (percentiles 1/5/95/99
and every decile, which PSI uses as bin edges), an equal-width histogram, and the top categories
with counts. Drift and the TUI read it instead of rescanning the reference data.

Reading goes through polars lazy scans so files larger than memory stream; all files of a
snapshot are combined with ``diagonal_relaxed`` (a column missing from one file is null there,
int/float widen). Errors are wrapped into ``DataError`` naming the file and, for ragged CSV rows,
the line (found with the csv module only on the failure path, so the happy path pays nothing).

CSV types hold for every row: polars infers them from the first ``SAMPLE_ROWS`` rows (the whole
file would cost ~6x the read), and a column a later value contradicts (``2.5`` or ``abc`` in a
column of integers) is read again as text and gets the type all its values share (Int64,
Float64, Boolean, else String); only the file that fails is read again. A lazy scan checks the
rows past the sample in one streaming pass over its typed columns (``_scan_csv``).

Rows and columns as the file has them:

- **short rows**: polars fills a row with fewer fields than the header with nulls, so a
  truncated file (its last line cut mid-row) or a line missing a field would be trained on.
  When the last column has a null (only then: a short row shows there) the file's field counts
  are checked (a line count per line without quotes in the file, else the csv module) and the
  first short row is a ``DataError`` naming its line. A file too large for memory has its last
  line checked only. A ragged row that a quoted field runs on over lines is named on the line
  the quote opens (an unterminated quote), not where the file ends;
- **empty columns**: a CSV column without a single value has no type of its own: it is read as
  ``Null``, which takes the column's type from the other files when they are combined (read as
  text it made every file's numbers text). Files too large for memory keep polars' type;
- **wide files**: a file with more than ``[data] max_columns`` columns is refused before it is
  read (``check_width``), and statistics run ``COLUMNS_PER_QUERY`` columns per query on a frame
  narrowed to them: polars' cost per expression grows with the frame's width, so one query over
  2,000 columns took 11 s (10,000: minutes, gigabytes) where parts take 0.6 s. The frame's
  ``schema`` is taken once for the same reason (it is rebuilt on every access).

Reuse (the watch loop re-reads and re-profiles the same files every cycle otherwise):

- **frames by content hash**: ``frame(label, path, digest)`` reads one file of the object
  store (content addressed, so immutable) once per process and keeps the eager frame in a
  bounded LRU (``FRAME_CACHE_BYTES``); the snapshot profile, validation, training and drift
  of one cycle share that one read, and a watcher reads an unchanged file never again.
- **per-file profiles by content hash**: ``profile_files(..., hashes=...)`` profiles each file
  alone (its ``file_profile``, stored by the snapshot in ``file_profiles`` and kept in memory)
  and only files whose profile is not known yet are read. The snapshot profile is then the
  file's own for one file, or a **merge** of per-file column sketches (numeric: the sorted
  finite values and the distinct values; categorical: full value counts) which gives exactly
  the statistics a profile of all rows gives: counts, min/max, mean/std, linear-interpolated
  quantiles, histogram, distinct values, top categories. Sketches are kept in memory by hash;
  files whose columns differ in type between files fall back to profiling the combined rows.
- **many small CSVs** (``grouped``): files that share a header are read as one CSV and merged
  as one sketch; each gets a *partial* per-file profile (rows and nulls per column), which is
  never used as a snapshot's own profile.
- **large files** (``STREAM_PROFILE_BYTES`` and up, ``profile_source``): one streaming pass
  with bounded memory (``sketch``). Counts, nulls, min/max, mean/std and categories are exact;
  quantiles, histogram and numeric distinct counts are approximate, and each such column says
  so (``"approximate"``: the statistics, ``"rank_error"``: the bound, a fraction of its
  values). The per-file profile keeps the mergeable state (``"sketch"``) so a file that grew
  by appended rows is profiled from its new rows only (``profile_appended``). A snapshot of a
  large file together with other files still merges exact in-memory sketches (its memory then
  grows with the file).
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import math
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.caches import LRU
from workbench.config import NULL_VALUES
from workbench.data.columns import column_kind as column_kind  # re-exported: the one owner
from workbench.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

QUANTILES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
HIST_BINS = 20
TOP_K = 20
IN_MEMORY_BYTES = 2 << 30  # smaller inputs are read once into memory; larger ones stream
STREAM_PROFILE_BYTES = 64 << 20  # a file this large is profiled in one streaming pass (sketch)
CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
DATA_SUFFIXES = CSV_SUFFIXES + PARQUET_SUFFIXES
FRAME_CACHE_BYTES = 1 << 30  # eager frames of store objects kept per process (LRU)
SKETCH_CACHE_BYTES = 512 << 20  # per-file column sketches kept per process (LRU)
PROFILE_CACHE_ENTRIES = 1024  # per-file profiles kept per process (small JSON)
PROFILE_FORMAT = 3  # part of every per-file profile key: bump when the profile changes
# 2: CSV text in [data] null_values is missing, text columns of numbers become numeric
# 3: a CSV column without a single value is Null (no type of its own)
MAX_COLUMNS = 2000  # default [data] max_columns: a file with more columns is refused
COLUMNS_PER_QUERY = 64  # statistics are computed this many columns per query (see below)


def scan(
    path: Path,
    label: str | None = None,
    *,
    parse_dates: bool = True,
    dtypes: Mapping[str, Any] | None = None,
    null_values: Sequence[str] = NULL_VALUES,
    checked: bool = True,
) -> pl.LazyFrame:
    """A lazy frame over one CSV or Parquet file with the whole file's types; errors name it.

    ``dtypes`` (column -> polars dtype) fixes the type of some CSV columns (predict reads a
    model's numeric features as floats); the others are inferred, see ``_scan_csv``. CSV text
    in ``null_values`` (``[data] null_values``) is missing. ``checked=False`` skips the pass
    that checks the sample's types against every row: for a caller that reads every row
    once anyway, where a contradicting value raises ``polars.exceptions.ComputeError`` (it
    then scans again with ``checked=True``, which widens that column).
    """
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
            lf = _scan_csv(path, separator(suffix), dict(dtypes or {}), tuple(null_values), checked)
            lf = _parse_dates(lf) if parse_dates else lf
        lf.collect_schema()
    except Exception as e:
        raise _wrap(e, path, name) from e
    return lf


SAMPLE_ROWS = 10_000  # polars infers CSV types from this many rows; later rows are checked
MAX_WIDENED = 8  # columns widened one re-read at a time; past that, all are read as text


def _scan_csv(
    path: Path, sep: str, fixed: dict[str, Any], nulls: tuple[str, ...], check: bool = True
) -> pl.LazyFrame:
    """A CSV scan whose types hold for every row, not only the first ``SAMPLE_ROWS``.

    Inferring from the whole file costs ~6x the read (measured: 25 s against 4 s for 0.5 GB),
    so polars infers from a sample and one streaming pass over the typed (non-text) columns
    checks the rest (~half a read; skipped when the sample was the whole file). A column a
    later value contradicts (``2.5`` or ``abc`` in a column of integers) is read as text again
    and gets the type all of its values share (``columns.text_dtypes``).
    """
    import polars as pl

    if fixed:  # only columns the file has (a missing feature is the caller's error to name)
        header = pl.scan_csv(path, separator=sep, infer_schema_length=0).collect_schema()
        fixed = {c: t for c, t in fixed.items() if c in header}
    widened: dict[str, Any] = {}
    while True:
        overrides = fixed | widened
        lf = pl.scan_csv(
            path, separator=sep, infer_schema_length=SAMPLE_ROWS, schema_overrides=overrides
        )
        schema = lf.collect_schema()
        if len(widened) > MAX_WIDENED:  # many conflicts: every column as text, typed at once
            lf = pl.scan_csv(path, separator=sep, infer_schema_length=0, schema_overrides=fixed)
            return _typed(lf, [c for c in lf.collect_schema() if c not in fixed], nulls)
        if not widened:
            _check_last_line(path, sep, len(schema))
        # (the head only: a count of all rows maps the whole file, ~1 GB of RSS for 1 GB)
        if lf.head(SAMPLE_ROWS).select(pl.len()).collect().item() < SAMPLE_ROWS:  # every row
            return _typed(lf, list(widened), nulls)
        checked = [c for c, t in schema.items() if t != pl.String and c not in widened]
        if not check:  # the caller's own read meets a contradicting value
            return _typed(lf, list(widened), nulls, probe_nan=False)
        try:
            return _typed(lf, list(widened), nulls, checked)
        except pl.exceptions.ComputeError as e:
            column = _conflict(e, list(schema))
            if column is None or column in widened:
                raise
            widened[column] = pl.String


def _read_csv(
    path: Any, sep: str, nulls: tuple[str, ...], *, short_rows: bool = True
) -> pl.DataFrame:
    """``_scan_csv(...).collect()`` in one parse when the sample's types hold (the common case);
    a column a later value contradicts is read again as text and typed from all its values.

    ``path`` may be a buffer (``grouped``), which checks short rows itself (``short_rows``)."""
    import polars as pl

    widened: dict[str, Any] = {}
    while True:
        if len(widened) > MAX_WIDENED:
            if hasattr(path, "seek"):
                path.seek(0)
            eager = pl.read_csv(path, separator=sep, infer_schema_length=0)
            return _typed(eager.lazy(), list(eager.columns), nulls).collect()
        if hasattr(path, "seek"):
            path.seek(0)
        try:
            eager = pl.read_csv(
                path, separator=sep, infer_schema_length=SAMPLE_ROWS, schema_overrides=widened
            )
        except pl.exceptions.ComputeError as e:
            if hasattr(path, "seek"):
                path.seek(0)
            header = pl.read_csv(path, separator=sep, n_rows=0).columns
            column = _conflict(e, header)
            if column is None or column in widened:
                raise
            widened[column] = pl.String
            continue
        if short_rows and eager.width and eager[eager.columns[-1]].null_count():
            _check_short_rows(path, sep, eager.width)  # polars fills a short row with nulls
        return _untyped_nulls(_typed(eager.lazy(), list(widened), nulls).collect())


def _untyped_nulls(eager: pl.DataFrame) -> pl.DataFrame:
    """A CSV column without a single value has no type of its own: ``Null``, which takes the
    type of the same column in other files when they are combined (a batch where ``budget``
    is all empty would otherwise be text, and make every file's ``budget`` text)."""
    import polars as pl

    if not eager.height:
        return eager
    empty = [
        c
        for c, t in eager.schema.items()
        if t == pl.String and eager[c].null_count() == eager.height
    ]
    return eager.with_columns(pl.col(c).cast(pl.Null) for c in empty) if empty else eager


class ShortRowError(Exception):
    """A CSV row with fewer fields than the header (polars would fill them with nulls)."""

    def __init__(self, line: int, expected: int, found: int, last: bool) -> None:
        super().__init__(f"line {line}: expected {expected} fields, found {found}")
        self.line, self.expected, self.found, self.last = line, expected, found, last


def _check_short_rows(path: Path, sep: str, width: int) -> None:
    """Raise ``ShortRowError`` for the first row with fewer than ``width`` fields.

    Run only when the last column has a null (a short row shows as one), so a file whose last
    column is always filled pays nothing. Without a quote character in the file a row is a
    line and its fields are its separators plus one; with quotes the csv module decides.
    """
    import mmap

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
        quoted = view.find(b'"') >= 0
    if quoted:
        found = ragged_line(path, sep)
        if found is not None and found[2] < found[1]:
            raise ShortRowError(found[0], found[1], found[2], False)
        return
    mark = sep.encode()
    with open(path, "rb") as f:
        next(f, None)  # the header
        for number, line in enumerate(f, 2):
            fields = line.count(mark) + 1
            if fields < width and line.strip(b"\r\n"):
                raise ShortRowError(number, width, fields, not line.endswith(b"\n"))


def _check_last_line(path: Path, sep: str, width: int) -> None:
    """The last line of a file too large to check row by row: one cut short (a truncated
    file, or one still being written) raises ``ShortRowError``."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - (1 << 20)))
        tail = f.read()
    lines = tail.rstrip(b"\r\n").rsplit(b"\n", 1)
    if len(lines) < 2 or b'"' in lines[-1]:
        return  # a header only, or a quoted last row: the csv rules decide, not a count
    fields = lines[-1].count(sep.encode()) + 1
    if fields < width:
        with open(path, "rb") as f:
            number = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))
        last = not tail.endswith(b"\n")
        raise ShortRowError(number + (1 if last else 0), width, fields, last)


def _typed(
    lf: pl.LazyFrame,
    widened: list[str],
    nulls: tuple[str, ...],
    checked: Sequence[str] = (),
    *,
    probe_nan: bool = True,
) -> pl.LazyFrame:
    """``lf`` (a CSV as read) with missing-value text as nulls and text columns typed.

    Text in ``nulls`` becomes null in every text column (polars' own ``null_values`` costs
    ~1.8x the read for pandas' 19 strings; this costs ~3%, text columns only). Then the
    ``widened`` columns, and the text columns whose sample is numbers once the nulls are gone
    ("3.5", "NA", "7"), get the type all their values share, and NaN parsed in a float column
    is null when NaN is a null value. One query decides all of it and parses every
    ``checked`` column (streaming; it raises on a value a column's type contradicts).
    ``probe_nan=False``: every float column gets ``fill_nan(None)`` instead of only those the
    query finds NaN in (the same values), so that without text to type there is no query.
    """
    import polars as pl

    from workbench.data.columns import numeric_text, text_casts, text_dtype_exprs, text_dtypes

    schema = lf.collect_schema()
    tokens = list(nulls)  # "" too: a quoted empty field ("") is read as empty text
    strings = [c for c, t in schema.items() if t == pl.String]
    if tokens and strings:
        lf = lf.with_columns(
            pl.when(pl.col(c).is_in(tokens)).then(None).otherwise(pl.col(c)).alias(c)
            for c in strings
        )
    others = [c for c in strings if c not in widened]
    text = list(widened)
    if tokens and others:  # a column that was text only for its missing values
        text += numeric_text(lf.select(others).head(SAMPLE_ROWS).collect())
    floats = [c for c, t in schema.items() if t.is_float()] if _NAN & set(nulls) else []
    if not probe_nan:
        lf = lf.with_columns(pl.col(c).fill_nan(None) for c in floats) if floats else lf
        floats = []
    if not text and not checked and not floats:
        return lf
    exprs = [pl.col(c).null_count().alias(f"{c}\x00checked") for c in checked]
    exprs += [pl.col(c).is_nan().any().alias(f"{c}\x00nan") for c in floats]
    exprs += text_dtype_exprs(text)
    row = lf.select(exprs).collect(engine="streaming").row(0, named=True)
    nan = [c for c in floats if row[f"{c}\x00nan"]]
    casts = text_casts(text_dtypes(row, text)) + [pl.col(c).fill_nan(None) for c in nan]
    return lf.with_columns(casts) if casts else lf


_NAN = {"NaN", "nan", "-NaN", "-nan"}  # text polars parses as NaN in a float column


_CONFLICT = re.compile(r"could not parse `.*` as dtype `[^`]+` at column .*\(column number (\d+)\)")


def _conflict(e: Exception, columns: list[str]) -> str | None:
    """The column a value past the inferred sample contradicts, from polars' parse error."""
    found = _CONFLICT.search(str(e))
    if found is None:
        return None
    number = int(found.group(1))
    return columns[number - 1] if 0 < number <= len(columns) else None


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
DATE_TEXT = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"  # either, for polars
DATE_SAMPLE_ROWS = 200  # a text column is a date column when its first rows all are dates


def _parse_dates(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Cast string columns whose first rows are all ISO dates/datetimes.

    polars' own ``try_parse_dates`` tries every column and costs ~50x the read itself;
    looking at a sample and casting only the matching columns costs next to nothing.
    """
    import polars as pl

    strings = [n for n, t in lf.collect_schema().items() if t == pl.String]
    if not strings:
        return lf
    sample = lf.select(strings).head(DATE_SAMPLE_ROWS).collect()
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


_FRAMES = LRU(FRAME_CACHE_BYTES)
_SKETCHES = LRU(SKETCH_CACHE_BYTES)
_PROFILES = LRU(PROFILE_CACHE_ENTRIES)
PARALLEL_FILES = 8  # this many files without a profile are profiled by a thread pool


def clear_caches() -> None:
    """Forget every cached frame, sketch and per-file profile of this process."""
    for cache in (_FRAMES, _SKETCHES, _PROFILES):
        cache.clear()


def file_format(label: str) -> str:
    """csv | tsv | parquet: how a file named ``label`` is parsed."""
    # os.path, not Path: this runs for every file of every snapshot (10,000: 0.3 s with Path)
    suffix = os.path.splitext(label)[1].lower()
    return "parquet" if suffix in PARQUET_SUFFIXES else ("tsv" if suffix == ".tsv" else "csv")


def profile_key(label: str, digest: str, null_values: Sequence[str] = NULL_VALUES) -> str:
    """Key of a per-file profile: the same bytes parsed the same way give the same profile."""
    return f"p{PROFILE_FORMAT}:{read_as(label, null_values)}:{digest}"


def read_as(label: str, null_values: Sequence[str] = NULL_VALUES) -> str:
    """How a file is parsed, for cache keys: its format, and for a CSV whose null values are
    not the default ones a digest of them (they change what the file reads as)."""
    fmt = file_format(label)
    if fmt == "parquet" or tuple(null_values) == NULL_VALUES:
        return fmt
    import hashlib

    digest = hashlib.sha256("\x00".join(null_values).encode()).hexdigest()[:16]
    return f"{fmt}~{digest}"


def any_profile_in_memory(keys: Sequence[str]) -> bool:
    """True when this process knows the per-file profile of some key (it is a warm process)."""
    return any(_PROFILES.get(key) is not None for key in keys)


def all_profiles_in_memory(keys: Sequence[str]) -> bool:
    """True when this process knows the per-file profile of every key (a warm process: a
    watcher, or a command that just profiled its only new file); otherwise the store is asked
    for the profiles it holds, so that no file is profiled twice."""
    return all(_PROFILES.get(key) is not None for key in keys)


def remember_frame(
    label: str, digest: str, eager: pl.DataFrame, null_values: Sequence[str] = NULL_VALUES
) -> None:
    """Put a store object's frame, read some other way (a group read), in the frame cache."""
    _FRAMES.put(f"{read_as(label, null_values)}:{digest}", eager, int(eager.estimated_size()))


def frame(
    label: str, path: Path, digest: str | None = None, null_values: Sequence[str] = NULL_VALUES
) -> pl.DataFrame:
    """One file read eagerly; with ``digest`` (an immutable store object) read once per process."""

    key = None if digest is None else f"{read_as(label, null_values)}:{digest}"
    if key is not None:
        hit = _FRAMES.get(key)
        if hit is not None:
            return hit
    eager = _read(path, label, null_values)
    if key is not None:
        _FRAMES.put(key, eager, int(eager.estimated_size()))
    return eager


def _read(path: Path, label: str, null_values: Sequence[str] = NULL_VALUES) -> pl.DataFrame:
    """``scan(path, label).collect()`` in one parse of the file (no separate schema pass)."""
    import polars as pl

    if path.stat().st_size == 0:
        scan(path, label)  # raises the "empty (0 bytes)" error
    try:
        if file_format(label) == "parquet":
            return pl.read_parquet(path)
        eager = _read_csv(path, separator(Path(label).suffix.lower()), tuple(null_values))
        return _parse_dates(eager.lazy()).collect()
    except Exception as e:
        raise _wrap(e, path, label) from e


def lazy_frames(
    files: Sequence[tuple[str, Path]],
    hashes: Mapping[str, str] | None = None,
    null_values: Sequence[str] = NULL_VALUES,
) -> list[pl.LazyFrame]:
    """One lazy frame per file: cached/eager for store objects that fit in memory, else a scan."""
    hashes = hashes or {}
    if _fits_in_memory(files):  # one parse each
        return [frame(label, path, hashes.get(label), null_values).lazy() for label, path in files]
    return [scan(path, label, null_values=null_values) for label, path in files]


def _fits_in_memory(files: Sequence[tuple[str, Path]]) -> bool:
    return sum(path.stat().st_size for _, path in files) <= IN_MEMORY_BYTES


def read_frames(
    files: Sequence[tuple[str, Path]],
    hashes: Mapping[str, str] | None = None,
    null_values: Sequence[str] = NULL_VALUES,
) -> pl.LazyFrame:
    """All files combined into one lazy frame (columns union, types widened).

    ``hashes`` (label -> content hash, for files of the object store) lets the read come from,
    and go into, this process's frame cache. Files read into memory are concatenated as
    frames, not as lazy frames: planning a lazy concat of 10,000 small files' frames took 5.4 s,
    concatenating the frames themselves 0.09 s (the same frame).
    """
    if len(files) > 1 and _fits_in_memory(files):
        hashes = hashes or {}
        eager = [frame(label, path, hashes.get(label), null_values) for label, path in files]
        return _concat(eager).lazy()
    return combine(lazy_frames(files, hashes, null_values))


def combine(frames: Sequence[pl.LazyFrame]) -> pl.LazyFrame:
    """Frames of several files as one: columns united, types widened (``diagonal_relaxed``)."""
    if not frames:
        raise DataError("no data files to read", "add CSV or Parquet files to the data folder")
    if len(frames) == 1:
        return frames[0]
    return _concat(frames)


def _concat(frames: Sequence[Any]) -> Any:
    """``pl.concat(frames, how="diagonal_relaxed")`` of frames or of lazy frames, a failure
    as the ``DataError`` that says what to do."""
    import polars as pl

    try:
        return pl.concat(frames, how="diagonal_relaxed")
    except Exception as e:
        raise DataError(
            f"the data files cannot be combined: {_first_line(e)}",
            "make the same column hold the same type in every file",
        ) from e


def profile_files(
    files: Sequence[tuple[str, Path]],
    *,
    hashes: Mapping[str, str] | None = None,
    known: Mapping[str, dict[str, Any]] | None = None,
    null_values: Sequence[str] = NULL_VALUES,
    max_columns: int = MAX_COLUMNS,
    contents: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Profile every file together; also return rows per file (``file_rows``).

    ``contents`` (label -> bytes): small files' bytes already in memory (the snapshot's, as
    hashed and stored), read by the grouped path instead of the files.

    CSV text in ``null_values`` is missing; the per-file profile keys say which values. A file
    not profiled yet with more than ``max_columns`` columns is refused before it is read.

    With ``hashes`` (label -> content hash; the paths are then the immutable store objects)
    each file is profiled alone first, unless its profile is in ``known`` (profile key ->
    per-file profile, e.g. from the store) or in this process's memory, and the snapshot
    profile is merged from the files (see the module docstring). Every per-file profile used
    is returned under ``file_profiles`` (profile key -> profile) for the caller to store.
    """

    if hashes is None:
        return _profile_together(files, null_values)
    if not files:
        combine([])  # raises: no data files
    keys = {label: profile_key(label, hashes[label], null_values) for label, _ in files}
    per_file: dict[str, dict[str, Any]] = {}
    missing: list[tuple[str, Path]] = []
    for label, path in files:
        found = (known or {}).get(keys[label]) or _PROFILES.get(keys[label])
        if found is None or (found.get("partial") and len(files) == 1):
            missing.append((label, path))  # a partial profile is never a snapshot's own
        else:
            per_file[label] = found
    groups = _groups(files, keys, null_values, max_columns, contents)
    in_group = {label for group in groups for label in group.labels}
    if groups:
        from workbench.data.grouped import partial_profiles

        for group in groups:
            for label, partial in partial_profiles(group).items():
                per_file.setdefault(label, partial)
        missing = [item for item in missing if item[0] not in in_group]

    for label, path in missing:
        check_width(label, path, max_columns)

    def one(item: tuple[str, Path]) -> dict[str, Any]:
        label, path = item
        return _profile_one(label, path, hashes[label], keys[label], null_values)

    if len(missing) >= PARALLEL_FILES:  # many new files (a first snapshot): polars releases
        with ThreadPoolExecutor(max_workers=workers()) as pool:  # the GIL as it reads
            profiled = list(pool.map(one, missing))
    else:
        profiled = [one(item) for item in missing]
    for (label, _), found in zip(missing, profiled, strict=True):
        per_file[label] = found
    for label, _ in files:
        _PROFILES.put(keys[label], per_file[label])
    if len(files) == 1:
        profile = _copy_profile(per_file[files[0][0]])
    else:
        profile = _merged(files, hashes, per_file, null_values, groups)
    profile["file_rows"] = {label: int(per_file[label]["rows"]) for label, _ in files}
    profile["column_gaps"] = column_gaps(
        [
            (int(p["rows"]), {c["name"]: int(c["nulls"]) for c in p["columns"]})
            for p in (per_file[label] for label, _ in files)
        ]
    )
    profile["file_profiles"] = {keys[label]: per_file[label] for label, _ in files}
    _retain({hashes[label] for label, _ in files})
    return profile


def _groups(
    files: Sequence[tuple[str, Path]],
    keys: Mapping[str, str],
    nulls: Sequence[str],
    max_columns: int,
    contents: Mapping[str, bytes] | None = None,
) -> list[Any]:
    """Many small CSVs of a snapshot read in groups (``grouped``), unless their sketches are in
    memory already (a warm process merges those without reading)."""
    if len(files) < 2:
        return []
    from workbench.data import grouped

    small = grouped.candidates(files, contents)
    if not small or all(_SKETCHES.get(keys[label]) is not None for label, _ in small):
        return []
    return grouped.read_groups(small, nulls, max_columns, contents)[0]


def workers() -> int:
    """Threads for work that releases the GIL (polars, numpy): the CPUs this process may
    use, at most 4."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(usable or 1, 4))


def _retain(digests: set[str]) -> None:
    """Keep frames, sketches and profiles of the newest snapshot's files only.

    A watcher re-uses what the next snapshot shares with this one; files that left the data
    folder (a rewritten batch) are dropped at once, so memory does not grow cycle by cycle.
    Their profiles stay in the store; other frames (not data files) are not touched.
    """
    for cache in (_FRAMES, _SKETCHES, _PROFILES):
        cache.keep_only(lambda key: key.rsplit(":", 1)[-1] in digests)


def _profile_one(
    label: str, path: Path, digest: str, key: str, nulls: Sequence[str]
) -> dict[str, Any]:
    """One file's profile: from its sketch (kept for later merges), or streamed if huge.

    The sketch is one query (sorts and counts, columns in parallel) and the statistics are
    numpy on sorted arrays: about half the time of ``profile_frame``'s two passes.
    """
    import polars as pl

    if path.stat().st_size >= STREAM_PROFILE_BYTES:
        return profile_source(label, path, nulls)
    try:
        return merge_sketches([sketch_of(key, lambda: frame(label, path, digest, nulls))])
    except pl.exceptions.PolarsError as e:
        raise _wrap(e, path, label) from e


def profile_source(
    label: str, path: Path, nulls: Sequence[str] = NULL_VALUES, max_columns: int | None = None
) -> dict[str, Any]:
    """One large file's profile in one streaming pass with bounded memory (``sketch``): exact
    counts, nulls, min/max, mean/std and categories; quantiles, histogram and distinct counts
    within the bounds the columns state. ``path`` may be the source a snapshot is storing
    meanwhile (the snapshot then checks that it did not move). A file whose types only all of
    its values decide is profiled exactly in memory instead."""
    import polars as pl

    from workbench.data import sketch

    if max_columns is not None:
        check_width(label, path, max_columns)
    try:
        return sketch.stream_profile(path, label, nulls)
    except sketch.StreamFallback:
        pass
    except ShortRowError as e:
        raise _wrap(e, path, label) from e
    except pl.exceptions.ComputeError:
        pass  # a later value contradicts the sample's type: the exact read widens it
    except pl.exceptions.PolarsError as e:
        raise _wrap(e, path, label) from e
    if path.stat().st_size > IN_MEMORY_BYTES:
        return _profile_lazy(scan(path, label, null_values=nulls), [(label, path)], nulls)
    try:
        return merge_sketches([sketch_frame(_read(path, label, nulls))])
    except pl.exceptions.PolarsError as e:
        raise _wrap(e, path, label) from e


def profile_appended(
    label: str, path: Path, old: dict[str, Any], old_size: int, nulls: Sequence[str] = NULL_VALUES
) -> dict[str, Any] | None:
    """The profile of a CSV that grew by appended rows, from the stored profile of its first
    ``old_size`` bytes (``old``, with its ``sketch`` state) and a read of the rows appended
    since (the header line, then the bytes from ``old_size`` on); None when that cannot be
    done (no state, the old bytes did not end a line, the types or header differ): the caller
    profiles the whole file. The caller vouches that the first bytes are the old ones (the
    store found the file appended to that object)."""
    import polars as pl

    from workbench.data import sketch

    state = old.get("sketch")
    if not isinstance(state, dict) or file_format(label) == "parquet":
        return None
    with open(path, "rb") as f:
        header = f.readline()
        if old_size <= len(header):
            return None
        f.seek(old_size - 1)
        if f.read(1) != b"\n":
            return None  # the old last line continues: its row changed
        tail = f.read()
    try:
        return sketch.stream_profile(path, label, nulls, source=header + tail, after=state)
    except ShortRowError as e:
        raise _wrap(e, path, label) from e
    except (sketch.StreamFallback, pl.exceptions.PolarsError):
        return None  # the whole file's read decides (and names what is wrong)


def remember_profile(key: str, profile: dict[str, Any]) -> None:
    """Keep a per-file profile computed elsewhere (``profile_source``) for ``profile_files``."""
    _PROFILES.put(key, profile)


def _copy_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """A per-file profile as a snapshot's own: a copy, without its mergeable state."""
    import json  # the profile is JSON: a round trip copies it ~3x faster than deepcopy

    return json.loads(json.dumps({k: v for k, v in profile.items() if k != "sketch"}))


def _profile_together(files: Sequence[tuple[str, Path]], nulls: Sequence[str]) -> dict[str, Any]:
    import polars as pl

    for label, path in files:
        check_width(label, path, MAX_COLUMNS)
    frames = [scan(path, label, null_values=nulls) for label, path in files]
    try:
        if sum(path.stat().st_size for _, path in files) <= IN_MEMORY_BYTES:
            # one read per file; the row counts and both profile passes then run in memory
            eager = [frame.collect() for frame in frames]
            per_file = [frame.height for frame in eager]
            nulls_of = [dict(zip(e.columns, e.null_count().row(0), strict=True)) for e in eager]
            lf = combine([frame.lazy() for frame in eager]).collect().lazy()
        else:
            counted = [
                frame.select(pl.len().alias("\x00rows"), pl.all().null_count())
                .collect(engine="streaming")
                .row(0, named=True)
                for frame in frames
            ]
            per_file = [int(c.pop("\x00rows")) for c in counted]
            nulls_of = counted
            lf = combine(frames)
        profile = profile_frame(lf)
    except DataError:
        raise
    except pl.exceptions.PolarsError as e:
        raise _locate(e, files, nulls) from e
    profile["file_rows"] = {label: rows for (label, _), rows in zip(files, per_file, strict=True)}
    profile["column_gaps"] = column_gaps(list(zip(per_file, nulls_of, strict=True)))
    return profile


def column_gaps(files: Sequence[tuple[int, Mapping[str, int]]]) -> dict[str, int]:
    """Column -> how many files (of those with rows) hold no value of it: absent, or empty.

    Validation requires of each new file only the columns the champion's every file held
    (``monitor.reference``); the profile keeps this so it need not read those files again.
    """
    names = list(dict.fromkeys(name for _, nulls in files for name in nulls))
    gaps: dict[str, int] = {}
    for rows, nulls in files:
        if not rows:
            continue
        for name in names:
            if nulls.get(name, rows) >= rows:
                gaps[name] = gaps.get(name, 0) + 1
    return gaps


def _merged(
    files: Sequence[tuple[str, Path]],
    hashes: Mapping[str, str],
    per_file: Mapping[str, dict[str, Any]],
    nulls: Sequence[str],
    groups: Sequence[Any] = (),
) -> dict[str, Any]:
    """The profile of all files' rows: merged from per-file sketches where the types agree
    (one sketch per group of small files read together, in the order of their first file)."""
    import polars as pl

    group_of = {label: group for group in groups for label in group.labels}
    group_dtypes = {id(g): [(n, str(t)) for n, t in g.frame.schema.items()] for g in groups}
    dtypes: dict[str, str] = {}
    for label, _ in files:
        group = group_of.get(label)
        if group is not None:
            described = group_dtypes[id(group)]
        else:
            described = [(col["name"], col["dtype"]) for col in per_file[label]["columns"]]
        for name, dtype in described:
            if dtypes.setdefault(name, dtype) != dtype:
                # a column whose type differs between files is widened by the combined read
                return _profile_lazy(read_frames(files, hashes, nulls), files, nulls)
    states = [per_file[label].get("sketch") for label, _ in files]
    if all(isinstance(state, dict) for state in states):  # every file was streamed
        from workbench.data import sketch

        with contextlib.suppress(sketch.StreamFallback):
            return sketch.merge_states([s for s in states if s is not None])
    if sum(path.stat().st_size for _, path in files) > IN_MEMORY_BYTES:
        return _profile_lazy(read_frames(files, hashes, nulls), files, nulls)
    sketches = []
    seen: set[int] = set()
    for label, path in files:
        group = group_of.get(label)
        if group is not None:
            if id(group) not in seen:
                seen.add(id(group))
                sketches.append(sketch_frame(group.frame))
            continue
        key = profile_key(label, hashes[label], nulls)
        try:
            sketches.append(sketch_of(key, lambda: frame(label, path, hashes[label], nulls)))  # noqa: B023
        except pl.exceptions.PolarsError as e:
            raise _wrap(e, path, label) from e
    return merge_sketches(sketches)


def _profile_lazy(
    lf: pl.LazyFrame, files: Sequence[tuple[str, Path]], nulls: Sequence[str]
) -> dict[str, Any]:
    import polars as pl

    try:
        return profile_frame(lf)
    except pl.exceptions.PolarsError as e:
        raise _locate(e, files, nulls) from e


@dataclass
class ColumnSketch:
    """What a profile of several files needs of one file's column, exactly."""

    dtype: Any
    kind: str
    nulls: int
    values: np.ndarray | None = None  # numeric: finite values, sorted, float64
    distinct: pl.Series | None = None  # numeric/datetime: distinct non-null values
    counts: dict[str, int] | None = None  # categorical/boolean: value (as text) -> count
    min: Any = None  # datetime/boolean: native min and max of the non-null values
    max: Any = None


@dataclass
class Sketch:
    rows: int
    columns: dict[str, ColumnSketch] = field(default_factory=dict)

    def size(self) -> int:
        total = 0
        for c in self.columns.values():
            total += 0 if c.values is None else int(c.values.nbytes)
            total += 0 if c.distinct is None else int(c.distinct.estimated_size())
            total += 0 if c.counts is None else 120 * len(c.counts)
        return total + 1024


def sketch_of(key: str, read: Any) -> Sketch:
    """The sketch cached under ``key``, or computed from ``read()`` (an eager frame)."""
    hit = _SKETCHES.get(key)
    if hit is not None:
        return hit
    sk = sketch_frame(read())
    _SKETCHES.put(key, sk, sk.size())
    return sk


def sketch_frame(df: pl.DataFrame) -> Sketch:
    """Column sketches of one eager frame (one query per ``COLUMNS_PER_QUERY`` columns).

    Integer and float columns are sorted by numpy on a thread pool instead (``_sorted``):
    their sorted values give the distinct ones too, where polars sorted and then hashed every
    value again (1M rows x 26 numeric columns: 0.9 s -> 0.35 s)."""
    import polars as pl

    exprs: dict[str, list[pl.Expr]] = {}
    schema = df.schema  # built anew on each access: once (2,000 columns: 26 s otherwise)
    kinds = {name: column_kind(dtype) for name, dtype in schema.items()}
    by_numpy = [n for n, k in kinds.items() if k == "numeric" and _by_numpy(schema[n])]
    with ThreadPoolExecutor(max_workers=workers()) as pool:
        sorted_parts = dict(zip(by_numpy, pool.map(_sorted, df.select(by_numpy)), strict=True))
    for name, kind in kinds.items():
        c = pl.col(name)
        own = exprs[name] = []
        own.append(c.null_count().alias(f"{name}\x00nulls"))
        if name in sorted_parts:
            continue
        if kind == "numeric":
            x = c.cast(pl.Float64)
            own.append(x.filter(x.is_finite()).sort().implode().alias(f"{name}\x00values"))
        if kind in ("numeric", "datetime"):
            own.append(c.drop_nulls().unique().implode().alias(f"{name}\x00distinct"))
        if kind in ("datetime", "boolean"):
            own += [c.min().alias(f"{name}\x00min"), c.max().alias(f"{name}\x00max")]
        if kind in ("categorical", "boolean"):
            own.append(
                c.cast(pl.String).drop_nulls().value_counts().implode().alias(f"{name}\x00counts")
            )
    row = _select_in_parts(df, exprs)
    out = Sketch(df.height)
    for name, kind in kinds.items():
        col = ColumnSketch(schema[name], kind, int(row[f"{name}\x00nulls"][0]))
        if name in sorted_parts:
            col.values, col.distinct = sorted_parts[name]
        elif kind == "numeric":
            col.values = row[f"{name}\x00values"][0].to_numpy()
        if kind == "datetime" or (kind == "numeric" and name not in sorted_parts):
            col.distinct = row[f"{name}\x00distinct"][0]
        if kind in ("datetime", "boolean"):
            col.min, col.max = row[f"{name}\x00min"][0], row[f"{name}\x00max"][0]
        if kind in ("categorical", "boolean"):
            counts = row[f"{name}\x00counts"][0].struct.unnest()
            col.counts = dict(zip(counts[name].to_list(), counts["count"].to_list(), strict=True))
        out.columns[name] = col
    return out


def _by_numpy(dtype: Any) -> bool:
    """A dtype numpy sorts natively: 8- to 64-bit integers, 32- and 64-bit floats."""
    import polars as pl

    return dtype in (
        *(pl.Int8, pl.Int16, pl.Int32, pl.Int64),
        *(pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64),
        *(pl.Float32, pl.Float64),
    )


def _sorted(col: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """(the finite values sorted, as float64; the distinct non-null values, in ``col``'s dtype)
    of an integer or float column, as ``sketch_frame``'s polars query gives them: NaN counts
    as one distinct value, ``-0.0`` and ``0.0`` as one, infinities as themselves. Integers are
    sorted as integers (exact above 2**53) and converted after: the conversion keeps order."""
    import numpy as np
    import polars as pl

    from workbench.data.sketch import _distinct as sketch_distinct  # (the one owner)

    arr = col.drop_nulls().to_numpy()
    extra: list[float] = []
    if col.dtype.is_float():
        finite = np.isfinite(arr)
        if not finite.all():
            odd = arr[~finite]
            extra = [v for v in (-np.inf, np.inf) if (odd == v).any()]
            extra += [np.nan] if np.isnan(odd).any() else []
            arr = arr[finite]
    ordered = np.sort(arr)
    distinct = sketch_distinct(ordered)
    if extra:
        distinct = np.concatenate([distinct, np.asarray(extra, dtype=distinct.dtype)])
    values = ordered.astype(np.float64, copy=False)
    return values, pl.Series(col.name, distinct, dtype=col.dtype)


def _select_in_parts(frame: Any, exprs: dict[str, list[pl.Expr]], streaming: bool = False) -> Any:
    """The aggregates ``exprs`` (column -> its expressions, each one row) as a dict of
    one-item Series, ``COLUMNS_PER_QUERY`` columns at a time.

    A query over a wide frame costs its width for each expression (polars resolves every
    expression against the whole schema): the sketch of 2,000 columns took 11 s in one query,
    10,000 columns minutes and gigabytes. Each part first narrows the frame to its own columns,
    so cost and memory follow the number of columns linearly. A lazy frame (a file too large
    for memory) is then scanned once per part. The first part also counts the rows
    (``__rows``).
    """
    import polars as pl

    names = list(exprs)
    out: dict[str, Any] = {}
    # an eager frame's columns by name, taken once (selecting from the wide frame per part
    # costs its width each time)
    series = {s.name: s for s in frame.get_columns()} if isinstance(frame, pl.DataFrame) else {}
    for start in range(0, len(names), COLUMNS_PER_QUERY):
        part_names = names[start : start + COLUMNS_PER_QUERY]
        part_exprs = [e for name in part_names for e in exprs[name]]
        if start == 0:
            part_exprs.append(pl.len().alias("__rows"))
        narrow = (
            pl.DataFrame([series[n] for n in part_names]) if series else frame.select(part_names)
        )
        part = narrow.select(part_exprs)
        if isinstance(part, pl.LazyFrame):
            part = part.collect(engine="streaming" if streaming else "auto")
        out |= {name: part[name] for name in part.columns}
    return out


def merge_sketches(sketches: Sequence[Sketch]) -> dict[str, Any]:
    """The profile of all rows of several files, from their sketches (same dtype per column).

    Columns come in the order ``diagonal_relaxed`` gives them (first appearance); a column a
    file lacks counts as nulls for that file's rows, as in the combined read.
    """
    import numpy as np
    import polars as pl

    rows = sum(sk.rows for sk in sketches)
    names = list(dict.fromkeys(n for sk in sketches for n in sk.columns))
    columns = []
    for name in names:
        parts = [sk.columns[name] for sk in sketches if name in sk.columns]
        missing = sum(sk.rows for sk in sketches if name not in sk.columns)
        first = parts[0]
        kind = first.kind
        nulls = sum(p.nulls for p in parts) + missing
        col: dict[str, Any] = {"name": name, "dtype": str(first.dtype), "kind": kind}
        col["nulls"] = int(nulls)
        if kind in ("numeric", "datetime"):
            distinct = [p.distinct for p in parts if p.distinct is not None]
            n_distinct = len(distinct[0]) if len(distinct) == 1 else pl.concat(distinct).n_unique()
            col["unique"] = int(n_distinct) + (1 if nulls else 0)
        else:
            counts = _merged_counts([p.counts for p in parts if p.counts is not None])
            col["unique"] = len(counts) + (1 if nulls else 0)
        if kind == "numeric":
            arrays = [p.values for p in parts if p.values is not None]
            # each part is sorted already: one part needs nothing, several a merge sort
            values = arrays[0] if len(arrays) == 1 else np.sort(np.concatenate(arrays))
            _numeric_stats(col, values)
        elif kind in ("datetime", "boolean"):
            present = [p for p in parts if p.min is not None]
            col["min"] = _as_string(min(p.min for p in present), first.dtype) if present else None
            col["max"] = _as_string(max(p.max for p in present), first.dtype) if present else None
        if kind in ("categorical", "boolean"):
            # the order of _add_distributions: count descending, then the value as text (code
            # point order, which is UTF-8 byte order)
            top = _top(counts, TOP_K)
            col["top"] = [{"value": v, "count": int(n)} for v, n in top]
            col["other_count"] = int(sum(counts.values()) - sum(n for _, n in top))
        columns.append(col)
    return {"rows": rows, "columns": columns}


def _merged_counts(parts: list[dict[str, int]]) -> dict[str, int]:
    """Counts per value summed over the files (plain dicts: a few ms where a polars
    concat + group_by per column cost ~1 ms of query overhead each)."""
    if len(parts) == 1:  # one file: its counts are the counts
        return parts[0]
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    return total


def _top(counts: dict[str, int], k: int) -> list[tuple[str, int]]:
    """The ``k`` most frequent values, ties by value: ``sorted(..., key=(-count, value))[:k]``
    without a key call per value (an id column has a value per row)."""
    if len(counts) <= k:
        return sorted(counts.items(), key=_by_count_then_value)
    threshold = heapq.nlargest(k, counts.values())[-1]
    above = sorted(((v, n) for v, n in counts.items() if n > threshold), key=_by_count_then_value)
    tied = heapq.nsmallest(k - len(above), (v for v, n in counts.items() if n == threshold))
    return above + [(v, threshold) for v in tied]


def _by_count_then_value(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _numeric_stats(col: dict[str, Any], values: np.ndarray) -> None:
    """min/max/mean/std, quantiles and histogram of sorted finite values, as ``profile_frame``."""
    import numpy as np

    n = len(values)
    if n == 0:
        col |= {"min": None, "max": None, "mean": None, "std": None}
        col["quantiles"] = {str(q): None for q in QUANTILES}
        return
    col["min"], col["max"] = _num(values[0]), _num(values[-1])
    col["mean"] = _num(values.mean())
    col["std"] = _num(values.std(ddof=1)) if n > 1 else None
    col["quantiles"] = {str(q): _num(v) for q, v in zip(QUANTILES, _quantiles(values), strict=True)}
    edges = _edges(col["min"], col["max"])
    starts = np.searchsorted(values, edges[1:-1], side="left")
    bounds = np.concatenate(([0], starts, [n]))
    col["histogram"] = {"edges": edges, "counts": [int(c) for c in np.diff(bounds)]}


def _quantiles(values: np.ndarray) -> np.ndarray:
    """``numpy.quantile(values, QUANTILES)`` (linear) of already sorted values, without a sort."""
    import numpy as np

    n = len(values)
    index = np.asarray(QUANTILES) * (n - 1)
    lo = np.floor(index).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    t = index - lo
    a, b = values[lo], values[hi]
    diff = b - a
    # numpy's _lerp: from below for t < 0.5, from above otherwise (exact at both ends)
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _as_string(value: Any, dtype: Any) -> str | None:
    """A native min/max as ``cast(pl.String)`` prints it, so merged and direct profiles agree."""
    import polars as pl

    return pl.Series([value], dtype=dtype).cast(pl.String)[0]


def _count(lf: pl.LazyFrame) -> int:
    import polars as pl

    return int(lf.select(pl.len()).collect(engine="streaming").item())


def profile_frame(lf: pl.LazyFrame) -> dict[str, Any]:
    """Schema and per-column statistics of a lazy frame (two streaming passes)."""
    import polars as pl

    schema = lf.collect_schema()
    exprs: dict[str, list[pl.Expr]] = {}
    kinds = {name: column_kind(dtype) for name, dtype in schema.items()}
    for name, kind in kinds.items():
        c = pl.col(name)
        own = exprs[name] = [
            c.null_count().alias(f"{name}\x00nulls"),
            c.n_unique().alias(f"{name}\x00unique"),
        ]
        if kind == "numeric":
            x = c.cast(pl.Float64)
            x = x.filter(x.is_finite())
            own += [
                x.min().alias(f"{name}\x00min"),
                x.max().alias(f"{name}\x00max"),
                x.mean().alias(f"{name}\x00mean"),
                x.std().alias(f"{name}\x00std"),
            ]
            # one expression for all quantiles: one sort per column, not one per quantile
            own.append(
                x.quantile(list(QUANTILES), interpolation="linear").alias(f"{name}\x00quantiles")
            )
        elif kind in ("datetime", "boolean"):
            own += [
                c.min().cast(pl.String).alias(f"{name}\x00min"),
                c.max().cast(pl.String).alias(f"{name}\x00max"),
            ]
    row = {k: v.to_list()[0] for k, v in _select_in_parts(lf, exprs, streaming=True).items()}
    row["__rows"] = _count(lf) if not exprs else row["__rows"]
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

    exprs: dict[str, list[pl.Expr]] = {}
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
            exprs[name] = [index.alias(name).value_counts().implode()]
        elif col["kind"] in ("categorical", "boolean"):
            exprs[name] = [
                pl.col(name)
                .cast(pl.String)
                .drop_nulls()
                .value_counts(sort=True)
                .implode()
                .alias(name)
            ]
    if not exprs:
        return
    result = {k: v.to_list()[0] for k, v in _select_in_parts(lf, exprs, streaming=True).items()}
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


def width(label: str, path: Path) -> int:
    """How many columns a data file has, from its header (or Parquet schema) alone."""
    import polars as pl

    if file_format(label) == "parquet":
        try:
            return len(pl.read_parquet_schema(path))
        except Exception as e:
            raise _wrap(e, path, label) from e
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        try:
            return len(next(csv.reader(f, delimiter=separator(Path(label).suffix.lower())), []))
        except csv.Error:
            return 0  # the read names what is wrong with it


def check_width(label: str, path: Path, limit: int) -> None:
    """Refuse a file with more than ``limit`` columns before reading it: profiling, validating
    and training cost grows with every column, and a file of 10,000 columns is rarely meant
    as 10,000 features (a transposed table, or a wide export)."""
    columns = width(label, path)
    if columns > limit:
        raise DataError(
            f"{label} has {columns:,} columns, more than [data] max_columns = {limit:,}",
            "select the columns you need into the data files, or raise [data] max_columns"
            " in the config (each column costs time and memory in every step)",
        )


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
    if isinstance(e, ShortRowError):
        if e.last:
            return DataError(
                f"{name}:{e.line}: the last line is cut short ({e.found} of {e.expected} fields):"
                " the file looks truncated, or is still being written",
                "wait until the file is written completely, or restore it whole",
            )
        return DataError(
            f"{name}:{e.line}: expected {e.expected} fields (as in the header), found {e.found}",
            "fix that line (a missing field or delimiter), or remove the file",
        )
    suffix = Path(name).suffix.lower()
    line = ragged_line(path, separator(suffix)) if suffix in CSV_SUFFIXES else None
    if line is not None:
        number, expected, got = line[:3]
        if len(line) > 3 and line[3]:
            return DataError(
                f"{name}:{number}: a quoted field opened on this line is never closed (the"
                f" row runs on to line {line[3]}, {got} of {expected} fields)",
                'close the quote on that line (or escape it as ""), or remove the file',
            )
        return DataError(
            f"{name}:{number}: expected {expected} fields (as in the header), found {got}",
            "fix that line (a missing quote or a stray delimiter), or remove the file",
        )
    return DataError(f"cannot read {name}: {text}", "check that it is a valid CSV or Parquet file")


def _locate(e: Exception, files: Sequence[tuple[str, Path]], nulls: Sequence[str]) -> DataError:
    """Find which file makes a combined query fail, re-reading one file at a time."""
    import polars as pl

    for label, path in files:
        try:
            scan(path, label, null_values=nulls).collect(engine="streaming")
        except DataError as inner:
            return inner
        except pl.exceptions.PolarsError as inner:
            return _wrap(inner, path, label)
    return DataError(f"cannot read the data: {_first_line(e)}", "check the data files")


def ragged_line(path: Path, sep: str = ",") -> tuple[int, int, int, int] | None:
    """The first ragged CSV row, if any: (the line it starts on, header fields, fields
    found, the line it ends on when a quoted field carried it over lines, else 0)."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.reader(f, delimiter=sep)
            header = next(reader, None)
            if header is None:
                return None
            start = reader.line_num + 1
            for row in reader:
                if row and len(row) != len(header):
                    end = reader.line_num
                    return start, len(header), len(row), end if end > start else 0
                start = reader.line_num + 1
    except (OSError, csv.Error):
        return None
    return None
