"""The time column, whatever it is stored as: one order for the split, drift and init.

A ``time_column`` may arrive as a datetime (naive, or timezone-aware as pandas writes UTC
dates to Parquet), a date, a number (a fractional year such as 2000.083, an integer year, an
epoch) or text (``2012/01/01``, ``Jan 1 2000``, ``2012-01-01 00:00:00+00:00``). Everything
that orders rows by time goes through ``time_values``: a float64 per row that sorts as time
does — microseconds since the epoch (UTC) for datetimes and parsed text, the number itself for
a numeric column — with a missing or unparseable time as the oldest (``-inf``). Ordering by
text as text is never done (``Nov 2006`` would sort after ``Jan 2010``).

Text is parsed with polars' own ISO-8601 inference first, then with each of ``TIME_FORMATS``;
the format that parses the most values wins (ties go to the earlier, so day-first formats
lose to month-first only when they parse no more). ``parsed_share`` tells validation and
``init`` how much of a text column parses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

NULL_TIME = float("-inf")
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y%m%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%b %d %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%B %d, %Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %Y",
    "%Y-%m",
)


def parse_text(series: pl.Series) -> pl.Series:
    """Text times as naive UTC datetimes (``us``); a value no format reads is null."""
    import polars as pl

    text = series.cast(pl.String).str.strip_chars()
    present = int(text.is_not_null().sum())
    best = naive_utc(_inferred(text))
    best_count = int(best.is_not_null().sum())
    for fmt in TIME_FORMATS:
        if best_count == present:
            break
        parsed = _with_format(text, fmt)
        count = int(parsed.is_not_null().sum())
        if count > best_count:
            best, best_count = parsed, count
    return best


def _inferred(text: pl.Series) -> pl.Series:
    """polars' own reading (ISO 8601 and its variants, offsets included)."""
    import polars as pl

    try:
        return text.str.to_datetime(strict=False, time_unit="us")
    except pl.exceptions.PolarsError:
        return pl.Series(text.name, [None] * len(text), dtype=pl.Datetime("us"))


def _with_format(text: pl.Series, fmt: str) -> pl.Series:
    """``text`` read with ``fmt``; a year before 1000 (digits a format swallowed from
    another field, as ``%d %Y`` does with ``2006``) is not a reading."""
    import polars as pl

    parsed = _read_with(text, fmt)
    missing = pl.Series(parsed.name, [None] * len(parsed), dtype=parsed.dtype)
    return parsed.zip_with(parsed.dt.year().fill_null(0) >= 1000, missing)


def _read_with(text: pl.Series, fmt: str) -> pl.Series:
    import polars as pl

    try:
        if "%H" in fmt or "%M" in fmt:
            return naive_utc(text.str.to_datetime(fmt, strict=False, time_unit="us"))
        if fmt in ("%b %Y", "%Y-%m"):  # a month: its first day
            day = "01 " + text if fmt == "%b %Y" else text + "-01"
            fmt = "%d %b %Y" if fmt == "%b %Y" else "%Y-%m-%d"
            return day.str.to_date(fmt, strict=False).cast(pl.Datetime("us"))
        return text.str.to_date(fmt, strict=False).cast(pl.Datetime("us"))
    except pl.exceptions.PolarsError:
        return pl.Series(text.name, [None] * len(text), dtype=pl.Datetime("us"))


def naive_utc(series: pl.Series) -> pl.Series:
    """A date or datetime column as naive UTC datetimes in microseconds (an aware one is
    converted to UTC first)."""
    import polars as pl

    dtype = series.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return series.cast(pl.Datetime("us"))


def as_time(series: pl.Series) -> pl.Series:
    """The column as something that orders like time: naive UTC datetimes, or Float64 for a
    numeric time."""
    import polars as pl

    dtype = series.dtype
    if dtype.is_numeric():
        return series.cast(pl.Float64)
    if dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        return parse_text(series)
    if dtype.is_temporal() and dtype != pl.Time and not isinstance(dtype, pl.Duration):
        return naive_utc(series)
    return parse_text(series.cast(pl.String))


def time_values(frame: pl.DataFrame, column: str) -> np.ndarray:
    """``column`` as float64 that sorts as time (see the module docstring)."""
    import numpy as np
    import polars as pl

    series = as_time(frame[column])
    if series.dtype != pl.Float64:
        series = series.to_physical().cast(pl.Float64)
    x = series.to_numpy().astype(np.float64, copy=True)
    x[np.isnan(x)] = NULL_TIME
    return x


def parsed_share(series: pl.Series) -> float:
    """Share of the present values of a column that ``as_time`` reads (1.0 when none present)."""
    present = int(series.is_not_null().sum())
    if not present:
        return 1.0
    return int(as_time(series).is_not_null().sum()) / present


def bound_value(text: str) -> float:
    """A stored time bound (the newest time a reference holds) as a ``time_values`` number:
    the number itself, or a datetime text as written by an older release."""
    import polars as pl

    try:
        return float(text)
    except ValueError:
        parsed = as_time(pl.Series([text]))
        value = parsed.to_physical().cast(pl.Float64)[0]
        return NULL_TIME if value is None else float(value)
