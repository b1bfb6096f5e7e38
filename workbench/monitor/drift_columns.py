"""Where drift's statistics get their columns: a frame in memory, or files read a column at a time.

Drift compares each column of the reference with the same column of the current rows, and
scores the current rows once for prediction drift. Holding both sides whole costs memory in
proportion to the data: a 2 GB CSV batch against a 2 GB reference peaked at 4 GB. So:

- ``FrameColumns``: a frame already in memory (small data, a reference built in this run, a
  watcher's cached reference). Current columns are handed out once and forgotten, so the
  statistics free the rows column by column.
- ``StoredColumns``: a column is read from files when a statistic asks for it and dropped
  when it is done; the rows are scored ``PREDICT_ROWS`` at a time from row slices. Used when
  the side's files hold at least ``STREAM_BYTES``: the reference from its stored Parquet
  object (or, for a Parquet snapshot, from the snapshot's own files beside the stored
  scores), the current rows from their Parquet objects, or — for CSV — from one Arrow IPC
  file the CSV is parsed into once (``tmp/drift-cur.<pid>.*``, removed when drift ends, and
  by gc if the process died). Peak memory is then a few columns and a batch of rows, whatever
  the size of the files.

Both give the same series for a column (the same reads, the same types), so the statistics,
and the JSON, are the same either way (``tests/test_drift_streamed.py``). A categorical
column is asked for as its level counts (``counts``): ``StoredColumns`` given the rows as a
lazy ``scan`` counts them in one streaming query, so a text column of millions of rows is
never held whole (at 2 GB a side, five text columns took drift from ~600 to ~900 MiB).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

STREAM_BYTES = 256 << 20  # a side whose files hold this many bytes is read a column at a time


class Columns(Protocol):
    height: int

    def names(self) -> list[str]: ...

    def take(self, name: str, kind: str, *, keep: bool = False) -> pl.Series:
        """Column ``name`` (an empty column of ``kind`` when there is none)."""
        ...

    def batches(self, rows: int) -> Iterator[pl.DataFrame]:
        """All rows, ``rows`` at a time (every column still held or stored)."""
        ...

    def counts(self, name: str, kind: str, *, keep: bool = False) -> tuple[pl.Series, np.ndarray]:
        """``value_counts`` of column ``name`` (taken as ``take`` does)."""
        ...


def value_counts(col: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """(distinct non-null values as text, their counts). Integers, booleans and text are
    counted as they are (their text is one per value); any other type as its text, since two
    values may read the same (``-0.0`` and ``0.0`` are one float but two levels)."""
    import polars as pl

    if not _counted_as_is(col.dtype):
        col = col.cast(pl.String)
    return _levels(col.alias("value").drop_nulls().value_counts(name="n"))


def _counted_as_is(dtype: pl.DataType) -> bool:
    import polars as pl

    return dtype == pl.String or dtype == pl.Boolean or dtype.is_integer()


def _levels(counts: pl.DataFrame) -> tuple[pl.Series, np.ndarray]:
    """(``value`` as text, ``n`` as int64) of a frame of counted levels."""
    import numpy as np
    import polars as pl

    return counts.get_column("value").cast(pl.String), counts.get_column("n").to_numpy().astype(
        np.int64
    )


def empty(name: str, kind: str) -> pl.Series:
    import polars as pl

    from workbench.monitor import stats as drift_stats

    return pl.Series(name, [], dtype=pl.String if kind == drift_stats.CATEGORICAL else pl.Float64)


class FrameColumns:
    """A frame's rows as its columns, each handed out once (``take``) and then forgotten
    unless ``keep``: the statistics free the current rows column by column."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.height = frame.height
        self.columns = dict(zip(frame.columns, frame.get_columns(), strict=True))

    def names(self) -> list[str]:
        return list(self.columns)

    def frame(self) -> pl.DataFrame:
        """The columns still here as a frame (no copy)."""
        import polars as pl

        return pl.DataFrame(list(self.columns.values()))

    def take(self, name: str, kind: str, *, keep: bool = False) -> pl.Series:
        col = self.columns.get(name) if keep else self.columns.pop(name, None)
        return empty(name, kind) if col is None else col

    def counts(self, name: str, kind: str, *, keep: bool = False) -> tuple[pl.Series, np.ndarray]:
        return value_counts(self.take(name, kind, keep=keep))

    def batches(self, rows: int) -> Iterator[pl.DataFrame]:
        frame = self.frame()
        for start in range(0, max(frame.height, 1), rows):
            yield frame.slice(start, rows)


class StoredColumns:
    """Columns read from files when asked (see the module docstring).

    ``read(columns)`` returns those columns of every row (a frame); ``rows(start, n)`` the
    rows ``start .. start+n`` with every column; ``names`` are the columns there are, ``total``
    the rows. ``mask`` (a boolean per row) keeps only some rows: the current rows newer than
    the reference's last time.
    """

    def __init__(
        self,
        read: Callable[[list[str]], pl.DataFrame],
        rows: Callable[[int, int], pl.DataFrame],
        names: Sequence[str],
        total: int,
        *,
        mask: pl.Series | None = None,
        cleanup: Callable[[], None] | None = None,
        scan: pl.LazyFrame | None = None,
    ) -> None:
        self._scan = scan
        self._read = read
        self._rows = rows
        self._names = list(names)
        self._total = total
        self._mask = mask
        self.height = total if mask is None else int(mask.sum())
        self._cleanup = cleanup

    def names(self) -> list[str]:
        return list(self._names)

    def take(self, name: str, kind: str, *, keep: bool = False) -> pl.Series:
        if name not in self._names:
            return empty(name, kind)
        col = self._read([name]).get_column(name)
        return col if self._mask is None else col.filter(self._mask)

    def counts(self, name: str, kind: str, *, keep: bool = False) -> tuple[pl.Series, np.ndarray]:
        """Counted in one streaming query over ``scan`` when it has the column (and no mask
        filters the rows): the column is never held whole."""
        import polars as pl

        if self._scan is None or self._mask is not None or name not in self._names:
            return value_counts(self.take(name, kind))
        schema = self._scan.collect_schema()
        if name not in schema:
            return value_counts(self.take(name, kind))
        level = pl.col(name) if _counted_as_is(schema[name]) else pl.col(name).cast(pl.String)
        found = (
            self._scan.select(level.alias("value"))
            .drop_nulls()
            .group_by("value")
            .agg(pl.len().alias("n"))
            .collect(engine="streaming")
        )
        return _levels(found)

    def batches(self, rows: int) -> Iterator[pl.DataFrame]:
        if self._mask is None:
            for start in range(0, max(self._total, 1), rows):
                yield self._rows(start, rows)
            return
        for start in range(0, self._total, rows):
            kept = self._mask.slice(start, rows)
            if kept.any():
                yield self._rows(start, rows).filter(kept)

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None
