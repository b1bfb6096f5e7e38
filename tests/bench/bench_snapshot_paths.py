"""Whole-command timings of `workbench snapshot` on its three heavy paths, beside `dvc add`.

    python tests/bench/bench_snapshot_paths.py BIG.csv SMALL_DIR [--dvc PATH] [--runs 3]

- a new large CSV (BIG.csv copied into a fresh project), and `dvc add` of it;
- the same after appending 1% rows (the first 1% of its rows, again);
- the first snapshot of the CSVs in SMALL_DIR (copied), and `dvc add data`;
- the no-change snapshot after it.

Each run is a fresh process after `sync`; medians are printed with peak RSS (GNU time).
Scratch folders are made under a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TIME = "/usr/bin/time"


def timed(args: list[str], cwd: Path) -> tuple[float, int]:
    subprocess.run(["sync"], check=True)
    proc = subprocess.run(
        [TIME, "-f", "%e %M", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    if proc.returncode:
        raise SystemExit(f"{args} failed:\n{proc.stderr}")
    seconds, kb = proc.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kb)


def project(root: Path) -> Path:
    if root.exists():
        shutil.rmtree(root)
    (root / "data").mkdir(parents=True)
    (root / "workbench.toml").write_text('[data]\npath = "data"\ntarget = "target"\n')
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def dvc_project(root: Path, dvc: str) -> Path:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([dvc, "init", "-q"], cwd=root, check=True)
    return root


def report(name: str, runs: list[tuple[float, int]]) -> None:
    seconds = statistics.median(r[0] for r in runs)
    mb = max(r[1] for r in runs) / 1024
    print(f"{name:<44} median {seconds:6.2f} s  peak {mb:7.0f} MB  runs {[r[0] for r in runs]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("big", type=Path)
    parser.add_argument("small", type=Path)
    parser.add_argument("--dvc", default="/tmp/perf/venv-dvc/bin/dvc")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    wb = [sys.executable, "-m", "workbench", "snapshot", "--json"]
    dvc = args.dvc if Path(args.dvc).exists() else None
    data = args.big.read_bytes()
    header_end = data.index(b"\n") + 1
    cut = data.index(b"\n", header_end + (len(data) - header_end) // 100) + 1
    extra = data[header_end:cut]  # 1% of the rows, appended again
    del data
    with tempfile.TemporaryDirectory(prefix="bench-snap-") as tmp:
        base = Path(tmp)
        first, append, peer_first, peer_append = [], [], [], []
        for _ in range(args.runs):
            root = project(base / "big")
            shutil.copyfile(args.big, root / "data" / "big.csv")
            first.append(timed(wb, root))
            with open(root / "data" / "big.csv", "ab") as f:
                f.write(extra)
            append.append(timed(wb, root))
            if dvc:
                peer = dvc_project(base / "dvc", dvc)
                shutil.copyfile(args.big, peer / "big.csv")
                peer_first.append(timed([dvc, "add", "-q", "big.csv"], peer))
                with open(peer / "big.csv", "ab") as f:
                    f.write(extra)
                peer_append.append(timed([dvc, "add", "-q", "big.csv"], peer))
            shutil.rmtree(base / "big")
        report("snapshot of a new large CSV", first)
        report("dvc add of it", peer_first) if peer_first else None
        report("snapshot after a 1% append", append)
        report("dvc add after the append", peer_append) if peer_append else None
        small, again, peer_small = [], [], []
        for _ in range(args.runs):
            root = project(base / "small")
            shutil.rmtree(root / "data")
            shutil.copytree(args.small, root / "data")
            small.append(timed(wb, root))
            again.append(timed(wb, root))
            if dvc:
                peer = dvc_project(base / "dvcs", dvc)
                shutil.copytree(args.small, peer / "data")
                peer_small.append(timed([dvc, "add", "-q", "data"], peer))
        count = sum(1 for _ in args.small.iterdir())
        report(f"first snapshot of {count} small CSVs", small)
        report("dvc add data", peer_small) if peer_small else None
        report("no-change snapshot after it", again)


if __name__ == "__main__":
    main()
