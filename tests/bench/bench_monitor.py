"""Benchmark: what the monitoring step adds to a watch cycle on the sample project.

A standalone script, not a pytest test. It copies the shipped sample project (30,000 rows,
its own config: 300 rounds), trains v1, and builds v1's monitoring reference once (a
``workbench monitor`` run: the holdout scored and CBPE fitted once per champion, as the first
monitored cycle after a promotion would). Then, ``--repeats`` times, on a fresh copy of that
project each time, a new batch (``generate.py``, 5,000 labelled rows) arrives and one
``workbench watch --once`` runs as a fresh process: with monitoring on (the default) and with
it off (``WORKBENCH_NO_MONITOR=1``), alternating. Prints the medians, the ratio and the
verdict against the 10% budget, plus the monitor step's own time as the version records it::

    .venv/bin/python tests/bench/bench_monitor.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"
BUDGET = 0.10
WB = [sys.executable, "-X", "faulthandler", "-m", "workbench.cli"]


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:  # a crash is reported with its traceback (faulthandler)
        tail = proc.stderr.decode(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(args[2:])} (env {env}) exited {proc.returncode}:\n{tail}")
    return time.perf_counter() - started


def monitor_seconds(root: Path) -> float | None:
    out = subprocess.run(
        [*WB, "history", "--json", "--limit", "1"], cwd=root, check=True, capture_output=True
    ).stdout
    rows = json.loads(out)
    timings = rows[0].get("timings", {}) if rows else {}
    return timings.get("monitor")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        for name in ("workbench.toml", "generate.py", "data/batch_000.csv"):
            (base / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(SAMPLE / name, base / name)
        print(f"train v1: {run([*WB, 'train'], base):.2f} s")
        print(f"v1's monitoring reference (once per champion): {run([*WB, 'monitor'], base):.2f} s")
        subprocess.run(
            [sys.executable, "generate.py", "--rows", "5000", "--seed", "11"],
            cwd=base,
            check=True,
            capture_output=True,
        )
        times: dict[str, list[float]] = {"on": [], "off": []}
        steps: list[float] = []
        for i in range(opts.repeats):
            for mode in ("on", "off") if i % 2 == 0 else ("off", "on"):
                root = Path(tmp) / f"{mode}{i}"
                shutil.copytree(base, root, symlinks=True)
                env = {"WORKBENCH_NO_MONITOR": "1"} if mode == "off" else {}
                times[mode].append(run([*WB, "watch", "--once"], root, env))
                if mode == "on" and (step := monitor_seconds(root)) is not None:
                    steps.append(step)
                shutil.rmtree(root)
        on, off = statistics.median(times["on"]), statistics.median(times["off"])
        ratio = on / off - 1.0
        print(f"watch --once, monitoring off: median {off:.2f} s of {opts.repeats}")
        print(f"watch --once, monitoring on:  median {on:.2f} s of {opts.repeats}")
        if steps:
            print(
                "the monitor step (version timings; it imports LightGBM, which training does next"
                f" anyway): median {statistics.median(steps):.3f} s"
            )
        print(
            f"added: {ratio:+.1%} (budget {BUDGET:.0%}): {'met' if ratio <= BUDGET else 'MISSED'}"
        )
        print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
