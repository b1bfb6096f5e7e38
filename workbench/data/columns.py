"""What kind of column a dtype is: the one classifier the profile, validation and features use.

A column is ``numeric``, ``categorical``, ``datetime`` or ``boolean``. The profile stores the
kind with every column, validation compares a file's kinds with the champion's training
snapshot (whose dtypes are stored as text, e.g. ``"Int64"`` or ``"Datetime(time_unit='us',
time_zone=None)"``), and features encode by kind. They once had a classifier each and
disagreed (a Boolean column was ``boolean`` in the profile and ``text`` in validation, so a
Boolean feature turned text passed validation and was encoded as all-missing); one function
for polars dtypes and their printed names keeps them the same.
"""

from __future__ import annotations

from typing import Any

KINDS = ("numeric", "categorical", "datetime", "boolean")


def column_kind(dtype: Any) -> str:
    """numeric | categorical | datetime | boolean of a polars dtype or its printed name."""
    import polars as pl

    if isinstance(dtype, str):
        dtype = _dtype_named(dtype)
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_temporal():
        return "datetime"
    return "categorical"


def _dtype_named(text: str) -> Any:
    """The polars dtype class a printed dtype names (``"Decimal(precision=9, scale=2)"`` ->
    ``pl.Decimal``); an unknown name is ``pl.String`` (categorical, as text is)."""
    import polars as pl

    found = getattr(pl, text.split("(", 1)[0].strip(), None)
    if isinstance(found, type) and issubclass(found, pl.DataType):
        return found
    return pl.String


# ------------------------------------------------------------------ the type of a text column

BOOLEAN_TEXT = ("true", "false")  # polars reads these as Boolean, in any case


def text_dtype_exprs(names: list[str]) -> list[Any]:
    """Aggregates telling, per text column, which type every one of its values fits."""
    import polars as pl

    exprs = []
    for name in names:
        s = pl.col(name)
        present = s.is_not_null()
        exprs += [
            present.any().alias(f"{name}\x00any"),
            (present & s.cast(pl.Int64, strict=False).is_null()).any().alias(f"{name}\x00int"),
            (present & s.cast(pl.Float64, strict=False).is_null()).any().alias(f"{name}\x00float"),
            (present & ~s.str.to_lowercase().is_in(BOOLEAN_TEXT)).any().alias(f"{name}\x00bool"),
        ]
    return exprs


def text_dtypes(row: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Column -> the narrowest type all its values fit (Int64, Float64, Boolean, else String),
    from the aggregates of ``text_dtype_exprs``; a column with no value at all stays String."""
    import polars as pl

    out: dict[str, Any] = {}
    for name in names:
        if not row[f"{name}\x00any"]:
            out[name] = pl.String
        elif not row[f"{name}\x00int"]:
            out[name] = pl.Int64
        elif not row[f"{name}\x00float"]:
            out[name] = pl.Float64
        elif not row[f"{name}\x00bool"]:
            out[name] = pl.Boolean
        else:
            out[name] = pl.String
    return out


def text_casts(dtypes: dict[str, Any]) -> list[Any]:
    """The expressions turning text columns into ``dtypes`` (every value known to fit)."""
    import polars as pl

    exprs = []
    for name, dtype in dtypes.items():
        s = pl.col(name)
        if dtype == pl.Boolean:
            mapping = {"true": True, "false": False}
            exprs.append(
                s.str.to_lowercase().replace_strict(mapping, default=None, return_dtype=dtype)
            )
        elif dtype != pl.String:
            exprs.append(s.cast(dtype))
    return exprs


def numeric_text(sample: Any) -> list[str]:
    """The text columns of ``sample`` (an eager frame) whose values are all numbers or
    booleans: candidates for ``text_dtypes`` over the whole file."""
    import polars as pl

    names = [c for c, t in sample.schema.items() if t == pl.String]
    if not names:
        return []
    row = sample.select(text_dtype_exprs(names)).row(0, named=True)
    return [c for c, t in text_dtypes(row, names).items() if t != pl.String]


# ------------------------------------------------------------------ numbers but for a few strings

MAX_ODD = 5  # at most this many distinct non-numbers in a column of numbers: likely missing


def numbers_but_for(frame: Any, sample_rows: int = 10_000) -> dict[str, tuple[list[str], int]]:
    """Text columns of ``frame`` (lazy or eager) that are numbers but for a few distinct
    strings (``?``, ``missing``, ``-``): column -> (those strings, rows holding them).

    Such a column is read as text and trained as a categorical, which is rarely meant; the
    strings are usually markers of a missing value that ``[data] null_values`` should list.
    Only columns whose sample is mostly numbers are counted over all rows.
    """
    import polars as pl

    lf = frame.lazy()
    names = [c for c, t in lf.collect_schema().items() if t == pl.String]
    if not names:
        return {}
    sample = lf.select(names).head(sample_rows).collect()
    likely = [c for c in names if _mostly_numbers(sample[c])]
    if not likely:
        return {}
    exprs = []
    for name in likely:
        s = pl.col(name)
        odd = s.filter(s.is_not_null() & s.cast(pl.Float64, strict=False).is_null())
        exprs += [
            s.is_not_null().sum().alias(f"{name}\x00present"),
            odd.len().alias(f"{name}\x00odd"),
            odd.unique().sort().head(MAX_ODD + 1).implode().alias(f"{name}\x00values"),
        ]
    row = lf.select(exprs).collect().row(0, named=True)
    found: dict[str, tuple[list[str], int]] = {}
    for name in likely:
        values, rows = row[f"{name}\x00values"], int(row[f"{name}\x00odd"])
        if 0 < len(values) <= MAX_ODD and rows * 2 < int(row[f"{name}\x00present"]):
            found[name] = (list(values), rows)
    return found


def numbers_but_for_files(
    frame: Any, index: str, files: int
) -> list[dict[str, tuple[list[str], int]]]:
    """``numbers_but_for`` of each file of ``frame`` (an eager frame of several files' rows, the
    file of each row in column ``index``, 0 .. files-1), from one ``group_by``.

    A file's column counts when its values are mostly numbers (over all its rows, where the
    per-file function looks at a sample of 10,000: the same for a file of fewer rows).
    """
    import polars as pl

    names = [c for c, t in frame.schema.items() if t == pl.String and c != index]
    out: list[dict[str, tuple[list[str], int]]] = [{} for _ in range(files)]
    if not names:
        return out
    exprs = []
    for name in names:
        s = pl.col(name)
        odd = s.filter(s.is_not_null() & s.cast(pl.Float64, strict=False).is_null())
        exprs += [
            s.is_not_null().sum().alias(f"{name}\x00present"),
            odd.len().alias(f"{name}\x00odd"),
            odd.unique().sort().head(MAX_ODD + 1).alias(f"{name}\x00values"),
        ]
    for row in frame.group_by(index).agg(exprs).iter_rows(named=True):
        found = out[int(row[index])]
        for name in names:
            values, rows = row[f"{name}\x00values"], int(row[f"{name}\x00odd"])
            if 0 < len(values) <= MAX_ODD and rows * 2 < int(row[f"{name}\x00present"]):
                found[name] = (list(values), rows)
    return out


def _mostly_numbers(values: Any) -> bool:
    import polars as pl

    present = values.drop_nulls()
    return len(present) > 0 and present.cast(pl.Float64, strict=False).null_count() * 2 < len(
        present
    )


def numbers_but_for_message(column: str, values: list[str], rows: int) -> str:
    """The warning for ``numbers_but_for``: the column, the strings and the fix."""
    listed = ", ".join(f'"{v}"' for v in values)
    return (
        f"column {column!r} is numeric but for {listed} ({rows} row(s)): read as text, it is"
        f" a categorical feature; if these mean a missing value, add them to [data] null_values"
    )
