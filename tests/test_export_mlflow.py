"""`workbench export mlflow` with the real MLflow client on a sqlite tracking store in tmp.

One project (three versions, trained once per module) is exported once by the real CLI; the
read-only tests look at that export, the last tests change it (a rollback) on their own copy
or at the end of the module. MLflow is slow to import and to migrate a new database, so the
export is shared.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from tests.conftest import copy_sample, git
from tests.helpers import configure, cut_sample, store_of, train
from workbench.errors import ExitCode

pytest.importorskip("mlflow")

ROWS = 2000
NAME = "churn-export"


def _env(**extra: str) -> dict[str, str]:
    """This environment without the MLflow URIs the tests set in this process."""
    env = {k: v for k, v in os.environ.items() if k not in MLFLOW_URIS}
    return env | extra


MLFLOW_URIS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_env(**(env or {})),
        timeout=240,
    )


def _export(root: Path, uri: str, *extra: str, env: dict[str, str] | None = None) -> Any:
    proc = _cli("export", "mlflow", "--tracking-uri", uri, "--json", *extra, cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _export_here(root: Path, uri: str, **kw: Any) -> Any:
    """The export in this process (MLflow is imported here once for the module)."""
    from workbench import config
    from workbench.export.mlflow_export import export_mlflow

    return export_mlflow(config.load(root), store_of(root), uri, **kw).to_json()


@pytest.fixture(scope="session")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty MLflow database (its migrations take seconds): made once per test
    session, shared by the xdist workers, copied by each test that needs a new one."""
    import fcntl

    import mlflow

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder, above each worker's own
    db = shared / f"mlflow-empty-{mlflow.__version__}.db"
    with open(shared / "mlflow-empty.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not db.exists():
            tmp = db.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            from mlflow import MlflowClient

            MlflowClient(f"sqlite:///{tmp}").search_experiments()
            os.replace(tmp, db)
    return db


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, empty_db: Path) -> dict[str, Any]:
    """A git project with v1 (champion), v2 and v3 (other params), exported once."""
    base = tmp_path_factory.mktemp("mlflow_export")
    root = cut_sample(copy_sample(base / "proj"), ROWS)
    configure(root, name=NAME, rounds=30)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first batch")
    train(root)
    first = (root / "workbench.toml").read_text()
    for rate in (0.3, 0.02):  # other configs: new snapshots, one promoted or rejected each
        config = first.replace("learning_rate = 0.1", f"learning_rate = {rate}")
        (root / "workbench.toml").write_text(config)
        train(root)
    (base / "mlflow").mkdir()
    shutil.copy2(empty_db, base / "mlflow" / "mlflow.db")
    uri = f"sqlite:///{base / 'mlflow' / 'mlflow.db'}"
    result = _export(root, uri)
    return {"root": root, "uri": uri, "result": result, "base": base}


def _client(uri: str) -> Any:
    import mlflow
    from mlflow import MlflowClient

    # the global URIs too: model URIs (models:/NAME@alias) resolve through them, and MLflow's
    # default would make a database in the current folder
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _versions(root: Path) -> list[Any]:
    with store_of(root).read() as s:
        return list(reversed(s.versions()))


def _runs(uri: str) -> dict[str, Any]:
    client = _client(uri)
    exp = client.get_experiment_by_name(NAME)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    by_version: dict[str, Any] = {}
    for r in runs:
        name = r.data.tags["workbench.version"]
        assert name not in by_version, f"two runs for {name}"
        by_version[name] = r
    return by_version


def test_every_version_is_a_run_with_its_params_metrics_curve_and_tags(exported) -> None:
    root, uri = exported["root"], exported["uri"]
    versions = _versions(root)
    assert [v.name for v in versions] == ["v1", "v2", "v3"]
    assert exported["result"]["exported"] == ["v1", "v2", "v3"]
    runs = _runs(uri)
    assert sorted(runs) == ["v1", "v2", "v3"]
    client = _client(uri)
    store = store_of(root)
    with store.read() as s:
        branch = s.snapshot(versions[0].snapshot_id).git_branch
    starts = set()
    for v in versions:
        run = runs[v.name]
        meta = store.objects.read_json(v.meta_hash)
        assert run.info.status == "FINISHED"
        assert run.info.run_name == v.name
        end = int(datetime.fromisoformat(v.created_at).timestamp() * 1000)
        assert run.info.end_time == end
        assert run.info.start_time == end - round(sum(v.timings.values()) * 1000)
        starts.add(run.info.start_time)
        # params: LightGBM's as trained, plus the workbench ones
        for key, value in meta["params"].items():
            expected = str(value).lower() if isinstance(value, bool) else str(value)
            assert run.data.params[key] == expected
        assert run.data.params["best_iteration"] == str(meta["best_iteration"])
        assert run.data.params["gate_metric"] == "auc"
        # holdout metrics under their own names, exactly
        for key, value in v.metrics.items():
            assert run.data.metrics[key] == value
        # the learning curve, step = boosting round
        for name, values in meta["learning_curve"]["valid"].items():
            history = client.get_metric_history(run.info.run_id, f"valid_{name}")
            assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
                (i + 1, float(x)) for i, x in enumerate(values)
            ]
        tags = run.data.tags
        assert tags["workbench.status"] == v.status
        assert tags["workbench.snapshot"] == v.snapshot_id
        assert tags["workbench.git.commit"] == v.git_commit == git(root, "rev-parse", "HEAD")
        assert tags["mlflow.source.git.commit"] == v.git_commit
        assert tags["workbench.git.branch"] == branch == "main"
        assert tags["workbench.git.dirty"] == str(v.git_dirty).lower()
        assert tags["workbench.gate.reason"] == v.gate["reason"]
        assert tags["workbench.gate.decision"] == v.gate["decision"]
    assert len(starts) == 3  # each run its own start


def test_registered_versions_hold_the_store_model_text_and_no_pickle(exported) -> None:
    import mlflow

    root, uri = exported["root"], exported["uri"]
    client = _client(uri)
    store = store_of(root)
    versions = _versions(root)
    runs = _runs(uri)
    registered = {
        mv.tags["workbench.version"]: mv for mv in client.search_model_versions(f"name='{NAME}'")
    }
    assert sorted(registered) == ["v1", "v2", "v3"]
    champion = next(v for v in versions if v.status == "champion")
    alias = client.get_model_version_by_alias(NAME, "champion")
    assert alias.tags["workbench.version"] == champion.name
    for v in versions:
        mv = registered[v.name]
        assert mv.source.startswith("models:/m-")  # the logged model, not runs:/
        assert mv.run_id == runs[v.name].info.run_id
        assert mv.tags["workbench.status"] == v.status
        path = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{NAME}/{mv.version}",
                dst_path=str(exported["base"] / f"dl_{v.name}"),
            )
        )
        assert (path / "model.lgb").read_bytes() == store.objects.read(v.model_hash)
        mlmodel = (path / "MLmodel").read_text()
        assert "lightgbm:" in mlmodel and "python_function:" in mlmodel
        assert "loader_module: mlflow.pyfunc.loaders.code_model" in mlmodel
        files = [p.name for p in path.rglob("*")]
        assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))]
    booster = mlflow.lightgbm.load_model(f"models:/{NAME}@champion")
    assert booster.num_trees() > 0


def _rows_with_surprises(root: Path) -> Path:
    """200 rows of the sample, one with an unseen category and one with a missing one."""
    frame = pl.read_csv(root / "data" / "batch_000.csv").tail(200)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("weekly"))
        .otherwise(pl.col("contract"))
        .alias("contract"),
        pl.when(pl.int_range(pl.len()) == 1).then(None).otherwise(pl.col("region")).alias("region"),
    )
    (root / "scored").mkdir(exist_ok=True)
    path = root / "scored" / "rows.csv"
    frame.write_csv(path)
    return path


PYFUNC = """
import json, sys
import pandas as pd
if sys.argv[3] == "block":
    sys.modules["workbench"] = None  # the logged model must not need workbench
import mlflow.pyfunc
mlflow.set_tracking_uri(sys.argv[1])  # the registry follows it
model = mlflow.pyfunc.load_model(sys.argv[2])
out = model.predict(pd.read_csv(sys.argv[4]))
print(json.dumps({c: out[c].tolist() for c in out.columns}))
"""


def test_pyfunc_predicts_what_workbench_predict_predicts(exported) -> None:
    root, uri = exported["root"], exported["uri"]
    rows = _rows_with_surprises(root)
    proc = _cli("predict", str(rows), "-o", "scored/out.csv", cwd=root)
    assert proc.returncode == 0, proc.stderr
    expected = pl.read_csv(root / "scored" / "out.csv")
    got = subprocess.run(
        [sys.executable, "-c", PYFUNC, uri, f"models:/{NAME}@champion", "block", str(rows)],
        cwd=exported["base"],
        capture_output=True,
        text=True,
        timeout=180,
        env=_env(PYTHONPATH=""),
    )
    assert got.returncode == 0, got.stderr
    out = json.loads(got.stdout)
    assert sorted(out) == ["prediction", "prediction_label"]
    np.testing.assert_array_equal(np.array(out["prediction"]), expected["prediction"].to_numpy())
    assert out["prediction_label"] == expected["prediction_label"].to_list()
    # the unseen category and the missing value still scored (as missing), like predict
    assert len(out["prediction"]) == 200


def test_a_kill_part_way_then_export_again_ends_as_a_clean_export(
    exported, empty_db, tmp_path
) -> None:
    root = tmp_path / "proj"
    shutil.copytree(exported["root"], root, symlinks=True)
    shutil.copy2(empty_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    crashed = _cli(
        "export",
        "mlflow",
        "--tracking-uri",
        uri,
        cwd=root,
        env={"WORKBENCH_EXPORT_CRASH_AT": "v2:registered"},
    )
    assert crashed.returncode == 137, crashed.stderr
    # v2's run, model and registered version are in MLflow; the store's rows (written in
    # batches) have neither v1 nor v2: the next export finds both there by their tags
    assert sorted(_runs(uri)) == ["v1", "v2"]
    again = _export_here(root, uri)
    assert again["exported"] == ["v1", "v2", "v3"] and again["resumed"] == ["v1", "v2"]
    assert _state(uri) == _state(exported["uri"])
    assert _export_here(root, uri)["exported"] == []


def _state(uri: str) -> dict[str, Any]:
    """What an export put into MLflow, without the ids MLflow makes up."""
    client = _client(uri)
    out: dict[str, Any] = {}
    for name, r in sorted(_runs(uri).items()):
        history = {
            key: sorted((m.step, m.value) for m in client.get_metric_history(r.info.run_id, key))
            for key in r.data.metrics
        }
        tags = {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.log-model")}
        out[name] = (r.info.status, r.info.start_time, r.data.params, history, tags)
    versions = client.search_model_versions(f"name='{NAME}'")
    out["registered"] = sorted((mv.version, mv.tags["workbench.version"]) for mv in versions)
    out["alias"] = client.get_model_version_by_alias(NAME, "champion").version
    out["logged_models"] = len(
        client.search_logged_models([client.get_experiment_by_name(NAME).experiment_id])
    )
    return out


def test_nothing_new_creates_nothing_and_a_rollback_moves_the_alias(exported) -> None:
    root, uri = exported["root"], exported["uri"]
    before = _state(uri)
    again = _export(root, uri)
    assert again["exported"] == [] and again["updated"] == []
    assert again["mlflow_called"] is False  # the store showed nothing to do
    verified = _export_here(root, uri, verify=True)
    assert verified["exported"] == [] and verified["updated"] == []
    assert verified["mlflow_called"] is True
    assert _state(uri) == before
    versions = _versions(root)
    champion = next(v for v in versions if v.status == "champion")
    target = next(v for v in versions if v.name != champion.name)
    proc = _cli("rollback", target.name, "--reason", "test", cwd=root)
    assert proc.returncode == 0, proc.stderr
    moved = _export_here(root, uri)
    assert moved["exported"] == []
    assert sorted(moved["updated"]) == sorted([target.name, champion.name])
    assert moved["alias_moved"] is True and moved["champion"] == target.name
    client = _client(uri)
    alias = client.get_model_version_by_alias(NAME, "champion")
    assert alias.tags["workbench.version"] == target.name
    assert alias.tags["workbench.status"] == "champion"
    runs = _runs(uri)
    assert len(runs) == 3
    assert runs[target.name].data.tags["workbench.status"] == "champion"
    assert runs[champion.name].data.tags["workbench.status"] == "retired"


def test_refuses_the_file_store_and_names_what_works(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "proj")
    for uri in ("./mlruns", f"file://{tmp_path}/mlruns", "sqlite://"):
        proc = _cli("export", "mlflow", "--tracking-uri", uri, cwd=root)
        assert proc.returncode == ExitCode.USAGE, proc.stderr
        assert "sqlite:///" in proc.stderr


BLOCKED = """
import sys
sys.modules["mlflow"] = None  # as if the extra were not installed
from workbench.cli import run
sys.argv = ["workbench", "export", "mlflow", "--tracking-uri", sys.argv[1]]
run()
"""


def test_without_the_extra_it_says_how_to_install_it(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "proj")
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED, f"sqlite:///{tmp_path / 'mlflow.db'}"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "MLflow is not installed" in proc.stderr
    assert 'pip install "workbench[mlflow]"' in proc.stderr
    assert not (tmp_path / "mlflow.db").exists()
