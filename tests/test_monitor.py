"""Outcome monitoring: a labelled batch is scored by the champion before training, per chunk,
realized (checked against scikit-learn) beside CBPE's estimate; bands, alerts, hooks, the
``workbench monitor`` and ``status`` JSON, the export, the KPI gate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from tests.conftest import Run, copy_sample
from tests.helpers import configure, copy_project, store_of, train
from workbench.model.features import encode_target
from workbench.model.loading import load_version
from workbench.store import outcomes as table

FIRST = 4000  # rows v1 trains on
BATCH = 1500  # rows of each later batch


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 trained on the first rows; the next rows kept aside as ``rest.csv``. The gate keeps
    v1 the champion (min_delta 0.5), so every later batch is monitored against v1."""
    root = copy_sample(tmp_path_factory.mktemp("monitor") / "proj")
    configure(root, rounds=30, min_delta=0.5)
    data = pl.read_csv(root / "data" / "batch_000.csv")
    data.slice(0, FIRST).write_csv(root / "data" / "batch_000.csv")
    data.slice(FIRST, 3 * BATCH).write_csv(root / "rest.csv")
    assert train(root).version.name == "v1"  # type: ignore[union-attr]
    return root


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    return copy_project(template, tmp_path)


def batch(root: Path, i: int, *, flip: bool = False) -> Path:
    rows = pl.read_csv(root / "rest.csv").slice(i * BATCH, BATCH)
    if flip:  # labels the champion gets wrong: a degradation
        rows = rows.with_columns((1 - pl.col("churned")).alias("churned"))
    path = root / "data" / f"batch_{i + 1:03d}.csv"
    rows.write_csv(path)
    return path


def champion_scores(root: Path, path: Path) -> tuple[np.ndarray, np.ndarray]:
    store = store_of(root)
    with store.read() as s:
        v1 = s.version("v1")
    model = load_version(store.objects, v1)
    frame = pl.read_csv(path, try_parse_dates=True)
    return encode_target(frame, model.spec), model.predict(frame)


def add_hook(root: Path, out: str) -> None:
    code = (
        "import json, os, sys; json.dump({k: v for k, v in os.environ.items()"
        " if k.startswith('WORKBENCH_')}, open(sys.argv[1], 'w'))"
    )
    text = (root / "workbench.toml").read_text()
    text = text.replace(
        "[gate]",
        f"[hooks]\non_degradation = [{json.dumps([sys.executable, '-c', code, out])}]\n[gate]",
    )
    (root / "workbench.toml").write_text(text)


def test_labelled_batch_is_monitored_before_training_and_matches_sklearn(
    root: Path, cli: Run
) -> None:
    path = batch(root, 0)
    outcome = train(root)
    assert outcome.version is not None and outcome.version.name == "v2"
    assert outcome.version.status == "rejected"  # v1 stays: its chunk stays its own
    assert "monitor" in outcome.version.timings
    y, p = champion_scores(root, path)
    proc = cli("monitor", "--json", cwd=root, check=True)
    d = json.loads(proc.stdout)
    assert d["version"] == "v1" and d["metric"] == "auc"
    assert d["reference"]["rows"] > 0 and d["reference"]["se"]["auc"] > 0
    [chunk] = d["chunks"]
    assert chunk["key"] == "data/batch_001.csv"
    assert chunk["rows"] == BATCH and chunk["labelled"] == BATCH
    assert chunk["start"].startswith("2025-") and chunk["end"] >= chunk["start"]
    assert chunk["realized"]["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert chunk["realized"]["accuracy"] == pytest.approx(accuracy_score(y, p >= 0.5))
    assert set(chunk["estimated"]) >= {"auc", "accuracy", "f1"}
    assert abs(chunk["estimated"]["auc"] - chunk["realized"]["auc"]) < 0.1
    lo, hi = chunk["bands"]["auc"]
    assert lo < d["reference"]["metrics"]["auc"] < hi
    assert chunk["alerts"] == []
    text = cli("monitor", cwd=root, check=True).stdout
    assert "data/batch_001.csv" in text and "v1 monitored on auc" in text
    v2 = json.loads(cli("monitor", "--json", "--version", "v2", cwd=root, check=True).stdout)
    assert v2["version"] == "v2" and v2["chunks"] == []  # it trained on batch_001 itself
    assert v2["reference"]["rows"] > 0
    proc = cli("monitor", "--version", "v9", cwd=root)
    assert proc.returncode == 2 and "v9" in proc.stderr

    # a second training on the same inputs: the chunk is not recomputed
    store = store_of(root)
    with store.read() as s:
        before = table.chunks(s, 1)
    train(root, force=True)
    with store.read() as s:
        after = table.chunks(s, 1)
    assert [c.computed_at for c in after] == [c.computed_at for c in before]


def test_degradation_alerts_runs_the_hook_and_shows_in_status(root: Path, cli: Run) -> None:
    add_hook(root, "hook.json")
    batch(root, 0)
    batch(root, 1, flip=True)
    train(root)
    store = store_of(root)
    with store.read() as s:
        chunks = {c.key: c for c in table.chunks(s, 1)}
        events = [e for e in s.events(limit=100) if e.kind == "degradation"]
    assert chunks["data/batch_001.csv"].alerts == []
    bad = chunks["data/batch_002.csv"]
    assert "auc" in bad.alerts and "accuracy" in bad.alerts
    auc = bad.metric("auc")
    assert auc is not None and auc.realized is not None and auc.lower is not None
    assert auc.realized < auc.lower
    assert [e.data["chunk"] for e in events] == ["data/batch_002.csv"]
    env = json.loads((root / "hook.json").read_text())
    assert env["WORKBENCH_EVENT"] == "degradation"
    assert env["WORKBENCH_CHUNK"] == "data/batch_002.csv"
    assert "auc" in env["WORKBENCH_METRICS"].split(",")
    assert env["WORKBENCH_VERSION"] == "v1"
    status = json.loads(cli("status", "--json", cwd=root, check=True).stdout)
    mon = status["monitor"]
    assert mon["version"] == "v1" and mon["latest"]["key"] == "data/batch_002.csv"
    assert {"chunk": "data/batch_002.csv", "metric": "auc"} in mon["alerts"]


def test_fixed_band_and_time_window_chunks(root: Path, cli: Run) -> None:
    text = (root / "workbench.toml").read_text()
    text += '\n[monitor]\nchunk = "7d"\n[monitor.bands.auc]\nlower = 0.999\n'
    (root / "workbench.toml").write_text(text)
    batch(root, 0)
    train(root)
    d = json.loads(cli("monitor", "--json", cwd=root, check=True).stdout)
    keys = [c["key"] for c in d["chunks"]]
    assert keys and all(k.startswith("7d:") for k in keys)
    assert keys == sorted(keys)
    assert sum(c["rows"] for c in d["chunks"]) == BATCH
    for c in d["chunks"]:
        assert c["bands"]["auc"] == [0.999, None]
        assert "auc" in c["alerts"]
    with store_of(root).read() as s:
        before = {c.key: c.computed_at for c in table.chunks(s, 1)}
    batch(root, 1)  # the next rows: only a window they share with the first batch changes
    train(root)
    with store_of(root).read() as s:
        after = {c.key: c.computed_at for c in table.chunks(s, 1)}
    assert set(before) < set(after)
    changed = [k for k in before if after[k] != before[k]]
    assert changed in ([], [max(before)])


def test_kpi_realized_and_estimated(root: Path, cli: Run) -> None:
    text = (root / "workbench.toml").read_text()
    text += (
        '\n[[monitor.kpi]]\nname = "saved"\nvalue = [[0, -5], [-50, 100]]\n'
        '\n[[monitor.kpi]]\nname = "charges"\nnormalize = "total"\n'
        'expression = "if(prediction == 1, monthly_charges, 0)"\n'
    )
    (root / "workbench.toml").write_text(text)
    path = batch(root, 0)
    train(root)
    y, p = champion_scores(root, path)
    d = json.loads(cli("monitor", "--json", cwd=root, check=True).stdout)
    [chunk] = d["chunks"]
    value = np.array([[0, -5], [-50, 100]])
    expect = value[y.astype(int), (p >= 0.5).astype(int)].mean()
    assert chunk["kpis"]["saved"]["realized"] == pytest.approx(expect)
    assert chunk["kpis"]["saved"]["estimated"] is not None
    charges = pl.read_csv(path)["monthly_charges"].to_numpy()
    assert chunk["kpis"]["charges"]["realized"] == pytest.approx(charges[p >= 0.5].sum())


def test_a_kpi_that_does_not_parse_fails_validation_naming_the_key(root: Path, cli: Run) -> None:
    text = (root / "workbench.toml").read_text()
    text += '\n[[monitor.kpi]]\nname = "bad"\nexpression = "monthly_charges * (2 +"\n'
    (root / "workbench.toml").write_text(text)
    proc = cli("validate", cwd=root)
    assert proc.returncode == 3
    assert "monitor.kpi[0]" in proc.stdout + proc.stderr
    batch(root, 0)
    proc = cli("train", cwd=root)
    assert proc.returncode == 3 and "monitor.kpi[0]" in proc.stderr
    with store_of(root).read() as s:
        assert s.champion().name == "v1"  # type: ignore[union-attr]
        assert table.chunks(s, 1) == []


def test_export_metrics_parquet_and_csv(root: Path, cli: Run, tmp_path: Path) -> None:
    batch(root, 0)
    train(root)
    proc = cli("export", "metrics", "--format", "parquet", "-o", "metrics.parquet", cwd=root)
    assert proc.returncode == 0, proc.stderr
    frame = pl.read_parquet(root / "metrics.parquet")
    auc = frame.filter((pl.col("chunk") == "data/batch_001.csv") & (pl.col("name") == "auc"))
    assert auc.height == 1 and auc["version"][0] == "v1"
    assert auc["realized"][0] is not None and auc["estimated"][0] is not None
    outside = tmp_path / "elsewhere" / "m.csv"  # a dashboard's folder, named explicitly
    proc = cli("export", "metrics", "--format", "csv", "-o", str(outside), cwd=root)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    outside.parent.mkdir()
    proc = cli("export", "metrics", "--format", "csv", "-o", str(outside), cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert pl.read_csv(outside).height == frame.height
    proc = cli("export", "metrics", "--format", "csv", "-o", "data/m.csv", cwd=root)
    assert proc.returncode != 0 and "data" in proc.stderr
    assert not (root / "data" / "m.csv").exists()


def test_gate_on_a_kpi_compares_both_models_on_the_shared_holdout(tmp_path: Path) -> None:
    from workbench.monitor.outcomes import holdout_of

    root = copy_sample(tmp_path / "kpi")
    configure(root, rounds=20, metric="kpi:saved", min_delta=-1000.0)
    with (root / "workbench.toml").open("a") as f:
        f.write('\n[[monitor.kpi]]\nname = "saved"\nvalue = [[0, -5], [-50, 100]]\n')
    data = pl.read_csv(root / "data" / "batch_000.csv")
    data.slice(0, FIRST).write_csv(root / "data" / "batch_000.csv")
    value = np.array([[0.0, -5.0], [-50.0, 100.0]])
    store = store_of(root)

    def kpi_on_holdout(version: str, scorer: str) -> float:
        with store.read() as s:
            v, by = s.version(version), s.version(scorer)
        rows = holdout_of(store, v, load_version(store.objects, v))
        model = load_version(store.objects, by)
        y = encode_target(rows, model.spec).astype(int)
        return float(value[y, (model.predict(rows) >= 0.5).astype(int)].mean())

    first = train(root).version
    assert first is not None and first.metric == "kpi:saved"
    assert first.metrics["kpi:saved"] == pytest.approx(kpi_on_holdout("v1", "v1"))
    data.slice(FIRST, BATCH).write_csv(root / "data" / "batch_001.csv")
    second = train(root).version
    assert second is not None and second.gate is not None
    gate = second.gate
    assert gate["metric"] == "kpi:saved" and gate["excluded"] == 0
    assert gate["candidate"] == pytest.approx(second.metrics["kpi:saved"])
    assert gate["candidate"] == pytest.approx(kpi_on_holdout("v2", "v2"))
    assert gate["champion"] == pytest.approx(kpi_on_holdout("v2", "v1"))
    assert second.status == "champion"  # min_delta -1000: higher_is_better lets it through


async def test_tui_performance_pane_shows_chunks_band_and_alert(root: Path) -> None:
    import time

    from workbench import config
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.performance_pane import PerformanceChart, PerformancePane
    from workbench.tui.widgets import StatusBar

    batch(root, 0)
    batch(root, 1, flip=True)
    train(root)
    app = WorkbenchApp(config.load(root), live=False, poll_s=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.query_one(PerformancePane)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(pane.chunks) < 2:
            await pilot.pause(0.05)
        assert [c.key for c in pane.chunks] == ["data/batch_001.csv", "data/batch_002.csv"]
        assert not pane.display or not app.screen.has_class("performance")
        await pilot.press("m")
        await pilot.pause(0.1)
        assert app.screen.has_class("performance") and pane.region.height > 0
        summary = str(app.query_one("#performance-summary").render())
        assert "data/batch_002.csv" in summary and "ALERT" in summary
        chart = app.query_one(PerformanceChart)
        assert chart.name == "auc" and len(chart.chunks) == 2
        status = app.query_one(StatusBar).text.plain
        assert "auc" in status and "ALERT" in status
        await pilot.press("m")
        await pilot.pause(0.1)
        assert not app.screen.has_class("performance")


def test_a_watch_cycle_monitors_the_new_batch_with_the_champion_of_before(
    root: Path, cli: Run
) -> None:
    path = batch(root, 0)
    proc = cli("watch", "--once", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    y, p = champion_scores(root, path)
    with store_of(root).read() as s:
        [chunk] = table.chunks(s, 1)
        assert s.version_count() == 2
    auc = chunk.metric("auc")
    assert chunk.key == "data/batch_001.csv" and auc is not None
    assert auc.realized == pytest.approx(roc_auc_score(y, p), abs=1e-12)
