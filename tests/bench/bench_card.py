"""Benchmark: ``workbench card`` as a fresh process, on a copy of sample_project.

A standalone script, not a pytest test: it copies the shipped sample project to a temporary
folder, trains v1 (300 rounds on 30,000 rows), then times ``workbench card v1`` as a separate
process: the first run (computes and caches the bootstrap intervals: loads LightGBM, rescores
the holdout) and ``--repeats`` runs after it (cached: a DuckDB read and a few small files), and
``workbench status`` beside them for scale. Prints medians and the 0.3 s target's verdict::

    .venv/bin/python tests/bench/bench_card.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"
TARGET = 0.3


def timed(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    opts = parser.parse_args()
    wb = [sys.executable, "-m", "workbench.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        for name in ("workbench.toml", "data/batch_000.csv"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(SAMPLE / name, root / name)
        print(f"train v1: {timed([*wb, 'train'], root):.2f} s")
        print(f"card v1, first (intervals computed): {timed([*wb, 'card', 'v1'], root):.3f} s")
        cards = [timed([*wb, "card", "v1"], root) for _ in range(opts.repeats)]
        status = [timed([*wb, "status"], root) for _ in range(opts.repeats)]
        card = statistics.median(cards)
        print(f"card v1, cached: median {card:.3f} s (min {min(cards):.3f}) of {opts.repeats}")
        print(f"status (for scale): median {statistics.median(status):.3f} s")
        print(f"load average: {os.getloadavg()[0]:.2f}")
        print(f"target {TARGET} s: {'met' if card <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
