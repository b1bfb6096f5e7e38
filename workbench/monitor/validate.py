"""Data validation before training: each check passes, warns or fails, naming file and column.

Checks, in order:

- **schema** against the champion's training snapshot (when there is a champion): a column the
  champion uses (feature or target) missing from a file, or a feature whose type changed kind
  (numeric, categorical, boolean, datetime: ``columns.column_kind``, as the profile and the
  features see it), fails; other added/removed columns and int<->float widening warn;
- **required columns** (``[data.validation] required_columns``) present in every file;
- **target**: present in every file, its null share at most ``target_max_null_fraction``,
  and more than one class for classification;
- **rows**: at least ``min_rows`` in all;
- **nulls**: any column over ``max_null_fraction`` warns; a per-column ``max_null_fraction``
  rule fails;
- **ranges / allowed categories** from ``[data.validation.columns.NAME]``;
- **duplicate ids** in ``data.id_column``: warn, fail or ignore as configured;
- **numbers but for a few strings**: a text column whose values are numbers except a few
  distinct strings (``?``, ``missing``, ``-``) warns, naming them: read as text it would be a
  categorical feature, and ``[data] null_values`` can make them missing values instead.

Per-file numbers come from one aggregate query per file (so messages can name the file); the
combined checks (rows, classes, duplicates) from one query over all files. Files of the object
store (``hashes`` given) come from the process's frame cache (``profile.frame``), so validating
a snapshot the same process just took or trained reads nothing again. A failure blocks
training and is recorded as a ``validation_failed`` event by the caller.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.caches import LRU
from workbench.config import Settings
from workbench.data.columns import column_kind, numbers_but_for, numbers_but_for_message
from workbench.data.inputs import discover
from workbench.data.profile import combine, lazy_frames, profile_key
from workbench.errors import DataError
from workbench.store import Session, Store, now_iso
from workbench.store.registry import VersionRecord
from workbench.store.session import SnapshotRecord

SEP = "\x00"  # separates column name and statistic in aggregate aliases
_PER_FILE = LRU(4096)  # per-file aggregate rows by (content, column rules), this process


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | warn | fail
    message: str
    file: str | None = None
    column: str | None = None


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

    def add(self, name: str, status: str, message: str, **where: str | None) -> None:
        self.checks.append(Check(name, status, message, where.get("file"), where.get("column")))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failures": len(self.failures),
            "warnings": len(self.warnings),
            "checks": [asdict(c) for c in self.checks],
        }


@dataclass(frozen=True)
class Reference:
    """What the champion was trained on: column dtypes and the columns it uses."""

    version: str
    dtypes: dict[str, str]
    used: frozenset[str]


def validate(
    settings: Settings,
    files: Sequence[tuple[str, Path]],
    reference: Reference | None = None,
    *,
    hashes: Mapping[str, str] | None = None,
) -> Report:
    """Every check on ``files`` (label, path); ``hashes``: label -> hash for store objects."""
    report = Report()
    rules = settings.data.validation
    frames = lazy_frames(files, hashes, settings.data.null_values)
    for (label, _), lf in zip(files, frames, strict=True):
        schema = {name: str(dtype) for name, dtype in lf.collect_schema().items()}
        kinds = {name: column_kind(dtype) for name, dtype in lf.collect_schema().items()}
        if reference is not None:
            _schema(report, label, schema, reference, settings.data.target)
        for column in (*rules.required_columns, settings.data.target):
            if column and column not in schema:
                what = "target" if column == settings.data.target else "required column"
                report.add(
                    "columns",
                    "fail",
                    f"{label}: the {what} {column!r} is missing",
                    file=label,
                    column=column,
                )
        digest = (hashes or {}).get(label)
        _per_file(report, settings, label, lf, schema, kinds, digest)
    _combined(report, settings, combine(frames), len(files))
    if not report.checks or all(c.status == "pass" for c in report.checks):
        report.add("all", "pass", f"{len(files)} file(s) passed every check")
    return report


def _schema(
    report: Report, label: str, schema: dict[str, str], ref: Reference, target: str
) -> None:
    for column, dtype in ref.dtypes.items():
        if column not in schema and column == target:
            continue  # reported once, by the target check
        if column not in schema:
            status = "fail" if column in ref.used else "warn"
            report.add(
                "schema",
                status,
                f"{label}: column {column!r} ({dtype}), present when {ref.version} was trained,"
                " is missing",
                file=label,
                column=column,
            )
            continue
        old, new = column_kind(dtype), column_kind(schema[column])
        if schema[column] != dtype:
            status = "fail" if old != new and column in ref.used else "warn"
            kinds = f" (kind {old} -> {new})" if old != new else ""
            report.add(
                "schema",
                status,
                f"{label}: column {column!r} is {schema[column]}, was {dtype} for {ref.version}"
                + kinds,
                file=label,
                column=column,
            )
    for column in schema.keys() - ref.dtypes.keys():
        report.add(
            "schema",
            "warn",
            f"{label}: new column {column!r} ({schema[column]})",
            file=label,
            column=column,
        )


def _per_file(
    report: Report,
    settings: Settings,
    label: str,
    lf: Any,
    schema: dict[str, str],
    kinds: dict[str, str],
    digest: str | None = None,
) -> None:
    rules = settings.data.validation
    # a stored file's numbers depend only on its bytes and the column rules: computed once
    key = None
    if digest is not None:
        rule_text = json.dumps({c: asdict(r) for c, r in sorted(rules.columns.items())})
        key = f"{profile_key(label, digest, settings.data.null_values)}|{rule_text}"
    row = _PER_FILE.get(key) if key is not None else None
    if row is None:
        row = _per_file_numbers(settings, lf, schema, kinds)
        if key is not None:
            _PER_FILE.put(key, row)
    _per_file_checks(report, settings, label, schema, row)


def _per_file_numbers(
    settings: Settings, lf: Any, schema: dict[str, str], kinds: dict[str, str]
) -> dict[str, Any]:
    import polars as pl

    rules = settings.data.validation
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
            exprs.append(bad.unique().sort().head(5).implode().alias(f"{column}{SEP}examples"))
    row = lf.select(exprs).collect().row(0, named=True)
    row["__numbers_but_for"] = numbers_but_for(lf)
    return row


def _per_file_checks(
    report: Report, settings: Settings, label: str, schema: dict[str, str], row: dict[str, Any]
) -> None:
    rules = settings.data.validation
    rows = max(int(row["__rows"]), 1)
    for column, (values, count) in row["__numbers_but_for"].items():
        message = numbers_but_for_message(column, values, count)
        report.add("null_values", "warn", f"{label}: {message}", file=label, column=column)
    for column in schema:
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
                )
        elif share > rules.max_null_fraction and column != settings.data.target:
            report.add(
                "nulls",
                "warn",
                f"{label}: column {column!r} is {share:.1%} null",
                file=label,
                column=column,
            )
    for column, rule in rules.columns.items():
        below, above = row.get(f"{column}{SEP}below"), row.get(f"{column}{SEP}above")
        if below:
            report.add(
                "range",
                "fail",
                f"{label}: {below} value(s) of {column!r} below {rule.min}",
                file=label,
                column=column,
            )
        if above:
            report.add(
                "range",
                "fail",
                f"{label}: {above} value(s) of {column!r} above {rule.max}",
                file=label,
                column=column,
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
            )


def _combined(report: Report, settings: Settings, lf: Any, n_files: int) -> None:
    import polars as pl

    d, rules = settings.data, settings.data.validation
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
    row = lf.select(exprs).collect().row(0, named=True)
    rows = int(row["rows"])
    if rows < rules.min_rows:
        report.add(
            "rows",
            "fail",
            f"only {rows} rows in {n_files} file(s); at least {rules.min_rows} are needed",
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
            )
        if settings.model.task != "regression" and row["classes"] < 2:
            report.add(
                "target",
                "fail",
                f"the target {d.target!r} has {row['classes']} class(es); training needs two or"
                " more",
                column=d.target,
            )
    if row.get("duplicates"):
        report.add(
            "duplicate_ids",
            "fail" if rules.duplicate_ids == "fail" else "warn",
            f"{row['duplicate_ids']} id(s) in {d.id_column!r} appear more than once"
            f" ({row['duplicates']} rows)",
            column=d.id_column,
        )


def champion_reference(store: Store) -> Reference | None:
    """The champion's training schema and the columns it uses, if there is a champion."""
    with store.read() as s:
        champion = s.champion()
        if champion is None:
            return None
        snap = s.snapshot(champion.snapshot_id)
    return reference_of(store, champion, snap)


def reference_of(store: Store, champion: VersionRecord, snap: SnapshotRecord) -> Reference:
    """The ``Reference`` of a champion read together with its training snapshot."""
    used = set()
    if champion.meta_hash:
        spec = store.objects.read_json(champion.meta_hash)["spec"]
        used = {*spec["features"], spec["target"]}
    dtypes = {c["name"]: c["dtype"] for c in snap.profile.get("columns", [])}
    return Reference(champion.name, dtypes, frozenset(used))


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
    if report.ok:
        return
    lines = "; ".join(c.message for c in report.failures[:5])
    more = f" (+{len(report.failures) - 5} more)" if len(report.failures) > 5 else ""
    raise DataError(
        f"validation failed: {lines}{more}",
        "fix the data (or the rules in [data.validation]); `workbench validate` lists every check",
    )
