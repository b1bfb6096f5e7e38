"""Validation of many small CSVs read in groups (``validate._read_grouped``): the same report as
file by file, messages naming the right file, the per-file fallback, the frame cache, speed."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from workbench import config
from workbench.caches import clear_process_caches
from workbench.config import Settings
from workbench.data import grouped, profile
from workbench.monitor import validate as v

BASE = """
[project]
name = "t"
[data]
path = "data"
target = "churned"
{keys}
[model]
task = "binary"
"""

RULES = """
[data.validation]
min_rows = 50
max_null_fraction = 0.3
time_max_unparsed_fraction = 0.2
[data.validation.columns.age]
min = 18
max = 90
max_null_fraction = 0.4
[data.validation.columns.plan]
allowed = ["basic", "pro"]
[data.validation.columns.score]
min = 0.0
max = 6.0
"""

KEYS = 'time_column = "event_time"\nid_column = "customer_id"'
WIDE = "customer_id,event_time,age,score,plan,qty,churned,note"  # most files
NARROW = "customer_id,event_time,age,score,plan,churned"  # a second header: its own group
PLANS = ("basic", "pro", "basic", "pro", "basic")


def make_project(
    root: Path, rules: str, files: dict[str, str], keys: str = ""
) -> tuple[Settings, list]:
    """A project at ``root`` with ``rules``, more ``[data]`` ``keys`` and data files name ->
    text; (settings, files) with the files sorted by label."""
    (root / "data").mkdir(parents=True)
    (root / "workbench.toml").write_text(BASE.format(keys=keys) + rules)
    for name, text in files.items():
        (root / "data" / name).write_text(text)
    paths = sorted((root / "data").iterdir())
    return config.load(root), [(f"data/{p.name}", p) for p in paths]


def digests(files: list) -> dict[str, str]:
    return {label: hashlib.sha256(path.read_bytes()).hexdigest() for label, path in files}


def corpus(header_only: bool = True, bad_time: bool = True) -> dict[str, str]:
    """20 files of 20 rows, each column one type in every file but where a file holds text
    (``qty``: ``?``/``missing``; ``event_time``: ``not a time``), and the header-only file
    (``header_only``: text, read alone)."""
    out = {}
    for i in range(20):
        header = NARROW if i in (3, 9, 15, 17) else WIDE
        lines = [header]
        for r in range(0 if (header_only and i == 6) else 20):
            cid = r if (i == 12 and r < 3) else i * 100 + r  # 3 ids again (file 0's)
            when = (
                "not a time"
                if (bad_time and i == 14 and r == 7)
                else f"2025-01-{1 + i:02d} {r:02d}:00:00"
            )
            age = "" if (i % 4 == 1 and r % 3 == 0) else str(20 + (i + r) % 50)
            if i == 13 and r < 10:
                age = ""  # 50% null: over the column's own max_null_fraction rule
            if i == 5 and r == 2:
                age = "12"  # below min
            if i == 16 and r in (0, 1, 2):
                age = "95"  # above max
            score = f"{(i * r) % 6 + 0.5}"
            plan = "gold" if (i == 11 and r in (4, 5)) else PLANS[(i + r) % 5]
            qty = str(r % 9)
            if i in (2, 10) and r in (1, 8):
                qty = "?" if r == 1 else "missing"
            row = [str(cid), when, age, score, plan]
            if header == WIDE:
                note = "" if (i == 8 and r % 2) else "ok"  # empty last column: 50% null
                row += [qty, str((i + r) % 2), note]
            else:
                row += [str((i + r) % 2)]
            lines.append(",".join(row))
        text = "\n".join(lines) + "\n"
        if i == 18:
            text = text.rstrip("\n")  # no newline after the last row
        out[f"f_{i:02d}.csv"] = text
    return out


def spy_groups(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The labels each ``_read_grouped`` call read in groups."""
    calls: list[set[str]] = []
    real = v._read_grouped

    def spy(*args, **kw):
        out = real(*args, **kw)
        calls.append(set(out))
        return out

    monkeypatch.setattr(v, "_read_grouped", spy)
    return calls


def per_file(monkeypatch: pytest.MonkeyPatch, run: Callable[[], v.Report]) -> v.Report:
    """``run()`` with grouping off (``candidates`` returns []), in a cold process."""
    clear_process_caches()
    with monkeypatch.context() as m:
        m.setattr(grouped, "GROUP_MIN_FILES", 10**9)
        return run()


def not_passed(r: v.Report) -> list[tuple[str, str, str | None, int | None, str]]:
    return [(c.name, c.status, c.file, c.line, c.message) for c in r.checks if c.status != "pass"]


# ------------------------------------------------------------------ 1. the same report


@pytest.mark.parametrize("stored", [False, True], ids=["paths", "store-objects"])
def test_grouped_report_is_the_per_file_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored: bool
) -> None:
    settings, files = make_project(tmp_path / "proj", RULES, corpus(), KEYS)
    hashes = digests(files) if stored else None
    calls = spy_groups(monkeypatch)
    together = v.validate(settings, files, hashes=hashes)
    wide = {f"data/f_{i:02d}.csv" for i in range(20) if i not in (3, 9, 15, 17)}
    # both headers grouped, every file but the header-only one (text read alone)
    assert calls[-1] == {label for label, _ in files} - {"data/f_06.csv"}
    assert wide - {"data/f_06.csv"} < calls[-1]
    alone = per_file(monkeypatch, lambda: v.validate(settings, files, hashes=hashes))
    assert calls[-1] == set()  # ... and none, the second time
    assert together.to_json() == alone.to_json()
    # the corpus exercises what it should: not a report of passes only
    found = {(name, status, file) for name, status, file, _, _ in not_passed(together)}
    assert found == {
        ("nulls", "warn", "data/f_08.csv"),  # note: 50% null, the last column
        ("nulls", "fail", "data/f_13.csv"),  # age: over its own rule
        ("null_values", "warn", "data/f_02.csv"),
        ("null_values", "warn", "data/f_10.csv"),
        ("times", "warn", "data/f_14.csv"),
        ("range", "fail", "data/f_05.csv"),
        ("range", "fail", "data/f_16.csv"),
        ("allowed", "fail", "data/f_11.csv"),
        ("duplicate_ids", "warn", None),
    }
    times = next(c for c in together.checks if c.name == "times")
    assert (times.file, times.line) == ("data/f_14.csv", 9)  # row 7 + the header
    assert "'not a time'" in times.message
    read = next(c for c in together.checks if c.name == "read")
    assert read.message == f"20 files read, {19 * 20:,} rows"  # f_06: a header only


def test_a_file_whose_types_differ_from_its_groups_is_read_alone(
    tmp_path: Path, monkeypatch
) -> None:
    """A column of integers in one file and decimals in the others is Float64 in the group
    read, Int64 in the integer file read alone: that file is not checked from the group, so
    an ``allowed`` rule (which compares the values as text) sees its '1', not '1.0'."""
    rules = (
        "[data.validation]\nmin_rows = 1\n"
        "[data.validation.columns.level]\nallowed = ['1', '2']\nmin = 1.5\n"
    )
    files = {
        f"f_{i}.csv": "level,churned\n"
        + "".join(f"{r % 2 + 1}{'.5' if i else ''},{r % 2}\n" for r in range(10))
        for i in range(9)
    }
    settings, files = make_project(tmp_path / "proj", rules, files)
    read = v._read_grouped(settings, files, None)
    assert "data/f_0.csv" not in read  # all integers in the file: Int64 alone
    assert str(profile.frame("data/f_0.csv", files[0][1]).schema["level"]) == "Int64"
    assert {label for label, _ in files[1:]} == set(read)
    assert {f.schema["level"] for f in read.values()} == {"Float64"}
    together = v.validate(settings, files)
    alone = per_file(monkeypatch, lambda: v.validate(settings, files))
    assert together.to_json() == alone.to_json()
    below = [m for name, _, _, _, m in not_passed(together) if name == "range"]
    assert below[0] == "data/f_0.csv: 5 value(s) of 'level' below 1.5"
    allowed = sorted(c.file for c in together.checks if c.name == "allowed")
    assert allowed == [f"data/f_{i}.csv" for i in range(1, 9)]  # f_0's '1' and '2' pass


def test_files_left_by_a_group_are_grouped_again(tmp_path: Path, monkeypatch) -> None:
    """Two files with a '?' make the group's column text; the other files, numbers read
    alone, are read as a second group (Int64), not one by one."""
    files = {
        f"f_{i:02d}.csv": "qty,churned\n"
        + "".join(f"{'?' if (i < 2 and r == 0) else r},{r % 2}\n" for r in range(10))
        for i in range(12)
    }
    settings, files = make_project(tmp_path / "proj", "", files)
    groups: list[tuple[str, ...]] = []
    real = grouped.read_groups

    def spy(*args, **kw):
        found = real(*args, **kw)
        groups.extend(g.labels for g in found[0])
        return found

    monkeypatch.setattr(grouped, "read_groups", spy)
    read = v._read_grouped(settings, files, None)
    assert set(read) == {label for label, _ in files}
    assert {read[f"data/f_{i:02d}.csv"].schema["qty"] for i in range(2)} == {"String"}
    assert {read[f"data/f_{i:02d}.csv"].schema["qty"] for i in range(2, 12)} == {"Int64"}
    assert [len(g) for g in groups] == [12, 10]
    monkeypatch.undo()
    alone = per_file(monkeypatch, lambda: v.validate(settings, files))
    clear_process_caches()
    assert v.validate(settings, files).to_json() == alone.to_json()


def test_a_range_rule_still_fails_when_another_file_makes_the_column_text(
    tmp_path: Path, monkeypatch
) -> None:
    rules = "[data.validation]\nmin_rows = 1\n[data.validation.columns.qty]\nmin = 0\n"
    files = {}
    for i in range(10):
        values = [str(r) for r in range(10)]
        if i == 0:
            values[0] = "?"  # text in this file only
        if i == 5:
            values[3] = "-1"  # below min in an integer file
        files[f"f_{i}.csv"] = "qty,churned\n" + "".join(
            f"{q},{r % 2}\n" for r, q in enumerate(values)
        )
    settings, files = make_project(tmp_path / "proj", rules, files)
    alone = per_file(monkeypatch, lambda: v.validate(settings, files))
    assert [c.message for c in alone.failures] == ["data/f_5.csv: 1 value(s) of 'qty' below 0.0"]
    clear_process_caches()
    together = v.validate(settings, files)
    assert [c.message for c in together.failures] == [c.message for c in alone.failures]


# ------------------------------------------------------------------ 2. the right file


def test_per_file_failures_name_their_file_in_a_group(tmp_path: Path, monkeypatch) -> None:
    rules = (
        "[data.validation]\nmin_rows = 10\n"
        "[data.validation.columns.amount]\nmin = 0\n"
        "[data.validation.columns.plan]\nallowed = ['basic', 'pro']\n"
    )
    files = {}
    for i in range(10):
        rows = []
        for r in range(30):
            amount = -3 if (i == 3 and r in (5, 6, 29)) else r
            plan = "gold" if (i == 7 and r == 11) else ("platinum" if i == 7 and r == 0 else "pro")
            rows.append(f"{i * 100 + r},{amount},{plan},{r % 2}\n")
        files[f"part_{i:02d}.csv"] = "customer_id,amount,plan,churned\n" + "".join(rows)
    settings, files = make_project(tmp_path / "proj", rules, files)
    calls = spy_groups(monkeypatch)
    r = v.validate(settings, files)
    assert calls == [{label for label, _ in files}]  # one group of the 10 files
    assert [(c.name, c.file, c.column, c.key, c.message) for c in r.failures] == [
        (
            "range",
            "data/part_03.csv",
            "amount",
            "data.validation.columns.amount.min",
            "data/part_03.csv: 3 value(s) of 'amount' below 0.0",
        ),
        (
            "allowed",
            "data/part_07.csv",
            "plan",
            "data.validation.columns.plan.allowed",
            "data/part_07.csv: 2 value(s) of 'plan' not allowed (e.g. 'gold', 'platinum')",
        ),
    ]
    assert not r.warnings
    assert per_file(monkeypatch, lambda: v.validate(settings, files)).to_json() == r.to_json()


# ------------------------------------------------------------------ 3. the per-file fallback


def _rows(i: int) -> str:
    return "".join(f"{i * 100 + r},{r},{r % 2}\n" for r in range(12))


@pytest.mark.parametrize(
    ("bad", "read_fail"),
    [
        ('"a,b",7,1\n', None),  # a quote character: the file is left out of the group
        ("\n9999,7,1\n", None),  # a blank line: a row of nulls to polars, not to the count
        ("9999,7,1,5\n", "data/f_04.csv:14: expected 3 fields (as in the header), found 4"),
        ("9999,7\n", "data/f_04.csv:14: expected 3 fields (as in the header), found 2"),
        (
            "9999,7",
            "data/f_04.csv:14: the last line is cut short (2 of 3 fields): the file looks"
            " truncated, or is still being written",
        ),
    ],
    ids=["quoted", "blank-line", "long-row", "short-row", "cut-short"],
)
def test_a_file_the_group_cannot_read_is_read_alone(
    tmp_path: Path, monkeypatch, bad: str, read_fail: str | None
) -> None:
    rules = "[data.validation]\nmin_rows = 1\n[data.validation.columns.x]\nmin = 0\n"
    files = {f"f_{i:02d}.csv": "customer_id,x,churned\n" + _rows(i) for i in range(10)}
    files["f_04.csv"] += bad
    files["f_08.csv"] = files["f_08.csv"].replace(",5,", ",-5,")  # another file's range failure
    settings, files = make_project(tmp_path / "proj", rules, files)
    calls = spy_groups(monkeypatch)
    r = v.validate(settings, files)
    assert "data/f_04.csv" not in calls[-1]  # read on its own
    if bad.startswith('"'):
        assert calls[-1] == {label for label, _ in files} - {"data/f_04.csv"}
    else:  # the group's read fails, or its rows are not its lines: the whole group alone
        assert calls[-1] == set()
    failures = [(c.name, c.file, c.line, c.message) for c in r.failures]
    expected = [("range", "data/f_08.csv", None, "data/f_08.csv: 1 value(s) of 'x' below 0.0")]
    if read_fail is not None:
        expected.insert(0, ("read", "data/f_04.csv", 14, read_fail))
        assert next(c for c in r.checks if c.name == "rows").message.endswith(
            "(of the 9 files that could be read)"
        )
    assert failures == expected
    assert r.to_json() == per_file(monkeypatch, lambda: v.validate(settings, files)).to_json()


# ------------------------------------------------------------------ 4. the frame cache


def test_grouped_frames_are_cached_as_training_reads_them(tmp_path: Path, monkeypatch) -> None:
    settings, files = make_project(
        tmp_path / "proj", RULES, corpus(header_only=False, bad_time=False), KEYS
    )
    hashes, nulls = digests(files), settings.data.null_values
    calls = spy_groups(monkeypatch)
    v.validate(settings, files, hashes=hashes)
    assert calls[-1] == {label for label, _ in files}
    for label, _ in files:
        assert profile._FRAMES.get(f"{profile.read_as(label, nulls)}:{hashes[label]}") is not None
    parsed: list[str] = []
    real = profile._read
    monkeypatch.setattr(
        profile, "_read", lambda path, label, *a: parsed.append(label) or real(path, label, *a)
    )
    cached = profile.read_frames(files, hashes, nulls).collect()
    assert parsed == []  # every frame came from the cache
    clear_process_caches()
    alone = pl.concat(
        [profile.frame(label, path, None, nulls) for label, path in files], how="diagonal_relaxed"
    )
    assert len(parsed) == len(files)
    assert cached.height == 19 * 20 + 20
    assert_frame_equal(cached, alone, check_column_order=False)


@pytest.mark.parametrize(
    "odd", ["header-only", "bad-time"], ids=["a-header-only-file", "a-value-not-a-time"]
)
def test_training_reads_the_same_frame_with_or_without_the_cache(tmp_path: Path, odd: str) -> None:
    data = corpus(header_only=odd == "header-only", bad_time=odd == "bad-time")
    settings, files = make_project(tmp_path / "proj", RULES, data, KEYS)
    hashes, nulls = digests(files), settings.data.null_values
    v.validate(settings, files, hashes=hashes)
    cached = profile.read_frames(files, hashes, nulls).collect()
    clear_process_caches()
    fresh = profile.read_frames(files, hashes, nulls).collect()
    assert_frame_equal(cached, fresh, check_column_order=False)


def test_a_file_validated_alone_after_a_group_reports_as_in_a_cold_process(
    tmp_path: Path,
) -> None:
    rules = (
        "[data.validation]\nmin_rows = 1\n[data.validation.columns.level]\nallowed = ['1', '2']\n"
    )
    files = {
        f"f_{i}.csv": "level,churned\n"
        + "".join(f"{r % 2 + 1}{'.5' if i else ''},{r % 2}\n" for r in range(10))
        for i in range(8)
    }
    settings, files = make_project(tmp_path / "proj", rules, files)
    hashes = digests(files)
    first = files[:1]  # the integer file
    v.validate(settings, files, hashes=hashes)
    warm = v.validate(settings, first, hashes=hashes)
    clear_process_caches()
    cold = v.validate(settings, first, hashes=hashes)
    assert cold.ok
    assert warm.to_json() == cold.to_json()


# ------------------------------------------------------------------ 5. speed (a sanity check)


def test_many_small_files_validate_faster_in_groups(tmp_path: Path, monkeypatch) -> None:
    header = "customer_id,age,plan,churned\n"
    files = {
        f"p_{i:03d}.csv": header
        + "".join(f"{i * 20 + r},{20 + r},{PLANS[r % 5]},{r % 2}\n" for r in range(20))
        for i in range(400)
    }
    rules = (
        "[data.validation.columns.age]\nmin = 18\n"
        "[data.validation.columns.plan]\nallowed = ['basic', 'pro']\n"
    )
    settings, files = make_project(tmp_path / "proj", rules, files)
    v.validate(settings, files[:20])  # imports and first-call costs out of the timing
    clear_process_caches()
    started = time.perf_counter()
    together = v.validate(settings, files)
    grouped_s = time.perf_counter() - started
    clear_process_caches()
    with monkeypatch.context() as m:
        m.setattr(grouped, "GROUP_MIN_FILES", 10**9)
        started = time.perf_counter()
        alone = v.validate(settings, files)
        per_file_s = time.perf_counter() - started
    assert together.ok and together.to_json() == alone.to_json()
    assert grouped_s < 0.5 * per_file_s, (grouped_s, per_file_s)


def test_a_column_without_a_value_in_a_file_keeps_the_file_in_its_group(
    tmp_path: Path, monkeypatch
) -> None:
    """Read alone, a file's column without a value has no type (``Null``), which takes the
    other files' type when combined: such a file stays in its group, and reports and trains
    as when read alone."""
    rules = (
        "[data.validation]\nmin_rows = 1\n"
        "[data.validation.columns.qty]\nmin = 0\nmax_null_fraction = 0.5\n"
    )
    files = {
        f"f_{i}.csv": "qty,note,churned\n"
        + "".join(f"{'' if i == 3 else r},{'' if i == 4 else 'x'},{r % 2}\n" for r in range(10))
        for i in range(10)
    }
    settings, files = make_project(tmp_path / "proj", rules, files)
    hashes, nulls = digests(files), settings.data.null_values
    assert set(v._read_grouped(settings, files, hashes)) == {label for label, _ in files}
    together = v.validate(settings, files, hashes=hashes)
    cached = profile.read_frames(files, hashes, nulls).collect()
    alone = per_file(monkeypatch, lambda: v.validate(settings, files, hashes=hashes))
    assert together.to_json() == alone.to_json()
    assert ("nulls", "fail", "data/f_3.csv") in {(n, s, f) for n, s, f, _, _ in not_passed(alone)}
    clear_process_caches()
    assert_frame_equal(cached, profile.read_frames(files, hashes, nulls).collect())
