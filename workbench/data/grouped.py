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
) -> tuple[list[Group], list[tuple[str, Path]]]:
    """The groups read, and the files left to the per-file path (see the module docstring).

    ``contents`` (label -> bytes) are files' bytes already in memory: the snapshot passes the
    bytes it has just hashed and stored, which are read here instead of the files."""
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
        check_width(members[0][0], paths[members[0][0]], max_columns)
        group = _read_group(fmt, header, members, nulls)
        if group is None:
            left += [(label, paths[label]) for label, _ in members]
        else:
            _check_short_rows(group, paths)
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
        eager = _read_csv(io.BytesIO(buffer), separator(f".{fmt}"), tuple(nulls), short_rows=False)
        eager = _parse_dates(eager.lazy()).collect()
    except Exception:  # the per-file path names the file and what is wrong with it
        return None
    if eager.height != sum(counts):
        return None
    index = pl.Series("\x00file", np.repeat(np.arange(len(members), dtype=np.int32), counts))
    names = eager.columns
    per_file = (
        eager.with_columns(index)
        .group_by("\x00file")
        .agg(pl.len().alias("\x00rows"), *(pl.col(c).null_count() for c in names))
    )
    rows = [0] * len(members)
    null_counts: list[dict[str, int]] = [dict.fromkeys(names, 0) for _ in members]
    for row in per_file.iter_rows(named=True):
        i = int(row.pop("\x00file"))
        rows[i] = int(row.pop("\x00rows"))
        null_counts[i] = {c: int(row[c]) for c in names}
    return Group(tuple(label for label, _ in members), eager, tuple(rows), tuple(null_counts))


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
