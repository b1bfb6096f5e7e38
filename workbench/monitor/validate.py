"""Data validation before training: every check passes, warns or fails, naming file and column.

The checks (``CHECKS``, in the order they are listed; each is listed once as a pass when
nothing about it warned or failed, so ``workbench validate`` shows every check it made):

- **read**: each file parses (fields per row as in the header, quotes closed, a last line not
  cut short, UTF-8, at most ``[data] max_columns`` columns); a file that does not is a failure
  naming it and the line, and the other files are still checked;
- **config**: ``data.target``, ``data.time_column`` and ``data.id_column`` name columns the
  data has, and a ``binary`` target has two classes. These are the config's errors (exit 3,
  the key and a close match), not the data's: a file cannot fix a misspelt target;
- **schema** against the champion's training snapshot (``reference``, module ``reference``):
  a column the champion *required* missing from a file, or a feature whose kind changed
  (``columns.column_kind``), fails; other added or removed columns and int <-> float widening
  warn. Required = used by the champion and holding values in every file it trained on: a
  column that was absent (or empty) in whole files at training is not required of each file.
  A required column the config now excludes warns: that is the way out the failure names. A
  column without a single value in a file has no type of its own and is not compared;
- **columns**: ``[data.validation] required_columns`` and the target present in every file;
- **target**: at most ``target_max_null_fraction`` null, two or more classes to classify;
- **rows**: at least ``min_rows`` in all;
- **nulls**: any column over ``max_null_fraction`` warns; a per-column ``max_null_fraction``
  rule fails;
- **null_values**: a text column of numbers but for a few strings (``?``, ``-``) warns;
- **times**: values of ``data.time_column`` that are not times (unparseable text the reader
  left empty) warn, and fail above ``time_max_unparsed_fraction`` (default 1%);
- **range** / **allowed**: ``[data.validation.columns.NAME]`` rules;
- **duplicate_ids** in ``data.id_column``: warn, fail or ignore as configured.

Per-file numbers come from one aggregate query per file (so messages can name the file),
cached for store objects by content and rules (``_PER_FILE``); the combined checks (rows,
classes, duplicates) from one query over all files.

Many small CSVs (``data.grouped``: at least 8 files up to 1 MiB) are read as the snapshot
profile reads them: the files sharing a header line as one CSV, and their per-file numbers
from one ``group_by`` over a file-index column (10,000 files of 50 rows: 24 s one by one on
two cores, ~1 s so). Only a file whose own values decide the group's column types
(``grouped.own_types``) is checked from the group: it then reports exactly what it reports
read alone, and its rows go to the frame cache for training as a read alone would give them.
The others (a file of integers where another file has decimals, of numbers where another
has a ``?``, of a header only) are read file by file, as is a whole group that cannot be read
so (a quote character, a failed read, a row count that does not match the lines, a file too
wide, a short row), which names the file and line at fault, exactly as before. A file left
by its group is grouped again with the others left (``GROUP_ROUNDS``): without the files
that made the difference their types are their own. Files of the object store (``hashes``
given) come from the process's frame cache (``profile.frame``). A failure blocks training and
is recorded as a ``validation_failed`` event by the caller; ``raise_on_failure`` raises a
``ConfigError`` when a config check failed, else a ``DataError``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.caches import LRU
from workbench.config import Settings
from workbench.data.columns import column_kind, numbers_but_for, numbers_but_for_message
from workbench.data.inputs import discover
from workbench.data.profile import (
    PARALLEL_FILES,
    check_width,
    combine,
    lazy_frames,
    profile_key,
    workers,
)
from workbench.errors import ConfigError, DataError
from workbench.monitor.reference import Reference, champion_reference, reference_of
from workbench.store import Session, Store, now_iso

__all__ = ["Reference", "champion_reference", "reference_of"]

SEP = "\x00"  # separates column name and statistic in aggregate aliases
_PER_FILE = LRU(4096)  # per-file aggregate rows by (content, rules), this process
CHECKS = (
    "read",
    "config",
    "schema",
    "columns",
    "target",
    "rows",
    "nulls",
    "null_values",
    "times",
    "range",
    "allowed",
    "duplicate_ids",
)
MAX_CLASSES_LISTED = 12  # per-file target classes kept for the binary-task check
GROUP_ROUNDS = 3  # files left by a group are grouped again this many times, then read alone


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | warn | fail
    message: str
    file: str | None = None
    column: str | None = None
    line: int | None = None
    key: str | None = None  # the config key the check is about
    hint: str | None = None


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == "warn"]

    @property
    def config_failures(self) -> list[Check]:
        return [c for c in self.failures if c.name == "config"]

    def add(self, name: str, status: str, message: str, **where: Any) -> None:
        self.checks.append(Check(name, status, message, **where))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failures": len(self.failures),
            "warnings": len(self.warnings),
            "passed": sum(c.status == "pass" for c in self.checks),
            "checks": [asdict(c) for c in self.checks],
        }


@dataclass
class _File:
    label: str
    path: Path
    lf: Any
    schema: dict[str, str]
    row: dict[str, Any]  # the per-file numbers


def validate(
    settings: Settings,
    files: Sequence[tuple[str, Path]],
    reference: Reference | None = None,
    *,
    hashes: Mapping[str, str] | None = None,
) -> Report:
    """Every check on ``files`` (label, path); ``hashes``: label -> hash for store objects."""
    report = Report()
    read = _read(report, settings, files, hashes)
    _config(report, settings, read, reference)
    anywhere = {c for f in read for c in f.schema}
    for f in read:
        if reference is not None:
            _schema(report, settings, f, reference)
        _columns(report, settings, f, anywhere)
        _per_file_checks(report, settings, f)
    if read:
        _combined(report, settings, read, reference)
    _passes(report, settings, files, read, reference)
    return report


def _read(
    report: Report,
    settings: Settings,
    files: Sequence[tuple[str, Path]],
    hashes: Mapping[str, str] | None,
) -> list[_File]:
    """Each file read on its own, so one that does not parse is a check, not the end.

    Many files are read and checked on a thread pool (polars releases the GIL as it parses
    and counts: a snapshot of 10,000 small files took 40 s here one by one); what they report
    is added in the files' order, as one by one."""
    nulls = settings.data.null_values
    together = _read_grouped(settings, files, hashes)

    def one(item: tuple[str, Path]) -> _File | DataError:
        label, path = item
        try:
            check_width(label, path, settings.data.max_columns)
            lf = lazy_frames([(label, path)], hashes, nulls)[0]
            schema = {name: str(dtype) for name, dtype in lf.collect_schema().items()}
        except DataError as e:
            return e
        row = _numbers(settings, label, path, lf, schema, (hashes or {}).get(label))
        return _File(label, path, lf, schema, row)

    alone = [item for item in files if item[0] not in together]
    if len(alone) >= PARALLEL_FILES:
        with ThreadPoolExecutor(max_workers=workers()) as pool:
            done = dict(zip((label for label, _ in alone), pool.map(one, alone), strict=True))
    else:
        done = {item[0]: one(item) for item in alone}
    out = []
    for label, _ in files:
        result = together.get(label) or done[label]
        if isinstance(result, _File):
            out.append(result)
            continue
        line = re.match(rf"{re.escape(label)}:(\d+):", result.message)
        key = "data.max_columns" if "max_columns" in result.message else None
        report.add(
            "read",
            "fail",
            result.message,
            file=label,
            line=int(line.group(1)) if line else None,
            key=key,
            hint=result.hint,
        )
    return out


# ------------------------------------------------------------------ config against the data


def _config(
    report: Report, settings: Settings, read: list[_File], reference: Reference | None
) -> None:
    """Keys naming columns the data does not have: the config's error, with a close match."""
    d = settings.data
    if not read:
        return
    columns = list(dict.fromkeys(c for f in read for c in f.schema))
    cfg = settings.source.name
    if not d.target:
        report.add(
            "config",
            "fail",
            f"{cfg}: data.target is not set",
            key="data.target",
            hint=f"set [data] target to the label column (one of: {_listed(columns)})",
        )
    for key, column in (
        ("data.target", d.target),
        ("data.time_column", d.time_column),
        ("data.id_column", d.id_column),
    ):
        if column and column not in columns:
            close = difflib.get_close_matches(column, columns, n=1, cutoff=0.6)
            report.add(
                "config",
                "fail",
                f"{_where(settings, key)}: {key} = {column!r} is not a column of the data"
                f" ({_files(read)})",
                key=key,
                column=column,
                line=_key_line(settings, key),
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + f"the columns are: {_listed(columns)}",
            )
    _kpis(report, settings, columns, reference)


def _kpis(
    report: Report, settings: Settings, columns: list[str], reference: Reference | None
) -> None:
    """Each ``[[monitor.kpi]]`` compiled against the data's columns (``monitor.kpi``): an
    expression that does not parse, or names no column, fails here, at the start."""
    from workbench.monitor.kpi import compile_kpi

    classes = list(reference.classes) if reference is not None and reference.classes else None
    for i, k in enumerate(settings.monitor.kpi):
        try:
            compile_kpi(k, i, settings.model.task, classes, columns)
        except ConfigError as e:
            report.add("config", "fail", e.message, key=f"monitor.kpi[{i}]", hint=e.hint)


def _listed(columns: list[str]) -> str:
    return ", ".join(columns[:20]) + (" …" if len(columns) > 20 else "")


def _files(read: list[_File]) -> str:
    return read[0].label if len(read) == 1 else f"{len(read)} files"


def _key_line(settings: Settings, key: str) -> int | None:
    from workbench.config import _find_line

    try:
        text = settings.source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    section, _, leaf = key.rpartition(".")
    return _find_line(text, section, leaf)


def _where(settings: Settings, key: str) -> str:
    line = _key_line(settings, key)
    return f"{settings.source.name}:{line}" if line else settings.source.name


# ------------------------------------------------------------------ schema against the champion


def _schema(report: Report, settings: Settings, f: _File, ref: Reference) -> None:
    target = settings.data.target
    rows = int(f.row["__rows"])
    for column, dtype in ref.dtypes.items():
        if column not in f.schema and column == target:
            continue  # reported once, by the target check
        if column not in f.schema:
            where = {"file": f.label, "column": column}
            missing = (
                f"{f.label}: column {column!r} ({dtype}), present when {ref.version} was trained,"
            )
            if column not in ref.required:
                why = "used by it but empty in some of its files" if column in ref.used else ""
                report.add(
                    "schema",
                    "warn",
                    f"{missing} is missing" + (f" ({why})" if why else ""),
                    **where,
                )
            elif not _trains_on(settings, column):
                report.add(
                    "schema",
                    "warn",
                    f"{missing} is missing; the config excludes it, so the next version trains"
                    " without it",
                    **where,
                )
            else:
                report.add(
                    "schema",
                    "fail",
                    f"{missing} is missing: {ref.version} used it in every file",
                    key="data.exclude",
                    hint=f"restore the column in {f.label}, or add {column!r} to [data] exclude"
                    f" in {settings.source.name} to train the next version without it",
                    **where,
                )
            continue
        new = f.schema[column]
        if new == dtype or _empty(f, column, rows) or dtype == "Null" or new == "Null":
            continue  # a column without a single value has no type of its own
        old_kind, new_kind = column_kind(dtype), column_kind(new)
        status = "fail" if old_kind != new_kind and column in ref.used else "warn"
        kinds = f" (kind {old_kind} -> {new_kind})" if old_kind != new_kind else ""
        report.add(
            "schema",
            status,
            f"{f.label}: column {column!r} is {new}, was {dtype} for {ref.version}" + kinds,
            file=f.label,
            column=column,
            hint="make the column hold the type it had, or exclude it in [data] exclude"
            if status == "fail"
            else None,
        )
    for column in f.schema.keys() - ref.dtypes.keys():
        report.add(
            "schema",
            "warn",
            f"{f.label}: new column {column!r} ({f.schema[column]})",
            file=f.label,
            column=column,
        )


def _trains_on(settings: Settings, column: str) -> bool:
    """Whether the next version would take ``column`` as a feature, as the config stands."""
    d = settings.data
    if column in d.exclude:
        return False
    return column in d.features if d.features else True


def _empty(f: _File, column: str, rows: int) -> bool:
    return rows > 0 and f.row.get(f"{column}{SEP}nulls") == rows


# ------------------------------------------------------------------ per file


def _columns(report: Report, settings: Settings, f: _File, anywhere: set[str]) -> None:
    """Required columns and the target in this file (a target no file has is the config's
    error, reported once by ``_config``)."""
    rules, target = settings.data.validation, settings.data.target
    for column in (*rules.required_columns, target if target in anywhere else ""):
        if column and column not in f.schema:
            what = "target" if column == target else "required column"
            report.add(
                "columns",
                "fail",
                f"{f.label}: the {what} {column!r} is missing",
                file=f.label,
                column=column,
                hint=f"add the column to {f.label}, or move the file out of the data path",
            )
    rows = int(f.row["__rows"])
    if target in f.schema and _empty(f, target, rows):
        report.add(
            "columns",
            "fail",
            f"{f.label}: the target {target!r} has no value in any of its {rows:,} rows",
            file=f.label,
            column=target,
            hint=f"add the labels to {f.label}, or move the file out of the data path",
        )


def _read_grouped(
    settings: Settings, files: Sequence[tuple[str, Path]], hashes: Mapping[str, str] | None
) -> dict[str, _File]:
    """The files read in groups (see the module docstring), by label; the others are absent.

    The files a group could not give their own types are read as a group again without the
    files that made the difference (the integer files once the decimal ones are gone), up to
    ``GROUP_ROUNDS`` times; what is left then is read file by file."""
    from workbench.data import grouped

    d = settings.data
    pending = grouped.candidates(files)
    paths, hashes = dict(files), hashes or {}
    out: dict[str, _File] = {}
    for _ in range(GROUP_ROUNDS):
        if len(pending) < grouped.GROUP_MIN_FILES:
            break
        groups, _ = grouped.read_groups(pending, d.null_values, d.max_columns, leave_faulty=True)
        pending = []
        for group in groups:
            pending += [
                (label, paths[label])
                for label in _checked_group(settings, group, paths, hashes, out)
            ]
    return out


def _checked_group(
    settings: Settings,
    group: Any,
    paths: Mapping[str, Path],
    hashes: Mapping[str, str],
    out: dict[str, _File],
) -> list[str]:
    """The files of ``group`` that keep their own types, checked into ``out``; the others'
    labels are returned."""
    import numpy as np
    import polars as pl

    from workbench.data import grouped
    from workbench.data.columns import numbers_but_for_files
    from workbench.data.profile import remember_frame

    d, index = settings.data, "\x00file"
    schema = {name: str(dtype) for name, dtype in group.frame.schema.items()}
    tagged = group.frame.with_columns(
        pl.Series(index, np.repeat(np.arange(len(group.labels)), group.rows))
    )
    rows: list[dict[str, Any]] = [{} for _ in group.labels]
    exprs = _number_exprs(settings, schema, grouped=True)
    for found in tagged.group_by(index).agg(exprs).iter_rows(named=True):
        rows[int(found.pop(index))] = found
    odd = numbers_but_for_files(tagged, index, len(group.labels))
    own = grouped.own_types(group)
    others, offset = [], 0
    for i, (label, count) in enumerate(zip(group.labels, group.rows, strict=True)):
        part = group.frame.slice(offset, count)
        offset += count
        if not own[i]:
            others.append(label)  # read alone its types differ
            continue
        row = rows[i]
        row["__numbers_but_for"] = odd[i]
        path = paths[label]
        if d.time_column and d.time_column in schema:
            row["__times"] = _unparsed_times(
                settings, label, path, part.lazy(), schema[d.time_column]
            )
        if label in hashes:
            remember_frame(label, hashes[label], part, d.null_values)
        out[label] = _File(label, path, part.lazy(), schema, row)
    return others


def _numbers(
    settings: Settings, label: str, path: Path, lf: Any, schema: dict[str, str], digest: str | None
) -> dict[str, Any]:
    """The per-file numbers; a stored file's depend only on its bytes and the rules."""
    key = None
    if digest is not None:
        d = settings.data
        rules = {
            "columns": {c: asdict(r) for c, r in sorted(d.validation.columns.items())},
            "target": d.target,
            "task": settings.model.task,
            "time": d.time_column,
        }
        key = f"{profile_key(label, digest, d.null_values)}|{json.dumps(rules)}"
    row = _PER_FILE.get(key) if key is not None else None
    if row is None:
        row = _per_file_numbers(settings, label, path, lf, schema)
        if key is not None:
            _PER_FILE.put(key, row)
    return row


def _per_file_numbers(
    settings: Settings, label: str, path: Path, lf: Any, schema: dict[str, str]
) -> dict[str, Any]:
    d = settings.data
    row = lf.select(_number_exprs(settings, schema)).collect().row(0, named=True)
    row["__numbers_but_for"] = numbers_but_for(lf)
    if d.time_column and d.time_column in schema:
        row["__times"] = _unparsed_times(settings, label, path, lf, schema[d.time_column])
    return row


def _number_exprs(
    settings: Settings, schema: dict[str, str], *, grouped: bool = False
) -> list[Any]:
    """The per-file aggregates: over one file's frame, or (``grouped``) in a ``group_by`` of
    several files' rows (a list-valued aggregate is then a list per group, not imploded)."""
    import polars as pl

    def listed(expr: pl.Expr) -> pl.Expr:
        return expr if grouped else expr.implode()

    d, rules = settings.data, settings.data.validation
    kinds = {name: column_kind(dtype) for name, dtype in schema.items()}
    exprs: list[pl.Expr] = [pl.len().alias("__rows")]
    exprs += [pl.col(c).null_count().alias(f"{c}{SEP}nulls") for c in schema]
    for column, rule in rules.columns.items():
        if column not in schema:
            continue
        col = pl.col(column)
        if kinds[column] == "numeric":
            if rule.min is not None:
                exprs.append((col < rule.min).sum().alias(f"{column}{SEP}below"))
            if rule.max is not None:
                exprs.append((col > rule.max).sum().alias(f"{column}{SEP}above"))
        if rule.allowed:
            bad = col.cast(pl.String).filter(
                col.is_not_null() & ~col.cast(pl.String).is_in(list(rule.allowed))
            )
            exprs.append(bad.len().alias(f"{column}{SEP}unexpected"))
            exprs.append(listed(bad.unique().sort().head(5)).alias(f"{column}{SEP}examples"))
    if d.target in schema and settings.model.task != "regression":
        classes = pl.col(d.target).drop_nulls().unique().sort().head(MAX_CLASSES_LISTED)
        exprs.append(listed(classes).alias("__classes"))
    return exprs


def _unparsed_times(
    settings: Settings, label: str, path: Path, lf: Any, dtype: str
) -> tuple[int, int, int | None, str | None] | None:
    """(values, values that are not times, the first one's row, its text) of the time column.

    The reader turns a CSV column of times into a datetime when its first rows are times, and
    a later value that is not one becomes empty there: the raw text tells it from a real empty
    field. A text time column counts the values no format of ``times.parse_text`` reads (the
    split and drift order by that parse). Numbers are times as they are: not judged.
    """
    import polars as pl

    from workbench.data.profile import CSV_SUFFIXES, separator

    column, kind = settings.data.time_column or "", column_kind(dtype)
    if kind not in ("datetime", "categorical"):
        return None
    parsed = lf.select(pl.col(column)).collect().to_series()
    if kind == "categorical":  # text: the split and drift parse it (``times.parse_text``)
        from workbench.data.times import parse_text

        raw = parsed.cast(pl.String)
        present = raw.is_not_null()
        parsed = parse_text(raw)
    else:
        suffix = Path(label).suffix.lower()
        if suffix not in CSV_SUFFIXES:
            return None
        raw = (
            pl.scan_csv(path, separator=separator(suffix), infer_schema_length=0)
            .select(column)
            .collect()
            .to_series()
        )
        present = raw.is_not_null() & ~raw.is_in(list(settings.data.null_values))
    bad = present & parsed.is_null()
    count = int(bad.sum())
    if not count:
        return int(present.sum()), 0, None, None
    first = int(bad.arg_true()[0])
    return int(present.sum()), count, first, str(raw[first])


def _per_file_checks(report: Report, settings: Settings, f: _File) -> None:
    rules, label, row = settings.data.validation, f.label, f.row
    rows = max(int(row["__rows"]), 1)
    for column, (values, count) in row["__numbers_but_for"].items():
        message = numbers_but_for_message(column, values, count)
        report.add(
            "null_values",
            "warn",
            f"{label}: {message}",
            file=label,
            column=column,
            key="data.null_values",
        )
    for column in f.schema:
        share = row[f"{column}{SEP}nulls"] / rows
        limit = rules.columns[column].max_null_fraction if column in rules.columns else None
        if limit is not None:
            if share > limit:
                report.add(
                    "nulls",
                    "fail",
                    f"{label}: column {column!r} is {share:.1%} null (rule: at most {limit:.1%})",
                    file=label,
                    column=column,
                    key=f"data.validation.columns.{column}.max_null_fraction",
                )
        elif share > rules.max_null_fraction and column != settings.data.target:
            report.add(
                "nulls",
                "warn",
                f"{label}: column {column!r} is {share:.1%} null",
                file=label,
                column=column,
            )
    _times(report, settings, f)
    for column, rule in rules.columns.items():
        below, above = row.get(f"{column}{SEP}below"), row.get(f"{column}{SEP}above")
        key = f"data.validation.columns.{column}"
        if below:
            report.add(
                "range",
                "fail",
                f"{label}: {below} value(s) of {column!r} below {rule.min}",
                file=label,
                column=column,
                key=f"{key}.min",
            )
        if above:
            report.add(
                "range",
                "fail",
                f"{label}: {above} value(s) of {column!r} above {rule.max}",
                file=label,
                column=column,
                key=f"{key}.max",
            )
        unexpected = row.get(f"{column}{SEP}unexpected")
        if unexpected:
            examples = ", ".join(map(repr, row[f"{column}{SEP}examples"]))
            report.add(
                "allowed",
                "fail",
                f"{label}: {unexpected} value(s) of {column!r} not allowed (e.g. {examples})",
                file=label,
                column=column,
                key=f"{key}.allowed",
            )


def _times(report: Report, settings: Settings, f: _File) -> None:
    found = f.row.get("__times")
    if not found or not found[1]:
        return
    present, bad, first, text = found
    column = settings.data.time_column
    limit = settings.data.validation.time_max_unparsed_fraction
    share = bad / max(present, 1)
    csv_file = Path(f.label).suffix.lower() in (".csv", ".tsv")
    line = first + 2 if first is not None and csv_file else None  # the header is line 1
    where = f"{f.label}:{line}" if line else f.label
    failed = share > limit
    report.add(
        "times",
        "fail" if failed else "warn",
        f"{where}: {bad} of {present} value(s) of the time column {column!r} are not times"
        f" (first: {text!r}); {share:.1%}, at most {limit:.1%} allowed",
        file=f.label,
        column=column,
        line=line,
        key="data.validation.time_max_unparsed_fraction",
        hint="write the times as ISO-8601 (2025-01-31 or 2025-01-31 14:05:00), or leave a"
        " value empty when it is unknown"
        if failed
        else None,
    )


# ------------------------------------------------------------------ over all files


def _combined(
    report: Report, settings: Settings, read: list[_File], reference: Reference | None
) -> None:
    import polars as pl

    d, rules = settings.data, settings.data.validation
    lf = combine([f.lf for f in read])
    names = lf.collect_schema().names()
    exprs: list[pl.Expr] = [pl.len().alias("rows")]
    if d.target in names:
        exprs += [
            pl.col(d.target).null_count().alias("target_nulls"),
            pl.col(d.target).drop_nulls().n_unique().alias("classes"),
        ]
    if d.id_column and d.id_column in names and rules.duplicate_ids != "ignore":
        ids = pl.col(d.id_column).drop_nulls()
        exprs.append(ids.is_duplicated().sum().alias("duplicates"))
        exprs.append(ids.filter(ids.is_duplicated()).n_unique().alias("duplicate_ids"))
    try:
        row = lf.select(exprs).collect().row(0, named=True)
    except pl.exceptions.PolarsError as e:
        report.add(
            "read",
            "fail",
            f"the data files cannot be combined: {str(e).splitlines()[0]}",
            hint="make the same column hold the same type in every file",
        )
        return
    rows = int(row["rows"])
    if rows < rules.min_rows:
        report.add(
            "rows",
            "fail",
            f"only {rows} rows in {len(read)} file(s); at least {rules.min_rows} are needed",
            key="data.validation.min_rows",
        )
    if "target_nulls" in row and rows:
        share = row["target_nulls"] / rows
        if share > rules.target_max_null_fraction:
            report.add(
                "target",
                "fail",
                f"the target {d.target!r} is {share:.1%} null (at most"
                f" {rules.target_max_null_fraction:.1%} allowed)",
                column=d.target,
                key="data.validation.target_max_null_fraction",
            )
        if settings.model.task != "regression" and row["classes"] < 2:
            report.add(
                "target",
                "fail",
                f"the target {d.target!r} has {row['classes']} class(es); training needs two or"
                " more",
                column=d.target,
            )
        if settings.model.task == "binary" and row["classes"] > 2:
            _new_class(report, settings, read, reference, int(row["classes"]))
    if row.get("duplicates"):
        report.add(
            "duplicate_ids",
            "fail" if rules.duplicate_ids == "fail" else "warn",
            f"{row['duplicate_ids']} id(s) in {d.id_column!r} appear more than once"
            f" ({row['duplicates']} rows)",
            column=d.id_column,
            key="data.validation.duplicate_ids",
        )


def _new_class(
    report: Report,
    settings: Settings,
    read: list[_File],
    reference: Reference | None,
    count: int,
) -> None:
    """A binary task whose target has a third class: the config's error (``model.task``),
    naming the first file and line holding a class the champion (or the first file) lacks."""
    import polars as pl

    target = settings.data.target
    known: list[Any] = list(reference.classes) if reference is not None else []
    if len(known) != 2:
        first = next((f.row.get("__classes") or [] for f in read if f.row.get("__classes")), [])
        known = list(first[:2])
    where, line, value = "", None, None
    for f in read:
        extra = [c for c in f.row.get("__classes") or [] if c not in known]
        if not extra:
            continue
        value = extra[0]
        found = (
            f.lf.select((pl.col(target) == value).arg_true().first()).collect().item()
            if Path(f.label).suffix.lower() in (".csv", ".tsv")
            else None
        )
        line = int(found) + 2 if found is not None else None
        where = f" first in {f.label}" + (f":{line}" if line else "")
        break
    listed = ", ".join(map(str, known))
    report.add(
        "config",
        "fail",
        f"{_where(settings, 'model.task')}: model.task = 'binary', but the target {target!r} has"
        f" {count} classes: {value!r} is not one of {listed}{where}",
        key="model.task",
        column=target,
        line=line,
        hint='set [model] task = "multiclass" to learn every class, or remove the rows of'
        f" class {value!r} from the data",
    )


# ------------------------------------------------------------------ what passed


def _passes(
    report: Report,
    settings: Settings,
    files: Sequence[tuple[str, Path]],
    read: list[_File],
    reference: Reference | None,
) -> None:
    """One pass line for every check nothing warned or failed about, in ``CHECKS`` order."""
    d, rules = settings.data, settings.data.validation
    n = f"{len(read)} file{'s' if len(read) != 1 else ''}"
    rows = sum(int(f.row["__rows"]) for f in read)
    summary = {
        "read": f"{n} read, {rows:,} rows",
        "config": "data.target"
        + (", data.time_column" if d.time_column else "")
        + (", data.id_column" if d.id_column else "")
        + " name columns of the data",
        "schema": f"{n} have the columns and types {reference.version} required"
        if reference is not None
        else "no champion yet: nothing to compare the schema with",
        "columns": f"{n} have the target"
        + (" and the required columns" if rules.required_columns else ""),
        "target": f"the target {d.target!r} is at most {rules.target_max_null_fraction:.0%} null"
        + (" and has two or more classes" if settings.model.task != "regression" else ""),
        "rows": f"{rows:,} rows (at least {rules.min_rows} needed)",
        "nulls": f"no column is more than {rules.max_null_fraction:.0%} null",
        "null_values": "no numeric column holds stray text",
        "times": f"every value of {d.time_column!r} is a time"
        if d.time_column
        else "no [data] time_column: nothing to check",
        "range": "every value within its [data.validation.columns] min/max"
        if any(r.min is not None or r.max is not None for r in rules.columns.values())
        else "no min/max rules: nothing to check",
        "allowed": "every value among its allowed categories"
        if any(r.allowed for r in rules.columns.values())
        else "no allowed-category rules: nothing to check",
        "duplicate_ids": f"every {d.id_column!r} value appears once"
        if d.id_column and rules.duplicate_ids != "ignore"
        else "no [data] id_column (or duplicate_ids = 'ignore'): nothing to check",
    }
    flagged = {c.name for c in report.checks}
    unread = len(files) - len(read)
    by_name: dict[str, list[Check]] = {name: [] for name in CHECKS}
    for c in report.checks:
        by_name.setdefault(c.name, []).append(c)
    for name in CHECKS:
        if name not in flagged:
            message = summary[name]
            if unread and name != "read":
                message += f" (of the {n} that could be read)"
            by_name[name].append(Check(name, "pass", message))
    report.checks = [c for name in by_name for c in by_name[name]]


# ------------------------------------------------------------------ entry points


def validate_inputs(settings: Settings, store: Store) -> Report:
    """``workbench validate``: the current data files (not a snapshot) against the champion."""
    files = [(f.rel, f.path) for f in discover(settings) if f.kind == "data"]
    return validate(settings, files, champion_reference(store))


def record(store: Store, report: Report, snapshot_id: str | None) -> None:
    """Store the outcome as a ``validated`` or ``validation_failed`` event."""
    with store.write("validate") as s:
        add_event(s, report, snapshot_id, ts=now_iso())


def add_event(s: Session, report: Report, snapshot_id: str | None, *, ts: str) -> None:
    """The ``validated`` / ``validation_failed`` event, inside the caller's write session."""
    failed = not report.ok
    first = report.failures[0].message if failed else None
    s.add_event(
        "validation_failed" if failed else "validated",
        f"validation failed: {first}"
        + (f" (+{len(report.failures) - 1} more)" if len(report.failures) > 1 else "")
        if failed
        else f"validation passed with {len(report.warnings)} warning(s)",
        ts=ts,
        level="error" if failed else ("warning" if report.warnings else "info"),
        snapshot_id=snapshot_id,
        data=report.to_json(),
    )


def raise_on_failure(report: Report) -> None:
    """A ``ConfigError`` (exit 3) when a config check failed, else a ``DataError`` (exit 4)."""
    if report.ok:
        return
    config = report.config_failures
    if config:
        raise ConfigError(config[0].message, config[0].hint)
    failures = report.failures
    if len(failures) == 1 and failures[0].hint:
        raise DataError(f"validation failed: {failures[0].message}", failures[0].hint)
    lines = "; ".join(c.message for c in failures[:5])
    more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
    raise DataError(
        f"validation failed: {lines}{more}",
        "fix the data (or the rules in [data.validation]); `workbench validate` lists every check",
    )
