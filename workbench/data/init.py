"""``workbench init [DIR]``: scaffold a ``workbench.toml`` from what is in the data folder.

It reads the first data file (its schema, the target column to guess the task, and its text
columns: one that is numbers but for a few strings such as ``?`` is warned about, naming the
``[data] null_values`` fix, in the result and the config), proposes features/time/id columns,
writes the config atomically, and adds ``.workbench/`` to the project's ``.gitignore``. An
existing config is never overwritten without ``force``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.config import CONFIG_NAME, inside
from workbench.data.inputs import is_ignored
from workbench.errors import ConfigError, DataError, UsageError
from workbench.store.objects import atomic_write

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


def guess_task(path: Path, target: str) -> str:
    import polars as pl

    from workbench.data.profile import scan

    col = scan(path).select(pl.col(target)).collect()[target].drop_nulls()
    unique = col.n_unique()
    if unique <= 2:
        return "binary"
    if col.dtype == pl.String or (col.dtype.is_integer() and unique <= 20):
        return "multiclass"
    return "regression"


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
    time_column = next(
        (c for c, t in columns.items() if t.startswith(("Datetime", "Date")) and c != target), None
    )
    id_column = next(
        (c for c in columns if c != target and (c.lower() == "id" or c.lower().endswith("_id"))),
        None,
    )
    warnings = numbers_but_for_warnings(first)
    text = render(name or root.resolve().name, data, target, task, time_column, id_column)
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
    name: str, data: str, target: str, task: str, time_column: str | None, id_column: str | None
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
        "exclude = []",
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
