"""Validation: each check passes, warns or fails naming file and column; failures block training."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import configure, cut_sample, store_of, train
from workbench import config
from workbench.caches import clear_process_caches
from workbench.errors import DataError, ExitCode
from workbench.monitor import validate as v


@pytest.fixture
def small(project: Path) -> Path:
    cut_sample(project, 3000)
    configure(project)
    return project


def add_rules(root: Path, text: str) -> None:
    cfg = root / "workbench.toml"
    cfg.write_text(cfg.read_text() + "\n" + text)


def report(root: Path) -> v.Report:
    settings = config.load(root)
    return v.validate_inputs(settings, store_of(root))


def statuses(r: v.Report) -> list[tuple[str, str, str | None, str | None]]:
    return [(c.name, c.status, c.file, c.column) for c in r.checks]


def batch(root: Path, name: str, transform) -> None:
    frame = pl.read_csv(root / "data" / "batch_000.csv").head(400)
    transform(frame).write_csv(root / "data" / name)


def test_clean_data_passes(small: Path, cli) -> None:
    r = report(small)
    assert r.ok and not r.warnings
    proc = cli("validate", "--json", cwd=small)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["ok"] is True


def test_missing_target_fails_naming_file_and_column(small: Path, cli) -> None:
    batch(small, "batch_001.csv", lambda f: f.drop("churned"))
    r = report(small)
    assert ("columns", "fail", "data/batch_001.csv", "churned") in statuses(r)
    proc = cli("validate", cwd=small)
    assert proc.returncode == ExitCode.DATA
    assert "data/batch_001.csv: the target 'churned' is missing" in proc.stdout


def test_schema_against_the_champion(small: Path) -> None:
    train(small)
    batch(small, "batch_001.csv", lambda f: f.drop("tenure_months", "has_partner"))
    batch(small, "batch_002.csv", lambda f: f.with_columns(pl.lit("x").alias("age")))
    batch(small, "batch_003.csv", lambda f: f.with_columns(pl.lit(1).alias("loyalty")))
    found = statuses(report(small))
    assert ("schema", "fail", "data/batch_001.csv", "tenure_months") in found  # a feature
    assert ("schema", "fail", "data/batch_002.csv", "age") in found  # numeric -> text
    assert ("schema", "warn", "data/batch_003.csv", "loyalty") in found  # new column


def test_target_nulls_one_class_and_min_rows(small: Path) -> None:
    data = small / "data" / "batch_000.csv"
    frame = pl.read_csv(data).head(40)
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) < 30).then(None).otherwise(0).alias("churned")
    ).write_csv(data)
    r = report(small)
    messages = " | ".join(c.message for c in r.failures)
    assert "is 75.0% null" in messages
    assert "has 1 class(es)" in messages
    assert "only 40 rows" in messages


def test_declared_rules(small: Path) -> None:
    add_rules(
        small,
        "[data.validation]\nrequired_columns = ['region', 'loyalty']\nduplicate_ids = 'fail'\n"
        "[data.validation.columns.monthly_charges]\nmin = 20\nmax = 100\n"
        "[data.validation.columns.contract]\nallowed = ['month-to-month', 'one-year']\n"
        "[data.validation.columns.satisfaction_score]\nmax_null_fraction = 0.01\n",
    )
    frame = pl.read_csv(small / "data" / "batch_000.csv")
    below = int((frame["monthly_charges"] < 20).sum())
    above = int((frame["monthly_charges"] > 100).sum())
    two_year = int((frame["contract"] == "two-year").sum())
    assert below and above and two_year
    batch(small, "batch_001.csv", lambda f: f)  # the same ids again: duplicates
    r = report(small)
    messages = [c.message for c in r.failures]
    assert f"data/batch_000.csv: {below} value(s) of 'monthly_charges' below 20.0" in messages
    assert f"data/batch_000.csv: {above} value(s) of 'monthly_charges' above 100.0" in messages
    assert any(
        m.startswith(f"data/batch_000.csv: {two_year} value(s) of 'contract' not allowed")
        for m in messages
    )
    assert any("'satisfaction_score' is" in m and "rule: at most 1.0%" in m for m in messages)
    assert any("required column 'loyalty' is missing" in m for m in messages)
    assert "400 id(s) in 'customer_id' appear more than once (800 rows)" in messages


def test_null_share_warns(small: Path) -> None:
    batch(
        small, "batch_001.csv", lambda f: f.with_columns(pl.lit(None).cast(pl.Float64).alias("age"))
    )
    r = report(small)
    assert r.ok
    assert ("nulls", "warn", "data/batch_001.csv", "age") in statuses(r)


def test_validation_failure_blocks_training_and_keeps_the_champion(small: Path) -> None:
    train(small)
    batch(small, "batch_001.csv", lambda f: f.drop("contract"))
    with pytest.raises(DataError, match="column 'contract'"):
        train(small)
    with store_of(small).read() as s:
        assert s.champion_number() == 1 and s.version_count() == 1
        kinds = [e.kind for e in s.events()]
    assert "validation_failed" in kinds
    (small / "data" / "batch_001.csv").unlink()
    batch(small, "batch_001.csv", lambda f: f)
    assert train(small).version is not None  # fixed input: training goes on


def test_stored_files_are_checked_once_per_rule_set(small: Path, monkeypatch) -> None:
    """Per-file numbers of a stored (content-addressed) file are reused across validations
    with the same column rules, and computed afresh when the rules change."""
    from workbench.data import snapshot

    batch(small, "batch_001.csv", lambda f: f.with_columns(pl.lit(-5.0).alias("monthly_charges")))
    settings = config.load(small)
    store = store_of(small)
    snap = snapshot.take(settings, store)
    files = [(f["path"], store.objects.path(f["hash"])) for f in snap.summary["files"]]
    hashes = {f["path"]: f["hash"] for f in snap.summary["files"]}
    computed: list[int] = []
    real = v._per_file_numbers
    monkeypatch.setattr(
        v,
        "_per_file_numbers",
        lambda *a: computed.append(1) or real(*a),
    )
    clear_process_caches()
    first = v.validate(settings, files, hashes=hashes)
    again = v.validate(settings, files, hashes=hashes)
    assert len(computed) == 2  # two files, once each
    assert statuses(first) == statuses(again) and first.ok
    add_rules(small, "[data.validation.columns.monthly_charges]\nmin = 0\n")
    strict = config.load(small)
    checked = v.validate(strict, files, hashes=hashes)
    assert len(computed) == 4  # the rule changed: both files computed again
    assert [c.message for c in checked.failures] == [
        "data/batch_001.csv: 400 value(s) of 'monthly_charges' below 0.0"
    ]


def test_every_check_is_listed_with_its_status_in_text_and_json(small: Path, cli) -> None:
    batch(small, "batch_001.csv", lambda f: f.with_columns(pl.lit(None).alias("age")))
    proc = cli("validate", "--json", cwd=small)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    listed = [(c["name"], c["status"]) for c in data["checks"]]
    assert list(dict.fromkeys(name for name, _ in listed)) == list(v.CHECKS)  # in order
    assert {name for name, _ in listed} == set(v.CHECKS)
    assert ("nulls", "warn") in listed and ("schema", "pass") in listed
    assert data["passed"] == sum(status == "pass" for _, status in listed) == len(v.CHECKS) - 2
    text = cli("validate", cwd=small)
    lines = text.stdout.splitlines()
    for name in v.CHECKS:
        assert any(line.split()[1:2] == [name] for line in lines), (name, text.stdout)
    assert "warn nulls" in " ".join(" ".join(line.split()[:2]) for line in lines)
    assert lines[-1] == "0 failures, 2 warnings, 10 passed"


def test_a_column_only_the_newest_batch_had_does_not_wedge_the_project(small: Path, cli) -> None:
    """v2 trains with promo_code, which only batch_001 had: later files without it (batch_000,
    which v2 trained on, and batch_002) are what v2 saw, a warning. A column v2 had in every
    file stays required; the failure names [data] exclude, and excluding it is the way out."""
    train(small)
    batch(small, "batch_001.csv", lambda f: f.with_columns(pl.lit("SPRING").alias("promo_code")))
    assert train(small).version is not None
    with store_of(small).read() as s:
        assert s.champion().name == "v2"
    spec = json.loads((small / ".workbench" / "serving" / "model.json").read_text())["spec"]
    assert "promo_code" in spec["features"]
    batch(small, "batch_002.csv", lambda f: f.tail(300))
    r = report(small)
    assert r.ok, [c.message for c in r.failures]
    assert ("schema", "warn", "data/batch_000.csv", "promo_code") in statuses(r)
    assert ("schema", "warn", "data/batch_002.csv", "promo_code") in statuses(r)
    proc = cli("train", cwd=small)
    assert proc.returncode == 0, proc.stderr

    batch(small, "batch_003.csv", lambda f: f.drop("contract"))
    proc = cli("train", cwd=small)
    assert proc.returncode == ExitCode.DATA
    assert "data/batch_003.csv: column 'contract'" in proc.stderr
    assert "[data] exclude" in proc.stderr
    cfg = small / "workbench.toml"
    keyed = 'id_column = "customer_id"\n'
    cfg.write_text(cfg.read_text().replace(keyed, keyed + 'exclude = ["contract"]\n'))
    r = report(small)
    assert r.ok and ("schema", "warn", "data/batch_003.csv", "contract") in statuses(r)
    assert cli("train", cwd=small).returncode == 0


def test_a_column_empty_in_a_batch_takes_the_trained_type(small: Path, cli) -> None:
    """monthly_charges with no value at all in a new batch: no type of its own (it was read as
    text, making every file's monthly_charges a categorical), with or without a champion."""
    empty = lambda f: f.with_columns(pl.lit(None).alias("monthly_charges"))  # noqa: E731
    batch(small, "batch_001.csv", empty)
    assert cli("train", cwd=small).returncode == 0
    with store_of(small).read() as s:
        profile = s.snapshot(s.latest_snapshot_id()).profile
    column = next(c for c in profile["columns"] if c["name"] == "monthly_charges")
    assert (column["dtype"], column["kind"]) == ("Float64", "numeric")
    assert profile["column_gaps"] == {"monthly_charges": 1}
    spec = json.loads((small / ".workbench" / "serving" / "model.json").read_text())["spec"]
    assert spec["kinds"]["monthly_charges"] == "numeric"
    batch(small, "batch_002.csv", empty)  # against the champion: a null share, not a type
    r = report(small)
    assert r.ok, [c.message for c in r.failures]
    assert not [c for c in r.checks if c.name == "schema" and c.column == "monthly_charges"]
    assert ("nulls", "warn", "data/batch_002.csv", "monthly_charges") in statuses(r)


def test_statistics_cost_follows_the_columns(tmp_path: Path) -> None:
    """A wide file's sketch costs linearly in its columns (it grew with their square: 2,000
    columns took 11 s, 10,000 minutes and gigabytes)."""
    import time

    import numpy as np

    from workbench.data import profile

    def seconds(k: int) -> float:
        path = tmp_path / f"w{k}.csv"
        rng = np.random.default_rng(k)
        pl.DataFrame({f"c{i}": rng.integers(0, 9, 100) for i in range(k)}).write_csv(path)
        frame = profile.frame(path.name, path)
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            profile.sketch_frame(frame)
            best = min(best, time.perf_counter() - started)
        return best

    small_cost, wide_cost = seconds(250), seconds(2000)
    assert wide_cost < 12 * small_cost + 0.5, (small_cost, wide_cost)  # quadratic: 64x


def test_many_files_are_checked_on_threads_and_reported_in_their_order(small: Path) -> None:
    """From PARALLEL_FILES files on, the reads run on a thread pool: what each file reports,
    and its order, is what reading them one by one reports."""
    frame = pl.read_csv(small / "data" / "batch_000.csv").head(600)
    (small / "data" / "batch_000.csv").unlink()
    for i in range(12):
        part = frame.slice(i * 50, 50)
        if i == 4:
            part = part.drop("churned")
        part.write_csv(small / "data" / f"part_{i:02d}.csv")
    (small / "data" / "part_07.csv").write_text("a,b\n1,2,3,4\n")  # a row too long: unreadable
    settings = config.load(small)
    files = sorted(
        ((p.relative_to(small).as_posix(), p) for p in (small / "data").glob("*.csv")),
        key=lambda item: item[0],
    )
    assert len(files) >= v.PARALLEL_FILES
    together = v.validate(settings, files)
    clear_process_caches()
    alone = [c for label_path in files for c in v.validate(settings, [label_path]).checks]
    by_file = [(c.name, c.status, c.file) for c in together.checks if c.file is not None]
    assert ("read", "fail", "data/part_07.csv") in by_file
    assert ("columns", "fail", "data/part_04.csv") in by_file
    # what a file's own read reports is what it reports read alone, in the files' order
    reads = [c for c in together.checks if c.name == "read" and c.file]
    assert [(c.status, c.file, c.message) for c in reads] == [
        (c.status, c.file, c.message) for c in alone if c.name == "read" and c.file
    ]
    for name in ("read", "columns"):
        named = [f for n, _, f in by_file if n == name]
        assert named == sorted(named)
