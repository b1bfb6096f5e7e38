"""Benchmark: workbench's drift statistics and ``workbench drift`` vs Evidently's DataDriftPreset.

A standalone script, not a pytest test: it generates data, runs every contender as a separate
subprocess, prints a table of numbers and ratios measured side by side in one run, and writes
everything (raw runs included) to ``<workdir>/results.json``. Run it from the project venv::

    /work/venv/bin/python tests/bench/bench_drift.py --quick       # 100k rows, no 10M, ~3-5 min
    /work/venv/bin/python tests/bench/bench_drift.py               # 1M (+100k, 10M), ~25 min
    /work/venv/bin/python tests/bench/bench_drift.py --skip-evidently --skip-10m

Flags: ``--workdir`` (default /tmp/wb-bench-drift: generated Parquet, the Evidently venv, the
project, results.json; the data is re-used by the next run unless ``--clean``), ``--rows``
(default 1,000,000 per side), ``--quick`` (100,000 rows, no 10M), ``--repeats`` (default 3:
cheap figures are medians of that many runs), ``--evidently-repeats`` (default 1: Evidently at
``--rows``, 4-6 min a run at 1M), ``--skip-evidently``, ``--skip-10m``, ``--profile`` (a cProfile'd
run of (a) at ``--rows``; also done automatically when (a)'s speed target fails), ``--clean``
(delete the generated data and the project at the end; the Evidently venv and results.json
stay).

``--issue`` runs only the issue's scenario (workbench issue 14): a project whose champion
trained on ``ref_<rows>.parquet``, then a new batch of ``rows - 1`` rows (``batch_<rows-1>``:
the head of ``cur_<rows>``, so the sizes are unequal) lands in its data folder; then, whole
processes side by side, ``workbench snapshot --json`` alone (the snapshot's share), ``workbench
drift --json`` right after the batch landed (``first``), ``drift --json --force`` right after
(``cached``), and Evidently's DataDriftPreset on the same two files (``--evidently-repeats``).
Verdicts: Evidently wall / drift wall >= 50, drift peak RSS <= 1/3 of Evidently's. ``--scale
250000,500000,1000000,2000000`` adds the same run (no Evidently) per size, printing wall and
peak RSS against the Parquet bytes. Results go to ``<workdir>/results-issue.json``.

The machine is small (2 cores, 24 GB) and shared, so: cheap figures are medians, contenders
are interleaved (their order rotates from repeat to repeat), verdicts use ratios measured in the
same run, ``os.sync()`` runs (untimed) before every timed subprocess, the inputs are read into
the page cache before timing (warm cache for everyone), and load averages are recorded.

Data
----
Reference and current, ``--rows`` rows each x 30 columns, no nulls, seeded numpy, written in
1M-row chunks (``<workdir>/data/{ref,cur}_<rows>.parquet``, zstd): 20 floats (normal,
lognormal, uniform, gamma with random parameters), 5 ints with many distinct values (uniform
0-1000, uniform 0-100k, Poisson(50), Binomial(2000, 0.3), rounded normal), 5 string
categoricals with 5/8/12/20/30 levels (Zipf-like shares), plus a binary ``target`` (a logistic
of some features; used by (b) only). The current differs in 8 columns (``SHIFTS``): f00 mean
+0.5 sd, f01 sigma x1.5, f05 mu +0.3, f10 shifted by 20% of its width, i0 +100, i2
Poisson(60), c0 level shares reversed, c2 a new level (5% of rows). Evidently and workbench (a)
read only the 30 feature columns.

What each number means
----------------------
Every contender runs as its own process; ``wall`` is that process's wall time (interpreter
start and imports included), ``cpu`` its user + sys time, ``peak RSS`` its maximum resident set
size as ``/usr/bin/time`` reports it (GNU time launches it; see ``run`` for why the parent's own
``os.wait4`` would be wrong). Inside the scripts ``RSS after read`` is ``VmHWM``.

* ``Evidently`` (Evidently 0.7.23, or the newest 0.7.x ``pip index versions evidently`` lists,
  in ``<workdir>/venv-evidently`` with ``pandas<3``: 0.7.23 does not import with pandas 3):
  ``pd.read_parquet`` both files (``read``), then ``Report([DataDriftPreset()]).run(
  current_data=cur, reference_data=ref)`` (``run``: column type inference + per-column test +
  summary), then ``snapshot.dict()`` for the per-column scores (not timed in ``run``).
* ``workbench (a)`` (the like-for-like statistics): ``pl.read_parquet`` both files
  (``read``), then per column the null-free numpy arrays (``convert``: float64 for numbers,
  object arrays of ``str`` for strings, as ``workbench.monitor.drift._values`` makes them) and
  ``drift_stats.feature_drift`` (``stats``), then ``drift_stats.dataset_drift``. ``compute`` =
  convert + stats + dataset_drift: the counterpart of Evidently's ``run``.
* ``workbench (a')``: the same read, then ``workbench.monitor.drift.compare_frames(ref, cur,
  kinds)``, the function ``workbench drift`` itself calls (added to workbench while this
  benchmark was written; skipped if absent): categoricals become shared integer codes in
  polars instead of object arrays of ``str``, and the columns run on a thread pool (as many
  threads as cores). Its scores are checked to equal (a)'s. ``compute`` = that call +
  ``dataset_drift``.
* Speed target: Evidently ``run`` / workbench ``compute`` >= 50 at ``--rows`` (the verdict);
  the same ratio of whole-process wall times is printed next to it (reading Parquet with pandas
  vs polars and the imports included), and the ratio of CPU times (user + sys; less sensitive
  to a busy machine than wall time). Memory target: workbench peak RSS <= 1/3 of Evidently's.
  Both targets are judged for (a) and (a'). ``RSS after read`` is the peak right after both
  frames are in memory, so ``peak - after read`` is what the computation itself adds.
* ``workbench drift`` (b): a project with ``data/ref.parquet`` (the same reference plus its
  target), ``[model] num_boost_round = 5``; ``workbench train`` once (untimed), then
  ``data/cur.parquet`` is added and ``workbench drift --json`` timed: ``first`` = snapshot of
  the new file (hash, copy into the store, profile) + building the reference cache (read the
  training snapshot, predict on it, write the cache Parquet) + current read + per-feature drift
  + prediction and target drift. Each repeat restores the store as it was after training.
  ``cached`` = ``workbench drift --json --force`` right after: the snapshot is a stat check and
  the reference comes from the cache. ``seconds`` is workbench's own timer (everything after
  the snapshot). The per-feature scores of (b) are compared with (a)'s (same data: they should
  be identical).
* 10M: workbench (a) and (a') on ``10 x --rows`` rows per side, one run each: wall and peak
  RSS, against ``MemTotal``. Target: it completes (no out-of-memory kill).
* ``cProfile of workbench (a)``: with ``--profile`` or when (a)'s speed target fails, one
  more (a) run at ``--rows`` under cProfile (main thread only, so not for (a')): workbench
  functions by cumulative time and all functions by self time.
* Agreement with Evidently: per column, Evidently's method (its display name mapped to
  workbench's name) and score next to workbench's; per method the number of columns, the max
  |score difference| and whether the drift verdicts match. Checked at 100k and ``--rows``
  (large-sample rules: wasserstein and jensenshannon) and on the first 1,000 rows of the 100k
  files (small-sample rules: ks and chisquare; no binary column, so no z). Expected
  differences (``drift_stats`` docstring): none for these methods except float rounding
  (Evidently counts ref ∪ cur distinct values to pick the method, workbench the reference's:
  the same here).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from benchlib import fmt_s, fmt_x, last_json, ratio, read_through

DATA_SEED = 20240917
DATA_FORMAT = 1  # bump when make_chunk changes: the cached Parquet is then rebuilt
CHUNK_ROWS = 1_000_000
FLOATS = [f"f{i:02d}" for i in range(20)]
INTS = [f"i{i}" for i in range(5)]
CATS = {"c0": 5, "c1": 8, "c2": 12, "c3": 20, "c4": 30}  # column -> levels in the reference
FEATURES = [*FLOATS, *INTS, *CATS]
KINDS = {name: "categorical" if name in CATS else "numerical" for name in FEATURES}
TARGET = "target"
NEW_LEVEL = "c2_new"
SHIFTS = {
    "f00": "normal: mean + 0.5 sd",
    "f01": "lognormal: sigma x 1.5",
    "f05": "lognormal: mu + 0.3",
    "f10": "uniform: shifted by 20% of its width",
    "i0": "uniform ints 0-1000 -> 100-1100",
    "i2": "Poisson(50) -> Poisson(60)",
    "c0": "level shares reversed",
    "c2": f"new level {NEW_LEVEL!r} in 5% of rows",
}
SMALL_ROWS = 100_000
AGREE_HEAD = 1000  # small-sample rules (reference rows <= 1000)
SPEED_TARGET = 50.0
MEMORY_TARGET = 1 / 3
DRIFT_SHARE = 0.5  # both tools' default
EVIDENTLY_VERSION = "0.7.23"
EVIDENTLY_METHODS = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "PSI": "psi",
}
P_VALUE_METHODS = ("ks", "chisquare", "z")
WORKBENCH_TOML = f"""\
[data]
path = "data"
target = "{TARGET}"

[model]
num_boost_round = 5
"""
PY = sys.executable
_WB = Path(PY).with_name("workbench")
WB = [str(_WB)] if _WB.exists() else [PY, "-m", "workbench.cli"]
ENV = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", DO_NOT_TRACK="1")
VARIANTS = {"workbench": "wb (a)", "workbench_frames": "wb (a')"}  # contender -> label

# ---------------------------------------------------------------- the measured scripts

EVIDENTLY_SCRIPT = r'''
"""Evidently: pandas reads both Parquets, Report([DataDriftPreset()]).run, per-column scores."""
import time

T0 = time.perf_counter()
import json
import resource
import sys

import evidently
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def rss_mb():
    """VmHWM: this process's own peak RSS (ru_maxrss also counts the pre-exec image)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


out = {"import": time.perf_counter() - T0, "version": evidently.__version__,
       "pandas": pd.__version__}
ref_path, cur_path, columns_json, head = sys.argv[1:5]
columns, head = json.loads(columns_json), int(head)

t = time.perf_counter()
ref = pd.read_parquet(ref_path, columns=columns)
cur = pd.read_parquet(cur_path, columns=columns)
if head:
    ref, cur = ref.head(head).copy(), cur.head(head).copy()
out["read"] = time.perf_counter() - t
out["rss_after_read_mb"] = rss_mb()

t, c = time.perf_counter(), time.process_time()
report = Report([DataDriftPreset()])
snapshot = report.run(current_data=cur, reference_data=ref)
out["run"], out["run_cpu"] = time.perf_counter() - t, time.process_time() - c

t = time.perf_counter()
features, summary = [], {}
for m in snapshot.dict()["metrics"]:
    config = m.get("config") or {}
    kind = str(config.get("type", ""))
    value = m.get("value")
    if kind.endswith("ValueDrift"):
        if isinstance(value, dict):
            value = value.get("value")
        features.append({"name": config["column"], "method": config.get("method"),
                         "threshold": config.get("threshold"), "score": value})
    elif kind.endswith("DriftedColumnsCount"):
        summary = {"count": value["count"], "share": value["share"],
                   "drift_share": config.get("drift_share")}
out["extract"] = time.perf_counter() - t
out["features"], out["summary"], out["rows"] = features, summary, [len(ref), len(cur)]
out["total"] = time.perf_counter() - T0
out["rss_peak_mb"] = rss_mb()
print(json.dumps(out))
'''

WB_STATS_SCRIPT = r'''
"""workbench (a): polars reads both Parquets, then the drift of every column.

mode "stats": per column numpy arrays + drift_stats.feature_drift (the brief's contract);
mode "frames": workbench.monitor.drift.compare_frames (what `workbench drift` calls).
"""
import time

T0 = time.perf_counter()
import json
import resource
import sys

import polars as pl

from workbench.monitor import stats as drift_stats

MODE = sys.argv[5]
if MODE == "frames":
    from workbench.monitor.drift import compare_frames


def rss_mb():
    """VmHWM: this process's own peak RSS (ru_maxrss also counts the pre-exec image)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def values(frame, name, kind):
    """As workbench.monitor.drift._values: nulls dropped, float64 or object arrays of str."""
    col = frame[name].drop_nulls()
    if kind == drift_stats.CATEGORICAL:
        return col.cast(pl.String).to_numpy().astype(object)
    return col.cast(pl.Float64).to_numpy()


out = {"import": time.perf_counter() - T0}
ref_path, cur_path, spec_json, head = sys.argv[1:5]
spec, head = json.loads(spec_json), int(head)  # spec: [[name, kind], ...]
names = [name for name, _ in spec]

t = time.perf_counter()
kw = {"columns": names, **({"n_rows": head} if head else {})}
ref = pl.read_parquet(ref_path, **kw)
cur = pl.read_parquet(cur_path, **kw)
out["read"] = time.perf_counter() - t
out["rss_after_read_mb"] = rss_mb()

cpu0, start = time.process_time(), time.perf_counter()
if MODE == "frames":
    features = compare_frames(ref, cur, dict(spec))
else:
    features, per_column = [], {}
    convert = stats = 0.0
    for name, kind in spec:
        t0 = time.perf_counter()
        r, c = values(ref, name, kind), values(cur, name, kind)
        t1 = time.perf_counter()
        features.append(drift_stats.feature_drift(name, kind, r, c))
        t2 = time.perf_counter()
        del r, c
        convert, stats = convert + t1 - t0, stats + t2 - t1
        per_column[name] = {"convert": t1 - t0, "stats": t2 - t1}
    out["convert"], out["stats"], out["per_column"] = convert, stats, per_column
summary = drift_stats.dataset_drift(features, 0.5)
out["compute"] = time.perf_counter() - start
out["compute_cpu"] = time.process_time() - cpu0
out["features"], out["summary"] = features, summary
out["rows"] = [ref.height, cur.height]
out["total"] = time.perf_counter() - T0
out["rss_peak_mb"] = rss_mb()
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
    cpu: float  # user + sys seconds of the process
    rss_mb: float
    stdout: str
    stderr: str
    returncode: int


# Peak RSS is measured by a small launcher that forks the command and reports the child's
# ru_maxrss: GNU time (``/usr/bin/time -f ... -o FILE``), else a tiny Python launcher. Not with
# os.wait4 from here: Python's subprocess vforks, and Linux carries the parent's peak RSS over
# into the child's ru_maxrss at exec (measured: a child ``python -c pass`` "peaks" at 526 MiB
# after the parent once held 500 MiB), so this process's data generation would leak in.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
LAUNCHER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[2:])\n"
    "_, status, ru = os.wait4(p.pid, 0)\n"
    "open(sys.argv[1], 'w').write(f'{ru.ru_maxrss} {ru.ru_utime} {ru.ru_stime}')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run(
    cmd: Sequence[str | Path],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> Run:
    """One timed subprocess: wall time, CPU time and peak RSS of the command, its output."""
    os.sync()  # untimed: earlier runs' dirty pages are not this run's cost
    args = [str(c) for c in cmd]
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as usage,
    ):
        if GNU_TIME:
            launcher = [GNU_TIME, "-f", "%M %U %S", "-o", usage.name]
        else:
            launcher = [sys.executable, "-c", LAUNCHER, usage.name]
        t0 = time.perf_counter()
        proc = subprocess.Popen([*launcher, *args], cwd=cwd, env=env or ENV, stdout=out, stderr=err)
        proc.wait()
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        fields = usage.read().split()  # GNU time may prefix "Command exited with ..."
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{stderr[-3000:]}")
    if len(fields) < 3:  # the launcher itself died
        fields = ["nan"] * 3
    maxrss_kb, user, system = (float(v) for v in fields[-3:])
    return Run(wall, user + system, maxrss_kb / 1024, stdout, stderr, proc.returncode)


def fmt_mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} MiB"


def mem_total_mb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024
    return None


def rows_label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    return f"{rows // 1000}k" if rows % 1000 == 0 else str(rows)


# ---------------------------------------------------------------- data


def make_chunk(side: str, index: int, n: int) -> pl.DataFrame:
    """Rows ``index * CHUNK_ROWS ...`` of one side; the distributions are fixed by DATA_SEED."""
    p = np.random.default_rng(DATA_SEED)  # distribution parameters: the same for both sides
    loc, scale = p.uniform(-10, 10, len(FLOATS)), p.uniform(0.5, 20, len(FLOATS))
    shape = p.uniform(1.0, 5.0, len(FLOATS))
    rng = np.random.default_rng([DATA_SEED, 0 if side == "ref" else 1, index])
    cur = side == "cur"
    cols: dict[str, Any] = {}
    for j, name in enumerate(FLOATS):
        a, b = float(loc[j]), float(scale[j])
        family = j % 4
        if family == 0:
            a += 0.5 * b if cur and name == "f00" else 0.0
            values = rng.normal(a, b, n)
        elif family == 1:
            mu, sigma = a / 10, 0.2 + b / 40
            sigma *= 1.5 if cur and name == "f01" else 1.0
            mu += 0.3 if cur and name == "f05" else 0.0
            values = rng.lognormal(mu, sigma, n)
        elif family == 2:
            a += 0.2 * b if cur and name == "f10" else 0.0
            values = rng.uniform(a, a + b, n)
        else:
            values = a + rng.gamma(float(shape[j]), b / 4, n)
        cols[name] = values
    cols["i0"] = rng.integers(100, 1100, n) if cur else rng.integers(0, 1000, n)
    cols["i1"] = rng.integers(0, 100_000, n)
    cols["i2"] = rng.poisson(60 if cur else 50, n)
    cols["i3"] = rng.binomial(2000, 0.3, n)
    cols["i4"] = np.rint(rng.normal(10_000, 2_000, n)).astype(np.int64)
    frame = pl.DataFrame(cols)
    codes: dict[str, np.ndarray] = {}
    cat_cols = []
    for name, levels in CATS.items():
        shares = 1.0 / np.arange(1, levels + 1) ** 0.8
        shares = shares[::-1] if cur and name == "c0" else shares
        code = rng.choice(levels, size=n, p=shares / shares.sum())
        vocab = [f"{name}_{k:02d}" for k in range(levels)]
        if cur and name == "c2":
            code = np.where(rng.random(n) < 0.05, levels, code)
            vocab.append(NEW_LEVEL)
        codes[name] = code
        cat_cols.append(pl.Series(name, vocab).gather(pl.Series(code)).alias(name))
    logit = (
        (cols["f00"] - loc[0]) / scale[0]
        - 0.8 * (cols["f02"] - loc[2]) / scale[2]
        + 0.5 * np.log(cols["f01"])
        + (cols["i0"] / 1000 - 0.5)
        + 0.3 * (codes["c1"] % 3 - 1)
    )
    target = (rng.random(n) < 1 / (1 + np.exp(-(logit - 0.2)))).astype(np.int64)
    return frame.with_columns(*cat_cols, pl.Series(TARGET, target))


def write_dataset(path: Path, side: str, rows: int) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".tmp")
    writer = None
    try:
        for index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            chunk = make_chunk(side, index, min(CHUNK_ROWS, rows - start))
            table = chunk.to_arrow(compat_level=pl.CompatLevel.oldest())
            del chunk
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    tmp.rename(path)


def ensure_data(data: Path, rows: int) -> tuple[Path, Path]:
    """``ref_<rows>.parquet`` and ``cur_<rows>.parquet``, re-used when already generated."""
    data.mkdir(parents=True, exist_ok=True)
    ref, cur = data / f"ref_{rows}.parquet", data / f"cur_{rows}.parquet"
    stamp = data / f"stamp_{rows}.json"
    spec = {"rows": rows, "seed": DATA_SEED, "format": DATA_FORMAT, "chunk": CHUNK_ROWS}
    if not (stamp.exists() and json.loads(stamp.read_text()) == spec) or not (
        ref.exists() and cur.exists()
    ):
        log(f"generating {rows:,} rows x {len(FEATURES)} columns per side")
        t0 = time.perf_counter()
        stamp.unlink(missing_ok=True)
        for path, side in ((ref, "ref"), (cur, "cur")):
            write_dataset(path, side, rows)
        stamp.write_text(json.dumps(spec))
        size = (ref.stat().st_size + cur.stat().st_size) / 2**20
        log(f"  {size:,.0f} MiB of Parquet in {time.perf_counter() - t0:.1f}s")
    return ref, cur


# ---------------------------------------------------------------- Evidently's venv


def evidently_version_to_install(py: Path) -> str:
    """0.7.23 when the index has it, else the newest 0.7.x it lists."""
    proc = subprocess.run(
        [str(py), "-m", "pip", "index", "versions", "evidently"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    found = re.search(r"Available versions:\s*(.+)", proc.stdout)
    listed = [v.strip() for v in found.group(1).split(",")] if found else []
    if EVIDENTLY_VERSION in listed or not listed:
        return EVIDENTLY_VERSION
    ours = [v for v in listed if re.fullmatch(r"0\.7\.\d+", v)]
    if not ours:
        raise RuntimeError(f"no Evidently 0.7.x on the index (it lists {', '.join(listed)})")
    return max(ours, key=lambda v: int(v.split(".")[2]))


def ensure_evidently(work: Path) -> tuple[Path, str]:
    venv = work / "venv-evidently"
    py = venv / "bin" / "python"
    probe = [str(py), "-c", "import evidently.presets, evidently; print(evidently.__version__)"]
    if py.exists():
        proc = subprocess.run(probe, capture_output=True, text=True, env=ENV)
        if proc.returncode == 0:
            return py, proc.stdout.strip()
    log(f"creating {venv} (python3 -m venv) and installing Evidently")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    version = evidently_version_to_install(py)
    # pandas<3: Evidently 0.7.23 imports pandas.core.dtypes.common.infer_dtype_from_object,
    # which pandas 3 removed (ImportError on `import evidently`), yet it does not pin pandas<3
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, f"evidently=={version}", "pandas<3", "pyarrow"], check=True, env=ENV)
    proc = subprocess.run(probe, capture_output=True, text=True, env=ENV, check=True)
    return py, proc.stdout.strip()


# ---------------------------------------------------------------- contenders


@dataclass(frozen=True)
class Contender:
    name: str
    cmd: list[str | Path]
    env: dict[str, str] | None = None


def evidently_cmd(py: Path, scripts: Path, ref: Path, cur: Path, head: int = 0) -> Contender:
    script = scripts / "evidently_drift.py"
    return Contender("evidently", [py, script, ref, cur, json.dumps(FEATURES), head])


def wb_stats_cmd(
    scripts: Path, ref: Path, cur: Path, head: int = 0, mode: str = "stats"
) -> Contender:
    spec = json.dumps([[name, KINDS[name]] for name in FEATURES])
    script = scripts / "wb_drift_stats.py"
    name = "workbench" if mode == "stats" else "workbench_frames"
    return Contender(name, [PY, script, ref, cur, spec, head, mode])


def has_compare_frames() -> bool:
    """(a') needs ``workbench.monitor.drift.compare_frames`` (added while this was written)."""
    try:
        from workbench.monitor.drift import compare_frames  # noqa: F401
    except ImportError:
        return False
    return True


def measure(contenders: list[Contender], repeats: dict[str, int], label: str) -> dict[str, Any]:
    """Interleaved runs (the order rotates each round); per contender the raw runs."""
    runs: dict[str, list[dict[str, Any]]] = {c.name: [] for c in contenders}
    for rep in range(max(repeats.values())):
        k = rep % len(contenders)
        for c in contenders[k:] + contenders[:k]:
            if rep >= repeats[c.name]:
                continue
            r = run(c.cmd, env=c.env)
            out = last_json(r.stdout)
            runs[c.name].append({"wall": r.wall, "cpu": r.cpu, "rss_mb": r.rss_mb, **out})
            log(
                f"  {label} {c.name} run {rep + 1}: {r.wall:.2f}s wall, {r.cpu:.2f}s cpu,"
                f" {r.rss_mb:,.0f} MiB"
            )
    return {name: summarize(rows) for name, rows in runs.items() if rows}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in rows[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    out: dict[str, Any] = {k: med([r[k] for r in rows]) for k in keys}
    out["n_runs"] = len(rows)
    out["walls"] = [r["wall"] for r in rows]
    last = rows[-1]
    for k in ("features", "summary", "per_column", "version", "pandas", "rows"):
        if k in last:
            out[k] = last[k]
    if "per_column" in out:  # medians per column, not the last run's
        out["per_column"] = {
            name: {k: med([r["per_column"][name][k] for r in rows]) for k in ("convert", "stats")}
            for name in last["per_column"]
        }
    return out


# ---------------------------------------------------------------- agreement


def agreement(ev: dict[str, Any], wb: dict[str, Any]) -> dict[str, Any]:
    """Per method: columns, max |score difference|, verdicts equal; and method mismatches."""
    wb_by_name = {f["name"]: f for f in wb["features"]}
    columns, by_method, mismatched = [], {}, []
    for e in ev["features"]:
        w = wb_by_name.get(e["name"])
        if w is None:
            continue
        method = EVIDENTLY_METHODS.get(str(e["method"]), str(e["method"]))
        threshold = float(e["threshold"]) if e["threshold"] is not None else w["threshold"]
        score = float(e["score"])
        if method in P_VALUE_METHODS:  # Evidently: ks <=, chisquare and z <; equal but at ==
            ev_drift = score <= threshold if method == "ks" else score < threshold
        else:
            ev_drift = score >= threshold
        row = {
            "name": e["name"],
            "evidently_method": method,
            "workbench_method": w["method"],
            "evidently_score": score,
            "workbench_score": w["score"],
            "abs_diff": abs(score - w["score"]) if w["score"] is not None else None,
            "evidently_drift": bool(ev_drift),
            "workbench_drift": w["drifted"],
        }
        columns.append(row)
        if method != w["method"]:
            mismatched.append(row)
            continue
        m = by_method.setdefault(
            method, {"columns": 0, "max_abs_diff": 0.0, "max_rel_diff": 0.0, "verdicts_equal": 0}
        )
        m["columns"] += 1
        diff = row["abs_diff"] or 0.0
        m["max_abs_diff"] = max(m["max_abs_diff"], diff)
        m["max_rel_diff"] = max(m["max_rel_diff"], diff / abs(score) if score else diff)
        m["verdicts_equal"] += row["evidently_drift"] == row["workbench_drift"]
    summary = {
        "evidently_share": ev["summary"].get("share"),
        "workbench_share": wb["summary"]["drift_share"],
        "evidently_drifted": ev["summary"].get("count"),
        "workbench_drifted": wb["summary"]["drifted"],
    }
    return {
        "by_method": by_method,
        "method_mismatches": mismatched,
        "columns": columns,
        "summary": summary,
        "compared": len(columns),
        "evidently_columns": len(ev["features"]),
    }


def compare_features(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    """workbench (a) vs (b): the same columns, methods and scores."""
    b_by_name = {f["name"]: f for f in b}
    diffs, methods_equal = [], True
    for f in a:
        g = b_by_name.get(f["name"])
        if g is None:
            methods_equal = False
            continue
        methods_equal &= f["method"] == g["method"]
        diffs.append(abs(f["score"] - g["score"]))
    return {"columns": len(diffs), "methods_equal": methods_equal, "max_abs_diff": max(diffs)}


# ---------------------------------------------------------------- workbench drift (b)


def bench_wb_drift(work: Path, ref: Path, cur: Path, repeats: int) -> dict[str, Any]:
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    (project / "data").mkdir(parents=True)
    link(ref, project / "data" / "ref.parquet")
    (project / "workbench.toml").write_text(WORKBENCH_TOML)
    wb = [*WB, "--project", project]
    log("  (b) workbench train (untimed, 5 rounds)")
    train = run([*wb, "train", "--json"], cwd=project)
    version = last_json(train.stdout).get("version") or {}
    store, backup = project / ".workbench", work / "store-after-train"
    shutil.rmtree(backup, ignore_errors=True)
    shutil.copytree(store, backup)
    link(cur, project / "data" / "cur.parquet")
    firsts: list[dict[str, Any]] = []
    cached: list[dict[str, Any]] = []
    for rep in range(repeats):
        if rep:
            shutil.rmtree(store)
            shutil.copytree(backup, store)
        for label, extra, rows in (("first", [], firsts), ("cached", ["--force"], cached)):
            r = run([*wb, "drift", "--json", *extra], cwd=project)
            out = last_json(r.stdout)
            rows.append({"wall": r.wall, "cpu": r.cpu, "rss_mb": r.rss_mb, "result": out})
            log(f"  (b) drift {label} run {rep + 1}: {r.wall:.2f}s, {r.rss_mb:,.0f} MiB")
    shutil.rmtree(backup, ignore_errors=True)

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        last = rows[-1]["result"]
        return {
            "wall": med([r["wall"] for r in rows]),
            "walls": [r["wall"] for r in rows],
            "cpu": med([r["cpu"] for r in rows]),
            "rss_mb": med([r["rss_mb"] for r in rows]),
            "seconds": med([r["result"]["seconds"] for r in rows]),
            "reference_rows": last["reference_rows"],
            "current_rows": last["current_rows"],
            "dataset_drift": last["dataset_drift"],
            "drift_share": last["drift_share"],
            "drifted_features": last["drifted_features"],
            "prediction_drift": last["prediction_drift"],
            "target_drift": last["target_drift"],
            "features": last["features"],
        }

    return {
        "train_wall": train.wall,
        "train_rss_mb": train.rss_mb,
        "train_version": {k: version.get(k) for k in ("name", "status", "metrics", "rows")},
        "first": summary(firsts),
        "cached": summary(cached),
    }


def link(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)  # same bytes, no copy; workbench only reads its data files
    except OSError:
        shutil.copyfile(src, dst)


def ensure_batch(data: Path, rows: int) -> Path:
    """``batch_<rows - 1>.parquet``: the first ``rows - 1`` rows of ``cur_<rows>.parquet``, the
    new batch of the issue's scenario (a size unequal to the reference's)."""
    _, cur = ensure_data(data, rows)
    batch = data / f"batch_{rows - 1}.parquet"
    stamp = data / f"batch_stamp_{rows - 1}.json"
    spec = {"rows": rows - 1, "from": cur.name, "size": cur.stat().st_size}
    if not (batch.exists() and stamp.exists() and json.loads(stamp.read_text()) == spec):
        tmp = batch.with_suffix(".tmp")
        pl.read_parquet(cur).head(rows - 1).write_parquet(tmp, compression="zstd")
        tmp.rename(batch)
        stamp.write_text(json.dumps(spec))
    return batch


def bench_issue_drift(
    work: Path,
    ref: Path,
    batch: Path,
    repeats: int,
    ev_py: Path | None,
    scripts: Path,
    ev_repeats: int = 1,
) -> dict[str, Any]:
    """The issue's scenario, whole processes side by side: the champion trained on ``ref``,
    then ``batch`` lands in the data folder; ``workbench drift --json`` (``first``: snapshot
    of the batch + reference cache + statistics) vs Evidently's DataDriftPreset on the same
    two files. Also ``workbench snapshot --json`` alone on the same store state (how much of
    ``first`` is the snapshot) and ``drift --json --force`` right after (``cached``).

    Every repeat restores the store as it was after training; Evidently runs are interleaved
    with workbench's (``ev_repeats`` of them, each minutes long at 1M rows).
    """
    project = work / "project-issue"
    shutil.rmtree(project, ignore_errors=True)
    (project / "data").mkdir(parents=True)
    link(ref, project / "data" / "ref.parquet")
    (project / "workbench.toml").write_text(WORKBENCH_TOML)
    wb = [*WB, "--project", project]
    log("  (c) workbench train (untimed, 5 rounds)")
    run([*wb, "train", "--json"], cwd=project)
    store, backup = project / ".workbench", work / "store-after-train-issue"
    shutil.rmtree(backup, ignore_errors=True)
    shutil.copytree(store, backup)
    link(batch, project / "data" / "batch.parquet")
    for path in (ref, batch):
        read_through(path)
    rows: dict[str, list[dict[str, Any]]] = {"snapshot": [], "first": [], "cached": [], "ev": []}

    def restore() -> None:
        shutil.rmtree(store)
        shutil.copytree(backup, store)

    for rep in range(max(repeats, ev_repeats if ev_py else 0)):
        if ev_py is not None and rep < ev_repeats:
            r = run(evidently_cmd(ev_py, scripts, ref, batch).cmd)
            rows["ev"].append(
                {"wall": r.wall, "cpu": r.cpu, "rss_mb": r.rss_mb, **last_json(r.stdout)}
            )
            log(f"  (c) Evidently run {rep + 1}: {r.wall:.1f}s, {r.rss_mb:,.0f} MiB")
        if rep >= repeats:
            continue
        restore()
        r = run([*wb, "snapshot", "--json"], cwd=project)
        rows["snapshot"].append({"wall": r.wall, "cpu": r.cpu, "rss_mb": r.rss_mb})
        restore()
        for label, extra in (("first", []), ("cached", ["--force"])):
            r = run([*wb, "drift", "--json", *extra], cwd=project)
            out = last_json(r.stdout)
            rows[label].append(
                {
                    "wall": r.wall,
                    "cpu": r.cpu,
                    "rss_mb": r.rss_mb,
                    "seconds": out["seconds"],
                    "result": out,
                }
            )
        log(
            "  (c) run {}: snapshot {:.2f}s, drift {:.2f}s / {:,.0f} MiB, --force {:.2f}s".format(
                rep + 1,
                rows["snapshot"][-1]["wall"],
                rows["first"][-1]["wall"],
                rows["first"][-1]["rss_mb"],
                rows["cached"][-1]["wall"],
            )
        )
    shutil.rmtree(backup, ignore_errors=True)

    def summary(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
        if not runs:
            return None
        keys = ("wall", "cpu", "rss_mb", "seconds", "run", "read")
        out: dict[str, Any] = {k: med([r[k] for r in runs]) for k in keys if k in runs[0]}
        out["walls"] = [r["wall"] for r in runs]
        out["n_runs"] = len(runs)
        return out

    first = rows["first"][-1]["result"]
    return {
        "reference_rows": first["reference_rows"],
        "current_rows": first["current_rows"],
        "snapshot": summary(rows["snapshot"]),
        "first": summary(rows["first"]),
        "cached": summary(rows["cached"]),
        "evidently": summary(rows["ev"]),
        "features": first["features"],
        "evidently_features": rows["ev"][-1]["features"] if rows["ev"] else None,
    }


def issue_rows(c: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows of ``bench_issue_drift``: walls, peaks, ratios and the two verdicts."""
    rows: list[dict[str, Any]] = []

    def row(label: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append({"measure": label, "value": value, "target": target, "ok": ok})

    first, snap, cached, ev = c["first"], c["snapshot"], c["cached"], c["evidently"]
    label = f"{rows_label(c['reference_rows'])} ref + {c['current_rows']:,} new rows"
    row(f"[issue: workbench drift --json right after a batch lands, {label}]", "")
    row(
        "  drift --json: wall / own timer / peak RSS",
        f"{fmt_s(first['wall'])} / {fmt_s(first['seconds'])} / {fmt_mb(first['rss_mb'])}"
        f"  (n={first['n_runs']})",
    )
    row(
        "  snapshot alone: wall / peak RSS (share of drift's wall)",
        f"{fmt_s(snap['wall'])} / {fmt_mb(snap['rss_mb'])} ({snap['wall'] / first['wall']:.0%})",
    )
    row(
        "  drift --json --force: wall / own timer / peak RSS",
        f"{fmt_s(cached['wall'])} / {fmt_s(cached['seconds'])} / {fmt_mb(cached['rss_mb'])}",
    )
    if ev is None:
        return rows
    row(
        "  Evidently whole process: wall / run / peak RSS",
        f"{fmt_s(ev['wall'])} / {fmt_s(ev['run'])} / {fmt_mb(ev['rss_mb'])}  (n={ev['n_runs']})",
    )
    speed = ratio(ev["wall"], first["wall"])
    row(
        "  speed-up: Evidently wall / drift wall",
        fmt_x(speed, 1),
        f">= {SPEED_TARGET:.0f}x",
        speed is not None and speed >= SPEED_TARGET,
    )
    row(
        "  speed-up without the snapshot: Evidently / (drift - snapshot)",
        fmt_x(ratio(ev["wall"], first["wall"] - snap["wall"]), 1),
    )
    row(
        "  speed-up --force: Evidently wall / drift --force wall",
        fmt_x(ratio(ev["wall"], cached["wall"]), 1),
    )
    mem = ratio(first["rss_mb"], ev["rss_mb"])
    row(
        "  peak RSS / Evidently's",
        f"{fmt_mb(first['rss_mb'])} / {fmt_mb(ev['rss_mb'])} = {mem:.2f}" if mem else "-",
        "<= 0.33",
        mem is not None and mem <= MEMORY_TARGET,
    )
    row(
        "  peak RSS of the snapshot alone / Evidently's",
        f"{ratio(snap['rss_mb'], ev['rss_mb']):.2f}",
    )
    return rows


def bench_scaling(work: Path, sizes: Sequence[int], repeats: int) -> list[dict[str, Any]]:
    """``workbench drift --json`` right after a batch lands, at several sizes (reference
    ``n`` rows, batch ``n - 1``): wall, peak RSS and the Parquet bytes of the two files."""
    out = []
    for n in sizes:
        ref, _ = ensure_data(work / "data", n)
        batch = ensure_batch(work / "data", n)
        got = bench_issue_drift(work, ref, batch, repeats, None, work / "scripts")
        out.append(
            {
                "rows": n,
                "parquet_mb": (ref.stat().st_size + batch.stat().st_size) / 2**20,
                "first": got["first"],
                "snapshot": got["snapshot"],
                "cached": got["cached"],
            }
        )
    return out


def scaling_rows(scaling: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [
        {
            "measure": "[scaling: drift right after a batch, per size]",
            "value": "",
            "target": "",
            "ok": None,
        }
    ]
    base = scaling[0]
    for s in scaling:
        f, c = s["first"], s["cached"]
        grow = s["rows"] / base["rows"]
        rows.append(
            {
                "measure": f"  {rows_label(s['rows'])} rows ({s['parquet_mb']:,.0f} MiB Parquet)",
                "value": f"{fmt_s(f['wall'])} ({f['wall'] / base['first']['wall']:.1f}x for"
                f" {grow:.1f}x rows), {fmt_mb(f['rss_mb'])}; snapshot"
                f" {fmt_s(s['snapshot']['wall'])}; --force {fmt_s(c['wall'])},"
                f" {fmt_mb(c['rss_mb'])}",
                "target": "",
                "ok": None,
            }
        )
    return rows


# ---------------------------------------------------------------- profiling


def profile_stats(work: Path, scripts: Path, ref: Path, cur: Path) -> dict[str, Any]:
    prof = work / "profile_stats.prof"
    c = wb_stats_cmd(scripts, ref, cur)
    r = run([PY, "-m", "cProfile", "-o", prof, *c.cmd[1:]])
    stats = pstats.Stats(str(prof))
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
    prof.unlink(missing_ok=True)
    return {
        "wall": r.wall,
        "workbench_by_cum": sorted(ours, key=lambda e: -e["cum_s"])[:15],
        "all_by_self": sorted(entries, key=lambda e: -e["self_s"])[:15],
    }


def print_profile(prof: dict[str, Any]) -> None:
    print(f"\ncProfile of workbench (a) (wall under the profiler {prof['wall']:.2f}s)")
    for title, key in (
        ("workbench functions by cumulative time", "workbench_by_cum"),
        ("all functions by self time", "all_by_self"),
    ):
        print(f"  {title}:")
        for e in prof[key]:
            timing = f"{e['cum_s']:8.2f} cum {e['self_s']:8.2f} self {e['calls']:>8}"
            print(f"    {timing}  {e['function']}")


# ---------------------------------------------------------------- report


def report(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def row(label: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append({"measure": label, "value": value, "target": target, "ok": ok})

    def agreement_rows(agree: dict[str, Any]) -> None:
        for method, m in sorted(agree["by_method"].items()):
            n = m["columns"]
            row(
                f"  agreement {method}: max |d| (cols, verdicts equal)",
                f"{m['max_abs_diff']:.2e} ({n}, {m['verdicts_equal']}/{n})",
            )
        if agree["method_mismatches"]:
            names = ", ".join(m["name"] for m in agree["method_mismatches"])
            row("  method differs from Evidently", names)

    def verdict(is_main: bool, value: float | None, target: str, ok: bool) -> tuple[str, Any]:
        return (target, value is not None and ok) if is_main else ("", None)

    main_label = results["config"]["main_label"]
    for label, size in results["sizes"].items():
        ev = size.get("evidently")
        is_main = label == main_label
        row(f"[{label} rows x {len(FEATURES)} cols]", "")
        if ev:
            row(
                "  Evidently wall / run (report.run) / read / import",
                " / ".join(fmt_s(ev[k]) for k in ("wall", "run", "read", "import"))
                + f"  (n={ev['n_runs']})",
            )
        for key, name in VARIANTS.items():
            wb = size.get(key)
            if not wb:
                continue
            row(
                f"  {name} wall / compute / read / import",
                " / ".join(fmt_s(wb[k]) for k in ("wall", "compute", "read", "import"))
                + f"  (n={wb['n_runs']})",
            )
            if "convert" in wb:
                row(
                    f"  {name} compute = convert + stats",
                    f"{fmt_s(wb['convert'])} + {fmt_s(wb['stats'])}",
                )
            if "same_as_a" in wb:
                c = wb["same_as_a"]
                row(
                    f"  {name} features vs (a): methods equal, max |d|",
                    f"{c['methods_equal']}, {c['max_abs_diff']:.1e} ({c['columns']} cols)",
                )
            if not ev:
                row(
                    f"  {name} peak RSS (after read)",
                    f"{fmt_mb(wb['rss_mb'])} ({fmt_mb(wb['rss_after_read_mb'])})",
                )
                continue
            speed = ratio(ev["run"], wb["compute"])
            ok = speed is not None and speed >= SPEED_TARGET
            row(
                f"  {name} speed-up: Evidently run / compute",
                fmt_x(speed, 1),
                *verdict(is_main, speed, f">= {SPEED_TARGET:.0f}x", ok),
            )
            speed_wall = ratio(ev["wall"], wb["wall"])
            ok = speed_wall is not None and speed_wall >= SPEED_TARGET
            row(
                f"  {name} speed-up: whole process walls",
                fmt_x(speed_wall, 1),
                *verdict(is_main, speed_wall, f">= {SPEED_TARGET:.0f}x", ok),
            )
            row(
                f"  {name} speed-up, CPU time: run/compute; processes",
                f"{fmt_x(ratio(ev['run_cpu'], wb['compute_cpu']), 1)};"
                f" {fmt_x(ratio(ev['cpu'], wb['cpu']), 1)}",
            )
            mem = ratio(wb["rss_mb"], ev["rss_mb"])
            row(
                f"  {name} peak RSS / Evidently's",
                f"{fmt_mb(wb['rss_mb'])} / {fmt_mb(ev['rss_mb'])} = {mem:.2f}" if mem else "-",
                *verdict(is_main, mem, "<= 0.33", mem is not None and mem <= MEMORY_TARGET),
            )
            row(
                f"  {name} RSS after read / Evidently's",
                f"{fmt_mb(wb['rss_after_read_mb'])} / {fmt_mb(ev['rss_after_read_mb'])}",
            )
        agree = size.get("agreement")
        if agree:
            agreement_rows(agree)
            s = agree["summary"]
            row(
                "  drifted columns Evidently / wb",
                f"{s['evidently_drifted']:.0f} / {s['workbench_drifted']}",
            )
    small = results.get("small_sample")
    if small:
        row(f"[first {AGREE_HEAD} rows: small-sample rules]", "")
        agreement_rows(small)
    b = results.get("workbench_drift")
    if b:
        row(f"[workbench drift (b), {main_label} ref + {main_label} cur]", "")
        row("  workbench train (untimed setup)", fmt_s(b["train_wall"]))
        for key, label in (
            ("first", "first (snapshot + ref cache)"),
            ("cached", "--force (cached)"),
        ):
            d = b[key]
            row(
                f"  drift {label}: wall / own timer / RSS",
                f"{fmt_s(d['wall'])} / {fmt_s(d['seconds'])} / {fmt_mb(d['rss_mb'])}",
            )
        c = b["vs_a"]
        row(
            "  (b) features vs (a): methods equal, max |d|",
            f"{c['methods_equal']}, {c['max_abs_diff']:.1e} ({c['columns']} cols)",
        )
        pd_ = b["first"]["prediction_drift"]
        if pd_:
            row(
                "  prediction drift (method, score, drifted)",
                f"{pd_['method']}, {pd_['score']:.3f}, {pd_['drifted']}",
            )
    big = results.get("10m")
    if big:
        label = big["label"]
        row(f"[{label} rows x {len(FEATURES)} cols, workbench only]", "")
        for key, name in VARIANTS.items():
            one = big["runs"].get(key)
            if one is None:
                continue
            if one["ok"]:
                w = one["workbench"]
                row(
                    f"  {name} wall / compute / read",
                    " / ".join(fmt_s(w[k]) for k in ("wall", "compute", "read")),
                )
                share = ratio(w["rss_mb"], big["mem_total_mb"])
                row(
                    f"  {name} peak RSS (share of MemTotal); after read",
                    (
                        f"{fmt_mb(w['rss_mb'])} ({share:.0%} of {fmt_mb(big['mem_total_mb'])})"
                        if share
                        else fmt_mb(w["rss_mb"])
                    )
                    + f"; {fmt_mb(w['rss_after_read_mb'])}",
                )
            row(
                f"  {name} completes without running out of memory",
                "yes" if one["ok"] else f"no: {one.get('error', '')[-60:]}",
                "completes",
                bool(one["ok"]),
            )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    w1 = max(len(r["measure"]) for r in rows)
    w2 = max(len(r["value"]) for r in rows)
    print(f"\n{'measure':<{w1}}  {'value':<{w2}}  {'target':<9}  result")
    print("-" * (w1 + w2 + 23))
    for r in rows:
        verdict = "" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL")
        print(f"{r['measure']:<{w1}}  {r['value']:<{w2}}  {r['target']:<9}  {verdict}".rstrip())


def print_columns(title: str, agree: dict[str, Any]) -> None:
    print(f"\nper column, {title}: method  Evidently score  workbench score  |d|  drift ev/wb")
    for c in agree["columns"]:
        method = c["workbench_method"]
        if c["evidently_method"] != method:
            method = f"{c['evidently_method']}|{method}"
        shifted = " *" if c["name"] in SHIFTS else ""
        print(
            f"  {c['name'] + shifted:<7} {method:<14} {c['evidently_score']:>14.8g}"
            f" {c['workbench_score']:>16.8g} {c['abs_diff']:>9.1e}"
            f"  {c['evidently_drift']!s:>5}/{c['workbench_drift']!s:<5}"
        )
    print("  (* = shifted in the current)")


def print_slowest(label: str, wb: dict[str, Any], n: int = 8) -> None:
    per = sorted(wb["per_column"].items(), key=lambda kv: -(kv[1]["convert"] + kv[1]["stats"]))
    print(f"\nworkbench (a) at {label}, slowest columns (median s): convert + stats")
    for name, t in per[:n]:
        print(f"  {name:<4} {KINDS[name]:<12} {t['convert']:.3f} + {t['stats']:.3f}")
    by_kind: dict[str, list[float]] = {}
    for name, t in wb["per_column"].items():
        by_kind.setdefault(KINDS[name], [0.0, 0.0])
        by_kind[KINDS[name]][0] += t["convert"]
        by_kind[KINDS[name]][1] += t["stats"]
    for kind, (conv, st) in by_kind.items():
        print(f"  all {kind:<12} {conv:.3f} + {st:.3f}")


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/wb-bench-drift"))
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per side")
    ap.add_argument("--quick", action="store_true", help="100k rows, no 10M")
    ap.add_argument("--repeats", type=int, default=3, help="runs of the cheap contenders")
    ap.add_argument("--evidently-repeats", type=int, default=1, help="Evidently runs at --rows")
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--skip-10m", action="store_true", help="no 10 x --rows run")
    ap.add_argument("--profile", action="store_true", help="cProfile (a) at --rows")
    ap.add_argument("--clean", action="store_true", help="delete data and project at the end")
    ap.add_argument(
        "--issue",
        action="store_true",
        help="only the issue's scenario: drift right after a --rows - 1 row batch vs Evidently",
    )
    ap.add_argument(
        "--scale",
        default="",
        help="with --issue: comma-separated row counts for the scaling table, e.g."
        " 250000,500000,1000000,2000000",
    )
    return ap.parse_args(argv)


def versions(ev_version: str | None) -> dict[str, Any]:
    code = (
        "import json, polars, numpy, pyarrow, workbench; print(json.dumps("
        "{m.__name__: m.__version__ for m in (polars, numpy, pyarrow, workbench)}))"
    )
    proc = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout) | {"evidently": ev_version}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows = SMALL_ROWS if args.quick else args.rows
    skip_10m = args.skip_10m or args.quick
    work = args.workdir.resolve()
    scripts = work / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    (scripts / "evidently_drift.py").write_text(EVIDENTLY_SCRIPT)
    (scripts / "wb_drift_stats.py").write_text(WB_STATS_SCRIPT)
    modes = ["stats", "frames"] if has_compare_frames() else ["stats"]
    t_start = time.perf_counter()
    sizes = sorted({SMALL_ROWS, rows})
    main_label = rows_label(rows)
    results: dict[str, Any] = {
        "config": {
            "rows": rows,
            "sizes": sizes,
            "main_label": main_label,
            "repeats": args.repeats,
            "evidently_repeats": args.evidently_repeats,
            "columns": KINDS,
            "shifts": SHIFTS,
            "seed": DATA_SEED,
            "workbench_modes": modes,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "mem_total_mb": mem_total_mb(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_start": os.getloadavg(),
        },
        "sizes": {},
    }
    if args.issue:
        return main_issue(args, work, scripts, rows)
    files = {n: ensure_data(work / "data", n) for n in sizes}
    ev_py = None
    if not args.skip_evidently:
        ev_py, ev_version = ensure_evidently(work)
        log(f"Evidently {ev_version} in {ev_py.parent.parent}")
    results["versions"] = versions(ev_version if ev_py else None)

    if ev_py:  # small-sample rules: the first 1,000 rows of the 100k files
        ref, cur = files[SMALL_ROWS]
        log(f"agreement on the first {AGREE_HEAD} rows")
        got = measure(
            [
                evidently_cmd(ev_py, scripts, ref, cur, AGREE_HEAD),
                wb_stats_cmd(scripts, ref, cur, AGREE_HEAD),
            ],
            {"evidently": 1, "workbench": 1},
            f"{AGREE_HEAD} rows",
        )
        results["small_sample"] = agreement(got["evidently"], got["workbench"])

    for n in sizes:
        label = rows_label(n)
        ref, cur = files[n]
        for path in (ref, cur):
            read_through(path)
        log(f"(a) vs Evidently at {label} rows")
        contenders = [wb_stats_cmd(scripts, ref, cur, mode=m) for m in modes]
        reps = {c.name: args.repeats for c in contenders}
        if ev_py:
            contenders.append(evidently_cmd(ev_py, scripts, ref, cur))
            reps["evidently"] = args.evidently_repeats if n == rows else args.repeats
        got = measure(contenders, reps, label)
        size: dict[str, Any] = {"rows": n, **got}
        if "workbench_frames" in got:
            got["workbench_frames"]["same_as_a"] = compare_features(
                got["workbench"]["features"], got["workbench_frames"]["features"]
            )
        if "evidently" in got:
            size["agreement"] = agreement(got["evidently"], got["workbench"])
        results["sizes"][label] = size

    ref, cur = files[rows]
    log(f"(b) workbench drift at {main_label} rows")
    b = bench_wb_drift(work, ref, cur, args.repeats)
    b["vs_a"] = compare_features(
        results["sizes"][main_label]["workbench"]["features"], b["first"]["features"]
    )
    results["workbench_drift"] = b

    if not skip_10m:
        big_rows = 10 * rows
        big_label = rows_label(big_rows)
        big_ref, big_cur = ensure_data(work / "data", big_rows)
        big: dict[str, Any] = {
            "label": big_label,
            "rows": big_rows,
            "mem_total_mb": mem_total_mb(),
            "runs": {},
        }
        for mode in modes:
            for path in (big_ref, big_cur):
                read_through(path)
            c = wb_stats_cmd(scripts, big_ref, big_cur, mode=mode)
            log(f"{VARIANTS[c.name]} at {big_label} rows")
            r = run(c.cmd, check=False)
            if r.returncode == 0:
                got_big = {"wall": r.wall, "cpu": r.cpu, "rss_mb": r.rss_mb, **last_json(r.stdout)}
                big["runs"][c.name] = {"ok": True, "workbench": summarize([got_big])}
                log(f"  {big_label}: {r.wall:.1f}s, {r.rss_mb:,.0f} MiB")
            else:  # e.g. -9 / 137: killed by the kernel's OOM killer
                big["runs"][c.name] = {
                    "ok": False,
                    "returncode": r.returncode,
                    "error": r.stderr[-2000:] or f"exit {r.returncode}",
                    "wall": r.wall,
                    "rss_mb": r.rss_mb,
                }
                log(f"  {big_label} failed: exit {r.returncode}")
        results["10m"] = big

    main_size = results["sizes"][main_label]
    speed = ratio(main_size.get("evidently", {}).get("run"), main_size["workbench"]["compute"])
    if args.profile or (speed is not None and speed < SPEED_TARGET):
        log("cProfile of (a)")
        results["profile"] = profile_stats(work, scripts, *files[rows])

    results["machine"]["loadavg_end"] = os.getloadavg()
    results["seconds"] = time.perf_counter() - t_start
    table = report(results)
    results["summary"] = table
    for label, size in results["sizes"].items():
        if "agreement" in size:
            print_columns(f"{label} rows", size["agreement"])
    if "small_sample" in results:
        print_columns(f"first {AGREE_HEAD} rows", results["small_sample"])
    print_slowest(main_label, main_size["workbench"])
    if "profile" in results:
        print_profile(results["profile"])
    print_table(table)
    print(
        f"\nload average start {results['machine']['loadavg_start']}"
        f" end {results['machine']['loadavg_end']}; {results['seconds']:.0f}s in all"
    )
    out = work / "results.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"results: {out}")
    if args.clean:
        for name in ("data", "project", "store-after-train"):
            shutil.rmtree(work / name, ignore_errors=True)
    verdicts = [r["ok"] for r in table if r["ok"] is not None]
    return 0 if all(verdicts) else 1


def main_issue(args: argparse.Namespace, work: Path, scripts: Path, rows: int) -> int:
    """``--issue``: the whole ``workbench drift --json`` after a batch lands vs Evidently."""
    t_start = time.perf_counter()
    ref, _ = ensure_data(work / "data", rows)
    batch = ensure_batch(work / "data", rows)
    ev_py = None
    if not args.skip_evidently:
        ev_py, ev_version = ensure_evidently(work)
        log(f"Evidently {ev_version} in {ev_py.parent.parent}")
    load_start = os.getloadavg()
    log(f"(c) the issue's scenario at {rows_label(rows)} rows")
    got = bench_issue_drift(work, ref, batch, args.repeats, ev_py, scripts, args.evidently_repeats)
    table = issue_rows(got)
    results: dict[str, Any] = {"issue": got, "machine": {"loadavg_start": load_start}}
    if args.scale:
        sizes = [int(v) for v in args.scale.split(",") if v.strip()]
        log(f"scaling at {sizes}")
        results["scaling"] = bench_scaling(work, sizes, args.repeats)
        table += scaling_rows(results["scaling"])
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["summary"] = table
    print_table(table)
    print(
        f"\nload average start {load_start} end {results['machine']['loadavg_end']};"
        f" {time.perf_counter() - t_start:.0f}s in all (medians; the machine may be shared)"
    )
    out = work / "results-issue.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"results: {out}")
    return 0 if all(r["ok"] for r in table if r["ok"] is not None) else 1


if __name__ == "__main__":
    sys.exit(main())
