"""Many small CSV files profiled together: one read per header instead of one per file.

A folder of 10,000 small CSVs cost one polars read, one sketch query and one merge per file
(~3 ms each, 30 s in all) although the snapshot profile is the profile of all their rows. Here
the files that share a header line (the same bytes) and format are read as one CSV — the
header once, then every file's rows — and the snapshot profile is merged from one sketch per
group. What each file still needs of its own (its row count for ``file_rows``, its nulls per
column for ``column_gaps``) comes from one ``group_by`` over a file-index column.

The per-file profile a group read stores is **partial** (``"partial": true``: rows, and per
column name, dtype, kind and nulls; no distributions) and its dtype is the group's (a column
that is integers in one file and decimals in another is Float64 in both, as the combined read
makes it; a file of a header only takes the group's types, where read alone its columns
are text). A partial profile is never a snapshot's profile: ``profile_files`` profiles a file
alone when it is the only one.

Row attribution needs one row per line, so a file with a quote character (a quoted field may
span lines), an empty file, or one too large to be "small" is left to the per-file path; so is
any group whose read fails or whose row count differs from its lines: the per-file path then
names the file and line at fault, exactly as before. A file with nulls in its last column is
checked for short rows on its own, as a per-file read does.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import DataError

if TYPE_CHECKING:
    import polars as pl

SMALL_CSV_BYTES = 1 << 20  # CSV files up to this size may be read together
GROUP_MIN_FILES = 8  # fewer small files than this: the per-file path is as fast


@dataclass(frozen=True)
class Group:
    """Files read as one: their rows (``frame``, without the file index) and per-file counts."""

    labels: tuple[str, ...]
    frame: pl.DataFrame
    rows: tuple[int, ...]
    nulls: tuple[dict[str, int], ...]
    unparsed: tuple[dict[str, int], ...]  # per file: values the group's date cast lost


def candidates(
    files: Sequence[tuple[str, Path]], contents: Mapping[str, bytes] | None = None
) -> list[tuple[str, Path]]:
    """The files small enough to be read in a group (CSV/TSV, not empty, <= SMALL_CSV_BYTES)."""
    from workbench.data.profile import file_format

    contents = contents or {}
    out = []
    for label, path in files:
        if file_format(label) == "parquet":
            continue
        known = contents.get(label)
        size = os.path.getsize(path) if known is None else len(known)
        if 0 < size <= SMALL_CSV_BYTES:
            out.append((label, path))
    return out if len(out) >= GROUP_MIN_FILES else []


def read_groups(
    files: Sequence[tuple[str, Path]],
    nulls: Sequence[str],
    max_columns: int,
    contents: Mapping[str, bytes] | None = None,
    *,
    leave_faulty: bool = False,
) -> tuple[list[Group], list[tuple[str, Path]]]:
    """The groups read, and the files left to the per-file path (see the module docstring).

    ``contents`` (label -> bytes) are files' bytes already in memory: the snapshot passes the
    bytes it has just hashed and stored, which are read here instead of the files. A group
    with a file too wide or a short row raises its ``DataError``; with ``leave_faulty`` its
    files are left to the per-file path instead (which reports that file, and only it)."""
    from workbench.data.profile import check_width, file_format

    by_header: dict[tuple[str, bytes], list[tuple[str, bytes]]] = {}
    left: list[tuple[str, Path]] = []
    paths = dict(files)
    contents = contents or {}
    for label, path in files:
        known = contents.get(label)
        data = path.read_bytes() if known is None else known
        if b'"' in data:
            left.append((label, path))
            continue
        cut = data.find(b"\n")
        header, body = (data, b"") if cut < 0 else (data[: cut + 1], data[cut + 1 :])
        if not header.endswith(b"\n"):
            header += b"\n"
        if body and not body.endswith(b"\n"):
            body += b"\n"
        by_header.setdefault((file_format(label), header), []).append((label, body))
    groups: list[Group] = []
    for (fmt, header), members in by_header.items():
        if len(members) < 2:
            left += [(label, paths[label]) for label, _ in members]
            continue
        try:
            check_width(members[0][0], paths[members[0][0]], max_columns)
            group = _read_group(fmt, header, members, nulls)
            if group is not None:
                _check_short_rows(group, paths)
        except DataError:
            if not leave_faulty:
                raise
            group = None
        if group is None:
            left += [(label, paths[label]) for label, _ in members]
        else:
            groups.append(group)
    return groups, left


def _read_group(
    fmt: str, header: bytes, members: list[tuple[str, bytes]], nulls: Sequence[str]
) -> Group | None:
    import numpy as np
    import polars as pl

    from workbench.data.profile import _parse_dates, _read_csv, separator

    counts = [_rows(body) for _, body in members]
    buffer = header + b"".join(body for _, body in members)
    try:
        raw = _read_csv(io.BytesIO(buffer), separator(f".{fmt}"), tuple(nulls), short_rows=False)
        eager = _parse_dates(raw.lazy()).collect()
    except Exception:  # the per-file path names the file and what is wrong with it
        return None
    if eager.height != sum(counts):
        return None
    index = pl.Series("\x00file", np.repeat(np.arange(len(members), dtype=np.int32), counts))
    names = eager.columns
    dated = [c for c in names if raw.schema[c] != eager.schema[c]]
    lost = [(raw[c].is_not_null() & eager[c].is_null()).alias(f"{c}\x00lost") for c in dated]
    per_file = (
        eager.with_columns(index, *lost)
        .group_by("\x00file")
        .agg(
            pl.len().alias("\x00rows"),
            *(pl.col(c).null_count() for c in names),
            *(pl.col(f"{c}\x00lost").sum() for c in dated),
        )
    )
    rows = [0] * len(members)
    null_counts: list[dict[str, int]] = [dict.fromkeys(names, 0) for _ in members]
    unparsed: list[dict[str, int]] = [dict.fromkeys(dated, 0) for _ in members]
    for row in per_file.iter_rows(named=True):
        i = int(row.pop("\x00file"))
        rows[i] = int(row.pop("\x00rows"))
        null_counts[i] = {c: int(row[c]) for c in names}
        unparsed[i] = {c: int(row[f"{c}\x00lost"]) for c in dated}
    labels = tuple(label for label, _ in members)
    return Group(labels, eager, tuple(rows), tuple(null_counts), tuple(unparsed))


def own_types(group: Group) -> list[bool]:
    """Per file of ``group``: whether reading it alone gives it the group's column types.

    The combined read types a column from every file's values; a file read alone from its
    own. They agree when the file's values themselves decide the group's type, and this says
    yes only then (a "no" costs a per-file read, never a wrong type):

    - a file of a header only is text alone: no;
    - Float64: the file has a value with a fraction (a file of integers is Int64 alone);
    - text: the file has a value in its first rows that is no number, boolean or ISO date;
    - a date or datetime: none of the file's values failed the group's cast;
    - Int64, Boolean, Null: yes; so is a column without a value in the file (alone it has
      no type, ``Null``, which takes the other files' type when they are combined).
    """
    import numpy as np
    import polars as pl

    from workbench.data.columns import BOOLEAN_TEXT
    from workbench.data.profile import DATE_SAMPLE_ROWS, DATE_TEXT

    frame, index = group.frame, "\x00file"
    checks: list[pl.Expr] = []
    first = pl.int_range(pl.len()) < DATE_SAMPLE_ROWS  # the rows a read alone looks at
    for name, dtype in frame.schema.items():
        s = pl.col(name)
        if dtype.is_float():
            checks.append(((s != s.floor()) & s.is_not_nan()).any() | s.is_null().all())
        elif dtype == pl.String:
            present = s.is_not_null()
            number = s.cast(pl.Float64, strict=False).is_not_null()
            boolean = s.str.to_lowercase().is_in(BOOLEAN_TEXT)
            text = (present & ~number & ~boolean).any()
            not_date = (first & present & ~s.str.contains(DATE_TEXT)).any()
            checks.append((text & (not_date | ~(first & present).any())) | ~present.any())
    verdict = [
        rows > 0 and not any(lost.values())
        for rows, lost in zip(group.rows, group.unparsed, strict=True)
    ]
    if not checks or not frame.height:
        return verdict
    tagged = frame.with_columns(pl.Series(index, np.repeat(np.arange(len(group.rows)), group.rows)))
    found = tagged.group_by(index).agg(pl.all_horizontal(checks).alias("ok"))
    for i, ok in found.iter_rows():
        verdict[int(i)] = verdict[int(i)] and bool(ok)
    return verdict


def _rows(body: bytes) -> int:
    """The rows polars reads from ``body`` (lines ending in a newline): its non-empty lines."""
    if b"\n\n" in body or b"\n\r\n" in body or body.startswith((b"\n", b"\r\n")):
        return sum(1 for line in body.split(b"\n") if line.strip(b"\r"))
    return body.count(b"\n")  # no empty line: one row per newline


def _check_short_rows(group: Group, paths: dict[str, Path]) -> None:
    """A file with a null in its last column is checked for short rows, as when read alone."""
    from workbench.data.profile import ShortRowError, _check_short_rows, _wrap, separator

    if not group.frame.width:
        return
    last = group.frame.columns[-1]
    for label, nulls in zip(group.labels, group.nulls, strict=True):
        if nulls.get(last):
            path = paths[label]
            try:
                _check_short_rows(path, separator(Path(label).suffix.lower()), group.frame.width)
            except ShortRowError as e:
                raise _wrap(e, path, label) from e


def partial_profiles(group: Group) -> dict[str, dict[str, Any]]:
    """label -> the partial per-file profile of each file of ``group``."""
    from workbench.data.profile import column_kind

    schema = group.frame.schema
    described = [(name, str(dtype), column_kind(dtype)) for name, dtype in schema.items()]
    out = {}
    for label, rows, nulls in zip(group.labels, group.rows, group.nulls, strict=True):
        columns = [
            {"name": name, "dtype": dtype, "kind": kind, "nulls": nulls[name]}
            for name, dtype, kind in described
        ]
        out[label] = {"rows": rows, "columns": columns, "partial": True}
    return out
