"""The bad-input corpus: each kind of broken file or config, written into a trained copy of the
sample project, through the real CLI in subprocesses (`validate`, `train`, `watch --once
--json`).

Every kind asserts the exit code of each command, that the message names the file, the line or
the key, that no traceback reached the user, and that the champion and the history are as they
were (bad input never records a version). The watcher's cycle ends as a failed cycle with the
same exit code (it reports and goes on, it does not die). Kinds of valid data that workbench
once refused (integers then ``2.5`` past the inferred rows, ``NA`` for missing numbers, a column
empty in a whole batch) must train instead.

The base project is trained once per module and copied per case (``shutil.copytree``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import copy_sample
from tests.helpers import configure, cut_sample, store_of
from workbench.errors import ExitCode
from workbench.monitor.validate import CHECKS

ROWS = 1000
GENERATE = Path(__file__).resolve().parents[1] / "sample_project" / "generate.py"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_sample(tmp_path_factory.mktemp("bad_input") / "proj")
    configure(cut_sample(root, ROWS), rounds=10)
    proc = _run(root, "train")
    assert proc.returncode == 0, proc.stderr
    return root


def _run(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def _start(root: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def _frame(root: Path, rows: int = 400) -> pl.DataFrame:
    return pl.read_csv(root / "data" / "batch_000.csv").head(rows)


def _batch(root: Path, frame: pl.DataFrame, name: str = "batch_001.csv") -> None:
    frame.write_csv(root / "data" / name)


def _lines(root: Path, rows: int = 500) -> list[str]:
    return (root / "data" / "batch_000.csv").read_text().splitlines(keepends=True)[: rows + 1]


def _config(root: Path, old: str, new: str) -> None:
    cfg = root / "workbench.toml"
    text = cfg.read_text()
    assert old in text, old
    cfg.write_text(text.replace(old, new))


# ------------------------------------------------------------------ the kinds


def malformed(root: Path) -> None:
    """The README's `generate.py --broken --broken-kind malformed` batch."""
    kind = ["--broken", "--broken-kind", "malformed", "--rows", "500"]
    subprocess.run(
        [sys.executable, str(GENERATE), *kind, "--data-dir", str(root / "data")],
        check=True,
        capture_output=True,
    )


def unterminated_quote(root: Path) -> None:
    lines = _lines(root)
    fields = lines[301].split(",")  # line 302
    fields[11] = '"' + fields[11]  # a quote opened, never closed
    lines[301] = ",".join(fields)
    (root / "data" / "batch_001.csv").write_text("".join(lines))


def missing_field(root: Path) -> None:
    lines = _lines(root)
    lines[149] = lines[149].rsplit(",", 2)[0] + "\n"  # line 150: two fields short
    (root / "data" / "batch_001.csv").write_text("".join(lines))


def truncated_champion_file(root: Path) -> None:
    """The champion's own file cut in half mid-row."""
    data = root / "data" / "batch_000.csv"
    text = data.read_text()
    cut = len(text) // 2
    cut = text.index(",", cut) + 3  # a few characters into a field: mid-row
    data.write_text(text[:cut])


def text_after_sample(root: Path) -> None:
    """A text value after row 10,000 of a numeric column: the column turned text."""
    big = pl.concat([_frame(root, ROWS)] * 12)
    big = big.with_columns(
        pl.when(pl.int_range(pl.len()) == 11_000)
        .then(pl.lit("unknown"))
        .otherwise(pl.col("age").cast(pl.String))
        .alias("age")
    )
    _batch(root, big)


def bad_times(root: Path) -> None:
    frame = _frame(root, 800)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) >= 300)
        .then(pl.lit("not a time"))
        .otherwise(pl.col("event_time"))
        .alias("event_time")
    )
    _batch(root, frame)


def missing_target(root: Path) -> None:
    _batch(root, _frame(root).drop("churned"))


def missing_feature(root: Path) -> None:
    _batch(root, _frame(root).drop("contract"))


def new_class(root: Path) -> None:
    frame = _frame(root)
    _batch(
        root,
        frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 7)
            .then(2)
            .otherwise(pl.col("churned"))
            .alias("churned")
        ),
    )


def empty_file(root: Path) -> None:
    (root / "data" / "batch_001.csv").write_bytes(b"")


def garbage(root: Path) -> None:
    (root / "data" / "batch_001.csv").write_bytes(b"\xc3\x28\xff\xfe" + bytes(range(256)) * 8)


def non_utf8_name(root: Path) -> None:
    with open(os.fsencode(root / "data") + b"/r\xe9sum\xe9.csv", "wb") as f:
        _frame(root).write_csv(f)


def wrong_target(root: Path) -> None:
    _config(root, 'target = "churned"', 'target = "churn"')


def wrong_time_column(root: Path) -> None:
    _config(root, 'time_column = "event_time"', 'time_column = "event_tme"')


def unknown_key(root: Path) -> None:
    _config(root, "task = ", "taks = ")


def bad_type(root: Path) -> None:
    _config(root, "num_boost_round = 10", 'num_boost_round = "ten"')


def path_escape(root: Path) -> None:
    _config(root, 'path = "data"', 'path = "../elsewhere"')


def hook_nul(root: Path) -> None:
    cfg = root / "workbench.toml"
    cfg.write_text(cfg.read_text() + '\n[hooks]\non_promote = ["echo", "a\\u0000b"]\n')


def too_many_columns(root: Path) -> None:
    cfg = root / "workbench.toml"
    cfg.write_text(cfg.read_text().replace("[model]", "max_columns = 10\n[model]", 1))


def late_float(root: Path) -> None:
    """Valid: integers for 10,000+ rows, then 2.5."""
    big = pl.concat([_frame(root, ROWS)] * 12).with_columns(
        pl.col("tenure_months").cast(pl.Float64)
    )
    big = big.with_columns(
        pl.when(pl.int_range(pl.len()) == 11_000)
        .then(2.5)
        .otherwise(pl.col("tenure_months"))
        .alias("tenure_months")
    )
    text = big.write_csv().replace(".0,", ",")  # integers written as integers
    (root / "data" / "batch_001.csv").write_text(text)


def na_strings(root: Path) -> None:
    """Valid: missing numbers written as NA, N/A, null."""
    frame = _frame(root).with_columns(pl.col("age").cast(pl.String))
    marks = pl.Series(["NA", "N/A", "null"] * 134)[: frame.height]
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(marks).otherwise(pl.col("age")).alias("age")
    )
    _batch(root, frame)


def empty_column(root: Path) -> None:
    """Valid: a column with no value at all in a new batch takes the trained type."""
    _batch(root, _frame(root).with_columns(pl.lit(None).alias("monthly_charges")))


@dataclass(frozen=True)
class Kind:
    make: Callable[[Path], None]
    code: int  # exit code of validate and train (and of the watcher's failed cycle)
    names: tuple[str, ...]  # what the train / validate messages must name
    env: dict[str, str] = field(default_factory=dict)
    valid: bool = False  # valid data: validate and train succeed, a version is trained
    config_loads: bool = True  # False: the config itself is refused, before any cycle


DATA, CONFIG = int(ExitCode.DATA), int(ExitCode.CONFIG)
KINDS = {
    # issue 12 item 11 and last turn's: malformed files, file and line named
    "malformed": Kind(malformed, DATA, ("batch_001.csv:", "fields")),
    "unterminated_quote": Kind(unterminated_quote, DATA, ("batch_001.csv:302", "quote")),
    "missing_field": Kind(missing_field, DATA, ("batch_001.csv:150", "found 15")),
    "text_after_sample": Kind(text_after_sample, DATA, ("batch_001.csv", "'age'", "categorical")),
    "empty_file": Kind(empty_file, DATA, ("batch_001.csv", "empty")),
    "garbage": Kind(garbage, DATA, ("batch_001.csv", "UTF-8")),
    "missing_target": Kind(missing_target, DATA, ("batch_001.csv", "'churned'")),
    # item 4: a file name that is not UTF-8
    "non_utf8_name": Kind(non_utf8_name, DATA, ("r\\xe9sum\\xe9.csv", "UTF-8")),
    # item 5: a column the champion required of every file
    "missing_feature": Kind(missing_feature, DATA, ("batch_001.csv", "'contract'", "exclude")),
    # item 9: truncated data and unparseable times
    "truncated": Kind(truncated_champion_file, DATA, ("batch_000.csv:", "cut short")),
    "bad_times": Kind(bad_times, DATA, ("batch_001.csv:302", "event_time", "not times")),
    # item 10: a column limit
    "too_many_columns": Kind(too_many_columns, DATA, ("batch_000.csv", "max_columns")),
    # item 12: config errors found in the data, before any version
    "new_class": Kind(new_class, CONFIG, ("workbench.toml:", "model.task", "batch_001.csv:9")),
    "wrong_target": Kind(wrong_target, CONFIG, ("data.target", "did you mean 'churned'")),
    "wrong_time_column": Kind(wrong_time_column, CONFIG, ("data.time_column", "'event_time'")),
    # config kinds
    "unknown_key": Kind(
        unknown_key, CONFIG, ("workbench.toml:", "taks", "'task'"), config_loads=False
    ),
    "bad_type": Kind(bad_type, CONFIG, ("workbench.toml:", "num_boost_round"), config_loads=False),
    "path_escape": Kind(
        path_escape, CONFIG, ("data.path", "outside the project"), config_loads=False
    ),
    "hook_nul": Kind(hook_nul, CONFIG, ("hooks.on_promote", "NUL"), config_loads=False),
    "lock_timeout_env": Kind(
        lambda root: None,
        CONFIG,
        ("WORKBENCH_LOCK_TIMEOUT",),
        {"WORKBENCH_LOCK_TIMEOUT": "abc"},
        config_loads=False,
    ),
    # valid data workbench once refused or misread (items 2, 3 and issue 13 item 3)
    "late_float": Kind(late_float, 0, (), valid=True),
    "na_strings": Kind(na_strings, 0, (), valid=True),
    "empty_column": Kind(empty_column, 0, (), valid=True),
}


def _state(root: Path) -> tuple[str | None, list[tuple[str, str]]]:
    """The champion and (version, status) newest first, as `history --json` lists them."""
    with store_of(root).read() as s:
        champion = s.champion()
        versions = s.versions()
    return (champion.name if champion else None), [(v.name, v.status) for v in versions]


@pytest.mark.parametrize("kind", list(KINDS))
def test_bad_input(trained: Path, tmp_path: Path, kind: str) -> None:
    case = KINDS[kind]
    root = tmp_path / "proj"
    shutil.copytree(trained, root, symlinks=True)
    before = _state(root)
    case.make(root)

    # the three at once, as a user, a CI job and a running watcher would meet the file (bad
    # input records no version, so they do not race for one); valid data: the watcher after
    validating = _start(root, "validate", "--json", env=case.env)
    training = _start(root, "train", env=case.env)
    if case.valid:
        training.wait(timeout=120)
    watching = _start(root, "watch", "--once", "--json", env=case.env)
    (out, err), (_, train_err), (watch_out, watch_err) = (
        p.communicate(timeout=120) for p in (validating, training, watching)
    )

    assert validating.returncode == case.code, out + err
    if out.strip():  # the config loaded: every check is listed, pass, warn or fail
        checks = json.loads(out)["checks"]
        assert {c["name"] for c in checks} == set(CHECKS)
        assert {c["status"] for c in checks} <= {"pass", "warn", "fail"}
        assert any(c["status"] == "fail" for c in checks) == (case.code != 0)
    assert training.returncode == case.code, train_err
    assert watching.returncode == case.code, watch_out + watch_err
    for text in (out + err, train_err):
        assert "Traceback" not in text
        for name in case.names:
            assert name in text, (name, text)
    assert "Traceback" not in watch_err
    events = [json.loads(line) for line in watch_out.splitlines() if line.strip()]
    finished = [e for e in events if e["event"] == "cycle_finished"]
    if case.valid:
        assert [v for v, _ in _state(root)[1]] == ["v2", "v1"]  # the batch was trained on
        assert finished and finished[-1]["outcome"] != "failed", events
        return
    if case.config_loads:  # the cycle failed, the watcher reported it and ended as asked
        assert finished and finished[-1]["outcome"] == "failed", events
        assert finished[-1]["exit_code"] == case.code
    else:  # a config that does not load: refused before any cycle, naming the key
        for name in case.names:
            assert name in watch_err, (name, watch_err)
    assert _state(root) == before
