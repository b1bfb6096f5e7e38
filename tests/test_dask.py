"""``[train] engine = "dask"``: training on a real ``distributed.LocalCluster`` (two worker
processes, one thread each), its faults, and the config without the extra installed.

One cluster for the whole module; the test that kills a worker runs last and waits for the
cluster to have two workers again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pytest

from tests.conftest import copy_sample
from tests.helpers import copy_project, store_of
from workbench import config
from workbench.data.reader import snapshot_settings
from workbench.errors import ConfigError, ExitCode, TrainingError
from workbench.model import dask_engine, serving
from workbench.model.predict import predict_file
from workbench.model.train import Trained, TrainEvents, train_snapshot
from workbench.pipeline import status as status_mod
from workbench.pipeline import train as trainer
from workbench.render import history_text

distributed = pytest.importorskip("distributed")

ROUNDS = 80


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as c:
        yield c


def set_engine(root: Path, engine: str, scheduler: str | None = None, **model: Any) -> None:
    """The sample's config with ``engine`` (and fewer rounds, ``[model]`` keys replaced)."""
    path = root / "workbench.toml"
    text = path.read_text()
    text = re.sub(r"(?m)^num_boost_round = \d+", f"num_boost_round = {ROUNDS}", text)
    text = re.sub(r"(?m)^scheduler = .*\n", "", text)
    text = re.sub(r'(?m)^engine = "\w+"', f'engine = "{engine}"', text)
    if scheduler is not None:
        text = text.replace(
            f'engine = "{engine}"', f'engine = "{engine}"\nscheduler = "{scheduler}"'
        )
    for key, value in model.items():
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    path.write_text(text)


def run(root: Path, **kw: Any) -> trainer.TrainOutcome:
    settings = config.load(root)
    return trainer.run_train(settings, store_of(root), **kw)


@pytest.fixture(scope="module")
def trained(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample project with a Dask-trained champion (v1)."""
    root = copy_sample(tmp_path_factory.mktemp("dask") / "proj")
    set_engine(root, "dask", cluster.scheduler_address)
    out = run(root)
    assert out.version is not None and out.version.status == "champion"
    return root


def test_dask_trains_gates_promotes_and_predicts(trained: Path, tmp_path: Path) -> None:
    root = copy_project(trained, tmp_path)
    store = store_of(root)
    with store.read() as s:
        v1 = s.version(1)
    assert v1.engine == "dask" and v1.status == "champion"
    assert v1.gate is not None and v1.gate["decision"] == "promoted"
    text = store.objects.read(v1.model_hash or "").decode()
    # the cluster's addresses are normalised: the bytes do not depend on the ports
    assert re.search(r"(?m)^\[machines: \]$", text)
    assert re.search(r"(?m)^\[local_listen_port: 12400\]$", text)
    assert "127.0.0.1" not in text
    (tmp_path / "model.txt").write_text(text)
    booster = lgb.Booster(model_file=str(tmp_path / "model.txt"))  # a plain LightGBM model
    meta = json.loads(store.objects.read(v1.meta_hash or ""))
    assert meta["engine"] == "dask" and meta["cluster"]["workers"] == 2
    assert booster.num_trees() == meta["best_iteration"] <= ROUNDS
    assert meta["learning_curve"]["valid"]["binary_logloss"]
    # predict through the stored model, as for any version
    src = root / "data" / "batch_000.csv"
    result = predict_file(store, src, root / "scored.csv")
    assert result.rows > 0 and (root / "scored.csv").stat().st_size > 0
    # the serving export is the stored text, as for a local champion
    assert (serving.serving_dir(store) / "model.txt").read_text() == text
    # history (--json and text) and status show the engine
    rows = status_mod.history(store, 10)
    assert rows[0]["engine"] == "dask"
    assert "engine dask" in history_text(rows)
    assert status_mod.status(config.load(root), store)["champion_engine"] == "dask"


def local_on_same_snapshot(root: Path, number: int) -> Trained:
    """Version ``number``'s snapshot trained locally (its own config, engine = "local")."""
    store = store_of(root)
    with store.read() as s:
        snap = s.snapshot(s.version(number).snapshot_id)
    settings = snapshot_settings(store, snap, root)
    local = dataclasses.replace(settings, train=dataclasses.replace(settings.train, engine="local"))
    return train_snapshot(local, store, snap)


def test_holdout_auc_close_to_local_training(trained: Path) -> None:
    store = store_of(trained)
    with store.read() as s:
        dask_v = s.version(1)
    local = local_on_same_snapshot(trained, 1)
    dask_meta = json.loads(store.objects.read(dask_v.meta_hash or ""))
    assert local.meta["split"] == dask_meta["split"]  # the same rows on the same sides
    assert local.rows == dask_v.rows
    # Dask fits are close, not equal (tolerance as in LightGBM's own Dask tests)
    assert abs(local.metrics["auc"] - dask_v.metrics["auc"]) < 0.005


def test_random_split_same_sides_as_local(cluster: Any, tmp_path: Path) -> None:
    """The row-hash split per partition puts every row where local training puts it."""
    root = copy_sample(tmp_path / "proj")
    set_engine(root, "dask", cluster.scheduler_address, split='"random"')
    dask_v = run(root).version
    assert dask_v is not None and dask_v.engine == "dask"
    local = local_on_same_snapshot(root, dask_v.number)
    dask_meta = json.loads(store_of(root).objects.read(dask_v.meta_hash or ""))
    assert dask_meta["split"] == local.meta["split"]
    assert abs(dask_v.metrics["auc"] - local.metrics["auc"]) < 0.005


def test_files_of_different_columns_combine_as_locally(cluster: Any, tmp_path: Path) -> None:
    """A second file without one column, with a new one and a widened type: the workers cast
    their partitions to the combined schema, so the split and the spec are the local ones."""
    import polars as pl

    root = copy_sample(tmp_path / "proj")
    first = pl.read_csv(root / "data" / "batch_000.csv")
    second = (
        first.tail(8000)
        .with_columns(
            pl.col("customer_id") + "b",
            (pl.col("tenure_months") + 0.5).alias("tenure_months"),  # int -> float
            pl.col("region").alias("promo"),  # a new categorical column
        )
        .drop("age")
    )
    second.write_csv(root / "data" / "batch_001.csv")
    # random split: the second file's rows train on both workers (see the next test)
    set_engine(root, "dask", cluster.scheduler_address, split='"random"')
    dask_v = run(root).version
    assert dask_v is not None and dask_v.engine == "dask", dask_v
    local = local_on_same_snapshot(root, dask_v.number)
    meta = json.loads(store_of(root).objects.read(dask_v.meta_hash or ""))
    assert meta["split"] == local.meta["split"]
    assert meta["spec"] == local.meta["spec"]  # features, kinds, categories, classes
    assert "promo" in meta["spec"]["categories"] and meta["spec"]["kinds"]["age"] == "numeric"
    assert abs(dask_v.metrics["auc"] - local.metrics["auc"]) < 0.005


def test_a_feature_without_values_on_a_worker_is_refused_before_the_fit(
    cluster: Any, tmp_path: Path
) -> None:
    """LightGBM's distributed binning crashes a worker on a feature with no value in its rows;
    the driver sees it in the partitions' summaries and says so, before any fit."""
    import polars as pl

    root = copy_sample(tmp_path / "proj")
    path = root / "data" / "batch_000.csv"
    frame = pl.read_csv(path)
    half = frame.height // 2  # the first worker reads the first half: no value there
    rows = pl.int_range(0, frame.height, eager=True)
    frame.with_columns(
        pl.when(rows >= half).then(pl.col("age")).otherwise(None).alias("promo")
    ).write_csv(path)
    set_engine(root, "dask", cluster.scheduler_address, split='"random"')
    with pytest.raises(TrainingError) as e:
        run(root)
    assert "'promo' has no value in the training rows of Dask worker tcp://" in e.value.message
    assert "[data] exclude" in (e.value.hint or "")
    with store_of(root).read() as s:
        assert s.version(1).status == "failed" and s.champion() is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_scheduler_is_a_clear_error_within_10s(trained: Path, tmp_path: Path) -> None:
    root = copy_project(trained, tmp_path)
    address = f"tcp://127.0.0.1:{free_port()}"
    set_engine(root, "dask", address)
    started = time.perf_counter()
    with pytest.raises(TrainingError) as e:
        run(root, force=True)
    took = time.perf_counter() - started
    assert e.value.exit_code == ExitCode.TRAINING
    assert address in e.value.message and "train.scheduler" in e.value.message
    assert "dask scheduler" in (e.value.hint or "")
    assert took < 10
    with store_of(root).read() as s:
        assert s.champion().number == 1  # type: ignore[union-attr]
        failed = s.version(2)
    assert failed.status == "failed" and failed.engine == "dask"


@pytest.mark.parametrize("scheduler", [None, "127.0.0.1", "foo://host:8786", "tcp://host 8786"])
def test_config_needs_a_scheduler_address(project: Path, scheduler: str | None) -> None:
    set_engine(project, "dask", scheduler)
    with pytest.raises(ConfigError) as e:
        config.load(project)
    assert "train.scheduler" in e.value.message and "tcp://host:8786" in (e.value.hint or "")
    if scheduler:
        assert repr(scheduler) in e.value.message


BLOCK = """
import importlib.machinery, sys
class Blocked(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed"):
            return None
        return super().find_spec(name, path, target)
sys.meta_path = [Blocked if f is importlib.machinery.PathFinder else f for f in sys.meta_path]
sys.argv = ["workbench", "validate"]
from workbench.entry import run
run()
"""


def test_without_the_extra_dask_is_a_config_error(project: Path) -> None:
    set_engine(project, "dask", "tcp://127.0.0.1:8786")
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == ExitCode.CONFIG, proc.stderr
    assert "dask" in proc.stderr and 'pip install "workbench[dask]"' in proc.stderr
    assert not (project / ".workbench").exists()  # nothing was recorded


def test_a_worker_that_cannot_read_the_store_is_named(cluster: Any, tmp_path: Path) -> None:
    hidden = tmp_path / "not-on-the-workers"  # a path no worker can open
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        with pytest.raises(TrainingError) as e:
            dask_engine._check_workers(client, [str(hidden)])
        workers = set(client.scheduler_info(n_workers=-1)["workers"])
    assert str(hidden) in e.value.message
    assert any(w in e.value.message for w in workers)
    assert "same path" in (e.value.hint or "")


def test_a_second_training_waits_for_the_first(trained: Path, tmp_path: Path, cluster: Any) -> None:
    root = copy_project(trained, tmp_path)
    steps: list[str] = []
    errors: list[BaseException] = []
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        held = distributed.Lock(
            dask_engine.LOCK_NAME, scheduler_rpc=client.scheduler, loop=client.loop
        )
        assert held.acquire(timeout=10)  # another training's fit, as far as the cluster knows

        def second() -> None:
            try:
                run(root, force=True, events=TrainEvents(progress=lambda s, _: steps.append(s)))
            except BaseException as e:
                errors.append(e)

        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 60
        while "wait" not in steps and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # it waits for the lock: no step after "wait" starts
        assert thread.is_alive() and "wait" in steps and "load" not in steps
        held.release()
        thread.join(60)
    assert not thread.is_alive() and not errors
    assert "load" in steps and "train" in steps
    with store_of(root).read() as s:
        assert s.version(2).engine == "dask"


def test_a_killed_worker_gives_a_failed_version(
    trained: Path, tmp_path: Path, cluster: Any
) -> None:
    root = copy_project(trained, tmp_path)
    # many rounds, early stopping off: the fit is still running when the worker dies
    set_engine(root, "dask", cluster.scheduler_address, early_stopping_rounds=0)
    text = (root / "workbench.toml").read_text()
    text = text.replace(f"num_boost_round = {ROUNDS}", "num_boost_round = 200000")
    (root / "workbench.toml").write_text(text)
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]

    def kill_soon() -> None:
        threading.Timer(1.5, os.kill, (victim, signal.SIGKILL)).start()

    started = time.perf_counter()
    with pytest.raises(TrainingError) as e:
        run(root, force=True, events=TrainEvents(boosting_started=kill_soon))
    assert time.perf_counter() - started < 60
    assert "Dask" in e.value.message
    with store_of(root).read() as s:
        assert s.champion().number == 1  # type: ignore[union-attr]
        failed = s.version(2)
    assert failed.status == "failed" and failed.engine == "dask"
    assert failed.error and "left the Dask cluster" in failed.error
    # the nanny restarts the worker: the cluster is whole again for whoever comes next
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
