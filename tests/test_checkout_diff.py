"""checkout (byte-exact, refuses to lose local changes) and diff between snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, sha256, write_csv
from workbench import config
from workbench.data import snapshot
from workbench.data.checkout import checkout
from workbench.data.diff import diff
from workbench.errors import ConflictError, ExitCode, UsageError
from workbench.store import Store


def take(project: Path) -> str:
    settings = config.load(project)
    return snapshot.take(settings, Store(settings.store_dir)).id


def tree(project: Path) -> dict[str, str]:
    files = [*sorted((project / "data").rglob("*.csv")), project / "workbench.toml"]
    return {p.relative_to(project).as_posix(): sha256(p) for p in files}


def second_state(project: Path) -> None:
    lines = (project / "data" / "batch_000.csv").read_text().splitlines(keepends=True)
    write_csv(project / "data" / "batch_001.csv", "".join(lines[:300]))
    (project / "data" / "batch_000.csv").write_text("".join(lines[:-100]))
    cfg = project / "workbench.toml"
    cfg.write_text(cfg.read_text().replace("min_delta = 0.0", "min_delta = 0.02"))


def test_checkout_restores_every_byte(project: Path) -> None:
    first = take(project)
    before = tree(project)
    second_state(project)
    second = take(project)
    after = tree(project)
    settings = config.load(project)
    plan = checkout(settings, Store(settings.store_dir), first)
    assert tree(project) == before
    assert sorted(f.path for f in plan.restore) == ["data/batch_000.csv", "workbench.toml"]
    assert [f.rel for f in plan.remove] == ["data/batch_001.csv"]
    # the restored state is recognised as the old snapshot, without a new row
    again = snapshot.take(config.load(project), Store(settings.store_dir))
    assert (again.id, again.created) == (first, False)
    checkout(config.load(project), Store(settings.store_dir), second)
    assert tree(project) == after


def test_checkout_refuses_to_overwrite_unsaved_changes(project: Path) -> None:
    first = take(project)
    second_state(project)
    take(project)
    data = project / "data" / "batch_000.csv"
    data.write_text(data.read_text() + "C9,2025-07-01 00:00:00,1,1,1,1,1,1,1,1,1,x,y,z,w,no,0\n")
    local = tree(project)
    settings = config.load(project)
    with pytest.raises(ConflictError) as info:
        checkout(settings, Store(settings.store_dir), first)
    assert "data/batch_000.csv" in info.value.message
    assert "--force" in str(info.value.hint)
    assert tree(project) == local  # nothing was touched
    checkout(settings, Store(settings.store_dir), first, force=True)
    assert tree(project)["data/batch_000.csv"] != local["data/batch_000.csv"]


def test_checkout_refuses_to_delete_an_unsaved_new_file(project: Path) -> None:
    first = take(project)
    write_csv(project / "data" / "fresh.csv", "a,b\n1,2\n")
    settings = config.load(project)
    with pytest.raises(ConflictError, match=r"fresh\.csv"):
        checkout(settings, Store(settings.store_dir), first)
    assert (project / "data" / "fresh.csv").exists()


def test_checkout_unknown_snapshot(project: Path) -> None:
    take(project)
    settings = config.load(project)
    with pytest.raises(UsageError, match="no snapshot matches 'ffffffff'"):
        checkout(settings, Store(settings.store_dir), "ffffffff")


def test_checkout_cli_exit_codes(project: Path, cli) -> None:
    first = json.loads(cli("snapshot", "--json", cwd=project, check=True).stdout)["id"]
    write_csv(project / "data" / "fresh.csv", "a,b\n1,2\n")
    refused = cli("checkout", first[:8], cwd=project)
    assert refused.returncode == ExitCode.CONFLICT
    assert "fresh.csv" in refused.stderr and "--force" in refused.stderr
    forced = cli("checkout", first[:8], "--force", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert not (project / "data" / "fresh.csv").exists()
    missing = cli("checkout", "zzzz", cwd=project)
    assert missing.returncode == ExitCode.USAGE


def test_diff_reports_files_rows_schema_stats_config(project: Path) -> None:
    first = take(project)
    second_state(project)
    second = take(project)
    d = diff(Store(project / ".workbench"), first, second)
    assert [f["path"] for f in d["files"]["added"]] == ["data/batch_001.csv"]
    assert [f["path"] for f in d["files"]["changed"]] == ["data/batch_000.csv"]
    assert d["files"]["changed"][0]["rows"] == [30_000, 29_900]
    assert d["rows"] == {"a": 30_000, "b": 30_199, "delta": 199}
    assert d["config"] == [{"key": "gate.min_delta", "a": 0.0, "b": 0.02}]
    assert any(s["column"] == "monthly_charges" and s["stat"] == "mean" for s in d["stats"])
    assert d["schema"] == {"added": [], "removed": [], "type_changed": []}


def test_diff_schema_change_and_git_commits(git_project: Path, cli) -> None:
    first = take(git_project)
    write_csv(git_project / "data" / "z_extra.csv", "customer_id,loyalty_points\nC1,10\n")
    git(git_project, "add", "-A")
    git(git_project, "commit", "-q", "-m", "add loyalty points")
    second = take(git_project)
    proc = cli("diff", first, second, "--json", cwd=git_project, check=True)
    d = json.loads(proc.stdout)
    assert {"name": "loyalty_points", "dtype": "Int64"} in d["schema"]["added"]
    assert [c["summary"] for c in d["git"]["commits"]] == ["add loyalty points"]
    text = cli("diff", first[:6], second[:6], cwd=git_project, check=True).stdout
    assert "column added: loyalty_points" in text
    assert "add loyalty points" in text
