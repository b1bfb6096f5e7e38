"""No input resolves outside the project; checkout and `predict -o` never write or delete there.

Real projects in tmp folders with real symlinks, and the real CLI in a subprocess: the bug this
guards against was a checkout that deleted a file outside the project, reached through a
symlinked folder that a `[data] path` glob descended into.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import Run, sha256, write_csv
from tests.helpers import configure, copy_project, cut_sample
from tests.helpers import train as train_project
from workbench.data.inputs import in_data_path
from workbench.errors import ExitCode
from workbench.store import Store

HEADER_ROWS = 6  # the header and five rows of the sample: a small, valid data file


def set_data_path(root: Path, path: str) -> None:
    cfg = root / "workbench.toml"
    text = cfg.read_text()
    assert 'path = "data"' in text
    cfg.write_text(text.replace('path = "data"', f"path = {json.dumps(path)}", 1))


def outside_folder(tmp_path: Path, project: Path) -> Path:
    """A folder beside the project holding one data file, as a user's other data would be."""
    folder = tmp_path / "elsewhere"
    lines = (project / "data" / "batch_000.csv").read_text().splitlines(keepends=True)
    write_csv(folder / "o.csv", "".join(lines[:HEADER_ROWS]))
    return folder


def snapshot_ids(root: Path) -> list[str]:
    """The project's snapshots, newest first, read from the store (the config may be bad)."""
    if not (root / ".workbench" / "meta.duckdb").exists():
        return []
    with Store(root / ".workbench").read() as s:
        return [snap.id for snap in s.snapshots()]


# ------------------------------------------------------------------ inputs


def test_glob_into_a_symlinked_folder_outside_is_refused(
    project: Path, tmp_path: Path, cli: Run
) -> None:
    """The reported case: `data/**/*.csv` and `data/ext` linking out of the project."""
    set_data_path(project, "data/**/*.csv")
    (project / "data" / "ext").symlink_to(outside_folder(tmp_path, project))
    proc = cli("snapshot", cwd=project)
    assert proc.returncode == ExitCode.DATA, proc.stderr
    assert "data/ext/o.csv resolves outside the project folder" in proc.stderr
    assert "data/ext is a symlink to" in proc.stderr
    assert "hint: copy the files into the project" in proc.stderr
    assert snapshot_ids(project) == []  # nothing recorded


@pytest.mark.parametrize(
    ("data_path", "link", "code", "expected"),
    [
        # a glob's fixed folder is a link: refused when the config loads (the folder rule)
        ("data/ext/*.csv", "data/ext", ExitCode.CONFIG, "points outside the project folder"),
        # a folder a wildcard reaches, a symlinked file (folder or glob path), `..` in a glob
        ("data/*/*.csv", "data/ext", ExitCode.DATA, "data/ext is a symlink to"),
        ("data", "data/o.csv", ExitCode.DATA, "data/o.csv is a symlink to"),
        ("data/**/*.csv", "data/o.csv", ExitCode.DATA, "data/o.csv is a symlink to"),
        ("data/**/../../../elsewhere/*.csv", None, ExitCode.DATA, "remove '..' from [data] path"),
    ],
)
def test_every_path_form_that_leaves_the_project_is_refused(
    project: Path,
    tmp_path: Path,
    cli: Run,
    data_path: str,
    link: str | None,
    code: ExitCode,
    expected: str,
) -> None:
    folder = outside_folder(tmp_path, project)
    set_data_path(project, data_path)
    if link == "data/ext":
        (project / link).symlink_to(folder)
    elif link is not None:
        (project / link).symlink_to(folder / "o.csv")
    proc = cli("snapshot", cwd=project)
    assert proc.returncode == code, proc.stderr
    assert expected in proc.stderr
    assert "outside the project" in proc.stderr and "hint:" in proc.stderr
    assert snapshot_ids(project) == []


def test_a_symlinked_config_outside_the_project_is_refused(
    project: Path, tmp_path: Path, cli: Run
) -> None:
    """Checkout rewrites the config too, so it is an input like the data files."""
    real = tmp_path / "shared" / "workbench.toml"
    real.parent.mkdir()
    shutil.move(project / "workbench.toml", real)
    (project / "workbench.toml").symlink_to(real)
    proc = cli("snapshot", cwd=project)
    assert proc.returncode == ExitCode.DATA, proc.stderr
    assert "workbench.toml resolves outside the project folder" in proc.stderr


def test_symlinks_that_stay_inside_the_project_are_inputs(project: Path, cli: Run) -> None:
    """The rule is about where a path resolves, not about symlinks as such."""
    shared = project / "shared"
    write_csv(shared / "extra.csv", (project / "data" / "batch_000.csv").read_text())
    (project / "data" / "more").symlink_to(shared)
    set_data_path(project, "data/**/*.csv")
    proc = cli("snapshot", "--json", cwd=project, check=True)
    paths = [f["path"] for f in json.loads(proc.stdout)["files"]]
    assert paths == ["data/batch_000.csv", "data/more/extra.csv"]


def test_the_no_change_snapshot_refuses_a_link_added_since(
    project: Path, tmp_path: Path, cli: Run
) -> None:
    """The fast path (cache/last.json, no config load) lists inputs with the same rule."""
    set_data_path(project, "data/**/*.csv")
    cli("snapshot", cwd=project, check=True)
    (project / "data" / "ext").symlink_to(outside_folder(tmp_path, project))
    proc = cli("snapshot", cwd=project)
    assert proc.returncode == ExitCode.DATA, proc.stderr
    assert "data/ext/o.csv resolves outside" in proc.stderr


# ------------------------------------------------------------------ checkout


def test_checkout_never_deletes_a_file_outside_the_project(
    project: Path, tmp_path: Path, cli: Run
) -> None:
    """The reported bug: checkout of an earlier snapshot removed `data/ext/o.csv`, the file
    outside. Now the checkout is refused as a whole: nothing removed, nothing restored."""
    set_data_path(project, "data/**/*.csv")
    first_lines = (project / "data" / "batch_000.csv").read_text().splitlines(keepends=True)
    cli("snapshot", cwd=project, check=True)
    write_csv(project / "data" / "batch_001.csv", "".join(first_lines[:300]))
    cli("snapshot", cwd=project, check=True)
    first = snapshot_ids(project)[-1]
    folder = outside_folder(tmp_path, project)
    before = sha256(folder / "o.csv")
    (project / "data" / "ext").symlink_to(folder)

    proc = cli("checkout", first, "--force", cwd=project)

    assert proc.returncode == ExitCode.DATA, proc.stderr
    assert "data/ext/o.csv resolves outside the project folder" in proc.stderr
    assert sha256(folder / "o.csv") == before
    assert (project / "data" / "batch_001.csv").exists()  # the checkout changed nothing


def test_checkout_never_writes_through_a_symlinked_folder_outside(
    project: Path, tmp_path: Path, cli: Run
) -> None:
    """A snapshot's file whose folder became a link out of the project: writing it would
    write outside. Refused before anything is restored, naming the link (not "the store is
    damaged": the store is fine)."""
    lines = (project / "data" / "batch_000.csv").read_text().splitlines(keepends=True)
    write_csv(project / "data" / "sub" / "x.csv", "".join(lines[:300]))
    cli("snapshot", cwd=project, check=True)
    shutil.rmtree(project / "data" / "sub")
    batch = project / "data" / "batch_000.csv"
    batch.write_text("".join(lines[:-100]))  # a change checkout would restore
    cli("snapshot", cwd=project, check=True)  # so no unsaved bytes: only the link refuses
    first = snapshot_ids(project)[-1]
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (project / "data" / "sub").symlink_to(folder)
    changed = sha256(batch)

    proc = cli("checkout", first, "--force", cwd=project)

    assert proc.returncode == ExitCode.DATA, proc.stderr
    assert "checkout would write data/sub/x.csv" in proc.stderr
    assert "data/sub is a symlink to" in proc.stderr
    assert list(folder.iterdir()) == []
    assert sha256(batch) == changed  # refused whole: batch_000 was not restored either


# ------------------------------------------------------------------ predict -o


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small trained project per module (seconds); each test works on a copy."""
    from tests.conftest import copy_sample

    root = tmp_path_factory.mktemp("trained") / "proj"
    root.mkdir()
    configure(cut_sample(copy_sample(root), 1000))
    train_project(root)
    return root


@pytest.fixture
def scored(trained: Path, tmp_path: Path) -> Path:
    root = copy_project(trained, tmp_path)
    pl.read_csv(root / "data" / "batch_000.csv").head(50).write_csv(root / "in.csv")
    return root


def test_predict_writes_inside_the_project(scored: Path, cli: Run) -> None:
    """The documented uses keep working: the README's `-o scored.csv` and a subfolder."""
    (scored / "scored").mkdir()
    for out in ("scored.csv", "scored/out.parquet"):
        proc = cli("predict", "in.csv", "-o", out, cwd=scored)
        assert proc.returncode == 0, proc.stderr
        assert (scored / out).is_file()


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("data/scored.csv", "is inside [data] path 'data'"),
        ("in.csv", "is the input file itself"),
        (".workbench/scored.csv", "is inside the store"),
        ("../scored.csv", "is outside the project folder"),
    ],
)
def test_predict_refuses_an_output_that_is_or_becomes_an_input(
    scored: Path, cli: Run, output: str, expected: str
) -> None:
    files = {p: sha256(p) for p in scored.parent.rglob("*") if p.is_file()}
    proc = cli("predict", "in.csv", "-o", output, cwd=scored)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert expected in proc.stderr and "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    # nothing written: every file as it was, no new one (a temp file included)
    assert {p: sha256(p) for p in scored.parent.rglob("*") if p.is_file()} == files


def test_predict_refuses_an_absolute_path_outside_the_project(
    scored: Path, tmp_path: Path, cli: Run
) -> None:
    out = tmp_path / "outside" / "scored.csv"
    out.parent.mkdir()
    proc = cli("predict", "in.csv", "-o", str(out), cwd=scored)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "is outside the project folder" in proc.stderr
    assert "-o scored/out.csv" in proc.stderr  # the hint says where to write instead
    assert list(out.parent.iterdir()) == []


def test_predict_refuses_a_folder_inside_a_glob_data_path(scored: Path, cli: Run) -> None:
    set_data_path(scored, "data/**/*.csv")
    (scored / "data" / "new").mkdir()
    proc = cli("predict", "in.csv", "-o", "data/new/scored.parquet", cwd=scored)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "is inside [data] path 'data/**/*.csv'" in proc.stderr
    assert list((scored / "data" / "new").iterdir()) == []


def test_predict_refuses_an_input_reached_through_a_symlink(scored: Path, cli: Run) -> None:
    """`data/linked.csv` -> `raw/b.csv`: writing raw/b.csv would rewrite an input's bytes."""
    raw = write_csv(scored / "raw" / "b.csv", (scored / "in.csv").read_text())
    (scored / "data" / "linked.csv").symlink_to(raw)
    before = sha256(raw)
    proc = cli("predict", "in.csv", "-o", "raw/b.csv", cwd=scored)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "is one of the project's inputs" in proc.stderr
    assert sha256(raw) == before


@pytest.mark.parametrize("folder", ["scored", "scored.csv"])
def test_predict_to_an_existing_folder_is_a_usage_error(
    scored: Path, cli: Run, folder: str
) -> None:
    """`scored.csv/` (a folder named like a file) used to end in a traceback (exit 1)."""
    (scored / folder).mkdir()
    proc = cli("predict", "in.csv", "-o", folder, cwd=scored)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert f"{folder} is a folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list((scored / folder).iterdir()) == []


def test_predict_into_a_missing_folder_is_a_usage_error(scored: Path, cli: Run) -> None:
    proc = cli("predict", "in.csv", "-o", "nowhere/out.csv", cwd=scored)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "the folder nowhere of nowhere/out.csv does not exist" in proc.stderr
    assert not (scored / "nowhere").exists()


@pytest.mark.parametrize(
    ("pattern", "rel", "inside"),
    [
        ("data", "data/x.csv", True),
        ("data", "data/a/b/x.csv", True),
        ("data", "database.csv", False),  # a prefix of the name is not the folder
        ("./data/", "data/x.csv", True),
        (".", "scored/out.csv", True),  # the whole project is the data path
        ("data/batch.csv", "data/batch.csv", True),
        ("data/batch.csv", "data/other.csv", False),
        ("data/**/*.csv", "data/a/b/x.csv", True),
        ("data/**/*.csv", "data/x.parquet", True),  # under the glob's folder
        ("data/*.csv", "data/sub/x.csv", True),
        ("*.csv", "out.csv", True),  # matched at the root
        ("*.csv", "scored/out.csv", False),  # `*` does not cross a folder
        ("**/*.csv", "scored/out.csv", True),
        ("batch_*.csv", "batch_007.csv", True),
        ("batch_*.csv", "scored.csv", False),
    ],
)
def test_in_data_path(pattern: str, rel: str, inside: bool) -> None:
    assert in_data_path(pattern, rel) is inside
