"""``workbench train --no-promote``: the CI challenger trains and gates, changes nothing, and
reports; the GitHub workflow in docs/ci runs in a clone. Real LightGBM, real git, small data."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.conftest import SAMPLE, git
from tests.helpers import configure, store_of, train
from workbench import config
from workbench.errors import ExitCode
from workbench.governance.challenger import run_challenger
from workbench.model import serving

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / "docs" / "ci" / "github-actions.yml"


def _rows(root: Path, n: int) -> None:
    """The first ``n`` rows of the shipped sample batch as the project's only data file."""
    pl.read_csv(SAMPLE / "data" / "batch_000.csv").head(n).write_csv(
        root / "data" / "batch_000.csv"
    )


def _state(root: Path) -> dict[str, object]:
    """What a challenger must leave byte-identical: versions, champion history, serving."""
    store = store_of(root)
    with store.read() as s:
        versions = [v.to_json() for v in s.versions()]
        history = [c.to_json() for c in s.champion_history()]
    link = serving.serving_dir(store)
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(link.iterdir())}
    return {
        "versions": versions,
        "history": history,
        "link": os.readlink(link),
        "files": files,
    }


@pytest.fixture
def grown(project: Path) -> Path:
    """v1 (the champion) on 800 rows; the working folder then holds 3000 rows."""
    configure(project, rounds=30, split="random")
    _rows(project, 800)
    train(project)
    _rows(project, 3000)
    return project


def test_no_promote_changes_nothing_and_reports_side_by_side(grown: Path, cli) -> None:
    before = _state(grown)
    result = run_challenger(config.load(grown), store_of(grown))
    assert _state(grown) == before
    run, side = result.run, result.side
    assert run is not None and side is not None and side.champion is not None
    d = run.decision
    # the report's numbers are the gate's: the same rows, the same scores
    assert side.candidate[d.metric] == d.candidate and side.champion[d.metric] == d.champion
    assert side.rows == d.rows
    for k, delta in side.delta.items():
        assert delta == side.candidate[k] - side.champion[k]
        lo, hi = side.interval[k]
        assert lo <= hi
    assert d.promote  # 3,000 rows beat 800 on the same holdout rows
    md = result.markdown
    assert "**Decision: promote**" in md and "| auc (gate) |" in md and "v1" in md
    assert f"{side.delta['auc']:+.4f}" in md

    # the real CLI: a gate that rejects (min_delta 1.0) exits 8 with --fail-on-reject,
    # writes the report, and still changes nothing
    configure(grown, rounds=30, split="random", min_delta=1.0)
    proc = cli("train", "--no-promote", "--report", "report.md", "--fail-on-reject", cwd=grown)
    assert proc.returncode == ExitCode.REJECTED, proc.stderr
    assert "reject" in proc.stdout
    assert "**Decision: reject**" in (grown / "report.md").read_text()
    assert _state(grown) == before


def test_report_flags_need_no_promote_and_a_report_outside_is_refused(grown: Path, cli) -> None:
    before = _state(grown)
    proc = cli("train", "--report", "r.md", cwd=grown)
    assert proc.returncode == ExitCode.USAGE and "--no-promote" in proc.stderr
    proc = cli("train", "--no-promote", "--report", "../r.md", cwd=grown)
    assert proc.returncode == ExitCode.USAGE and "outside the project" in proc.stderr
    assert not (grown.parent / "r.md").exists()
    assert _state(grown) == before


def test_unchanged_inputs_are_no_rejection(grown: Path, cli) -> None:
    """A pull request that changes neither data nor config retrains the champion: the gate's
    tie keeps it, and --fail-on-reject does not fail the build for that."""
    _rows(grown, 800)  # the champion's own inputs again
    before = _state(grown)
    proc = cli("train", "--no-promote", "--report", "r.md", "--fail-on-reject", cwd=grown)
    assert proc.returncode == 0, proc.stderr
    assert "inputs unchanged: the challenger is v1 retrained" in (grown / "r.md").read_text()
    assert _state(grown) == before


def test_a_challenger_that_cannot_train_reports_it_and_records_no_version(grown: Path) -> None:
    data = grown / "data" / "batch_000.csv"
    pl.read_csv(data).with_columns(pl.lit(0).alias("churned")).write_csv(data)  # one class
    before = _state(grown)
    result = run_challenger(config.load(grown), store_of(grown))
    assert result.error is not None and result.run is None
    assert "could not train" in result.markdown and result.error.message in result.markdown
    assert _state(grown) == before


def _steps() -> list[dict[str, object]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    return list(job["steps"])


def test_github_workflow_run_steps_in_a_clone(project: Path, tmp_path: Path) -> None:
    """Every ``run:`` step of docs/ci/github-actions.yml, in order, in a clone of a project
    with a base commit and a pull-request commit. Skipped, and why: ``uses:`` steps (GitHub's
    actions: checkout, setup-python, cache, artifact, comment) and ``pip install`` (this test
    runs the workbench under test, already on PATH)."""
    configure(project, rounds=30, split="random")
    _rows(project, 800)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "base")
    base = git(project, "rev-parse", "HEAD")
    _rows(project, 3000)
    git(project, "commit", "-q", "-am", "more rows")
    head = git(project, "rev-parse", "HEAD")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    assert not (clone / ".workbench").exists()  # git-ignored: the clone has no store

    env = {
        **os.environ,
        "BASE_SHA": base,
        "HEAD_SHA": head,
        "PROJECT": ".",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    ran, skipped = [], []
    for step in _steps():
        name = str(step.get("name") or step.get("uses"))
        script = step.get("run")
        if script is None or "pip install" in str(script):
            skipped.append(name)
            continue
        proc = subprocess.run(
            ["bash", "-e", "-c", str(script)], cwd=clone, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, f"step {name!r}: {proc.stdout}\n{proc.stderr}"
        ran.append(name)
    assert ran == ["Champion of the base branch", "Challenger of the pull request"]
    assert "Install workbench" in skipped
    report = (clone / "challenger.md").read_text()
    assert "**Decision: promote**" in report
    with store_of(clone).read() as s:
        assert [v.name for v in s.versions()] == ["v1"]  # the base's champion, nothing else
        assert s.champion_number() == 1


def test_workflow_files_parse() -> None:
    names = [s.get("name") for s in _steps()]
    assert "Challenger of the pull request" in names
    jenkins = (REPO / "docs" / "ci" / "Jenkinsfile").read_text()
    assert "--no-promote" in jenkins and "--fail-on-reject" in jenkins
