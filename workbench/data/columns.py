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

_BOOLEANS = ("true", "false")  # polars reads these as Boolean, in any case


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
            (present & ~s.str.to_lowercase().is_in(_BOOLEANS)).any().alias(f"{name}\x00bool"),
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


def retype_text(frame: Any, names: list[str]) -> Any:
    """An eager frame with its text columns ``names`` cast to the type all their values fit."""
    if not names:
        return frame
    row = frame.select(text_dtype_exprs(names)).row(0, named=True)
    casts = text_casts(text_dtypes(row, names))
    return frame.with_columns(casts) if casts else frame
