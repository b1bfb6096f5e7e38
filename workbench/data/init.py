"""``workbench init [DIR]``: scaffold a ``workbench.toml`` from what is in the data folder.

It reads the first data file (its schema, the target column to guess the task, and its text
columns: one that is numbers but for a few strings such as ``?`` is warned about, naming the
``[data] null_values`` fix, in the result and the config), proposes features/time/id columns
(``guess_columns``: a time column stored as text is recognised, a row-index column excluded,
a text column with one value per row warned about),
writes the config atomically, and adds ``.workbench/`` to the project's ``.gitignore``. An
existing config is never overwritten without ``force``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.config import CONFIG_NAME, inside
from workbench.data.inputs import is_ignored
from workbench.errors import ConfigError, DataError, UsageError
from workbench.store.objects import atomic_write

if TYPE_CHECKING:
    import polars as pl

TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class InitResult:
    config: Path
    target: str
    task: str
    time_column: str | None
    id_column: str | None
    columns: tuple[str, ...]
    gitignore_updated: bool
    warnings: tuple[str, ...] = ()  # columns that are numbers but for a few strings


def data_columns(root: Path, data: str) -> tuple[Path, dict[str, str]]:
    """The first data file under ``root/data`` and its column -> dtype."""
    from workbench.data.profile import scan

    folder = root / data
    if not inside(root, folder):
        raise UsageError(f"--data {data!r} points outside {root}", "give a folder inside it")
    if not folder.is_dir():
        raise DataError(
            f"no data folder {folder}", f"create {data}/ with CSV or Parquet files, or pass --data"
        )
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not is_ignored(p.name))
    if not files:
        raise DataError(f"no CSV or Parquet files in {folder}", "add a first batch of data")
    schema = scan(files[0]).collect_schema()
    return files[0], {name: str(dtype) for name, dtype in schema.items()}


MAX_CLASSES = 20  # a label with at most this many integral values is a class label


def guess_task(path: Path, target: str) -> str:
    """binary for two values; multiclass for text or a few integral values (``2.0`` too, as
    pandas writes integers in a column with a missing value); else regression."""
    import polars as pl

    from workbench.data.profile import scan

    col = scan(path).select(pl.col(target)).collect()[target].drop_nulls()
    unique = col.n_unique()
    if unique <= 2:
        return "binary"
    if col.dtype == pl.String or (_integral(col) and unique <= MAX_CLASSES):
        return "multiclass"
    return "regression"


def _integral(col: pl.Series) -> bool:
    if col.dtype.is_integer():
        return True
    if not col.dtype.is_float():
        return False
    return bool((col == col.round(0)).all()) and not bool(col.is_nan().any())


TIME_NAMES = ("date", "time", "timestamp", "datetime", "ts", "period", "month", "day")
UNIQUE_SHARE = 0.95  # a text column with about one distinct value per row identifies rows
MIN_ROWS_FOR_GUESSES = 50


@dataclass(frozen=True)
class Guesses:
    """What ``init`` reads off the first file beyond the schema."""

    time_column: str | None
    excluded: tuple[str, ...]  # row-index columns: a feature that leaks the row order
    warnings: tuple[str, ...]


def guess_columns(path: Path, target: str, id_column: str | None) -> Guesses:
    """The time column (a datetime, or text that reads as time: ``2012/01/01``, ``Jan 1 2000``,
    with offsets), row-index columns (an unnamed first column, or one equal to the row number,
    as R and pandas write them: excluded, since the row order leaks the label when files are
    sorted), and text columns with about one distinct value per row (warned: as a categorical
    each value is its own level)."""
    import polars as pl

    from workbench.data.profile import scan
    from workbench.data.times import parsed_share

    frame = scan(path).collect()
    n = frame.height
    time_column = None
    excluded: list[str] = []
    warnings: list[str] = []
    for i, (name, dtype) in enumerate(frame.schema.items()):
        if name in (target, id_column):
            continue
        col = frame[name]
        if dtype.is_temporal() and time_column is None:
            time_column = name
            continue
        if _row_index(i, name, col):
            excluded.append(name)
            warnings.append(
                f"column {name!r} looks like a row index (unnamed, or equal to the row number):"
                " excluded, since as a feature it learns the row order"
            )
            continue
        if dtype != pl.String:
            continue
        if time_column is None and _reads_as_time(name, col, parsed_share):
            time_column = name
            continue
        if n >= MIN_ROWS_FOR_GUESSES and col.n_unique() >= UNIQUE_SHARE * n:
            warnings.append(
                f"text column {name!r} has about one distinct value per row"
                f" ({col.n_unique():,} in {n:,} rows): as a categorical every value is its own"
                " level; add it to [data] exclude, or make it id_column if it names rows"
            )
    return Guesses(time_column, tuple(excluded), tuple(warnings))


def _row_index(position: int, name: str, col: pl.Series) -> bool:
    import polars as pl

    unnamed = name.strip() == "" or name.lower().startswith(("unnamed", "column_"))
    if position == 0 and unnamed:
        return True
    if not col.dtype.is_integer() or col.null_count() or len(col) < MIN_ROWS_FOR_GUESSES:
        return False
    start = col[0]
    rows = pl.int_range(start, start + len(col), eager=True)
    return start in (0, 1) and bool((col == rows).all())


def _reads_as_time(name: str, col: pl.Series, parsed_share: Any) -> bool:
    import polars as pl

    sample = col.drop_nulls().head(1000)
    if not len(sample) or sample.cast(pl.Float64, strict=False).null_count() == 0:
        return False  # numbers are not read as time unless the config says so
    share = parsed_share(sample)
    named = any(part in TIME_NAMES for part in name.lower().replace("-", "_").split("_"))
    return share >= 0.99 or (named and share >= 0.9)


def init(
    root: Path,
    *,
    target: str,
    task: str | None,
    data: str = "data",
    name: str | None = None,
    force: bool = False,
) -> InitResult:
    config = root / CONFIG_NAME
    if config.exists() and not force:
        raise ConfigError(f"{config} already exists", "edit it, or pass --force to replace it")
    first, columns = data_columns(root, data)
    if target not in columns:
        raise DataError(
            f"target column {target!r} is not in {first.name} (columns: {', '.join(columns)})",
            "pass --target with one of the columns above",
        )
    if task is None:
        task = guess_task(first, target)
    id_column = next(
        (c for c in columns if c != target and (c.lower() == "id" or c.lower().endswith("_id"))),
        None,
    )
    guesses = guess_columns(first, target, id_column)
    time_column = guesses.time_column
    warnings = numbers_but_for_warnings(first) + guesses.warnings
    text = render(
        name or root.resolve().name, data, target, task, time_column, id_column, guesses.excluded
    )
    text += "".join(f"# warning: {w}\n" for w in warnings)
    atomic_write(config, text.encode())
    return InitResult(
        config,
        target,
        task,
        time_column,
        id_column,
        tuple(columns),
        ensure_gitignored(root),
        warnings,
    )


def numbers_but_for_warnings(path: Path) -> tuple[str, ...]:
    """A warning per column of ``path`` that is numbers but for a few strings (``?``, ``-``):
    as text it would train as a categorical; ``[data] null_values`` can make them missing."""
    from workbench.data.columns import numbers_but_for, numbers_but_for_message
    from workbench.data.profile import scan

    found = numbers_but_for(scan(path))
    return tuple(numbers_but_for_message(c, values, rows) for c, (values, rows) in found.items())


def ensure_gitignored(root: Path) -> bool:
    """Add ``.workbench/`` to ``root/.gitignore``; False when it was already there."""
    path = root / ".gitignore"
    text = path.read_text() if path.exists() else ""
    if any(
        line.strip() in (".workbench", ".workbench/", "/.workbench/") for line in text.splitlines()
    ):
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    atomic_write(path, (text + ".workbench/\n").encode())
    return True


def render(
    name: str,
    data: str,
    target: str,
    task: str,
    time_column: str | None,
    id_column: str | None,
    exclude: tuple[str, ...] = (),
) -> str:
    metric = {"binary": "auc", "multiclass": "multi_logloss", "regression": "rmse"}[task]
    split = "time" if time_column else "random"
    lines = [
        "# workbench config — every key is optional except data.target; see the README.",
        "[project]",
        f'name = "{name}"',
        "",
        "[data]",
        f'path = "{data}"              # folder or glob of CSV/Parquet files, inside the project',
        f'target = "{target}"',
        "features = []                # empty: every column but target/time/id/exclude",
        f"exclude = {json.dumps(list(exclude))}",
        "categorical = []             # extra categorical columns (strings always are)",
        (f'time_column = "{time_column}"' if time_column else '# time_column = "event_time"'),
        (f'id_column = "{id_column}"' if id_column else '# id_column = "id"'),
        "",
        "[model]",
        f'task = "{task}"               # binary | multiclass | regression',
        "num_boost_round = 300",
        "early_stopping_rounds = 30",
        "params = { learning_rate = 0.05, num_leaves = 31 }",
        "",
        "[train]",
        f'split = "{split}"               # time | random',
        "holdout_fraction = 0.2",
        "seed = 42",
        "",
        "[gate]",
        f'metric = "{metric}"',
        "min_delta = 0.0",
        "",
        "[drift]",
        "drift_share = 0.5",
        "retrain_on_drift = false",
        "",
        "[watch]",
        "debounce_ms = 1000",
        "",
        "[hooks]                      # argv lists, run without a shell",
        "on_promote = []",
        "on_drift = []",
        "on_failure = []",
        "",
    ]
    return "\n".join(lines)
