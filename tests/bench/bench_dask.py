"""Benchmark: ``workbench train`` with ``engine = "dask"`` on a 2-worker LocalCluster against
local training, on the same rows (default 1,000,000).

A standalone script, not a pytest test. Run it from the project venv::

    python tests/bench/bench_dask.py            # 1M rows (the data of bench_train.py)
    python tests/bench/bench_dask.py --quick    # 100k rows

What it does: generates (or re-uses) ``bench_train.py``'s Parquet (30 features: 20 float, 5 int,
5 string categoricals, a binary target), makes a project of it (``split = "random"``, 100
rounds, early stopping off, ``num_leaves = 63``), and starts a ``distributed.LocalCluster``
(2 worker processes, 1 thread each) in a helper process. Then, ``--repeats`` times, each as a
fresh ``workbench train --force --json`` process: local training, then Dask training (the
engine and scheduler set in the config; the data objects are already in the store, so neither
pays for copying the file). Per run: wall time, the driver's peak RSS (``wait4``), the step
timings workbench records (``connect``/``wait``/``load``/``prepare``/``train``/``evaluate``
for Dask), the holdout AUC, and for Dask the workers' peak RSS (sampled every 0.1 s with
psutil over the helper's worker processes). Load averages at start and end are printed: the
machine is shared and small (2 cores), so the figures carry the other users' load.

Where the time goes is read from the step timings: ``wait`` = asking every worker whether it
can read the store's objects and taking the cluster lock; ``load`` = the workers reading their
partitions; ``prepare`` = split, spec, and bringing the validation and holdout rows to the
driver; ``train`` = the Dask fit (the training matrix encoded on the workers, LightGBM's
network set-up, boosting) and replaying early stopping on the validation rows; ``evaluate`` =
scoring the holdout on the driver.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import contextlib

from bench_train import ENV, WB, ensure_data, log, run

ROUNDS = 100
TOML = f"""\
[data]
path = "data"
target = "target"
time_column = "event_time"

[model]
task = "binary"
num_boost_round = {ROUNDS}
early_stopping_rounds = 0
params = {{ num_leaves = 63 }}

[train]
split = "random"
seed = 42
"""

CLUSTER = r"""
import sys, time
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as c:
        print(c.scheduler_address, flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin
"""


TRAIN_ONLY = r"""
import json, resource, sys, time
from pathlib import Path
import lightgbm, polars  # imported before the baseline: both engines need them
from workbench.data.reader import snapshot_settings
from workbench.model.train import train_snapshot
from workbench.store import Store
root, snapshot_id = Path(sys.argv[1]), sys.argv[2]
store = Store(root / ".workbench")
with store.read() as s:
    snap = s.snapshot(snapshot_id)
settings = snapshot_settings(store, snap, root)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
trained = train_snapshot(settings, store, snap)
print(json.dumps({"wall": time.perf_counter() - t, "base_mb": base,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "auc": trained.metrics["auc"], "timings": trained.timings,
                  "cluster": trained.meta.get("cluster")}))
"""


def train_only(project: Path, snapshot_id: str) -> dict[str, Any]:
    """``model.train.train_snapshot`` alone in a fresh process (no snapshot, validation or
    gate, which read the data on the driver whatever the engine): the training's own driver
    memory, above the process with its imports."""
    r = run([sys.executable, "-c", TRAIN_ONLY, str(project), snapshot_id], cwd=project)
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def start_cluster() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CLUSTER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=ENV,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    if not address.startswith("tcp://"):
        raise RuntimeError("the LocalCluster did not start")
    return proc, address


class WorkerMemory:
    """Peak total RSS of the cluster helper's child processes (the workers and nannies)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.parent = psutil.Process(pid)
        self.peak = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        import psutil

        while not self.stop.wait(0.1):
            total = 0
            for child in self.parent.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            self.peak = max(self.peak, total / 2**20)

    def __enter__(self) -> WorkerMemory:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def configure(project: Path, engine: str, scheduler: str) -> None:
    extra = f'engine = "dask"\nscheduler = "{scheduler}"\n' if engine == "dask" else ""
    (project / "workbench.toml").write_text(TOML + extra)


def train_once(project: Path, engine: str, scheduler: str, cluster_pid: int) -> dict[str, Any]:
    configure(project, engine, scheduler)
    if engine == "dask":
        with WorkerMemory(cluster_pid) as mem:
            r = run([*WB, "train", "--force", "--json"], cwd=project)
        workers_mb: float | None = mem.peak
    else:
        r = run([*WB, "train", "--force", "--json"], cwd=project)
        workers_mb = None
    out = json.loads(r.stdout)
    version = out["version"]
    alone = train_only(project, out["snapshot"])
    return {
        "engine": engine,
        "train_only": alone,
        "wall": r.wall,
        "driver_rss_mb": r.rss_mb,
        "workers_rss_mb": workers_mb,
        "timings": version["timings"],
        "auc": version["metrics"].get("auc"),
        "status": version["status"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wb-bench-dask"))
    args = parser.parse_args(argv)
    rows = 100_000 if args.quick else args.rows
    ENV["OMP_WAIT_POLICY"] = "PASSIVE"
    load_start = os.getloadavg()
    parquet, _ = ensure_data(Path("/tmp/wb-bench-train") / "gen", rows, csv=False)
    project = args.workdir / "project"
    shutil.rmtree(project, ignore_errors=True)
    (project / "data").mkdir(parents=True)
    shutil.copyfile(parquet, project / "data" / "big.parquet")
    configure(project, "local", "")
    run([*WB, "snapshot"], cwd=project)  # the data objects in the store, before any timing
    cluster, address = start_cluster()
    log(f"cluster {address}; {rows:,} rows; load average {load_start}")
    runs: list[dict[str, Any]] = []
    try:
        for i in range(args.repeats):
            for engine in ("local", "dask"):
                result = train_once(project, engine, address, cluster.pid)
                runs.append(result)
                log(
                    f"  {i + 1}/{args.repeats} {engine:<5} wall {result['wall']:.1f}s driver"
                    f" {result['driver_rss_mb']:.0f} MiB auc {result['auc']:.4f}"
                    f" {json.dumps(result['timings'])}"
                )
    finally:
        assert cluster.stdin is not None
        cluster.stdin.close()
        cluster.wait(30)
    load_end = os.getloadavg()
    print(f"\n{rows:,} rows, {ROUNDS} rounds; load average {load_start} -> {load_end}")
    print(f"{'engine':<6} {'wall':>8} {'driver peak':>12} {'workers peak':>13} {'auc':>7}  steps")
    for engine in ("local", "dask"):
        mine = [r for r in runs if r["engine"] == engine]
        wall = statistics.median(r["wall"] for r in mine)
        rss = statistics.median(r["driver_rss_mb"] for r in mine)
        workers = mine[-1]["workers_rss_mb"]
        steps = {
            k: round(statistics.median(r["timings"].get(k, 0) for r in mine), 2)
            for k in mine[-1]["timings"]
        }
        shown = f"{workers:.0f} MiB" if workers else "-"
        print(
            f"{engine:<6} {wall:>7.1f}s {rss:>8.0f} MiB {shown:>13} {mine[-1]['auc']:>7.4f}"
            f"  {steps}"
        )
    print("\ntraining alone (train_snapshot in a fresh process, after its imports):")
    for engine in ("local", "dask"):
        alone = [r["train_only"] for r in runs if r["engine"] == engine][-1]
        peak, base = alone["peak_mb"], alone["base_mb"]
        print(
            f"{engine:<6} {alone['wall']:>7.1f}s  driver peak {peak:.0f} MiB (imports"
            f" {base:.0f} MiB, training +{peak - base:.0f} MiB)  auc {alone['auc']:.4f}"
            f"  {alone['timings']}" + (f" {alone['cluster']}" if alone.get("cluster") else "")
        )
    out = args.workdir / "results.json"
    out.write_text(json.dumps({"rows": rows, "load": [load_start, load_end], "runs": runs}))
    print(f"raw runs: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
