"""Helpers shared by the test modules: project configs, training, the store of a project."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import polars as pl

from workbench import config
from workbench.pipeline import train as trainer
from workbench.store import Store

CONFIG = """
[project]
name = "{name}"
[data]
path = "data"
target = "{target}"
time_column = "event_time"
id_column = "customer_id"
[model]
task = "{task}"
num_boost_round = {rounds}
early_stopping_rounds = 10
params = {{ learning_rate = 0.1, num_leaves = 15, min_data_in_leaf = 20 }}
[train]
split = "{split}"
seed = 7
[gate]
metric = "{metric}"
min_delta = {min_delta}
"""


def configure(root: Path, **kw: object) -> None:
    values = {
        "name": "t",
        "target": "churned",
        "task": "binary",
        "rounds": 40,
        "split": "time",
        "metric": "auc",
        "min_delta": 0.0,
    } | kw
    (root / "workbench.toml").write_text(CONFIG.format(**values))


def train(root: Path, force: bool = False) -> trainer.TrainOutcome:
    settings = config.load(root)
    return trainer.run_train(settings, Store(settings.store_dir), force=force)


class CountingStore(Store):
    """The real store, noting which thread opens each DuckDB connection (each session)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.opened: list[str] = []

    def _connect(self, *, read_only: bool) -> Any:
        self.opened.append(threading.current_thread().name)
        return super()._connect(read_only=read_only)


def copy_project(template: Path, tmp_path: Path) -> Path:
    """A test's own copy of a module's prepared project."""
    root = tmp_path / "proj"
    shutil.copytree(template, root, symlinks=True)
    return root


def store_of(root: Path) -> Store:
    return Store(root / ".workbench")


def cut_sample(root: Path, rows: int) -> Path:
    """Keep the first ``rows`` rows of the sample's first batch (fast training)."""
    data = root / "data" / "batch_000.csv"
    pl.read_csv(data).head(rows).write_csv(data)
    return root
