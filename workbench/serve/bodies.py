"""Request bodies -> the rows a model scores, typed the way ``workbench predict`` reads them.

Only three formats are parsed, chosen by ``Content-Type``: JSON (``{"rows": [{col: value}]}``
or ``{"columns": {col: [values]}}``), CSV (``text/csv``) and Parquet
(``application/vnd.apache.parquet``, also ``application/x-parquet``). Nothing else is
deserialised: another type is refused with 415 before the body is looked at.

CSV and Parquet bodies go through ``model.predict.read_input`` — the reader ``workbench
predict`` uses (the model's null values, numeric features as floats, whole-body types) — from
a private temp file in the store's ``tmp/``, so a body scores exactly as the same file would.
JSON already carries types, so its columns are built directly with the types that reader
gives: numeric features as Float64 (numbers or null; a string or a boolean is refused, naming
the row), booleans as Boolean, categoricals as text (a number sent for a categorical is its
text, as a CSV would have it), datetimes parsed from ISO text. Encoding (category codes,
unseen categories as missing) is then ``features.encode``, the same for every format.

Every refusal is a ``BadBody`` (a ``DataError``) with the HTTP status and the details the JSON
error carries: the missing ``columns``, or the ``row`` and ``column`` of a bad value.
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import DataError
from workbench.model.features import FeatureSpec, missing_columns
from workbench.model.predict import read_input

if TYPE_CHECKING:
    import polars as pl

JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv", "application/csv")
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")
ACCEPTED = (*JSON_TYPES, *CSV_TYPES, *PARQUET_TYPES)
_NUMBER = {int, float, type(None)}
_NO_TYPE = type(None)


class BadBody(DataError):
    """A request the server refuses; ``status`` is its HTTP status, ``detail`` extra keys."""

    def __init__(self, message: str, hint: str | None = None, status: int = 400, **detail: Any):
        super().__init__(message, hint)
        self.status = status
        self.detail = detail

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, **({"hint": self.hint} if self.hint else {}), **self.detail}


def media_type(header: str | None) -> str:
    """The body's format (``json`` | ``csv`` | ``parquet``) from its ``Content-Type``."""
    kind = (header or "").split(";", 1)[0].strip().lower()
    if kind in JSON_TYPES:
        return "json"
    if kind in CSV_TYPES:
        return "csv"
    if kind in PARQUET_TYPES:
        return "parquet"
    raise BadBody(
        f"unsupported content type {kind or '(none)'!r}",
        f"send one of: {', '.join(ACCEPTED)}",
        status=415,
    )


def rows_of(body: bytes, kind: str, spec: FeatureSpec, id_column: str | None, tmp: Path) -> Any:
    """The body's rows as a polars frame with the spec's features (and the id column, when
    the body has it)."""
    if not body:
        raise BadBody("the request body is empty", 'send rows, e.g. {"rows": [{...}]}')
    if kind == "json":
        return _json_rows(body, spec, id_column)
    return _file_rows(body, kind, spec, tmp)


# ---------------------------------------------------------------- JSON


def _json_rows(body: bytes, spec: FeatureSpec, id_column: str | None) -> pl.DataFrame:
    return frame_of(json_columns(body, spec, id_column), spec)


def json_columns(body: bytes, spec: FeatureSpec, id_column: str | None) -> dict[str, list[Any]]:
    """A JSON body's columns, checked and typed as the model reads them (no polars yet), so
    the server can score several requests' columns as one frame (``frame_of``) knowing each
    request's values are good. The id column is always there when ``id_column`` is set
    (nulls when the body has none)."""
    if not body:
        raise BadBody("the request body is empty", 'send rows, e.g. {"rows": [{...}]}')
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise BadBody(f"the body is not valid JSON: {e}", "send a JSON object") from None
    if isinstance(doc, dict) and isinstance(doc.get("rows"), list):
        columns = _from_rows(doc["rows"], spec, id_column)
    elif isinstance(doc, dict) and isinstance(doc.get("columns"), dict):
        columns = _from_columns(doc["columns"], spec, id_column)
    else:
        raise BadBody(
            'the JSON body has neither "rows" (a list of objects) nor "columns" (an object of'
            " lists)",
            'send {"rows": [{"col": value, ...}]} or {"columns": {"col": [values]}}',
        )
    if id_column and id_column not in columns:
        columns[id_column] = [None] * len(next(iter(columns.values()), []))
    return {name: _checked(name, values, spec) for name, values in columns.items()}


def frame_of(columns: dict[str, list[Any]], spec: FeatureSpec) -> pl.DataFrame:
    """The frame of ``json_columns`` output (one request's, or several requests' joined)."""
    import polars as pl

    return pl.DataFrame([_series(name, values, spec) for name, values in columns.items()])


def _from_rows(rows: list[Any], spec: FeatureSpec, id_column: str | None) -> dict[str, list]:
    """Columns from row objects: one C-level ``itemgetter`` per row and one transpose; only a
    body that fails that (a row that is not an object, a column a row lacks) is looked at
    row by row, to name the row."""
    if not rows:
        return {name: [] for name in spec.features}
    first = rows[0]
    with_id = bool(id_column) and isinstance(first, dict) and id_column in first  # else nulls
    wanted = [*spec.features, *([id_column] if with_id and id_column else [])]
    try:
        picked = list(map(operator.itemgetter(*wanted), rows))
    except (KeyError, TypeError, AttributeError):
        raise _row_error(rows, spec, wanted) from None
    if len(wanted) == 1:
        return {wanted[0]: picked}
    return dict(zip(wanted, map(list, zip(*picked, strict=True)), strict=True))


def _row_error(rows: list[Any], spec: FeatureSpec, wanted: list[str]) -> BadBody:
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            return BadBody(f"row {i} is not a JSON object", "each row is {col: value}", row=i)
    missing = [f for f in spec.features if not any(f in r for r in rows)]
    if missing:
        return _missing(missing, spec)
    for i, row in enumerate(rows):
        lacking = [name for name in wanted if name not in row]
        if lacking:
            return BadBody(
                f"row {i} has no column {lacking[0]!r}",
                "every row needs every feature (and the id column, if the first row has it);"
                " send null for a missing value",
                row=i,
                column=lacking[0],
            )
    return BadBody("the rows cannot be read", "each row is {col: value}")


def _from_columns(
    cols: dict[str, Any], spec: FeatureSpec, id_column: str | None
) -> dict[str, list]:
    missing = missing_columns(list(cols), spec)
    if missing:
        raise _missing(missing, spec)
    wanted = [*spec.features, *([id_column] if id_column and id_column in cols else [])]
    lengths = set()
    for name in wanted:
        if not isinstance(cols[name], list):
            raise BadBody(
                f"column {name!r} is not a list", "columns are {col: [values]}", column=name
            )
        lengths.add(len(cols[name]))
    if len(lengths) > 1:
        sizes = ", ".join(f"{n}: {len(cols[n])}" for n in wanted)
        raise BadBody(f"the columns have different lengths ({sizes})", "send one value per row")
    return {name: cols[name] for name in wanted}


def _missing(names: list[str], spec: FeatureSpec) -> BadBody:
    return BadBody(
        f"missing feature column(s): {', '.join(names)}",
        f"the model was trained with: {', '.join(spec.features)}",
        columns=names,
    )


def _checked(name: str, values: list[Any], spec: FeatureSpec) -> list[Any]:
    """``values`` if the feature's kind can hold them (categoricals and the id as text);
    a ``BadBody`` naming the first row that cannot."""
    kind = spec.kinds.get(name)
    types = set(map(type, values))
    if kind == "numeric":
        if not types <= _NUMBER:
            raise _bad_type(name, values, _NUMBER, "a number (or null)")
    elif kind == "boolean":
        if not types <= {bool, _NO_TYPE}:
            raise _bad_type(name, values, {bool, _NO_TYPE}, "true, false or null")
    elif kind == "datetime":
        if not types <= {str, _NO_TYPE}:
            raise _bad_type(name, values, {str, _NO_TYPE}, "an ISO date or time text (or null)")
        _series(name, values, spec)  # parses, or names the column
    elif not types <= {str, _NO_TYPE}:  # a categorical (or the id): text, as a CSV holds it
        if not types <= {str, int, float, bool, _NO_TYPE}:
            raise _bad_type(
                name, values, {str, int, float, bool, _NO_TYPE}, "text, a number or null"
            )
        return [_text(v) for v in values]
    return values


def _series(name: str, values: list[Any], spec: FeatureSpec) -> pl.Series:
    """The column of checked ``values`` with the type ``predict``'s reader gives it."""
    import polars as pl

    kind = spec.kinds.get(name)
    if kind == "numeric":
        return pl.Series(name, values, dtype=pl.Float64, strict=True)
    if kind == "boolean":
        return pl.Series(name, values, dtype=pl.Boolean)
    if kind == "datetime":
        try:
            return pl.Series(name, values, dtype=pl.String).str.to_datetime(strict=True)
        except pl.exceptions.PolarsError:
            raise BadBody(
                f"column {name!r} has a value that is not an ISO date or time",
                'send dates as "2025-01-31" or "2025-01-31 12:00:00"',
                column=name,
            ) from None
    return pl.Series(name, values, dtype=pl.String)


def _text(value: Any) -> str | None:
    """A JSON scalar as the text polars gives the same value read from a CSV and cast."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    import polars as pl

    return pl.Series([value], dtype=pl.Float64).cast(pl.String)[0]


def _bad_type(name: str, values: list[Any], allowed: set[type], what: str) -> BadBody:
    row, value = next((i, v) for i, v in enumerate(values) if type(v) not in allowed)
    shown = json.dumps(value)[:80]
    return BadBody(
        f"row {row}: column {name!r} must be {what}, got {_json_type(value)} {shown}",
        "fix that value (the model reads this column as it was trained)",
        row=row,
        column=name,
        type=_json_type(value),
    )


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}
    return names.get(type(value), "object" if isinstance(value, dict) else "null")


# ---------------------------------------------------------------- CSV and Parquet


_serial = iter(range(1 << 62))
_serial_lock = threading.Lock()


def _file_rows(body: bytes, kind: str, spec: FeatureSpec, tmp: Path) -> pl.DataFrame:
    """A CSV or Parquet body read as ``workbench predict`` reads that file."""
    import polars as pl

    with _serial_lock:
        n = next(_serial)
    path = tmp / f"serve.{os.getpid()}.{n}.{'csv' if kind == 'csv' else 'parquet'}"
    tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as f:
            f.write(body)
        try:
            frame = read_input(path, spec).collect()
        except DataError as e:
            raise BadBody(_unnamed(e.message, path), e.hint) from None
        except pl.exceptions.PolarsError as e:
            raise BadBody(f"cannot read the {kind} body: {_unnamed(str(e), path)}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    missing = missing_columns(frame.columns, spec)
    if missing:
        raise _missing(missing, spec)
    _check_types(frame, spec)
    return frame


def _unnamed(message: str, path: Path) -> str:
    return message.replace(str(path), "the body").splitlines()[0]


def _check_types(frame: pl.DataFrame, spec: FeatureSpec) -> None:
    """A Parquet column whose type the feature cannot be (text for a number) is refused: the
    encoder would read it as missing everywhere."""
    for name in spec.features:
        dtype = frame.schema[name]
        kind = spec.kinds.get(name)
        bad = (kind in ("numeric", "boolean") and not (dtype.is_numeric() or dtype == _bool())) or (
            kind == "datetime" and not dtype.is_temporal()
        )
        if bad and frame[name].null_count() < frame.height:
            raise BadBody(
                f"column {name!r} is {dtype} in the body; the model reads it as {kind}",
                "send the column with the type it was trained with",
                column=name,
                type=str(dtype),
            )


def _bool() -> Any:
    import polars as pl

    return pl.Boolean
