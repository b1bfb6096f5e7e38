"""Benchmark: ``workbench train`` / ``workbench predict`` against plain LightGBM scripts.

A standalone script, not a pytest test: it generates data, runs every contender as a separate
subprocess, prints a table of numbers and ratios measured side by side in one run, and writes
everything (raw runs included) to ``<workdir>/results.json``. Run it from the project venv::

    /work/venv/bin/python tests/bench/bench_train.py --quick        # 100k rows, ~2-4 min
    /work/venv/bin/python tests/bench/bench_train.py                # 1M rows, 13-30 min
    /work/venv/bin/python tests/bench/bench_train.py --profile --clean

Flags: ``--workdir`` (default /tmp/wb-bench-train; the generated Parquet/CSV are kept there and
re-used by the next run unless ``--clean``), ``--rows`` (default 1,000,000), ``--quick``
(100,000 rows), ``--repeats`` (default 3; every figure is the median of that many runs),
``--skip-csv`` (no CSV predict comparison), ``--profile`` (one extra cProfile'd run of
``workbench train`` and ``workbench predict``, top functions printed and saved), ``--clean``
(delete the generated data, the project and the outputs at the end; results.json stays).

The machine is small (2 cores) and shared, so: figures are medians of ``--repeats`` runs, the
contenders are interleaved within each repeat (their order rotates from repeat to repeat), the
verdicts use ratios measured in the same run, ``os.sync()`` runs (untimed) before every timed
subprocess so no run pays for the previous one's dirty pages, and every input is in the page
cache before timing (warm-cache comparison). Load averages at start and end are recorded.

``OMP_WAIT_POLICY=PASSIVE`` is set for every subprocess (both contenders) unless
``--omp-active``: with OpenMP's default spinning wait, LightGBM's 2 threads collapse when another
process wants a core (measured while writing this, load average ~4: 100 rounds on 72k rows took
3 s on one thread, 4 s on two with passive waiting, 17-47 s on two with the default), which
would turn every figure into noise on a shared machine. On an idle machine the two policies
should time alike (not measured).

Data
----
``--rows`` rows x 30 feature columns — 20 float (0-5% NaN each), 5 int, 5 string categoricals
with 5/10/20/35/50 levels (Zipf-like frequencies, 1% nulls) — plus ``event_time`` (datetime,
the project's time column, never a feature) and a binary ``target`` that depends on several
floats (linear, an interaction, a sine), two ints and three categoricals. Seeded numpy: the same
``--rows`` always gives the same bytes.

What each number means
----------------------
Train (``[model] num_boost_round = 100, early_stopping_rounds = 0, num_leaves = 63``,
``split = "random"``, seed 42):

* ``plain wall``: a separate Python process that imports numpy/polars/lightgbm, reads the
  Parquet with polars, encodes it (strings -> integer codes in sorted order, exactly the codes
  workbench uses; everything float64 with NaN for missing), takes the same 72% of rows workbench
  trains on (workbench's seeded permutation: 20% holdout, then 10% of the rest as validation) and
  calls ``lightgbm.train`` with workbench's parameters (objective binary, seed 42,
  deterministic, force_row_wise, verbosity -1, num_leaves 63, 100 rounds, no validation set, no
  early stopping, the string columns as ``categorical_feature``), then saves the model. Inside
  it times ``import``, ``read``, ``encode`` (encode + split), ``dataset`` (``Dataset.construct``:
  binning) and ``boost`` (``lightgbm.train`` on the constructed Dataset). The trees it builds are
  compared with workbench's (``models identical``): same trees = same work.
* ``wb snapshot``: ``workbench snapshot`` on a fresh store (hash + copy of the file into the
  object store with fsync, data profile, git state, DuckDB write), process start included.
* ``wb train (first snapshot)``: ``workbench train --json`` on a fresh store — it takes the
  snapshot itself, then trains.
* ``wb train (snapshot taken)``: ``workbench train --json`` right after ``workbench snapshot``:
  the snapshot step is only a stat check.
* ``wb load/prepare/train/evaluate``: the step timings workbench records (``version.timings``):
  ``load`` = read the snapshot's bytes from the object store; ``prepare`` = split, fit the
  feature spec, encode train and validation (``lgb.Dataset`` is lazy, so no binning here);
  ``train`` = ``lightgbm.train`` *including Dataset construction/binning* and the per-round
  evaluation of the 10% validation set, plus ``model_to_string``; ``evaluate`` = reload the
  model from its text and score the 20% holdout. ``other`` = wall - those four: interpreter
  start, imports, the snapshot (check), storing the model, gate, registry write, serving export.
* ``LightGBM in both``: plain ``dataset + boost`` next to workbench's ``train`` step.
* ``overhead`` (the target): ``wb train wall - wb train step`` (everything that is not
  LightGBM's own training) as a share of ``plain wall``; target <= 15%. Computed for both wb
  train variants. Note that this counts work the plain script does too (start-up, imports,
  reading, encoding), so even a tool with no extra cost would not score 0%.
* ``extra vs plain``: the like-for-like figure: ``(wb wall - wb train step) - (plain wall -
  plain dataset - plain boost)``, i.e. workbench's non-LightGBM time minus the plain script's,
  as a share of ``plain wall``. Both sides exclude LightGBM, whose time swings by tens of
  percent on a shared machine, so this is the steadiest measure of what workbench adds.
* ``ratio`` = ``wb train wall / plain wall`` (informational; carries LightGBM's noise).

Predict (the champion of the last ``snapshot taken`` run, all ``--rows`` rows):

* ``wb predict``: ``workbench predict INPUT -o OUTPUT`` as a subprocess (Parquet -> Parquet and
  CSV -> CSV). Output = input columns + ``prediction`` + ``prediction_label``.
* ``plain predict``: a separate Python process that loads ``.workbench/serving/model.txt`` with
  ``lightgbm.Booster(model_file=...)`` and the category lists from ``model.json``, reads the
  whole input with polars, encodes the same way (``Enum`` cast -> codes), calls
  ``Booster.predict``, and writes the same output columns with polars' default writer. Inside it
  times ``import``, ``load`` (model), ``read``, ``encode``, ``predict``, ``write``.
  Both outputs are compared (max |difference| of ``prediction``; labels equal).
* target: ``wb predict wall / plain predict wall`` <= 1.5 (Parquet; CSV is reported against the
  same bar).

Also reported: ``python -c pass`` (interpreter start) and the import time of what
``workbench train`` needs (workbench.cli + trainer + lightgbm + polars + duckdb) versus what the
plain script needs (numpy + polars + lightgbm), and each process's peak RSS. With
``--profile``: cProfile'd ``workbench snapshot``, ``workbench train`` (snapshot taken) and
``workbench predict`` (Parquet), top functions printed. ``code`` in results.json records the git
commit, the uncommitted changes under ``workbench/`` and a hash of its sources at start and
end; the run warns if the package changed while it ran (the numbers would then mix versions).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from benchlib import fmt_s, fmt_x, last_json, ratio, read_through

DATA_SEED = 20240601
FLOATS = [f"f{i:02d}" for i in range(20)]
INTS = [f"i{i}" for i in range(5)]
CATS = {"c0": 5, "c1": 10, "c2": 20, "c3": 35, "c4": 50}  # column -> number of levels
TARGET = "target"
TIME_COLUMN = "event_time"
HOLDOUT_FRACTION = 0.2  # workbench's default
VALID_FRACTION = 0.1  # workbench.model.train.VALID_FRACTION
OVERHEAD_TARGET = 0.15
PREDICT_TARGET = 1.5
PARAMS = {
    "objective": "binary",
    "seed": 42,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
    "num_leaves": 63,
}
ROUNDS = 100
WORKBENCH_TOML = f"""\
[data]
path = "data"
target = "{TARGET}"
time_column = "{TIME_COLUMN}"

[model]
task = "binary"
num_boost_round = {ROUNDS}
early_stopping_rounds = 0
params = {{ num_leaves = {PARAMS["num_leaves"]} }}

[train]
split = "random"
seed = {PARAMS["seed"]}
"""
PY = sys.executable
_WB = Path(PY).with_name("workbench")
WB = [str(_WB)] if _WB.exists() else [PY, "-m", "workbench.cli"]
PROFILED = [PY, "-m", "cProfile", "-o"]
ENV = dict(os.environ)  # every subprocess's environment (see --omp-active)

# ---------------------------------------------------------------- the plain scripts

PLAIN_TRAIN = r'''
"""Plain LightGBM training: read Parquet, encode, same 72% of rows, lightgbm.train."""
import time

T0 = time.perf_counter()
import json
import math
import sys

import lightgbm as lgb
import numpy as np
import polars as pl

out = {"import": time.perf_counter() - T0}
src, model_path, target, time_col, params_json, rounds, holdout = sys.argv[1:8]
params, rounds, holdout = json.loads(params_json), int(rounds), float(holdout)

t = time.perf_counter()
df = pl.read_parquet(src)
out["read"] = time.perf_counter() - t

t = time.perf_counter()
features = [c for c in df.columns if c not in (target, time_col)]
cats = [c for c in features if df.schema[c] == pl.String]
X = df.select(
    (pl.col(c).rank("dense") - 1).cast(pl.Float64) if c in cats else pl.col(c).cast(pl.Float64)
    for c in features
).to_numpy()
y = df[target].cast(pl.Float64).to_numpy()
n = len(y)
order = np.random.default_rng(params["seed"]).permutation(n)
rest = order[math.ceil(n * holdout):]
rows = np.sort(rest[math.ceil(len(rest) * 0.1):])
X, y = X[rows], y[rows]
out["encode"] = time.perf_counter() - t

t = time.perf_counter()
ds = lgb.Dataset(
    X, y, feature_name=features, categorical_feature=[features.index(c) for c in cats],
    params=dict(params), free_raw_data=True,
)
ds.construct()
out["dataset"] = time.perf_counter() - t

t = time.perf_counter()
booster = lgb.train(params, ds, num_boost_round=rounds)
out["boost"] = time.perf_counter() - t
booster.save_model(model_path)
out["rows"] = int(len(y))
out["total"] = time.perf_counter() - T0
print(json.dumps(out))
'''

PLAIN_PREDICT = r'''
"""Plain batch scoring: Booster(model_file=...), read, encode, predict, write."""
import time

T0 = time.perf_counter()
import json
import sys

import lightgbm as lgb
import numpy as np
import polars as pl

out = {"import": time.perf_counter() - T0}
model_txt, model_json, src, dst = sys.argv[1:5]

t = time.perf_counter()
booster = lgb.Booster(model_file=model_txt)
with open(model_json) as f:
    spec = json.load(f)["spec"]
out["load"] = time.perf_counter() - t

t = time.perf_counter()
csv = src.endswith(".csv")
df = pl.read_csv(src, infer_schema_length=10_000) if csv else pl.read_parquet(src)
out["read"] = time.perf_counter() - t

t = time.perf_counter()
exprs = []
for name in spec["features"]:
    if name in spec["categories"]:
        enum = pl.Enum(spec["categories"][name])
        exprs.append(pl.col(name).cast(enum, strict=False).to_physical().cast(pl.Float64))
    else:
        exprs.append(pl.col(name).cast(pl.Float64))
X = df.select(exprs).to_numpy()
out["encode"] = time.perf_counter() - t

t = time.perf_counter()
p = booster.predict(X)
out["predict"] = time.perf_counter() - t

t = time.perf_counter()
classes = np.asarray(spec["classes"])
result = df.with_columns(
    pl.Series("prediction", p), pl.Series("prediction_label", classes[(p >= 0.5).astype(int)])
)
if csv:
    result.write_csv(dst)
else:
    result.write_parquet(dst)
out["write"] = time.perf_counter() - t
out["rows"] = df.height
out["total"] = time.perf_counter() - T0
print(json.dumps(out))
'''

# ---------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def med(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class Run:
    wall: float
    rss_mb: float
    stdout: str
    stderr: str


def run(cmd: Sequence[str | Path], cwd: Path | None = None) -> Run:
    """One timed subprocess (it must succeed): wall time, peak RSS, output."""
    os.sync()  # untimed: earlier runs' dirty pages are not this run's cost
    args = [str(c) for c in cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=ENV, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{stderr[-3000:]}")
    return Run(wall, usage.ru_maxrss / 1024, stdout, stderr)


def fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


# ---------------------------------------------------------------- data


def make_frame(rows: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00", "ms")
    gaps = rng.exponential(30_000, rows).astype(np.int64)
    cols: dict[str, Any] = {TIME_COLUMN: start + np.cumsum(gaps).astype("timedelta64[ms]")}
    z = rng.standard_normal((rows, len(FLOATS)))  # standardised values the target is built on
    scale, shift = rng.uniform(0.5, 20, len(FLOATS)), rng.uniform(-10, 10, len(FLOATS))
    nan_share = rng.uniform(0.0, 0.05, len(FLOATS))
    for j, name in enumerate(FLOATS):
        missing = rng.random(rows) < nan_share[j]
        values = z[:, j] * scale[j] + shift[j]
        values[missing] = np.nan
        z[missing, j] = 0.0
        cols[name] = values
    highs = [2, 10, 100, 1000, 100_000]
    ints = [rng.integers(0, h, rows) for h in highs]
    for name, values in zip(INTS, ints, strict=True):
        cols[name] = values
    effects, codes = {}, {}
    for name, levels in CATS.items():
        p = 1.0 / np.arange(1, levels + 1) ** 0.8
        codes[name] = rng.choice(levels, size=rows, p=p / p.sum())
        effects[name] = rng.normal(0, 0.6, levels)
        codes[name] = np.where(rng.random(rows) < 0.01, -1, codes[name])
    logit = (
        1.2 * z[:, 0]
        - 0.8 * z[:, 1]
        + 0.6 * z[:, 2] * z[:, 3]
        + 0.7 * np.sin(2 * z[:, 4])
        + 0.5 * (z[:, 5] > 1)
        + 0.4 * ints[0]
        - 0.6 * (ints[2] / 100 - 0.5)
    )
    for name in ("c0", "c2", "c4"):
        logit += np.where(codes[name] >= 0, effects[name][np.maximum(codes[name], 0)], 0.0)
    logit -= np.median(logit)
    target = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    frame = pl.DataFrame(cols)
    cat_cols = []
    for name, levels in CATS.items():
        vocab = pl.Series(name, [f"{name}_lvl{k:02d}" for k in range(levels)])
        code = pl.Series(codes[name])
        cat_cols.append(vocab.gather(code.clip(0)).set(code < 0, None).alias(name))
    return frame.with_columns(*cat_cols, pl.Series(TARGET, target))


def ensure_data(gen: Path, rows: int, csv: bool) -> tuple[Path, Path | None]:
    """The generated Parquet (and CSV) for ``rows``, re-used when already there."""
    gen.mkdir(parents=True, exist_ok=True)
    parquet, csv_path = gen / f"big_{rows}.parquet", gen / f"big_{rows}.csv"
    stamp = gen / f"big_{rows}.json"
    spec = {"rows": rows, "seed": DATA_SEED, "format": 1}
    fresh = not (stamp.exists() and json.loads(stamp.read_text()) == spec and parquet.exists())
    if fresh:
        log(f"generating {rows:,} rows")
        t0 = time.perf_counter()
        frame = make_frame(rows, DATA_SEED)
        frame.write_parquet(parquet)
        csv_path.unlink(missing_ok=True)
        stamp.write_text(json.dumps(spec))
        log(
            f"  parquet {parquet.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - t0:.1f}s"
        )
    if csv and not csv_path.exists():
        pl.read_parquet(parquet).write_csv(csv_path)
        log(f"  csv {csv_path.stat().st_size / 2**20:.0f} MiB")
    return parquet, (csv_path if csv else None)


def make_project(root: Path, parquet: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    (root / "data").mkdir(parents=True)
    target = root / "data" / "big.parquet"
    try:
        os.link(parquet, target)  # same bytes, no copy; workbench only reads it
    except OSError:
        shutil.copyfile(parquet, target)
    (root / "workbench.toml").write_text(WORKBENCH_TOML)
    return root


def fresh_store(project: Path) -> None:
    shutil.rmtree(project / ".workbench", ignore_errors=True)


def trees(model_text: str) -> str:
    start = model_text.find("Tree=0")
    end = model_text.find("end of trees")
    return model_text[start:end]


# ---------------------------------------------------------------- train


def bench_train(work: Path, project: Path, parquet: Path, repeats: int) -> dict[str, Any]:
    scripts = work / "scripts"
    plain_script = scripts / "plain_train.py"
    plain_model = work / "plain_model.txt"
    plain_cmd = [
        PY,
        plain_script,
        parquet,
        plain_model,
        TARGET,
        TIME_COLUMN,
        json.dumps(PARAMS),
        ROUNDS,
        HOLDOUT_FRACTION,
    ]
    wb = [*WB, "--project", project]
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "first": [], "snapshot": [], "after": []}

    def plain() -> None:
        r = run(plain_cmd)
        runs["plain"].append({"wall": r.wall, "rss_mb": r.rss_mb, **last_json(r.stdout)})

    def first() -> None:
        fresh_store(project)
        r = run([*wb, "train", "--json"], cwd=project)
        out = last_json(r.stdout)
        runs["first"].append({"wall": r.wall, "rss_mb": r.rss_mb, "output": out})

    def snapshot_then_train() -> None:
        fresh_store(project)
        s = run([*wb, "snapshot", "--json"], cwd=project)
        runs["snapshot"].append({"wall": s.wall, "rss_mb": s.rss_mb})
        r = run([*wb, "train", "--json"], cwd=project)
        out = last_json(r.stdout)
        runs["after"].append({"wall": r.wall, "rss_mb": r.rss_mb, "output": out})

    steps: list[tuple[str, str, Callable[[], None]]] = [
        ("plain script", "plain", plain),
        ("wb train (first snapshot)", "first", first),
        ("wb snapshot + wb train", "after", snapshot_then_train),
    ]
    last = ""
    for rep in range(repeats):
        k = rep % len(steps)
        for label, key, fn in steps[k:] + steps[:k]:  # the order rotates from repeat to repeat
            fn()
            last = key
            log(f"  train rep {rep + 1}/{repeats}: {label}: {runs[key][-1]['wall']:.2f}s")
    if last == "first":  # predict uses the store of a "snapshot taken" run (untimed here)
        fresh_store(project)
        run([*wb, "snapshot", "--json"], cwd=project)
        run([*wb, "train", "--json"], cwd=project)

    def wb_summary(key: str) -> dict[str, Any]:
        rows = runs[key]
        timings = [r["output"]["version"]["timings"] for r in rows]
        steps_med = {
            k: med([t[k] for t in timings]) for k in ("load", "prepare", "train", "evaluate")
        }
        walls = [r["wall"] for r in rows]
        other = [
            r["wall"] - sum(t[k] for k in steps_med) for r, t in zip(rows, timings, strict=True)
        ]
        overhead = [r["wall"] - t["train"] for r, t in zip(rows, timings, strict=True)]
        return {
            "wall": med(walls),
            "walls": walls,
            "steps": steps_med,
            "other": med(other),
            "overhead": med(overhead),
            "rss_mb": med([r["rss_mb"] for r in rows]),
            "metrics": rows[-1]["output"]["version"]["metrics"],
            "rows": rows[-1]["output"]["version"]["rows"],
            "snapshot_created": [r["output"]["snapshot_created"] for r in rows],
        }

    plain_rows = runs["plain"]
    plain_med = {
        k: med([r[k] for r in plain_rows])
        for k in ("wall", "import", "read", "encode", "dataset", "boost", "total", "rss_mb")
    }
    plain_med["non_lightgbm"] = med([r["wall"] - r["dataset"] - r["boost"] for r in plain_rows])
    plain_med["rows"] = plain_rows[-1]["rows"]
    plain_med["walls"] = [r["wall"] for r in plain_rows]
    champion_model = (project / ".workbench" / "serving" / "model.txt").read_text()
    identical = trees(plain_model.read_text()) == trees(champion_model)
    return {
        "plain": plain_med,
        "wb_snapshot": {
            "wall": med([r["wall"] for r in runs["snapshot"]]),
            "walls": [r["wall"] for r in runs["snapshot"]],
            "rss_mb": med([r["rss_mb"] for r in runs["snapshot"]]),
        },
        "wb_first": wb_summary("first"),
        "wb_after": wb_summary("after"),
        "models_identical": identical,
        "raw": runs,
    }


# ---------------------------------------------------------------- predict


def bench_predict(
    work: Path, project: Path, inputs: dict[str, Path], repeats: int
) -> dict[str, Any]:
    serving = project / ".workbench" / "serving"
    out_dir = project / "scored"  # predict writes only inside the project
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for fmt, src in inputs.items():
        read_through(src)
        wb_out, plain_out = out_dir / f"wb_out.{fmt}", out_dir / f"plain_out.{fmt}"
        wb_cmd = [*WB, "--project", project, "predict", src, "-o", wb_out]
        plain_cmd = [
            PY,
            work / "scripts" / "plain_predict.py",
            serving / "model.txt",
            serving / "model.json",
            src,
            plain_out,
        ]
        wb_runs: list[dict[str, Any]] = []
        plain_runs: list[dict[str, Any]] = []
        for rep in range(repeats):
            order = [("wb", wb_cmd), ("plain", plain_cmd)]
            for name, cmd in order if rep % 2 == 0 else order[::-1]:
                for f in (wb_out, plain_out):
                    f.unlink(missing_ok=True)
                r = run(cmd, cwd=project)
                row = {"wall": r.wall, "rss_mb": r.rss_mb}
                if name == "plain":
                    plain_runs.append(row | last_json(r.stdout))
                else:
                    wb_runs.append(row)
                log(f"  predict {fmt} rep {rep + 1}/{repeats}: {name}: {r.wall:.2f}s")
        for f in (wb_out, plain_out):  # one more of each, untimed, to compare the outputs
            f.unlink(missing_ok=True)
        run(wb_cmd, cwd=project)
        run(plain_cmd, cwd=project)
        check = compare_outputs(wb_out, plain_out, fmt)
        for f in (wb_out, plain_out):
            f.unlink(missing_ok=True)
        plain_keys = ("import", "load", "read", "encode", "predict", "write", "total")
        results[fmt] = {
            "wb": {
                "wall": med([r["wall"] for r in wb_runs]),
                "walls": [r["wall"] for r in wb_runs],
                "rss_mb": med([r["rss_mb"] for r in wb_runs]),
            },
            "plain": {k: med([r[k] for r in plain_runs]) for k in plain_keys}
            | {
                "wall": med([r["wall"] for r in plain_runs]),
                "walls": [r["wall"] for r in plain_runs],
                "rss_mb": med([r["rss_mb"] for r in plain_runs]),
            },
            "check": check,
            "input_mib": src.stat().st_size / 2**20,
        }
    return results


def compare_outputs(wb_out: Path, plain_out: Path, fmt: str) -> dict[str, Any]:
    def read(path: Path) -> pl.DataFrame:
        return pl.read_parquet(path) if fmt == "parquet" else pl.read_csv(path)

    a, b = read(wb_out), read(plain_out)
    diff = (a["prediction"] - b["prediction"]).abs().max()
    return {
        "rows": [a.height, b.height],
        "columns_equal": a.columns == b.columns,
        "max_abs_diff": float(diff) if diff is not None else None,  # type: ignore[arg-type]
        "labels_equal": bool((a["prediction_label"] == b["prediction_label"]).all()),
        "bytes": [wb_out.stat().st_size, plain_out.stat().st_size],
    }


# ---------------------------------------------------------------- start-up and imports


def bench_startup(repeats: int) -> dict[str, Any]:
    def imports(modules: str) -> float:
        code = (
            "import time; t = time.perf_counter(); "
            f"import {modules}; print(time.perf_counter() - t)"
        )
        return float(run([PY, "-c", code]).stdout)

    wb_mods = "workbench.cli, workbench.pipeline.train, lightgbm, polars, duckdb"
    return {
        "python_pass": med([run([PY, "-c", "pass"]).wall for _ in range(repeats)]),
        "import_workbench_train": med([imports(wb_mods) for _ in range(repeats)]),
        "import_plain": med([imports("numpy, polars, lightgbm") for _ in range(repeats)]),
    }


# ---------------------------------------------------------------- profiling


def profile_runs(work: Path, project: Path, parquet_in: Path) -> dict[str, Any]:
    prof_dir = work / "profiles"
    prof_dir.mkdir(exist_ok=True)
    fresh_store(project)
    out: dict[str, Any] = {}
    snap_prof = prof_dir / "snapshot.prof"
    r = run(
        [*PROFILED, snap_prof, "-m", "workbench.cli", "--project", project, "snapshot", "--json"],
        cwd=project,
    )
    out["snapshot"] = {"wall": r.wall, "top": top_functions(snap_prof)}
    train_prof = prof_dir / "train.prof"
    r = run(
        [*PROFILED, train_prof, "-m", "workbench.cli", "--project", project, "train", "--json"],
        cwd=project,
    )
    out["train"] = {"wall": r.wall, "top": top_functions(train_prof)}
    predict_prof = prof_dir / "predict.prof"
    dst = project / "scored" / "profiled.parquet"
    dst.parent.mkdir(exist_ok=True)
    cmd = [*PROFILED, predict_prof, "-m", "workbench.cli", "--project", project, "predict"]
    r = run([*cmd, parquet_in, "-o", dst], cwd=project)
    dst.unlink(missing_ok=True)
    out["predict"] = {"wall": r.wall, "top": top_functions(predict_prof)}
    return out


def top_functions(path: Path, limit: int = 22) -> dict[str, list[dict[str, Any]]]:
    """Top workbench functions by cumulative time and top functions overall by self time."""
    stats = pstats.Stats(str(path))
    entries = []
    for (file, line, name), (_cc, calls, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        entries.append(
            {
                "function": f"{Path(file).name}:{line}({name})" if line else name,
                "file": file,
                "calls": calls,
                "self_s": round(tt, 3),
                "cum_s": round(ct, 3),
            }
        )
    ours = [e for e in entries if "/workbench/" in e["file"]]
    interesting = ("lightgbm", "polars", "pyarrow", "duckdb", "numpy")
    libs = [e for e in entries if any(f"/{m}/" in e["file"] for m in interesting)]
    return {
        "workbench_by_cum": sorted(ours, key=lambda e: -e["cum_s"])[:limit],
        "libraries_by_cum": sorted(libs, key=lambda e: -e["cum_s"])[:limit],
        "all_by_self": sorted(entries, key=lambda e: -e["self_s"])[:limit],
    }


def print_profile(name: str, prof: dict[str, Any]) -> None:
    print(f"\ncProfile of workbench {name} (wall under the profiler {prof['wall']:.2f}s)")
    for title, key, n in (
        ("workbench functions by cumulative time", "workbench_by_cum", 16),
        ("library functions by cumulative time", "libraries_by_cum", 10),
        ("all functions by self time", "all_by_self", 10),
    ):
        print(f"  {title}:")
        for e in prof["top"][key][:n]:
            timing = f"{e['cum_s']:8.2f} cum {e['self_s']:8.2f} self {e['calls']:>8}"
            print(f"    {timing}  {e['function']}")


# ---------------------------------------------------------------- report


def report(results: dict[str, Any]) -> list[dict[str, Any]]:
    t, p = results["train"], results.get("predict", {})
    plain = t["plain"]
    rows: list[dict[str, Any]] = []

    def row(label: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append({"measure": label, "value": value, "target": target, "ok": ok})

    row(f"plain script wall ({plain['rows']:,} train rows)", fmt_s(plain["wall"]))
    row(
        "  import / read / encode+split / dataset / boost",
        " / ".join(fmt_s(plain[k]) for k in ("import", "read", "encode", "dataset", "boost")),
    )
    row("wb snapshot wall (fresh store)", fmt_s(t["wb_snapshot"]["wall"]))
    for key, label in (("wb_first", "first snapshot"), ("wb_after", "snapshot taken")):
        w = t[key]
        row(f"wb train wall ({label})", fmt_s(w["wall"]))
        steps = w["steps"]
        row(
            "  load / prepare / train / evaluate / other",
            " / ".join(fmt_s(steps[k]) for k in ("load", "prepare", "train", "evaluate"))
            + f" / {fmt_s(w['other'])}",
        )
        share = ratio(w["overhead"], plain["wall"])
        row(
            f"  overhead ({label}) = wall - train step, / plain wall",
            f"{fmt_s(w['overhead'])} = {fmt_pct(share)}",
            f"<= {OVERHEAD_TARGET:.0%}",
            None if share is None else share <= OVERHEAD_TARGET,
        )
        extra = w["overhead"] - plain["non_lightgbm"]
        row(
            f"  extra vs plain ({label}): non-LightGBM wb - plain, / plain wall",
            f"{fmt_s(w['overhead'])} - {fmt_s(plain['non_lightgbm'])} = {fmt_s(extra)}"
            f" = {fmt_pct(ratio(extra, plain['wall']))}",
        )
        row(f"  ratio wb train ({label}) / plain", fmt_x(ratio(w["wall"], plain["wall"])))
    row(
        "LightGBM in both: plain dataset+boost vs wb train step",
        f"{fmt_s(plain['dataset'] + plain['boost'])} vs {fmt_s(t['wb_after']['steps']['train'])}",
    )
    row("models identical (trees)", str(t["models_identical"]))
    row(
        "peak RSS plain / wb train (snapshot taken)",
        f"{plain['rss_mb']:.0f} / {t['wb_after']['rss_mb']:.0f} MiB",
    )
    for fmt, r in p.items():
        x = ratio(r["wb"]["wall"], r["plain"]["wall"])
        row(
            f"predict {fmt}: wb vs plain wall",
            f"{fmt_s(r['wb']['wall'])} vs {fmt_s(r['plain']['wall'])} = {fmt_x(x)}",
            f"<= {PREDICT_TARGET}x",
            None if x is None else x <= PREDICT_TARGET,
        )
        pl_ = r["plain"]
        row(
            f"  plain {fmt}: import/load/read/encode/predict/write",
            " / ".join(
                fmt_s(pl_[k]) for k in ("import", "load", "read", "encode", "predict", "write")
            ),
        )
        c = r["check"]
        row(
            f"  outputs agree ({fmt})",
            f"max|d|={c['max_abs_diff']:.2g}, labels equal {c['labels_equal']},"
            f" rows {c['rows'][0]:,}",
        )
        row(
            f"  peak RSS wb / plain ({fmt})",
            f"{r['wb']['rss_mb']:.0f} / {r['plain']['rss_mb']:.0f} MiB",
        )
    s = results.get("startup")
    if s:
        row(
            "python -c pass / import wb-train set / import plain set",
            " / ".join(
                fmt_s(s[k]) for k in ("python_pass", "import_workbench_train", "import_plain")
            ),
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    w1 = max(len(r["measure"]) for r in rows)
    w2 = max(len(r["value"]) for r in rows)
    print(f"\n{'measure':<{w1}}  {'value':<{w2}}  {'target':<8}  result")
    print("-" * (w1 + w2 + 22))
    for r in rows:
        verdict = "" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL")
        print(f"{r['measure']:<{w1}}  {r['value']:<{w2}}  {r['target']:<8}  {verdict}")


DEFINITIONS = f"""\
How the verdicts are defined (every figure a median of the runs, both sides from this run):
  overhead       = wb train wall - wb "train" step, as a % of the plain script's wall
                   (target <= {OVERHEAD_TARGET:.0%}). The "train" step is LightGBM's own training:
                   lightgbm.train (Dataset construction/binning, the boosting rounds, the per-round
                   validation scoring) plus model_to_string. All else is overhead: start-up,
                   imports, snapshot check, validation, reading, split + encoding, scoring the
                   holdout, gate, storing the model, registry write, serving export.
  extra vs plain = wb overhead - the plain script's non-LightGBM time (its wall - dataset -
                   boost), as a % of the plain wall: what workbench adds beyond the plain script.
  predict ratio  = wb predict wall / plain predict wall (same input, same output columns);
                   target <= {PREDICT_TARGET}x.
"""


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/wb-bench-train"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100k rows smoke run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-csv", action="store_true", help="no CSV predict comparison")
    ap.add_argument("--profile", action="store_true", help="cProfile one train and one predict")
    ap.add_argument("--clean", action="store_true", help="delete data and outputs at the end")
    ap.add_argument(
        "--omp-active",
        action="store_true",
        help="keep OpenMP's default (spinning) wait policy instead of OMP_WAIT_POLICY=PASSIVE",
    )
    return ap.parse_args(argv)


def code_state() -> dict[str, Any]:
    """Which workbench code is being measured (the package may be edited while this runs)."""
    import hashlib

    import workbench

    pkg = Path(workbench.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(pkg.rglob("*.py")):
        digest.update(path.relative_to(pkg).as_posix().encode() + b"\0" + path.read_bytes())

    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", "-C", str(pkg.parent), *args], capture_output=True, text=True, check=False
        )
        return proc.stdout.strip()

    return {
        "package": str(pkg),
        "sources_sha256": digest.hexdigest()[:16],
        "git_commit": git("rev-parse", "HEAD"),
        "git_uncommitted": git("status", "--porcelain", "--", pkg.name).splitlines(),
    }


def versions() -> dict[str, Any]:
    code = (
        "import json, lightgbm, polars, numpy, pyarrow, duckdb, workbench; print(json.dumps("
        "{m.__name__: m.__version__ for m in (lightgbm, polars, numpy, pyarrow, duckdb, workbench)}"
        "))"
    )
    proc = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows = 100_000 if args.quick else args.rows
    if not args.omp_active:
        ENV["OMP_WAIT_POLICY"] = "PASSIVE"
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "scripts").mkdir(exist_ok=True)
    (work / "scripts" / "plain_train.py").write_text(PLAIN_TRAIN)
    (work / "scripts" / "plain_predict.py").write_text(PLAIN_PREDICT)
    results: dict[str, Any] = {
        "config": {
            "rows": rows,
            "repeats": args.repeats,
            "params": PARAMS,
            "rounds": ROUNDS,
            "OMP_WAIT_POLICY": ENV.get("OMP_WAIT_POLICY"),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_start": os.getloadavg(),
        },
        "versions": versions(),
        "code": {"start": code_state()},
    }
    t_start = time.perf_counter()
    parquet, csv = ensure_data(work / "gen", rows, csv=not args.skip_csv)
    read_through(parquet)
    project = make_project(work / "project", parquet)

    log("start-up and imports")
    results["startup"] = bench_startup(args.repeats)
    log("train")
    results["train"] = bench_train(work, project, parquet, args.repeats)
    log("predict")
    inputs = {"parquet": parquet} | ({"csv": csv} if csv else {})
    results["predict"] = bench_predict(work, project, inputs, args.repeats)
    if args.profile:
        log("profiles")
        results["profiles"] = profile_runs(work, project, parquet)
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["code"]["end"] = code_state()
    changed = results["code"]["start"] != results["code"]["end"]
    results["code"]["changed_during_run"] = changed
    results["seconds"] = time.perf_counter() - t_start

    table = report(results)
    results["summary"] = table
    results["definitions"] = DEFINITIONS
    print_table(table)
    print(f"\n{DEFINITIONS}", end="")
    for name, prof in results.get("profiles", {}).items():
        print_profile(name, prof)
    print(
        f"\nload average start {results['machine']['loadavg_start']}"
        f" end {results['machine']['loadavg_end']}; {results['seconds']:.0f}s in all;"
        f" {results['config']['repeats']} runs of each contender"
    )
    out = work / "results.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    code = results["code"]["start"]
    dirty = (
        f", {len(code['git_uncommitted'])} uncommitted file(s)" if code["git_uncommitted"] else ""
    )
    print(f"workbench code: {code['git_commit'][:10]}{dirty}, sources {code['sources_sha256']}")
    if changed:
        print("WARNING: the workbench package changed during the run; the numbers mix versions")
    print(f"results: {out}")
    if args.clean:
        for name in ("gen", "project", "predict", "profiles", "plain_model.txt"):
            path = work / name
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
    verdicts = [r["ok"] for r in table if r["ok"] is not None]
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
