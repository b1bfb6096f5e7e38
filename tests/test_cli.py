"""The real CLI in a subprocess: init, status/history shapes, exit codes, import hygiene."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE
from workbench.errors import ExitCode


def test_init_scaffolds_a_config_and_gitignore(tmp_path: Path, cli) -> None:
    (tmp_path / "data").mkdir()
    shutil.copy2(SAMPLE / "data" / "batch_000.csv", tmp_path / "data")
    proc = cli("init", "--target", "churned", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "workbench.toml").read_text()
    assert 'target = "churned"' in text
    assert 'task = "binary"' in text  # guessed from a 0/1 target
    assert 'time_column = "event_time"' in text
    assert 'id_column = "customer_id"' in text
    assert ".workbench/" in (tmp_path / ".gitignore").read_text().splitlines()
    # the scaffold is a valid config and a snapshot works straight away
    snap = cli("snapshot", "--json", cwd=tmp_path)
    assert snap.returncode == 0, snap.stderr
    again = cli("init", "--target", "churned", cwd=tmp_path)
    assert again.returncode == ExitCode.CONFIG
    assert "already exists" in again.stderr


def test_init_guesses_regression_and_refuses_unknown_target(tmp_path: Path, cli) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text(
        "x,price\n" + "".join(f"{i},{i * 1.5}\n" for i in range(50))
    )
    bad = cli("init", "--target", "prize", cwd=tmp_path)
    assert bad.returncode == ExitCode.DATA
    assert "price" in bad.stderr
    ok = cli("init", "--target", "price", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert 'task = "regression"' in (tmp_path / "workbench.toml").read_text()


def test_init_without_target_off_a_terminal_lists_columns(tmp_path: Path, cli) -> None:
    (tmp_path / "data").mkdir()
    shutil.copy2(SAMPLE / "data" / "batch_000.csv", tmp_path / "data")
    proc = cli("init", cwd=tmp_path)
    assert proc.returncode == ExitCode.USAGE
    assert "--target" in proc.stderr and "churned" in proc.stderr


def test_status_and_history_json_shapes(project: Path, cli) -> None:
    empty = json.loads(cli("status", "--json", cwd=project, check=True).stdout)
    assert empty["champion"] is None and empty["last_snapshot"] is None
    assert empty["watcher"] == "stopped"
    snap = json.loads(cli("snapshot", "--json", cwd=project, check=True).stdout)
    status = json.loads(cli("status", "--json", cwd=project, check=True).stdout)
    assert set(status) >= {"champion", "last_snapshot", "last_cycle", "watcher", "drift"}
    assert status["last_snapshot"] == snap["id"]
    assert status["last_event"]["event"] == "snapshot"
    assert json.loads(cli("history", "--json", cwd=project, check=True).stdout) == []
    listed = json.loads(cli("snapshots", "--json", cwd=project, check=True).stdout)
    assert [s["id"] for s in listed] == [snap["id"]]


def test_project_flag_and_discovery_from_a_subfolder(project: Path, cli, tmp_path: Path) -> None:
    from_sub = cli("status", "--json", cwd=project / "data")
    assert from_sub.returncode == 0, from_sub.stderr
    assert json.loads(from_sub.stdout)["root"] == str(project.resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    flagged = cli("--project", str(project), "status", "--json", cwd=elsewhere)
    assert flagged.returncode == 0, flagged.stderr
    none = cli("status", cwd=elsewhere)
    assert none.returncode == ExitCode.USAGE
    assert "workbench init" in none.stderr


def test_exit_codes_for_config_and_data_errors(project: Path, cli) -> None:
    cfg = project / "workbench.toml"
    good = cfg.read_text()
    cfg.write_text(good.replace("[model]", "[modle]"))
    proc = cli("snapshot", cwd=project)
    assert proc.returncode == ExitCode.CONFIG
    assert "did you mean [model]?" in proc.stderr
    assert proc.stdout == ""
    cfg.write_text(good)
    (project / "data" / "batch_001.csv").write_bytes(b"")
    proc = cli("snapshot", "--json", cwd=project)
    assert proc.returncode == ExitCode.DATA
    assert "batch_001.csv is empty" in proc.stderr and proc.stdout == ""
    unknown = cli("frobnicate", cwd=project)
    assert unknown.returncode == ExitCode.USAGE


def test_headless_modules_never_import_the_ui_or_lightgbm() -> None:
    code = (
        "import sys\n"
        "import workbench.cli, workbench.config, workbench.store, workbench.data.snapshot\n"
        "import workbench.data.checkout, workbench.data.diff, workbench.pipeline.status\n"
        "heavy = [m for m in ('textual', 'lightgbm', 'polars', 'duckdb') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_readme_documents_every_command_and_config_key() -> None:
    from workbench import config
    from workbench.cli import main

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in main.commands:
        assert f"`workbench {name}" in readme, f"README does not document `workbench {name}`"
    for key, _, _ in config.field_docs():
        assert f"`{key}`" in readme, f"README does not document config key {key}"
    for code in ExitCode:
        assert f"| {int(code)} |" in readme


def test_openmp_waits_passively_unless_the_user_chose(tmp_path: Path) -> None:
    """Drift runs beside training in a cycle: spinning OpenMP threads would starve it (and
    LightGBM itself) on a small machine, so importing workbench asks for passive waits."""
    code = "import os, workbench, lightgbm; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "PASSIVE", out.stderr
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ACTIVE", out.stderr


@pytest.mark.parametrize("command", ["history", "snapshots"])
@pytest.mark.parametrize("limit", ["-1", "0", "x"])
def test_a_bad_limit_is_a_usage_error(tmp_path: Path, cli, command: str, limit: str) -> None:
    (tmp_path / "data").mkdir()
    shutil.copy2(SAMPLE / "data" / "batch_000.csv", tmp_path / "data")
    (tmp_path / "workbench.toml").write_text('[data]\ntarget = "churned"\n')
    proc = cli(command, "--limit", limit, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "--limit" in proc.stderr and "Traceback" not in proc.stderr


def test_text_output_reads_as_english(tmp_path: Path, cli) -> None:
    from workbench.render import _num

    assert (_num(10000.0), _num(0.123456), _num(4.0, sign=True)) == ("10,000", "0.1235", "+4")
    (tmp_path / "data").mkdir()
    shutil.copy2(SAMPLE / "data" / "batch_000.csv", tmp_path / "data")
    (tmp_path / "workbench.toml").write_text(
        '[data]\ntarget = "churned"\nid_column = "customer_id"\n[model]\nnum_boost_round = 5\n'
    )
    first = cli("snapshot", cwd=tmp_path, check=True).stdout
    assert "1 data file," in first and "30,000 rows" in first
    again = cli("snapshot", cwd=tmp_path, check=True).stdout
    assert "(unchanged, already recorded)" in again
    cli("train", cwd=tmp_path, check=True)
    status = cli("status", cwd=tmp_path, check=True).stdout
    assert "champion  v1" in status
    history = cli("history", cwd=tmp_path, check=True).stdout
    assert "gate: first model" in history and "train " in history
    listing = json.loads(cli("snapshots", "--json", cwd=tmp_path, check=True).stdout)
    assert listing[0]["files"][0]["path"] == "data/batch_000.csv"
