"""Delayed labels: rows scored by ``workbench predict``, labels arriving later in
``[monitor] labels``, joined by id to the prediction log: realized metrics appear beside the
estimate (checked against scikit-learn); unknown ids are counted, not fatal; a labels file
without the id column is an error naming it, and nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from tests.conftest import Run, copy_sample
from tests.helpers import configure, copy_project, store_of, train
from workbench.store import outcomes as table

FIRST = 4000
SCORED = 1200


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 trained; ``incoming.csv``: later rows without their target, and ``truth.csv``
    holding it; ``[monitor] labels = "labels"``."""
    root = copy_sample(tmp_path_factory.mktemp("labels") / "proj")
    configure(root, rounds=30)
    with (root / "workbench.toml").open("a") as f:
        f.write('\n[monitor]\nlabels = "labels"\n')
    (root / "labels").mkdir()
    (root / "scored").mkdir()
    data = pl.read_csv(root / "data" / "batch_000.csv")
    data.slice(0, FIRST).write_csv(root / "data" / "batch_000.csv")
    later = data.slice(FIRST, SCORED)
    later.drop("churned").write_csv(root / "incoming.csv")
    later.select("customer_id", "churned").write_csv(root / "truth.csv")
    assert train(root).version.name == "v1"  # type: ignore[union-attr]
    return root


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    return copy_project(template, tmp_path)


def predict(root: Path, cli: Run) -> pl.DataFrame:
    cli("predict", "incoming.csv", "-o", "scored/out.csv", cwd=root, check=True)
    return pl.read_csv(root / "scored" / "out.csv")


def monitor(root: Path, cli: Run) -> tuple[dict[str, object], str]:
    proc = cli("monitor", "--json", cwd=root, check=True)
    return json.loads(proc.stdout), proc.stderr


def test_labels_arriving_later_give_realized_metrics(root: Path, cli: Run) -> None:
    scored = predict(root, cli)
    d, _ = monitor(root, cli)  # scored, no label yet: estimated only
    [chunk] = d["chunks"]  # type: ignore[misc]
    assert chunk["key"].startswith("predictions:") and chunk["rows"] == SCORED
    assert chunk["labelled"] == 0 and chunk["realized"] is None
    assert "auc" in chunk["estimated"]

    truth = pl.read_csv(root / "truth.csv")
    first = truth.head(SCORED // 2)
    unknown = pl.DataFrame({"customer_id": ["X1", "X2", "X3"], "churned": [0, 1, 0]})
    pl.concat([first, unknown.cast(first.schema)], how="vertical_relaxed").write_csv(
        root / "labels" / "day1.csv"
    )
    d, err = monitor(root, cli)
    [chunk] = d["chunks"]  # type: ignore[misc]
    assert chunk["labelled"] == SCORED // 2
    assert "3 delayed label id(s)" in err
    truth.tail(SCORED - SCORED // 2).write_csv(root / "labels" / "day2.csv")
    d, err = monitor(root, cli)
    [chunk] = d["chunks"]  # type: ignore[misc]  # the same chunk, now fully labelled
    assert chunk["labelled"] == SCORED and "3 delayed" in err
    joined = scored.join(truth, on="customer_id")
    expect = roc_auc_score(joined["churned"], joined["prediction"])
    assert chunk["realized"]["auc"] == pytest.approx(expect, abs=1e-12)
    assert abs(chunk["estimated"]["auc"] - expect) < 0.1
    with store_of(root).read() as s:
        [event] = [e for e in s.events(limit=50) if e.kind == "monitored"][:1]
    assert event.data["unknown_ids"] == 3


def test_a_labels_file_without_the_id_column_names_it_and_loses_nothing(
    root: Path, cli: Run
) -> None:
    predict(root, cli)
    pl.read_csv(root / "truth.csv").write_csv(root / "labels" / "good.csv")
    monitor(root, cli)
    with store_of(root).read() as s:
        before = table.chunks(s, 1)
    assert before[0].labelled == SCORED
    pl.read_csv(root / "truth.csv").rename({"customer_id": "cust"}).write_csv(
        root / "labels" / "later.csv"
    )
    proc = cli("monitor", "--json", cwd=root)
    assert proc.returncode == 4, proc.stderr
    assert "labels/later.csv" in proc.stderr and "data.id_column" in proc.stderr
    assert proc.stdout == ""
    with store_of(root).read() as s:
        assert table.chunks(s, 1) == before
    # a watch cycle meanwhile: monitoring is skipped with a warning, nothing else changes
    proc = cli("watch", "--once", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    with store_of(root).read() as s:
        assert s.champion().name == "v1"  # type: ignore[union-attr]
        assert table.chunks(s, 1) == before
        failed = [e for e in s.events(limit=20) if e.kind == "monitor_failed"]
    assert failed and "later.csv" in failed[0].message


def test_a_watch_cycle_joins_delayed_labels(root: Path, cli: Run) -> None:
    predict(root, cli)
    pl.read_csv(root / "truth.csv").write_csv(root / "labels" / "day1.csv")
    proc = cli("watch", "--once", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "monitored on 1 chunk" in proc.stdout
    with store_of(root).read() as s:
        [chunk] = table.chunks(s, 1)
        assert s.version_count() == 1  # nothing was trained
    assert chunk.labelled == SCORED


def test_a_degradation_shown_by_delayed_labels_retrains_when_asked(root: Path, cli: Run) -> None:
    with (root / "workbench.toml").open("a") as f:
        f.write("retrain_on_degradation = true\n")
    predict(root, cli)
    wrong = pl.read_csv(root / "truth.csv").with_columns((1 - pl.col("churned")).alias("churned"))
    wrong.write_csv(root / "labels" / "day1.csv")
    proc = cli("monitor", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    [chunk] = json.loads(proc.stdout)["chunks"]
    assert "auc" in chunk["alerts"]
    assert "retrain_on_degradation: v2" in proc.stderr
    with store_of(root).read() as s:
        assert s.version_count() == 2
        kinds = [e.kind for e in s.events(limit=50)]
    assert "degradation" in kinds
