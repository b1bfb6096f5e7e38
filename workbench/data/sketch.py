"""The profile of a large file in one streaming pass with bounded memory (``stream_profile``).

An exact profile of a 1 GB CSV held the whole frame and every numeric column sorted (1.8 GB
for 2.5M rows x 31 columns). Here the file is read in batches (``collect_batches``) and each
batch is reduced to a few mergeable partials per column, so memory is a batch plus the
partials whatever the file's size:

- **exact**: rows, nulls, min/max, mean (sum / count) and std (per-batch count, mean and sum
  of squared deviations, combined as Chan et al.), top categories and their counts (full value
  counts, summed), datetime/boolean min/max;
- **approximate** (the column lists them under ``"approximate"``):

  - ``quantiles``: each batch's sorted finite values are cut into blocks of ``k`` values and
    each block is kept as its last value with weight ``k`` (a batch of ``n`` values keeps
    ``n / k`` points, ``k = ceil(n / POINTS_PER_BATCH)``). For any value ``v`` the kept points'
    weight at or below ``v`` differs from the true count by less than ``k`` per batch (``v``
    falls inside one block of a batch at most), so over all batches the rank error is below
    ``sum(k_b - 1)`` values (at most the file's rows / ``POINTS_PER_BATCH``). The column's
    ``rank_error`` states that bound as a fraction of its values, and a quantile is the value
    at the target rank of the weighted points (linear between neighbours, as numpy).
    A batch with no more than ``POINTS_PER_BATCH`` values is kept whole (``k = 1``: exact);
  - ``histogram``: the counts of the equal-width bins (exact min/max edges) from the same
    points: each edge's count is within the same rank error;
  - ``unique`` (numeric and datetime): a K-minimum-values estimate over polars' 64-bit hash
    of each value (``DISTINCT_K`` smallest distinct hashes kept; exact below ``DISTINCT_K``
    distinct values but for hash collisions, else ~1/sqrt(K) = 1.6% relative error). The
    kept hashes are exactly the K smallest distinct ones of all values read (a selection,
    ``np.partition``, not a sort; once K are kept only hashes at or below the K-th pass).

Cost: a batch's numeric and datetime columns are each sorted once, by numpy (a SIMD sort
several times faster than polars' on one column, that releases the GIL), in a thread pool of
the CPUs: count, range, mean, squared deviations, non-finite flags, quantile points and
distinct values are then read off the sorted array; polars computes only the categories'
counts and the datetime/boolean ranges. A Python loop over columns does only dispatch (the
numpy and polars calls release the GIL), so the thread that stores the file runs beside it.

Types are those of the sample (``SAMPLE_ROWS``): a later value that contradicts a column's
type makes the batch read fail, and the caller falls back to the exact in-memory read, which
widens the column. So does a text column that is numbers once null tokens are gone (its type
needs every value). A file whose last column has a null is checked for short rows as before.

Appends: the profile carries its partials as JSON under ``"sketch"`` (``_state``; the
snapshot stores it with the per-file profile, never in the snapshot's own). A file that grew
by appended rows continues that state with a read of the new rows only (``after=``). The
stored points are merged down to ``STATE_POINTS`` per column; that adds the largest merged
group's weight to the rank error the state carries, so the bound stays stated and true. A
state is continued only by the same state format and polars version (its hashes are that
version's): otherwise the whole file is read again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

POINTS_PER_BATCH = 4096  # quantile points kept per batch and column
BATCH_ROWS = 250_000  # rows per batch read
DISTINCT_K = 4096  # smallest hashes kept for the distinct-value estimate
_SEED = 0x5EED  # polars' hash of the values (a stored state names it: _hash_tag)


class StreamFallback(Exception):
    """The file needs the exact in-memory read (a type only all values decide)."""


@dataclass
class _Numeric:
    n: int = 0  # finite values
    mean: float = 0.0
    m2: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    points: list[np.ndarray] = field(default_factory=list)
    weights: list[Any] = field(default_factory=list)  # per points array: a weight, or one each
    error: int = 0  # the rank error bound of the points, in values
    hashes: np.ndarray | None = None  # the smallest distinct value hashes (sorted)
    extra: int = 0  # distinct non-finite values seen (nan, inf, -inf), as a bit set

    def add(self, part: _Part, k: int) -> None:
        """One batch's partials (``_numeric_part``), its points taken every ``k`` values."""
        import numpy as np

        self.extra |= part.extra
        self.hashes = part.hashes
        if not part.n:
            return
        self.fold(part.n, part.mean, part.m2, part.lo, part.hi)
        self.points.append(part.points)
        self.weights.append(k)
        tail = part.n - k * len(part.points)
        if tail:  # the last, short block: its last value with its own weight
            self.points.append(np.array([part.hi]))
            self.weights.append(tail)
        # a value v falls inside at most one block of the batch: off by less than its weight
        self.error += k - 1

    def fold(self, n: int, mean: float, m2: float, lo: float, hi: float) -> None:
        """Take in ``n`` more finite values by their count, mean, sum of squared deviations
        and range (Chan et al.'s pairwise combination): a batch's, or another file's."""
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total
        self.lo = min(self.lo, lo)
        self.hi = max(self.hi, hi)

    def distinct(self) -> int:
        nonfinite = bin(self.extra).count("1")
        if self.hashes is None:
            return nonfinite
        if len(self.hashes) < DISTINCT_K:
            return len(self.hashes) + nonfinite
        kth = float(self.hashes[DISTINCT_K - 1]) + 1.0
        return round((DISTINCT_K - 1) * 2.0**64 / kth) + nonfinite


def _kmv(kept: np.ndarray | None, hashes: np.ndarray) -> np.ndarray:
    """The ``DISTINCT_K`` smallest distinct hashes of ``kept`` and a batch's (sorted, unique)."""
    import numpy as np

    if kept is not None:
        hashes = np.unique(np.concatenate([kept, hashes]))
    return hashes[:DISTINCT_K]


@dataclass
class _Part:
    """One batch's partials of a numeric (or datetime: ``hashes`` only) column."""

    hashes: np.ndarray  # the smallest distinct value hashes of the column so far (_kmv)
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    points: Any = None  # every k-th sorted finite value
    extra: int = 0


def _numeric_part(series: pl.Series, kind: str, k: int, kept: np.ndarray | None) -> _Part:
    """A batch's partials of one column from a numpy sort of its values (numpy sorts with
    SIMD and releases the GIL): the finite values are a slice of the sorted array (nulls and
    nan sort last, infinities at the ends), so count, range, mean, squared deviations, points
    and distinct values all come from it. ``kept``: the column's smallest hashes so far."""
    import numpy as np
    import polars as pl

    below = None if kept is None or len(kept) < DISTINCT_K else int(kept[DISTINCT_K - 1])

    if kind == "datetime":  # the hashes of the physical values only
        values = np.sort(series.to_physical().drop_nulls().to_numpy())
        return _Part(_kmv(kept, _smallest_hashes(_distinct(values), below)))
    values = np.sort(series.cast(pl.Float64).to_numpy())
    start = int(np.searchsorted(values, -math.inf, side="right"))
    end = int(np.searchsorted(values, math.inf, side="left"))
    past_inf = int(np.searchsorted(values, math.inf, side="right"))
    nan = len(values) - past_inf > series.null_count()  # nulls are nan in the array too
    extra = int(nan) | int(past_inf > end) << 1 | int(start > 0) << 2  # nan, inf, -inf
    finite = values[start:end]
    n = len(finite)
    if not n:
        return _Part(kept if kept is not None else np.zeros(0, dtype=np.uint64), extra=extra)
    mean = float(finite.mean())
    deviations = finite - mean
    m2 = float(np.einsum("i,i->", deviations, deviations))  # one pass, no squares array
    # once K hashes are kept few values pass ``below``: hash them all rather than find the
    # distinct ones first (``_smallest_hashes`` takes repeated values)
    hashed = finite if below is not None else _distinct(finite)
    return _Part(
        _kmv(kept, _smallest_hashes(hashed, below)),  # (polars hashes -0.0 as 0.0)
        n=n,
        mean=mean,
        m2=m2,
        lo=float(finite[0]),
        hi=float(finite[-1]),
        points=finite[k - 1 :: k].copy(),  # (a copy: not a view holding the batch's values)
        extra=extra,
    )


def _distinct(ordered: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array."""
    import numpy as np

    first = np.empty(len(ordered), dtype=bool)
    if len(ordered):
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def _smallest_hashes(values: np.ndarray, below: int | None) -> np.ndarray:
    """The ``DISTINCT_K`` smallest distinct polars hashes (seed ``_SEED``) of ``values`` (a
    value may repeat), only those at or below ``below`` (the K-th smallest kept so far) when
    given. A selection (``np.partition``), not a sort of them all."""
    import numpy as np
    import polars as pl

    hashes = pl.Series(values).hash(seed=_SEED).to_numpy()
    if below is not None:
        hashes = hashes[hashes <= below]
    if len(hashes) <= DISTINCT_K:
        return np.unique(hashes)
    kth = np.partition(hashes, DISTINCT_K - 1)[DISTINCT_K - 1]
    smallest = np.unique(hashes[hashes <= kth])
    if len(smallest) < DISTINCT_K:  # a hash repeats among them: take the next ones
        smallest = np.unique(hashes)[:DISTINCT_K]
    return smallest


@dataclass
class _Column:
    dtype: Any
    kind: str
    nulls: int = 0
    numeric: _Numeric | None = None
    counts: Counter[str] = field(default_factory=Counter)
    lo: Any = None
    hi: Any = None


def stream_profile(
    path: Path,
    label: str,
    nulls: Sequence[str],
    *,
    source: bytes | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The profile of one file read in batches (see the module docstring); raises
    ``StreamFallback`` when the exact read must decide a type, polars errors as they come.

    The profile carries its mergeable state under ``"sketch"``. With ``after`` (the state of
    the file's first bytes, from their stored profile) and ``source`` (the header line and the
    bytes appended since), only the appended rows are read and the profile is that of the
    whole file: the same as a fresh stream of it but for the order partials are combined in
    (float sums) and the quantile points (within the bound the state carries)."""
    import polars as pl

    from workbench.data.columns import column_kind
    from workbench.data.profile import PARQUET_SUFFIXES, _check_short_rows, separator, workers

    lf = _lazy(path if source is None else source, path, label, nulls)
    schema = lf.collect_schema()
    if after is None:
        columns = {name: _Column(dtype, column_kind(dtype)) for name, dtype in schema.items()}
        rows = 0
    else:
        rows, columns = _load(after)
        if list(columns) != list(schema):
            raise StreamFallback(label)  # the header changed
        try:
            lf = lf.with_columns(
                pl.col(n).cast(c.dtype) for n, c in columns.items() if schema[n] != c.dtype
            )
        except pl.exceptions.PolarsError as e:
            raise StreamFallback(label) from e
    exprs = _batch_exprs(columns)
    sorted_names = [name for name, c in columns.items() if c.kind in ("numeric", "datetime")]
    with ThreadPoolExecutor(max_workers=workers()) as pool:
        for batch in lf.collect_batches(chunk_size=BATCH_ROWS, maintain_order=False):
            rows += batch.height
            if not batch.height:
                continue
            k = max(1, -(-batch.height // POINTS_PER_BATCH))
            parts = pool.map(
                _numeric_part,
                [batch[name] for name in sorted_names],
                [columns[name].kind for name in sorted_names],
                [k] * len(sorted_names),
                [_kept(columns[name]) for name in sorted_names],
            )
            result = batch.select(exprs) if exprs else None
            row = {name: result[name][0] for name in result.columns} if result is not None else {}
            for name, part in zip(sorted_names, parts, strict=True):
                num = columns[name].numeric = columns[name].numeric or _Numeric()
                num.add(part, k)
            _add(columns, batch, row)
    suffix = Path(label).suffix.lower()
    if columns and suffix not in PARQUET_SUFFIXES and list(columns.values())[-1].nulls:
        _check_short_rows(path, separator(suffix), len(columns))  # a short row shows as nulls
    profile = _finish(rows, columns)
    profile["sketch"] = _state(rows, columns)
    return profile


STATE_FORMAT = 2  # 2: points and weights as base64 of little-endian float64 / int64
READ_FORMATS = (1, 2)  # 1: as JSON numbers (stores written before), read as well
STATE_POINTS = 4096  # quantile points a stored state keeps per column


def _hash_tag() -> str:
    import polars as pl

    return f"polars {pl.__version__} seed {_SEED}"  # the hashes are those of this version


def _state(rows: int, columns: dict[str, _Column]) -> dict[str, Any]:
    """The partials as JSON: what an append needs to continue the profile (``_load``)."""
    import numpy as np

    from workbench.data.profile import _as_string

    out: dict[str, Any] = {"v": STATE_FORMAT, "rows": rows, "hash": _hash_tag(), "columns": []}
    for name, col in columns.items():
        entry: dict[str, Any] = {"name": name, "dtype": str(col.dtype), "nulls": col.nulls}
        num = col.numeric
        if num is not None:
            values, weights, error = _compressed(num)
            hashes: Any = num.hashes if num.hashes is not None else []
            entry["numeric"] = {
                "n": num.n,
                "mean": num.mean,
                "m2": num.m2,
                "lo": num.lo if num.n else None,
                "hi": num.hi if num.n else None,
                "values": _b64(np.asarray(values, dtype="<f8")),
                "weights": _b64(np.asarray(weights, dtype="<i8")),
                "error": error,
                "hashes": _b64(_u64(hashes)),
                "extra": num.extra,
            }
        if col.kind in ("categorical", "boolean"):
            entry["counts"] = dict(col.counts)
        if col.kind in ("datetime", "boolean") and col.lo is not None:
            entry["lo"], entry["hi"] = _as_string(col.lo, col.dtype), _as_string(col.hi, col.dtype)
        out["columns"].append(entry)
    return out


def _b64(values: np.ndarray) -> str:
    """An array's bytes as base64 text: 4,096 points a column as JSON numbers cost ~1.5 ms
    to write and most of a 3 MB profile row; their bytes, a fraction of that."""
    import base64

    import numpy as np

    return base64.b64encode(np.ascontiguousarray(values).tobytes()).decode()


def _array(stored: str | list[Any], dtype: str) -> np.ndarray:
    """An array of a stored state: base64 of its bytes (format 2) or JSON numbers (1)."""
    import base64

    import numpy as np

    if isinstance(stored, list):
        return np.asarray(stored, dtype=dtype)
    return np.frombuffer(base64.b64decode(stored), dtype=dtype)


def _u64(values: Any) -> np.ndarray:
    import numpy as np

    return np.ascontiguousarray(np.asarray(values, dtype="<u8"))


def _compressed(num: _Numeric) -> tuple[np.ndarray, np.ndarray, int]:
    """The points merged into at most ``STATE_POINTS`` (sorted values, weights, rank error):
    consecutive points are grouped and each group kept as its last value; a value falls
    inside one group at most, so the error grows by less than the largest group's weight."""
    import numpy as np

    values, weights = _sorted_points(num)
    if len(values) <= STATE_POINTS:
        return values, weights, num.error
    ends = np.cumsum(weights)
    cuts = np.linspace(0, num.n, STATE_POINTS + 1)[1:]
    last = np.unique(np.minimum(np.searchsorted(ends, cuts, side="left"), len(ends) - 1))
    grouped = np.diff(np.concatenate(([0], ends[last])))
    return values[last], grouped, num.error + int(grouped.max()) - 1


def _sorted_points(num: _Numeric) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    if not num.points:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    values = np.concatenate(num.points)
    weights = np.concatenate(
        [
            np.full(len(p), w, dtype=np.int64) if isinstance(w, int) else w
            for p, w in zip(num.points, num.weights, strict=True)
        ]
    )
    order = np.argsort(values, kind="stable")
    return values[order], weights[order]


def _load(state: dict[str, Any]) -> tuple[int, dict[str, _Column]]:
    """The partials of a stored state; ``StreamFallback`` if this version cannot continue it."""
    import base64

    import numpy as np
    import polars as pl

    from workbench.data.columns import _dtype_named, column_kind

    if state.get("v") not in READ_FORMATS or state.get("hash") != _hash_tag():
        raise StreamFallback("state")
    columns: dict[str, _Column] = {}
    for entry in state["columns"]:
        dtype = _dtype_named(entry["dtype"])
        if str(dtype) != entry["dtype"]:  # parametrised (Datetime with a zone...): start over
            raise StreamFallback(entry["name"])
        col = _Column(dtype, column_kind(dtype), int(entry["nulls"]))
        raw = entry.get("numeric")
        if raw is not None:
            num = col.numeric = _Numeric(
                n=raw["n"], mean=raw["mean"], m2=raw["m2"], error=raw["error"], extra=raw["extra"]
            )
            if raw["n"]:
                num.lo, num.hi = raw["lo"], raw["hi"]
                num.points = [_array(raw["values"], "<f8").astype(np.float64)]
                num.weights = [_array(raw["weights"], "<i8").astype(np.int64)]
            hashes = np.frombuffer(base64.b64decode(raw["hashes"]), dtype="<u8")
            num.hashes = hashes.astype(np.uint64) if len(hashes) else None
        col.counts.update(entry.get("counts") or {})
        if "lo" in entry:
            if col.kind == "boolean":
                col.lo, col.hi = entry["lo"] == "true", entry["hi"] == "true"
            elif dtype == pl.Date:
                col.lo, col.hi = pl.Series([entry["lo"], entry["hi"]]).str.to_date().to_list()
            else:  # (a parametrised dtype was refused above)
                raise StreamFallback(entry["name"])
        columns[entry["name"]] = col
    return int(state["rows"]), columns


def _lazy(source: Path | bytes, path: Path, label: str, nulls: Sequence[str]) -> pl.LazyFrame:
    import polars as pl

    from workbench.data.columns import numeric_text
    from workbench.data.profile import (
        _NAN,
        PARQUET_SUFFIXES,
        SAMPLE_ROWS,
        _check_last_line,
        _parse_dates,
        separator,
    )

    suffix = Path(label).suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        if not isinstance(source, Path):
            raise StreamFallback(label)  # a Parquet file is not extended by appending
        return pl.scan_parquet(source)
    sep = separator(suffix)
    lf = pl.scan_csv(source, separator=sep, infer_schema_length=SAMPLE_ROWS)
    schema = lf.collect_schema()
    _check_last_line(path, sep, len(schema))
    tokens = list(nulls)
    strings = [c for c, t in schema.items() if t == pl.String]
    if tokens and strings:
        lf = lf.with_columns(
            pl.when(pl.col(c).is_in(tokens)).then(None).otherwise(pl.col(c)).alias(c)
            for c in strings
        )
        if numeric_text(lf.select(strings).head(SAMPLE_ROWS).collect()):
            raise StreamFallback(label)
    if _NAN & set(nulls):
        lf = lf.with_columns(pl.col(c).fill_nan(None) for c, t in schema.items() if t.is_float())
    return _parse_dates(lf)


def _batch_exprs(columns: dict[str, _Column]) -> list[pl.Expr]:
    """One batch's partials that polars computes: datetime/boolean ranges and category
    counts (numeric and datetime columns are sorted in numpy: ``_numeric_part``)."""
    import polars as pl

    exprs = []
    for name, col in columns.items():
        c = pl.col(name)
        if col.kind in ("datetime", "boolean"):
            exprs += [c.min().alias(f"{name}\x00min"), c.max().alias(f"{name}\x00max")]
        if col.kind in ("categorical", "boolean"):
            exprs.append(
                c.cast(pl.String).drop_nulls().value_counts().implode().alias(f"{name}\x00counts")
            )
    return exprs


def _kept(col: _Column) -> np.ndarray | None:
    return None if col.numeric is None else col.numeric.hashes


def _add(columns: dict[str, _Column], batch: pl.DataFrame, row: dict[str, Any]) -> None:
    for name, col in columns.items():
        col.nulls += batch[name].null_count()
        if col.kind in ("datetime", "boolean"):
            lo, hi = row[f"{name}\x00min"], row[f"{name}\x00max"]
            if lo is not None:
                col.lo = lo if col.lo is None else min(col.lo, lo)
                col.hi = hi if col.hi is None else max(col.hi, hi)
        if col.kind in ("categorical", "boolean"):
            counts = row[f"{name}\x00counts"].struct.unnest()
            col.counts.update(
                dict(zip(counts[name].to_list(), counts["count"].to_list(), strict=True))
            )


def _finish(rows: int, columns: dict[str, _Column]) -> dict[str, Any]:
    import polars as pl

    from workbench.data.columns import column_kind
    from workbench.data.profile import TOP_K, _as_string, _top

    out = []
    for name, col in columns.items():
        dtype, kind = col.dtype, col.kind
        if dtype == pl.String and rows and col.nulls == rows:  # no value at all: no type
            dtype, kind = pl.Null, column_kind(pl.Null)
        entry: dict[str, Any] = {"name": name, "dtype": str(dtype), "kind": kind}
        entry["nulls"] = col.nulls
        extra_null = 1 if col.nulls else 0
        if kind in ("numeric", "datetime"):
            num = col.numeric or _Numeric()
            entry["unique"] = num.distinct() + extra_null
            entry["approximate"] = ["unique"]
        else:
            entry["unique"] = len(col.counts) + extra_null
        if kind == "numeric":
            _numeric(entry, col.numeric or _Numeric())
        elif kind in ("datetime", "boolean"):
            entry["min"] = None if col.lo is None else _as_string(col.lo, dtype)
            entry["max"] = None if col.hi is None else _as_string(col.hi, dtype)
        if kind in ("categorical", "boolean"):
            counts = dict(col.counts)
            top = _top(counts, TOP_K)
            entry["top"] = [{"value": v, "count": int(n)} for v, n in top]
            entry["other_count"] = int(sum(counts.values()) - sum(n for _, n in top))
        out.append(entry)
    return {"rows": rows, "columns": out}


def _numeric(entry: dict[str, Any], num: _Numeric) -> None:
    import numpy as np

    from workbench.data.profile import QUANTILES, _edges, _num

    if num.n == 0:
        entry |= {"min": None, "max": None, "mean": None, "std": None}
        entry["quantiles"] = {str(q): None for q in QUANTILES}
        return
    entry["min"], entry["max"] = _num(num.lo), _num(num.hi)
    entry["mean"] = _num(num.mean)
    entry["std"] = _num(math.sqrt(num.m2 / (num.n - 1))) if num.n > 1 else None
    values, weights = _sorted_points(num)
    ends = np.cumsum(weights)  # the rank (1-based) of each point's last value
    entry["quantiles"] = {
        str(q): _num(v) for q, v in zip(QUANTILES, quantiles(values, ends, num.n), strict=True)
    }
    error = num.error
    if error:
        entry["approximate"] = ["unique", "quantiles", "histogram"]
        entry["rank_error"] = error / num.n
    edges = _edges(entry["min"], entry["max"])
    # values below each inner edge: the weight of the points below it
    below = np.concatenate(([0], ends))[np.searchsorted(values, edges[1:-1], side="left")]
    bounds = np.concatenate(([0], below, [num.n]))
    entry["histogram"] = {"edges": edges, "counts": [int(c) for c in np.diff(bounds)]}


def quantiles(values: np.ndarray, ends: np.ndarray, n: int) -> np.ndarray:
    """numpy's linear quantiles at ``QUANTILES`` of ``n`` values summarised by sorted points
    whose cumulative weights are ``ends`` (exact when every weight is 1)."""
    import numpy as np

    from workbench.data.profile import QUANTILES

    index = np.asarray(QUANTILES) * (n - 1)
    lo = np.floor(index).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    t = index - lo
    a = values[np.searchsorted(ends, lo + 1, side="left")]  # the value of 0-based rank lo
    b = values[np.searchsorted(ends, hi + 1, side="left")]
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def merge_states(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The profile of several streamed files' rows together, from their stored states alone
    (no file is read again): the same partials a single stream of all their rows would hold,
    but for the order float sums are combined in. The rank errors add (a value's rank in the
    union is the sum of its ranks in the parts), so the stated bound stays true. Raises
    ``StreamFallback`` when the files' columns or types differ, or a state is of another
    format: the caller then reads the files."""
    rows = 0
    merged: dict[str, _Column] | None = None
    for state in states:
        part_rows, columns = _load(state)
        rows += part_rows
        if merged is None:
            merged = columns
            continue
        if [(n, str(c.dtype)) for n, c in columns.items()] != [
            (n, str(c.dtype)) for n, c in merged.items()
        ]:
            raise StreamFallback("columns")
        for name, col in columns.items():
            _combine(merged[name], col)
    if merged is None:
        raise StreamFallback("no files")
    return _finish(rows, merged)


def _combine(into: _Column, col: _Column) -> None:
    """Add one file's column partials to another's (``merge_states``)."""
    into.nulls += col.nulls
    into.counts.update(col.counts)
    if col.lo is not None:
        into.lo = col.lo if into.lo is None else min(into.lo, col.lo)
        into.hi = col.hi if into.hi is None else max(into.hi, col.hi)
    a, b = into.numeric, col.numeric
    if b is None:
        return
    if a is None:
        into.numeric = b
        return
    a.extra |= b.extra
    if b.hashes is not None:
        a.hashes = _kmv(a.hashes, b.hashes)
    if not b.n:
        return
    a.fold(b.n, b.mean, b.m2, b.lo, b.hi)
    a.points.extend(b.points)
    a.weights.extend(b.weights)
    a.error += b.error
