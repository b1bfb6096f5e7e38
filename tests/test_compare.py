"""`workbench compare A B`: two versions on the same rows, neither trained on (real CLI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn import metrics as sk

from tests.conftest import copy_sample
from tests.helpers import configure, cut_sample, store_of, train
from workbench import config
from workbench.errors import ExitCode
from workbench.model.loading import load_version
from workbench.model.split import split_indices
from workbench.model.train import labelled_rows


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 on 2,000 rows, v2 on 4,000 (a random split), then 2,000 more rows in the folder."""
    project = copy_sample(tmp_path_factory.mktemp("compare") / "proj")
    cut_sample(project, 6000)
    data = project / "data" / "batch_000.csv"
    rows = pl.read_csv(data)
    configure(project, rounds=20)
    cfg = project / "workbench.toml"
    cfg.write_text(cfg.read_text().replace('split = "time"', 'split = "random"'))
    for n in (2000, 4000):
        rows.head(n).write_csv(data)
        train(project)
    rows.write_csv(data)
    return project


@pytest.fixture
def grown(trained_once: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained_once, tmp_path / "proj", symlinks=True))


def test_compare_scores_both_on_rows_neither_saw_as_an_independent_computation(
    grown: Path, cli
) -> None:
    proc = cli("compare", "v1", "v2", "--json", cwd=grown)  # on the latest stored snapshot
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    store = store_of(grown)
    with store.read() as s:
        v1, v2 = s.version("v1"), s.version("v2")
        latest = s.latest_snapshot_id()
    assert out["snapshot"] == latest == v2.snapshot_id
    # independently: the rows of the latest snapshot outside v1's and v2's train/valid parts
    models = [load_version(store.objects, v) for v in (v1, v2)]
    seen: set[str] = set()
    for v, m in zip((v1, v2), models, strict=True):
        frame = labelled_rows(store, v.snapshot_id, m)
        fit, valid, _ = split_indices(frame, config.load(grown))
        seen |= set(frame[np.concatenate([fit, valid])]["customer_id"].to_list())
    frame = labelled_rows(store, latest, models[0])
    rows = frame.filter(~pl.col("customer_id").is_in(list(seen)))
    assert out["rows"] == rows.height > 0
    y = rows["churned"].to_numpy()
    for name, model in zip(("v1", "v2"), models, strict=True):
        assert out["metrics"][name]["auc"] == pytest.approx(
            sk.roc_auc_score(y, model.predict(rows))
        )
    assert out["delta"]["auc"] == pytest.approx(
        out["metrics"]["v2"]["auc"] - out["metrics"]["v1"]["auc"]
    )
    low, high = out["delta_interval"]
    assert low <= out["delta"]["auc"] <= high
    text = cli("compare", "v1", "champion", cwd=grown)
    assert text.returncode == 0, text.stderr
    assert f"{out['rows']:,} rows of snapshot" in text.stdout and "auc *" in text.stdout


def test_compare_on_a_newer_snapshot_and_bad_references(grown: Path, cli) -> None:
    assert cli("snapshot", cwd=grown).returncode == 0  # 6,000 rows: 2,000 no version saw
    newer = json.loads(cli("compare", "v1", "v2", "--json", cwd=grown).stdout)
    older = json.loads(
        cli("compare", "v1", "v2", "--on", newer["snapshot"], "--json", cwd=grown).stdout
    )
    assert newer == older and newer["rows"] > 1200
    same = cli("compare", "v2", "v2", cwd=grown)
    assert same.returncode == ExitCode.USAGE and "itself" in same.stderr
    missing = cli("compare", "v1", "v9", cwd=grown)
    assert missing.returncode == ExitCode.USAGE and "v9" in missing.stderr
    bad = cli("compare", "v1", "v2", "--on", "zzzz", cwd=grown)
    assert bad.returncode == ExitCode.USAGE and "zzzz" in bad.stderr
