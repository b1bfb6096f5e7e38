"""The package map as users of ``workbench watch`` meet it: the headless loop never loads a UI.

The import contracts themselves (layers, no UI below the front ends, only the store imports
duckdb) are import-linter's, in ``pyproject.toml``, run by the README's test command; this
checks what a static import graph cannot: what a real ``workbench watch --once`` loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import atexit, json, sys
target = sys.argv[1]
def report():
    # (not rich: lightgbm imports scikit-learn where installed, and it imports rich)
    loaded = sorted(m for m in ("textual", "workbench.tui", "textual_plotext", "plotext")
                    if m in sys.modules)
    with open(target, "w") as f:
        json.dump(loaded, f)
atexit.register(report)
sys.argv = ["workbench", "watch", "--once", "--json"]
from workbench.entry import run
run()
"""


def test_watch_once_trains_without_loading_textual(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "loaded.json"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(out)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    finished = [e for e in lines if e["event"] == "cycle_finished"]
    assert finished and finished[-1]["outcome"] == "promoted"  # it did the whole cycle
    assert json.loads(out.read_text()) == []


def test_tests_build_projects_from_what_the_repository_ships() -> None:
    """A user's walkthrough writes batches into sample_project/; the suite copies only the
    shipped files, and this list is what git tracks there."""
    from tests.conftest import REPO, SAMPLE_FILES

    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "sample_project"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(f"sample_project/{n}" for n in SAMPLE_FILES) == sorted(tracked)
