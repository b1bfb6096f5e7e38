"""Benchmark: monitoring one 1M-row binary chunk — realized metrics, the CBPE estimate and two
KPIs (a value matrix and an expression), realized and estimated. Target: <= 2 s.

A standalone script, not a pytest test. Run it from the project venv::

    python tests/bench/bench_monitor_math.py              # 1,000,000 rows, median of 3
    python tests/bench/bench_monitor_math.py --rows 200000 --repeats 5

The reference (``cbpe.fit`` on a 50,000-row holdout) is fitted once, untimed, as the cycle
fits it once per champion. Timed: ``realized`` + ``cbpe.estimate`` + ``calibrate`` + both
KPIs' ``realized`` and ``estimated`` on the chunk; each part is printed, with the total.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np
import polars as pl

from workbench.config import KpiSpec
from workbench.monitor import cbpe
from workbench.monitor.kpi import compile_kpi
from workbench.monitor.realized import realized

CLASSES = ["no", "yes"]


def rows(
    rng: np.random.Generator, n: int, mu: float
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    x = rng.normal(mu, 1.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    s = np.round(1 / (1 + np.exp(-1.2 * x - 0.4)), 4)
    return pl.DataFrame({"amount": rng.uniform(0, 100, n)}), y, s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    _, y_ref, s_ref = rows(rng, 50_000, 0.0)
    t = time.perf_counter()
    ref = cbpe.fit("binary", y_ref, s_ref)
    print(f"cbpe.fit on 50,000 holdout rows (once per champion): {time.perf_counter() - t:.2f} s")
    frame, y, s = rows(rng, args.rows, 0.3)
    matrix = compile_kpi(
        KpiSpec(name="value", value=((0, -1), (-5, 10))), 0, "binary", CLASSES, frame.columns
    )
    expr = compile_kpi(
        KpiSpec(
            name="revenue",
            expression="if(prediction == 'yes', if(target == 'yes', amount * 0.1, -2), 0)",
            normalize="total",
        ),
        1,
        "binary",
        CLASSES,
        frame.columns,
    )
    parts: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        marks = [("start", time.perf_counter())]
        realized("binary", y, s)
        marks.append(("realized", time.perf_counter()))
        cbpe.estimate(ref, s)
        marks.append(("cbpe.estimate", time.perf_counter()))
        p = cbpe.calibrate(ref, s)
        marks.append(("calibrate", time.perf_counter()))
        for k in (matrix, expr):
            k.realized(frame, y, s)
            k.estimated(frame, p, s)
        marks.append(("2 KPIs realized + estimated", time.perf_counter()))
        for (_, a), (name, b) in itertools.pairwise(marks):
            parts.setdefault(name, []).append(b - a)
        parts.setdefault("total", []).append(marks[-1][1] - marks[0][1])
    print(f"{args.rows:,} rows, binary, median of {args.repeats}:")
    for name, values in parts.items():
        print(f"  {name:<30} {statistics.median(values):6.3f} s")
    total = statistics.median(parts["total"])
    print(f"target <= 2 s: {'met' if total <= 2.0 else 'MISSED'} ({total:.3f} s)")


if __name__ == "__main__":
    main()
