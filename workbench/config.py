"""``workbench.toml`` -> frozen, validated settings.

Config is documentation: every key has a type, a default and a one-line description in the
dataclasses below, and the README table is written from the same place. Validation is strict:
an unknown section or key, a wrong type, a value outside its choices or a path that escapes the
project is refused with a ``ConfigError`` naming the file, the line (where it can be found), the
key, and a close match ("unknown section [modle]; did you mean [model]?").

The config may also live in ``pyproject.toml`` under ``[tool.workbench]``; ``workbench.toml``
wins when both exist. ``find_project`` walks up from a folder the way git finds ``.git``.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from workbench.errors import ConfigError
from workbench.errors import ProjectNotFoundError as ProjectNotFoundError  # re-exported
from workbench.project import (
    CONFIG_NAME,
    PYPROJECT_NAME,
    STORE_NAME,
    config_path,
    inside,
)
from workbench.project import find_project as find_project  # re-exported

Scalar = str | int | float | bool

# Every section class has a docstring: without one, @dataclass computes one at import time with
# inspect.signature (a cost every command, even `--help`, would pay).


def _doc(text: str, default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    """A dataclass field with its documentation attached (used by errors and the README)."""
    if isinstance(default, list | dict | tuple):
        value = default
        return field(default_factory=lambda: value, metadata={"doc": text}, **kw)
    return field(default=default, metadata={"doc": text}, **kw)


@dataclass(frozen=True)
class ProjectSection:
    """[project]"""

    name: str = _doc("Project name shown in the UI, logs and model cards.", "")


@dataclass(frozen=True)
class ColumnRule:
    """[data.validation.columns.NAME]"""

    min: float | None = _doc("Smallest allowed value (numeric columns).", None)
    max: float | None = _doc("Largest allowed value (numeric columns).", None)
    allowed: tuple[str, ...] = _doc("Allowed categories; empty allows any.", ())
    max_null_fraction: float | None = _doc("Fail above this share of nulls.", None)


@dataclass(frozen=True)
class ValidationSection:
    """[data.validation]"""

    min_rows: int = _doc("Fail when the data has fewer rows.", 50)
    required_columns: tuple[str, ...] = _doc("Columns that must be present.", ())
    max_null_fraction: float = _doc("Warn when any column has a larger share of nulls.", 0.5)
    target_max_null_fraction: float = _doc("Fail when the target has a larger share of nulls.", 0.5)
    duplicate_ids: Literal["warn", "fail", "ignore"] = _doc(
        "What duplicate values of data.id_column do: warn | fail | ignore.", "warn"
    )
    time_max_unparsed_fraction: float = _doc(
        "Fail when more than this share of data.time_column's values are not times (any warns).",
        0.01,
    )
    columns: dict[str, ColumnRule] = _doc(
        "Per-column rules: [data.validation.columns.NAME] min, max, allowed, max_null_fraction.",
        {},
    )


# pandas' default NA strings (``pandas._libs.parsers.STR_NA_VALUES``): real CSVs write missing
# numbers this way, and read as text they would turn a numeric column into a categorical one
NULL_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)


@dataclass(frozen=True)
class DataSection:
    """[data]"""

    path: str = _doc("Folder or glob of CSV/Parquet files, relative to the project.", "data")
    target: str = _doc("Name of the label column.", "")
    features: tuple[str, ...] = _doc(
        "Feature columns; empty means every column but target/time/id/exclude.", ()
    )
    exclude: tuple[str, ...] = _doc("Columns never used as features.", ())
    categorical: tuple[str, ...] = _doc(
        "Extra columns to treat as categorical (string columns always are).", ()
    )
    time_column: str | None = _doc(
        "Optional timestamp column: enables the time split and time windows.", None
    )
    id_column: str | None = _doc("Optional row identifier column (never a feature).", None)
    null_values: tuple[str, ...] = _doc(
        "Text that means a missing value in CSV files (an empty field always does); default:"
        " pandas' NA strings.",
        NULL_VALUES,
    )
    max_columns: int = _doc(
        "Refuse a data file with more columns than this (each costs time and memory).", 2000
    )
    validation: ValidationSection = _doc("Data checks run before training.", ValidationSection())


@dataclass(frozen=True)
class ModelSection:
    """[model]"""

    task: Literal["binary", "multiclass", "regression"] = _doc(
        "Learning task: binary | multiclass | regression.", "binary"
    )
    num_boost_round: int = _doc("Maximum boosting rounds.", 300)
    early_stopping_rounds: int = _doc(
        "Stop when the validation metric has not improved for this many rounds (0: off).", 30
    )
    params: dict[str, Scalar] = _doc("Extra LightGBM parameters, passed through as given.", {})


@dataclass(frozen=True)
class TrainSection:
    """[train]"""

    split: Literal["time", "random"] = _doc(
        "Holdout split: time (needs data.time_column) | random.", "random"
    )
    holdout_fraction: float = _doc("Share of rows held out for evaluation and the gate.", 0.2)
    seed: int = _doc("Seed for the split and LightGBM.", 42)
    engine: Literal["local", "dask"] = _doc("Training engine: local | dask.", "local")
    scheduler: str | None = _doc('Dask scheduler address when engine = "dask".', None)


@dataclass(frozen=True)
class GateSection:
    """[gate]"""

    metric: str = _doc(
        "Gate metric: auc | logloss | accuracy | f1 | precision | recall | multi_logloss | "
        "rmse | mae | r2.",
        "auc",
    )
    min_delta: float = _doc(
        "The candidate must beat the champion by at least this much (negative = tolerance).", 0.0
    )
    approval: Literal["auto", "manual"] = _doc(
        "auto: a candidate that passes the gate is promoted; manual: it waits as `pending` for"
        " `workbench approve`.",
        "auto",
    )


@dataclass(frozen=True)
class DriftFeatureOverride:
    """[drift.features.NAME]"""

    method: Literal["ks", "wasserstein", "chisquare", "z", "jensenshannon", "psi"] | None = _doc(
        "Drift method for this feature.", None
    )
    threshold: float | None = _doc("Drift threshold for this feature.", None)


@dataclass(frozen=True)
class DriftSection:
    """[drift]"""

    drift_share: float = _doc("Dataset drift when at least this share of features drift.", 0.5)
    retrain_on_drift: bool = _doc("Start a training cycle when dataset drift is detected.", False)
    features: dict[str, DriftFeatureOverride] = _doc(
        "Per-feature overrides: [drift.features.NAME] method = ..., threshold = ...", {}
    )


@dataclass(frozen=True)
class KpiSpec:
    """[[monitor.kpi]]"""

    name: str = _doc('KPI name; the gate can use it as metric = "kpi:NAME".', "")
    value: tuple[tuple[float, ...], ...] = _doc(
        "Classification: the value of each (true, predicted) cell, rows by true class;"
        " binary: [[TN, FP], [FN, TP]].",
        (),
    )
    expression: str = _doc(
        "Instead of value: a per-row value computed from the target, the prediction and the"
        " columns (see the README's KPI expressions).",
        "",
    )
    normalize: Literal["total", "per_row"] = _doc(
        "total: the sum over a chunk's rows; per_row: the mean per row.", "per_row"
    )
    direction: Literal["higher_is_better", "lower_is_better"] = _doc(
        "Which way is better (the gate and the alerts read it).", "higher_is_better"
    )
    lower: float | None = _doc("Fixed lower alert bound (default: reference - 3 SE).", None)
    upper: float | None = _doc("Fixed upper alert bound (default: reference + 3 SE).", None)


@dataclass(frozen=True)
class BandOverride:
    """[monitor.bands.METRIC]"""

    lower: float | None = _doc("Alert when the metric falls below this.", None)
    upper: float | None = _doc("Alert when the metric rises above this.", None)


@dataclass(frozen=True)
class MonitorSection:
    """[monitor]"""

    chunk: str | int = _doc(
        'How arriving data is cut into chunks: "file" (one per data file), a time window over'
        ' data.time_column ("1d", "7d", "30d", any "<N>d" or "<N>h"), or a row count.',
        "file",
    )
    labels: str = _doc(
        "Optional folder of delayed labels (data.id_column + the target), joined to rows the"
        " champion scored earlier.",
        "",
    )
    retrain_on_degradation: bool = _doc(
        "Start a training cycle when a metric or KPI leaves its alert band.", False
    )
    band_sigmas: float = _doc(
        "Default alert band: the reference value +- this many standard errors.", 3.0
    )
    bands: dict[str, BandOverride] = _doc(
        "Fixed alert bands per metric: [monitor.bands.auc] lower = 0.8.", {}
    )
    kpi: tuple[KpiSpec, ...] = _doc(
        "Business KPIs: [[monitor.kpi]] name, value or expression, normalize, direction.", ()
    )


@dataclass(frozen=True)
class GovernanceSection:
    """[governance]"""

    card_notes: str = _doc(
        "Markdown file of hand-written model-card sections (intended use, limitations, owners,"
        " risks), merged into `workbench card` by heading and never overwritten.",
        "",
    )


@dataclass(frozen=True)
class WatchSection:
    """[watch]"""

    debounce_ms: int = _doc("Wait this long after the last change before starting a cycle.", 1000)


@dataclass(frozen=True)
class ServeSection:
    """[serve]"""

    host: str = _doc(
        "Address `workbench serve` binds; 127.0.0.1 answers this machine only.", "127.0.0.1"
    )
    port: int = _doc("TCP port of `workbench serve`.", 8000)
    max_body_bytes: int = _doc("Largest request body accepted (larger: 413).", 16_777_216)
    log_predictions: bool = _doc(
        "Append what the server scored to the prediction log (outcome monitoring reads it).", True
    )
    log_flush_seconds: float = _doc("Write the buffered prediction log at least this often.", 5.0)
    access_log: bool = _doc("Print one line per request on stdout (uvicorn's access log).", False)


Argv = tuple[str, ...]


@dataclass(frozen=True)
class HooksSection:
    """[hooks]"""

    on_promote: tuple[Argv, ...] = _doc(
        "Command(s) run after a promotion: an argv list, or a list of argv lists.", ()
    )
    on_drift: tuple[Argv, ...] = _doc("Command(s) run when dataset drift is detected.", ())
    on_failure: tuple[Argv, ...] = _doc("Command(s) run when a cycle fails.", ())
    on_degradation: tuple[Argv, ...] = _doc(
        "Command(s) run when a monitored metric or KPI leaves its alert band.", ()
    )
    on_pending: tuple[Argv, ...] = _doc(
        'Command(s) run when a candidate waits for approval (gate.approval = "manual").', ()
    )


@dataclass(frozen=True)
class Settings:
    """The whole validated config plus where it came from."""

    project: ProjectSection = _doc("", ProjectSection())
    data: DataSection = _doc("", DataSection())
    model: ModelSection = _doc("", ModelSection())
    train: TrainSection = _doc("", TrainSection())
    gate: GateSection = _doc("", GateSection())
    drift: DriftSection = _doc("", DriftSection())
    watch: WatchSection = _doc("", WatchSection())
    monitor: MonitorSection = _doc("", MonitorSection())
    governance: GovernanceSection = _doc("", GovernanceSection())
    hooks: HooksSection = _doc("", HooksSection())
    serve: ServeSection = _doc("", ServeSection())
    root: Path = field(default=Path("."), compare=False)
    source: Path = field(default=Path(CONFIG_NAME), compare=False)

    @property
    def store_dir(self) -> Path:
        return self.root / STORE_NAME


SECTIONS: dict[str, type] = {
    name: tp
    for name, tp in typing.get_type_hints(Settings).items()
    if name not in ("root", "source")
}

GATE_METRICS = (
    "auc",
    "logloss",
    "accuracy",
    "f1",
    "precision",
    "recall",
    "multi_logloss",
    "macro_f1",
    "rmse",
    "mae",
    "r2",
)


# ---------------------------------------------------------------- discovery


def load(root: Path) -> Settings:
    """Read and validate the config of the project at ``root``."""
    path = config_path(root)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(
            f"cannot read {path}: {e.strerror}", f"run `workbench init {root}`"
        ) from e
    return parse(data, path, root)


def parse(data: bytes, path: Path, root: Path) -> Settings:
    """Validate config bytes (as read from ``path``) into ``Settings``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path.name} is not valid UTF-8 (byte {e.start})", "save the file as UTF-8"
        ) from e
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            f"{path.name}: TOML syntax error: {e}",
            "fix the line named above (strings need quotes, tables need [brackets])",
        ) from e
    if path.name == PYPROJECT_NAME:
        raw = raw.get("tool", {}).get("workbench", {})
    return _Validator(text, path.name, root.resolve()).settings(raw, path)


# ---------------------------------------------------------------- validation


# a Dask scheduler address: [tcp|tls|ws|wss|ucx://]host:port (the schemes distributed knows)
_SCHEDULER = re.compile(
    r"(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d{1,5}"
)


class _Validator:
    def __init__(self, text: str, filename: str, root: Path) -> None:
        self.text = text
        self.filename = filename
        self.root = root

    def fail(self, key: str, message: str, hint: str | None = None) -> ConfigError:
        section, _, leaf = key.rpartition(".")
        line = _find_line(self.text, section, leaf)
        where = f"{self.filename}:{line}" if line else self.filename
        return ConfigError(f"{where}: {message}", hint)

    def settings(self, raw: dict[str, Any], path: Path) -> Settings:
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if name not in SECTIONS:
                raise self.fail(
                    name, f"unknown section [{name}]", _suggest(name, SECTIONS, "section")
                )
            if not isinstance(value, dict):
                raise self.fail(name, f"[{name}] must be a table", f"write it as [{name}]")
            values[name] = self.section(SECTIONS[name], value, name)
        settings = Settings(**values, root=self.root, source=path)
        self.cross_check(settings)
        return settings

    def section(self, cls: type, raw: dict[str, Any], prefix: str) -> Any:
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in raw.items():
            full = f"{prefix}.{key}"
            if key not in fields:
                raise self.fail(
                    full,
                    f"unknown key {key!r} in [{prefix}]",
                    _suggest(key, fields, "key") or f"the keys of [{prefix}]: {', '.join(fields)}",
                )
            values[key] = self.value(hints[key], value, full)
        return cls(**values)

    def value(self, tp: Any, value: Any, key: str) -> Any:
        origin, args = get_origin(tp), get_args(tp)
        if origin in (types.UnionType, typing.Union):
            inner = [a for a in args if a is not type(None)]
            if len(inner) == 1:
                return self.value(inner[0], value, key)
            if isinstance(value, str | int | float | bool):
                return value  # Scalar
        elif origin is Literal:
            if value in args:
                return value
            choices = " | ".join(map(str, args))
            raise self.fail(
                key,
                f"{key} = {value!r} is not one of {choices}",
                _suggest(str(value), [str(a) for a in args], "value") or f"use one of {choices}",
            )
        elif tp is bool:
            if isinstance(value, bool):
                return value
        elif tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif tp is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        elif tp is str:
            if isinstance(value, str):
                return value
        elif origin is tuple and args[0] == Argv:
            return self.commands(value, key)
        elif origin is tuple and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]):
            if isinstance(value, list) and all(isinstance(v, dict) for v in value):
                return tuple(self.section(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        elif origin is tuple and get_origin(args[0]) is tuple:
            if isinstance(value, list) and all(isinstance(v, list) for v in value):
                return tuple(
                    tuple(self.value(float, x, f"{key}[{i}][{j}]") for j, x in enumerate(row))
                    for i, row in enumerate(value)
                )
        elif origin is tuple:
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return tuple(value)
        elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
            if isinstance(value, dict):
                return self.section(tp, value, key)
        elif origin is dict and isinstance(args[1], type) and dataclasses.is_dataclass(args[1]):
            if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
                return {k: self.section(args[1], v, f"{key}.{k}") for k, v in value.items()}
        elif origin is dict and isinstance(value, dict):
            return {k: self.value(args[1], v, f"{key}.{k}") for k, v in value.items()}
        raise self.fail(
            key,
            f"{key} must be {_type_name(tp)}, got {type(value).__name__} {value!r}",
            f"for example: {key.rpartition('.')[2]} = {_example(tp)}",
        )

    def commands(self, value: Any, key: str) -> tuple[Argv, ...]:
        found: tuple[Argv, ...] | None = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            found = (tuple(value),) if value else ()
        elif isinstance(value, list) and all(
            isinstance(v, list) and v and all(isinstance(s, str) for s in v) for v in value
        ):
            found = tuple(tuple(v) for v in value)
        if found is not None:
            for argv in found:
                if any("\x00" in arg for arg in argv):  # no process can be given one
                    raise self.fail(
                        key,
                        f"{key}: an argument of {argv[0]!r} contains a NUL byte",
                        "remove the \\u0000 from the hook's arguments",
                    )
            return found
        raise self.fail(
            key,
            f"{key} must be an argv list of strings or a list of argv lists",
            f'for example: {key.rpartition(".")[2]} = ["notify", "--channel", "ml"]'
            " (no shell: each argument is one string)",
        )

    def cross_check(self, s: Settings) -> None:
        self.check_path(s.data.path, "data.path")
        if s.model.num_boost_round < 1:
            raise self.fail("model.num_boost_round", "model.num_boost_round must be >= 1")
        if s.model.early_stopping_rounds < 0:
            raise self.fail("model.early_stopping_rounds", "must be >= 0 (0 turns it off)")
        if not 0.0 < s.train.holdout_fraction < 1.0:
            raise self.fail(
                "train.holdout_fraction",
                f"train.holdout_fraction = {s.train.holdout_fraction} must be between 0 and 1",
                "for example: holdout_fraction = 0.2",
            )
        if not 0.0 < s.drift.drift_share <= 1.0:
            raise self.fail("drift.drift_share", "drift.drift_share must be in (0, 1]")
        self.check_serve(s.serve)
        if s.watch.debounce_ms < 0:
            raise self.fail("watch.debounce_ms", "watch.debounce_ms must be >= 0")
        self.check_monitor(s)
        if s.gate.metric.startswith("kpi:"):
            names = [k.name for k in s.monitor.kpi]
            if s.gate.metric[4:] not in names:
                raise self.fail(
                    "gate.metric",
                    f"gate.metric = {s.gate.metric!r} names no [[monitor.kpi]]",
                    f"define [[monitor.kpi]] name = {s.gate.metric[4:]!r}"
                    + (f", or use one of {', '.join('kpi:' + n for n in names)}" if names else ""),
                )
        elif s.gate.metric not in GATE_METRICS:
            raise self.fail(
                "gate.metric",
                f"gate.metric = {s.gate.metric!r} is not a known metric",
                _suggest(s.gate.metric, GATE_METRICS, "metric")
                or f"use one of {', '.join(GATE_METRICS)}",
            )
        if s.train.split == "time" and not s.data.time_column:
            raise self.fail(
                "train.split",
                'train.split = "time" needs data.time_column',
                'set [data] time_column = "<column>" or use split = "random"',
            )
        if s.train.engine == "dask":
            self.check_dask(s)

    def check_dask(self, s: Settings) -> None:
        """``engine = "dask"``: a scheduler address, and the ``dask`` extra installed (dask,
        distributed, and pandas + scikit-learn, which ``lightgbm.dask`` needs); found, not
        imported: loading a config stays fast."""
        import importlib.util

        address = s.train.scheduler
        if not address or not _SCHEDULER.fullmatch(address):
            raise self.fail(
                "train.scheduler",
                'train.engine = "dask" needs train.scheduler, the Dask scheduler\'s address'
                + (f" (got {address!r}: a scheme, a host and a port)" if address else ""),
                'set [train] scheduler = "tcp://host:8786"',
            )
        extra = ("dask", "distributed", "pandas", "sklearn")
        missing = [m for m in extra if importlib.util.find_spec(m) is None]
        if missing:
            raise self.fail(
                "train.engine",
                f'train.engine = "dask" needs {" and ".join(missing)}, not installed',
                'pip install "workbench[dask]" (or set engine = "local")',
            )

    def check_monitor(self, s: Settings) -> None:
        m = s.monitor
        if isinstance(m.chunk, bool) or not isinstance(m.chunk, str | int):
            raise self.fail("monitor.chunk", f"monitor.chunk = {m.chunk!r} is not a chunk rule")
        if isinstance(m.chunk, int):
            if m.chunk < 1:
                raise self.fail("monitor.chunk", "monitor.chunk as a row count must be >= 1")
        elif m.chunk != "file":
            if not re.fullmatch(r"[1-9][0-9]*[dh]", m.chunk):
                raise self.fail(
                    "monitor.chunk",
                    f"monitor.chunk = {m.chunk!r} is not a chunk rule",
                    'use "file", a time window such as "1d", "7d", "30d" or "12h", or a row'
                    " count such as 10000",
                )
            if not s.data.time_column:
                raise self.fail(
                    "monitor.chunk",
                    f"monitor.chunk = {m.chunk!r} cuts by time and needs data.time_column",
                    'set [data] time_column = "<column>" or use chunk = "file"',
                )
        if m.labels:
            self.check_path(m.labels, "monitor.labels")
            if not s.data.id_column:
                raise self.fail(
                    "monitor.labels",
                    "monitor.labels joins delayed labels by data.id_column, which is not set",
                    'set [data] id_column = "<column>" (the id the labels file carries)',
                )
        if m.band_sigmas <= 0:
            raise self.fail("monitor.band_sigmas", "monitor.band_sigmas must be > 0")
        if s.governance.card_notes:
            self.check_path(s.governance.card_notes, "governance.card_notes")
        seen: set[str] = set()
        for i, k in enumerate(m.kpi):
            key = f"monitor.kpi[{i}]"
            if not k.name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", k.name):
                raise self.fail(
                    "monitor.kpi.name",
                    f"{key}.name = {k.name!r} is not a KPI name",
                    'a name of letters, digits, "_", "-" or ".", for example: name = "value"',
                )
            if k.name in seen:
                raise self.fail("monitor.kpi.name", f"{key}: a second KPI named {k.name!r}")
            seen.add(k.name)
            if bool(k.value) == bool(k.expression):
                raise self.fail(
                    "monitor.kpi.value",
                    f"{key} ({k.name}) needs exactly one of value (a matrix) or expression",
                    "binary example: value = [[0, -5], [-40, 10]]  # [[TN, FP], [FN, TP]]",
                )
            if k.value:
                size = len(k.value)
                if s.model.task == "regression":
                    raise self.fail(
                        "monitor.kpi.value",
                        f"{key} ({k.name}): a value matrix needs a classification task",
                        "for regression write an expression over target and prediction",
                    )
                if any(len(row) != size for row in k.value) or size < 2:
                    raise self.fail(
                        "monitor.kpi.value",
                        f"{key} ({k.name}): value must be a square matrix, one row and one"
                        f" column per class; got rows of {[len(r) for r in k.value]}",
                        "binary example: value = [[0, -5], [-40, 10]]  # [[TN, FP], [FN, TP]]",
                    )
                if s.model.task == "binary" and size != 2:
                    raise self.fail(
                        "monitor.kpi.value",
                        f"{key} ({k.name}): a binary task needs a 2x2 value matrix, got"
                        f" {size}x{size}",
                        "value = [[TN, FP], [FN, TP]]",
                    )
            if k.lower is not None and k.upper is not None and k.lower > k.upper:
                raise self.fail("monitor.kpi.lower", f"{key} ({k.name}): lower > upper")

    def check_serve(self, serve: ServeSection) -> None:
        if not 0 < serve.port < 65536:
            raise self.fail("serve.port", f"serve.port = {serve.port} is not a TCP port (1-65535)")
        if serve.max_body_bytes < 1:
            raise self.fail("serve.max_body_bytes", "serve.max_body_bytes must be >= 1")
        if serve.log_flush_seconds <= 0:
            raise self.fail("serve.log_flush_seconds", "serve.log_flush_seconds must be > 0")
        if not serve.host.strip():
            raise self.fail("serve.host", "serve.host is empty", 'for example: host = "127.0.0.1"')

    def check_path(self, value: str, key: str) -> None:
        fixed = re.split(r"[*?\[]", value, maxsplit=1)[0] or "."
        if Path(value).is_absolute() or not inside(self.root, self.root / fixed):
            raise self.fail(
                key,
                f"{key} = {value!r} points outside the project folder {self.root}",
                'use a path relative to the project, inside it (for example: path = "data")',
            )


def _suggest(word: str, choices: Any, kind: str) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        return None
    return f"did you mean [{close[0]}]?" if kind == "section" else f"did you mean {close[0]!r}?"


def _find_line(text: str, section: str, key: str) -> int | None:
    """Best-effort line number of ``key`` in ``[section]`` (or of ``[key]`` when no section)."""
    current = ""
    header = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
    for number, line in enumerate(text.splitlines(), 1):
        m = header.match(line)
        if m:
            current = m.group(1).removeprefix("tool.workbench").strip(".")
            if not section and current == key:
                return number
            continue
        if current == section and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _type_name(tp: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if tp in names:
        return names[tp]
    if get_origin(tp) is tuple:
        return "a list of strings"
    if get_origin(tp) is dict:
        return "a table"
    return "a string, number or boolean"


def _example(tp: Any) -> str:
    examples = {bool: "true", int: "10", float: "0.2", str: '"text"'}
    if tp in examples:
        return examples[tp]
    if get_origin(tp) is tuple:
        return '["a", "b"]'
    return "{ key = 1 }"


def field_docs() -> list[tuple[str, str, str]]:
    """(key, default, description) for every config key, for the README and `--help`."""
    rows: list[tuple[str, str, str]] = []

    def walk(prefix: str, cls: type) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            if isinstance(tp, type) and dataclasses.is_dataclass(tp):
                walk(f"{prefix}.{f.name}", tp)
                continue
            factory: Any = f.default_factory
            default = f.default if f.default is not dataclasses.MISSING else factory()
            rows.append((f"{prefix}.{f.name}", repr(default), f.metadata.get("doc", "")))

    for section, cls in SECTIONS.items():
        walk(section, cls)
    return rows


def env_seconds(name: str, default: float) -> float:
    """A duration from the environment (``WORKBENCH_LOCK_TIMEOUT``, ``WORKBENCH_HOOK_TIMEOUT``),
    read when it is used — not at import, so a test or a caller can change it — and refused
    clearly when it is not a positive number of seconds."""
    import math
    import os

    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(
            f"environment variable {name}={raw!r} is not a positive number of seconds",
            f"set it to a number such as {name}={default:g}, or unset it",
        )
    return value
