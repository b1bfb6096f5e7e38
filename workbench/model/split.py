"""Which rows train, validate and hold out — and which rows a stored version never saw.

The gate and ``workbench compare`` score two versions on rows *neither* trained on. Both
splits make that hold by construction, and ``seen_by`` checks it for any stored version:

* ``split = "random"``: a row's side comes from the row itself. Each row gets a 64-bit key
  (``row_keys``): the hash of its ``id_column`` value when one is configured, otherwise the
  sum of per-column hashes of its non-null values (so a column added in a later batch, null
  for the old rows, leaves their keys alone; numbers hash as float64, so an integer column
  widened to float keeps its keys). The key, mixed with the seed, is a uniform number ``u`` in
  [0, 1): ``u < holdout_fraction`` is the holdout, the next ``VALID_FRACTION`` of the rest is
  the early-stopping part, the rest trains. A row keeps its side from version to version, and
  new rows are assigned by the same rule; identical rows land on the same side, so a
  duplicated row cannot leak from training into the holdout. The hashes are our own
  (xxh3 of the UTF-8 text, float64 bits, a splitmix64 finaliser), not polars' row hash, which
  is not stable across polars releases. On tiny data an empty part takes the rows with the
  smallest ``u`` so that every part has a row.
* ``split = "time"``: the newest ``holdout_fraction`` of rows by ``time_column`` (a stable
  sort of ``data.times.time_values``: datetimes in UTC, numbers as numbers, text parsed;
  null or unreadable times count as oldest), the newest 10% of the rest validates. The version
  records ``train_until``, the newest time it trained or validated on; a row newer than that
  was never seen by it.

``seen_by(frame, meta, ...)`` gives, for rows of any frame, whether a stored version may have
trained or validated on them: exact for the hash rule (the same key, seed and fractions give
the same side), conservative for the time rule (every row up to ``train_until``). A version
stored before this rule (no ``rule`` in its split record) is answered by replaying its old
split (a seeded permutation of its snapshot's rows) and matching the row keys; such a version's
time split held out the newest rows as today.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.config import Settings
from workbench.data.times import naive_utc, time_values

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

RULE = "row-hash-1"
VALID_FRACTION = 0.1
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    import numpy as np

    z = z.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= np.uint64(_M1)
        z ^= z >> np.uint64(27)
        z *= np.uint64(_M2)
        z ^= z >> np.uint64(31)
    return z


def _text_hash(text: str) -> int:
    import xxhash

    return xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))


def column_hash(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(uint64 hash per value, null mask) of one column, stable across processes and releases."""
    import numpy as np
    import polars as pl

    dtype = series.dtype
    if dtype.is_numeric() or dtype == pl.Boolean:
        x = series.cast(pl.Float64).to_numpy().astype(np.float64, copy=True)
        null = np.isnan(x)
        x[null] = 0.0
        x += 0.0  # -0.0 -> 0.0
        return x.view(np.uint64), null
    if dtype.is_temporal() and dtype != pl.Time:
        if isinstance(dtype, pl.Duration):
            physical = series.cast(pl.Duration("us")).to_physical()
        else:
            physical = naive_utc(series).to_physical()
        null = physical.is_null().to_numpy()
        return physical.fill_null(0).to_numpy().astype(np.int64).view(np.uint64), null
    text = series.cast(pl.String)
    null = text.is_null().to_numpy()
    levels = text.drop_nulls().unique()
    hashes = pl.Series([_text_hash(v) for v in levels.to_list()], dtype=pl.UInt64)
    coded = text.replace_strict(levels, hashes, default=0, return_dtype=pl.UInt64)
    return coded.to_numpy().astype(np.uint64), null


def row_keys(frame: pl.DataFrame, id_column: str | None = None) -> np.ndarray:
    """A stable 64-bit key per row (see the module docstring)."""
    import numpy as np

    names = [id_column] if id_column else frame.columns
    total = np.zeros(frame.height, dtype=np.uint64)
    for name in names:
        values, null = column_hash(frame[name])
        with np.errstate(over="ignore"):
            part = _mix(values ^ np.uint64(_text_hash(name)))
            part[null] = 0
            total += part
    return _mix(total)


def unit(keys: np.ndarray, seed: int) -> np.ndarray:
    """Each key as a uniform number in [0, 1), differently for each seed."""
    import numpy as np

    salt = _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    return (_mix(keys ^ salt) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def split_indices(
    frame: pl.DataFrame, settings: Settings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row positions of (train, valid, holdout), each sorted, as the module docstring says.

    Positions, not frames: training encodes the whole frame once and takes the parts' rows
    from the matrix, instead of gathering every column three times.
    """
    import numpy as np

    n = frame.height
    hf = settings.train.holdout_fraction
    if settings.train.split == "time":
        order = np.argsort(time_values(frame, settings.data.time_column or ""), kind="stable")
        n_hold = max(1, math.ceil(n * hf))
        rest, holdout = order[: n - n_hold], order[n - n_hold :]
        n_valid = max(1, math.ceil(len(rest) * VALID_FRACTION))
        train, valid = rest[: len(rest) - n_valid], rest[len(rest) - n_valid :]
        return np.sort(train), np.sort(valid), np.sort(holdout)
    u = unit(row_keys(frame, settings.data.id_column), settings.train.seed)
    part = np.where(u < hf, 2, np.where(u < hf + (1.0 - hf) * VALID_FRACTION, 1, 0))
    for wanted in (2, 1):  # tiny data: an empty part takes the training rows with the least u
        if not (part == wanted).any() and (part == 0).sum() > 1:
            zero = np.flatnonzero(part == 0)
            part[zero[np.argmin(u[zero])]] = wanted
    return tuple(np.flatnonzero(part == p) for p in (0, 1, 2))  # type: ignore[return-value]


def split_record(
    frame: pl.DataFrame,
    settings: Settings,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> dict[str, Any]:
    """The version's ``split`` metadata: enough for ``seen_by`` to answer for this version."""
    train, valid, holdout = parts
    record: dict[str, Any] = {
        "kind": settings.train.split,
        "rule": RULE,
        "holdout_fraction": settings.train.holdout_fraction,
        "valid_fraction": VALID_FRACTION,
        "seed": settings.train.seed,
        "id_column": settings.data.id_column,
        "time_column": settings.data.time_column,
        "rows": {"train": len(train), "valid": len(valid), "holdout": len(holdout)},
    }
    if settings.train.split == "time":
        import numpy as np

        times = time_values(frame, settings.data.time_column or "")
        seen = np.concatenate([train, valid])
        record["train_until"] = float(times[seen].max()) if len(seen) else None
    return record


def same_sides(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two split records put every row on the same side (the row-hash rule with the
    same seed, fractions and id column): a row one holds out the other never trained on."""
    keys = ("rule", "kind", "seed", "holdout_fraction", "valid_fraction", "id_column")
    return a.get("kind") == "random" and all(a.get(k) == b.get(k) for k in keys)


# A version's own rows, for one stored before ``RULE``: its labelled snapshot frame.
LegacyFrame = Callable[[], "pl.DataFrame"]


def seen_by(
    frame: pl.DataFrame, split: dict[str, Any], legacy_frame: LegacyFrame | None = None
) -> np.ndarray:
    """Per row of ``frame``: may the version with this ``split`` record have trained or
    validated on it? (See the module docstring.)"""
    import numpy as np

    if split.get("rule") == RULE:
        if split["kind"] == "time":
            until = split.get("train_until")
            column = split.get("time_column")
            if until is None or not column or column not in frame.columns:
                return np.ones(frame.height, dtype=bool)
            return time_values(frame, column) <= until
        id_column = split.get("id_column")
        if id_column and id_column not in frame.columns:
            return np.ones(frame.height, dtype=bool)
        u = unit(row_keys(frame, id_column), int(split["seed"]))
        return u >= float(split["holdout_fraction"])
    if split.get("kind") == "time":  # before RULE, as now: the newest rows were held out
        return np.zeros(frame.height, dtype=bool)
    if legacy_frame is None:
        return np.ones(frame.height, dtype=bool)
    old = legacy_frame()
    train, valid = _legacy_parts(old, split)
    seen_keys = row_keys(old[np.concatenate([train, valid])])
    return np.isin(row_keys(frame), seen_keys)


def _legacy_parts(frame: pl.DataFrame, split: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid) positions as versions stored before ``RULE`` split their rows."""
    import numpy as np

    n = frame.height
    n_hold = max(1, math.ceil(n * float(split["holdout_fraction"])))
    order = np.random.default_rng(int(split["seed"])).permutation(n)
    rest = order[n_hold:]
    n_valid = max(1, math.ceil(len(rest) * VALID_FRACTION))
    return rest[n_valid:], rest[:n_valid]
