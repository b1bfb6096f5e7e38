"""Benchmark: ``workbench export mlflow`` of a project with N versions, as a user runs it.

A standalone script, not a pytest test. It builds a project from the shipped sample (its first
2,000 rows, 10 boosting rounds) and trains ``--versions`` real versions with ``workbench
train --force`` (each a fresh process), then times, as fresh processes (wall time, and each
process's own peak RSS from ``os.wait4``):

* ``export (first)``: ``workbench export mlflow --tracking-uri sqlite:///<tmp>/mlflow.db`` into
  a new database: MLflow's start-up and migrations included;
* ``export (nothing new)``: the same command again;
* ``export (one new)``: after one more training.

Targets (issue: export mlflow): 100 versions <= 30 s; a re-export with nothing new <= 3 s.
Run from the project venv (mlflow installed: ``pip install -e ".[mlflow]"``)::

    python tests/bench/bench_export.py --versions 100
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]


def run(root: Path, *args: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB of that process, its stdout) of one workbench command."""
    out, err = root.parent / "stdout.txt", root.parent / "stderr.txt"
    start = time.perf_counter()
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", *args], cwd=root, stdout=o, stderr=e
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"workbench {' '.join(args)} failed:\n{err.read_text()}")
    return wall, usage.ru_maxrss / 1024, out.read_text()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", type=int, default=100)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/wb-bench-export"))
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    root = args.workdir / "proj"
    shutil.copytree(REPO / "sample_project", root, ignore=shutil.ignore_patterns(".workbench"))
    data = root / "data" / "batch_000.csv"
    pl.read_csv(data).head(2000).write_csv(data)
    cfg = root / "workbench.toml"
    cfg.write_text(cfg.read_text().replace("num_boost_round = 300", "num_boost_round = 10"))
    start = time.perf_counter()
    for _ in range(args.versions):
        run(root, "train", "--force")
    print(f"trained {args.versions} versions in {time.perf_counter() - start:.0f} s")
    uri = f"sqlite:///{args.workdir / 'mlflow.db'}"
    rows = []
    for label in ("export (first)", "export (nothing new)"):
        wall, peak, _ = run(root, "export", "mlflow", "--tracking-uri", uri, "--json")
        rows.append((label, wall, peak))
    run(root, "train", "--force")
    wall, peak, _ = run(root, "export", "mlflow", "--tracking-uri", uri, "--json")
    rows.append(("export (one new)", wall, peak))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(f"{'what':<24} {'wall':>9} {'peak RSS':>10}   target")
    targets = {"export (first)": "<= 30 s", "export (nothing new)": "<= 3 s"}
    for label, wall, peak in rows:
        print(f"{label:<24} {wall:>7.2f} s {peak:>7.0f} MB   {targets.get(label, '')}")


if __name__ == "__main__":
    main()
