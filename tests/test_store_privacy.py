"""The store keeps to itself: owner-only, ignored by git without the project's help, and a
repository's fsmonitor command never runs; checkout keeps a restored file's mode."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.conftest import git


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_store_is_private_and_ignores_itself_in_git(git_project: Path, cli) -> None:
    (git_project / ".gitignore").unlink()  # the project's own ignore file does not help
    git(git_project, "commit", "-qam", "no ignore file")
    assert cli("snapshot", cwd=git_project).returncode == 0
    store = git_project / ".workbench"
    assert _mode(store) == 0o700
    assert (store / ".gitignore").read_text().strip().endswith("*")
    git(git_project, "add", "-A")
    staged = git(git_project, "diff", "--cached", "--name-only").split()
    assert not [p for p in staged if p.startswith(".workbench")], staged


def test_an_existing_world_readable_store_is_made_private(project: Path, cli) -> None:
    (project / ".workbench").mkdir(mode=0o755)
    os.chmod(project / ".workbench", 0o755)
    assert cli("snapshot", cwd=project).returncode == 0
    assert _mode(project / ".workbench") == 0o700
    assert (project / ".workbench" / ".gitignore").exists()


def test_a_snapshot_never_runs_the_repositorys_fsmonitor(git_project: Path, cli) -> None:
    marker = git_project.parent / "fsmonitor-ran"
    hook = git_project.parent / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git(git_project, "config", "core.fsmonitor", str(hook))
    (git_project / "data" / "batch_000.csv").open("a").write("")  # touched: a new listing
    proc = cli("snapshot", "--json", cwd=git_project)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()


def test_checkout_keeps_a_private_files_mode(project: Path, cli) -> None:
    data = project / "data" / "batch_000.csv"
    os.chmod(data, 0o600)
    first = cli("snapshot", "--json", cwd=project, check=True)
    sid = json.loads(first.stdout)["id"]
    original = data.read_bytes()
    lines = original.splitlines(keepends=True)
    data.write_bytes(b"".join(lines[: len(lines) // 2]))  # whole rows: a valid, other file
    cli("snapshot", cwd=project, check=True)
    assert cli("checkout", sid, cwd=project).returncode == 0
    assert data.read_bytes() == original
    assert _mode(data) == 0o600
