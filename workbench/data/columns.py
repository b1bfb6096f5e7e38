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
