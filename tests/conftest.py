"""Shared fixtures: a copy of sample_project/ in tmp_path, real git repos, the real CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_project"
# what the repository ships in sample_project/: tests build their projects from these only, so
# batches a user generated there (the README's walkthrough) never leak into a test
SAMPLE_FILES = (".gitignore", "README.md", "generate.py", "workbench.toml", "data/batch_000.csv")


def copy_sample(dest: Path) -> Path:
    """A fresh copy of the shipped sample project at ``dest`` (no store, nothing generated)."""
    for name in SAMPLE_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SAMPLE / name, dest / name)
    return dest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@pytest.fixture(autouse=True)
def cold_process() -> None:
    """Each test starts with the process's caches empty, as a new command would."""
    from workbench.caches import clear_process_caches

    clear_process_caches()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the sample project (no store, not in git)."""
    return copy_sample(tmp_path / "proj")


@pytest.fixture
def git_project(project: Path) -> Path:
    """The sample project as a git repository with one commit on branch main."""
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "first batch")
    return project


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli() -> Run:
    """Run the real `workbench` CLI in a subprocess."""

    def run(*args: str, cwd: Path, check: bool = False, env: dict[str, str] | None = None):
        proc = subprocess.run(
            [sys.executable, "-m", "workbench.cli", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"workbench {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    return run


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
