"""Benchmark: workbench snapshots vs DVC, profiling, no-change checks and CLI start-up.

A standalone script, not a pytest test: it generates data, measures, prints a table of numbers
and ratios, and writes everything to ``<workdir>/results.json``. Run it from the project venv::

    /work/venv/bin/python tests/bench/bench_snapshot.py                 # full run (~45 min)
    /work/venv/bin/python tests/bench/bench_snapshot.py --quick --skip-dvc   # smoke run (~3 min)

Most of a full run is data profiling (the 10M-row profiles alone take ~17 min here; skip them
with ``--skip-10m``).

Flags: ``--workdir`` (default /tmp/wb-bench; generated data is kept there between runs and
re-used), ``--size-gb`` (size of the big CSV, default 1.0), ``--skip-dvc``, ``--skip-10m``,
``--quick`` (50 MB, 100k/1M rows, 1,000 small files), ``--clean`` (delete generated data and
projects at the end; the DVC venv and results.json stay).

DVC is not a dependency of workbench: the first run creates ``<workdir>/venv-dvc`` with
``python3 -m venv`` and ``pip install dvc==3.67.1`` (the latest 3.x if that pin is unavailable).
Analytics are off (``DVC_NO_ANALYTICS=1``).

The machine is small and shared (2 cores), so heavy figures are medians of 3 runs and light
ones medians of 5 (a run that takes over 30 s — the whole snapshot or the profile of the big
file — is done once: its noise is small next to its size; the table says "n runs"), runs of
competing tools are interleaved, and the summary uses ratios measured in the same run. Page
caches cannot be dropped here, so every input file is read once before timing and all runs
start from the page cache (a warm-cache comparison: it measures CPU and write cost, not the
disk's read speed). ``os.sync()`` runs (untimed) before each write-heavy run
so that no run pays for the dirty pages of the previous one.

What each figure means
----------------------
1. Big file (``--size-gb``, numeric + string columns):
   * ``cat`` / ``cp`` / ``copy+fdatasync`` / ``xxh3-128 pass`` / ``md5 pass``: raw baselines —
     reading the cached file, copying it, copying it durably, and hashing it in-process with
     workbench's hash and DVC's hash.
   * ``workbench hash+store``: ``ObjectStore.put_file`` in-process on a fresh store — read once,
     xxh3-128, write the object, fdatasync, rename. The part of a snapshot that DVC also does.
   * ``workbench snapshot (CLI)``: the whole command on a fresh project: start-up, hash+store,
     profile of the data, git state, DuckDB write.
   * ``profile_files alone``: the data profile (in a child process, without interpreter start).
   * ``dvc add``: the whole command in a fresh ``git init`` + ``dvc init`` repo (md5 + copy into
     the cache + .dvc file), start-up included; ``dvc --version`` gives its start-up alone.
   * the breakdown lists where an in-process ``snapshot.take`` on a fresh project spends its time.
2. Profile of a 30-column file (20 float, 5 int, 5 string; ~2% nulls) at N and 10N rows, CSV
   and Parquet, timed in a child process, with the child's peak RSS.
3. No-change check over many small CSVs: after a first snapshot, ``workbench snapshot`` (a
   subprocess, so start-up included) must answer ``created: false``; ``dvc status`` on the same
   tree after ``dvc add data``; plus the in-process ``take`` and its top functions (cProfile).
4. Append to the big file in a project with ~20 other files: ``ObjectStore.put_files`` is wrapped
   with a counter; the second snapshot must store exactly one file (the big one), and a third,
   unchanged, none. "bytes re-hashed" is the whole appended file (content addressing hashes the
   whole file, not the tail).
5. ``workbench --help`` and ``workbench status`` on the project of step 1, medians of 5
   subprocess runs, next to ``python -c pass`` (the interpreter's own start-up).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import xxhash  # workbench's own hash (a dependency of the package)
from benchlib import fmt_s, fmt_x, ratio

from workbench import config as wb_config
from workbench.data import gitinfo
from workbench.data import inputs as wb_inputs
from workbench.data import profile as wb_profile
from workbench.data import snapshot as wb_snapshot
from workbench.store import Store
from workbench.store.objects import ObjectStore

DVC_VERSION = "3.67.1"
GIB = 1 << 30
MIB = 1 << 20
CHUNK = 32 << 20
SLOW = 30.0  # seconds: a heavy run longer than this is done once, not repeated
WORKBENCH_TOML = '[data]\npath = "data"\ntarget = "label"\n'
FLOATS = [f"f{i:02d}" for i in range(20)]
INTS = ["label", "i1", "i2", "i3", "i4"]
CATS = {"c0": 3, "c1": 12, "c2": 50, "c3": 400, "c4": 2000}  # column -> vocabulary size
NULL_SHARE = 0.02
WB = str(Path(sys.executable).with_name("workbench"))
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_TERMINAL_PROMPT": "0"}
# Subprocesses run with compiled bytecode, as after `pip install` (which compiles it): without
# this, PYTHONDONTWRITEBYTECODE=1 in a dev shell makes every run recompile every workbench
# module (~40 ms of a no-change check). The cache goes under the workdir, not the source tree.
ENV.pop("PYTHONDONTWRITEBYTECODE", None)
SECTIONS = ("big", "cli", "profile", "nochange", "append")
GIT_ID = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]


@dataclass(frozen=True)
class Plan:
    size_bytes: int
    rows_base: int
    rows_large: int
    small_files: int
    heavy: int  # repeats of runs that take seconds
    light: int  # repeats of runs that take a fraction of a second
    append_rows_share: float = 0.01
    other_files: int = 20
    other_rows: int = 20_000
    breakdown: bool = True  # profile the big file alone and break a snapshot of it down


# ---------------------------------------------------------------- small helpers


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def med(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def run(cmd: Sequence[Any], cwd: Path | None = None, check: bool = True) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=ENV, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


def wall(cmd: Sequence[Any], cwd: Path | None = None) -> tuple[float, str]:
    """Wall time of one subprocess run (it must succeed) and its stdout."""
    t0 = time.perf_counter()
    out = run(cmd, cwd)
    return time.perf_counter() - t0, out


def walls(cmd: Sequence[Any], repeats: int, cwd: Path | None = None) -> list[float]:
    return [wall(cmd, cwd)[0] for _ in range(repeats)]


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def read_through(path: Path, update: Callable[[memoryview], Any] | None = None) -> int:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            if update is not None:
                update(view[:n])
            total += n
    return total


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------- data


def make_frame(rows: int, seed: int) -> pl.DataFrame:
    """20 float, 5 int (``label`` is 0/1 and never null), 5 string columns, ~2% nulls."""
    rng = np.random.default_rng(seed)
    cols: dict[str, pl.Series] = {"label": pl.Series("label", rng.integers(0, 2, rows))}
    for i, name in enumerate(INTS[1:]):
        values = rng.integers(0, 10 ** (i + 2), rows).astype(np.float64)
        values[rng.random(rows) < NULL_SHARE] = np.nan
        cols[name] = pl.Series(name, values, nan_to_null=True).cast(pl.Int64)
    for i, name in enumerate(FLOATS):
        values = rng.lognormal(0, 1, rows) * 100 if i % 4 == 3 else rng.normal(i, 1 + i, rows)
        values[rng.random(rows) < NULL_SHARE] = np.nan
        cols[name] = pl.Series(name, values, nan_to_null=True)
    masks = {}
    for name, size in CATS.items():
        vocab = pl.Series(name, [f"{name}_{k}" for k in range(size)])
        cols[name] = vocab.gather(rng.zipf(1.3, rows) % size)
        masks[name] = pl.Series(rng.random(rows) < NULL_SHARE)
    frame = pl.DataFrame(list(cols.values()))
    return frame.with_columns(
        pl.when(mask).then(None).otherwise(pl.col(name)).alias(name) for name, mask in masks.items()
    )


def csv_bytes(frame: pl.DataFrame, header: bool) -> bytes:
    buf = io.BytesIO()
    frame.write_csv(buf, include_header=header, float_precision=6)
    return buf.getvalue()


def generated(path: Path, spec: dict[str, Any], write: Callable[[Path], dict[str, Any]]) -> dict:
    """Re-use ``path`` when its sidecar says it was made with ``spec``; else write it."""
    meta = path.with_name(path.name + ".meta.json")
    with contextlib.suppress(OSError, ValueError):
        old = json.loads(meta.read_text())
        if old.get("spec") == spec and path.exists():
            return dict(old)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    t0 = time.perf_counter()
    info = write(tmp)
    tmp.replace(path)
    info = {"spec": spec, **info, "bytes": path.stat().st_size, "seconds": time.perf_counter() - t0}
    meta.write_text(json.dumps(info))
    return info


def write_big_csv(target_bytes: int) -> Callable[[Path], dict[str, Any]]:
    def write(path: Path) -> dict[str, Any]:
        rows, seed = 0, 0
        with open(path, "wb") as out:
            while out.tell() < target_bytes:
                n = 250_000
                data = csv_bytes(make_frame(n, seed), header=seed == 0)
                left = target_bytes - out.tell()
                if len(data) > left:  # trim the last chunk to whole lines near the target
                    cut = data.rfind(b"\n", 0, left) + 1
                    if cut == 0:
                        break
                    n = data.count(b"\n", 0, cut) - (seed == 0)
                    data = data[:cut]
                out.write(data)
                rows += n
                seed += 1
        return {"rows": rows}

    return write


def write_rows_csv(rows: int) -> Callable[[Path], dict[str, Any]]:
    def write(path: Path) -> dict[str, Any]:
        with open(path, "wb") as out:
            for seed, start in enumerate(range(0, rows, 1_000_000)):
                n = min(1_000_000, rows - start)
                out.write(csv_bytes(make_frame(n, 1000 + seed), header=start == 0))
        return {"rows": rows}

    return write


def write_parquet_from(csv: Path, rows: int) -> Callable[[Path], dict[str, Any]]:
    def write(path: Path) -> dict[str, Any]:
        schema = make_frame(10, 0).schema
        pl.scan_csv(csv, schema=schema).sink_parquet(path)
        return {"rows": rows}

    return write


def write_small_files(folder: Path, count: int) -> None:
    rng = random.Random(7)
    fresh(folder)
    for i in range(count):
        lines = ["label,x,y,city"]
        lines += [
            f"{rng.randint(0, 1)},{rng.random():.5f},{rng.randint(0, 999)},city_{rng.randint(0, 9)}"
            for _ in range(20)
        ]
        (folder / f"part-{i:05d}.csv").write_text("\n".join(lines) + "\n")


def make_project(root: Path, files: dict[str, Path], *, link: bool) -> Path:
    """A git repo with workbench.toml and data/ holding ``files`` (hard links or copies)."""
    fresh(root)
    (root / "workbench.toml").write_text(WORKBENCH_TOML)
    (root / ".gitignore").write_text(".workbench/\ndata/\n")
    (root / "data").mkdir()
    for name, src in files.items():
        if link:
            os.link(src, root / "data" / name)
        else:
            shutil.copyfile(src, root / "data" / name)
    run(["git", "init", "-q"], root)
    run(["git", *GIT_ID, "add", "workbench.toml", ".gitignore"], root)
    run(["git", *GIT_ID, "commit", "-q", "-m", "bench"], root)
    return root


def dvc_repo(root: Path, dvc: Path) -> Path:
    fresh(root)
    run(["git", "init", "-q"], root)
    run([dvc, "init", "-q"], root)
    run([dvc, "config", "core.analytics", "false"], root)
    return root


def ensure_dvc(work: Path) -> tuple[Path, str]:
    venv = work / "venv-dvc"
    dvc = venv / "bin" / "dvc"
    if not dvc.exists():
        log(f"creating {venv} and installing dvc=={DVC_VERSION} (benchmark only)")
        shutil.rmtree(venv, ignore_errors=True)
        run(["python3", "-m", "venv", venv])
        pip = [venv / "bin" / "python", "-m", "pip", "install", "-q"]
        try:
            run([*pip, f"dvc=={DVC_VERSION}"])
        except RuntimeError:
            log(f"dvc=={DVC_VERSION} unavailable; installing the latest 3.x")
            run([*pip, "dvc>=3,<4"])
    return dvc, run([dvc, "--version"]).strip()


# ---------------------------------------------------------------- instrumentation


class _TimedCM:
    def __init__(self, cm: Any, sink: list[float]) -> None:
        self.cm, self.sink = cm, sink

    def __enter__(self) -> Any:
        self.t0 = time.perf_counter()
        return self.cm.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self.cm.__exit__(*exc)
        finally:
            self.sink.append(time.perf_counter() - self.t0)


@contextlib.contextmanager
def instrument(targets: Sequence[tuple[Any, str, str, bool]]) -> Iterator[dict[str, list[float]]]:
    """Wrap ``owner.attr`` with a timer for each (owner, attr, label, is_context_manager)."""
    timings: dict[str, list[float]] = {label: [] for _, _, label, _ in targets}
    saved = []
    for owner, attr, label, is_cm in targets:
        original = getattr(owner, attr)
        sink = timings[label]

        def wrapper(*a: Any, _f: Any = original, _s: Any = sink, _cm: bool = is_cm, **kw: Any):
            if _cm:
                return _TimedCM(_f(*a, **kw), _s)
            t0 = time.perf_counter()
            try:
                return _f(*a, **kw)
            finally:
                _s.append(time.perf_counter() - t0)

        saved.append((owner, attr, original))
        setattr(owner, attr, wrapper)
    try:
        yield timings
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


SNAPSHOT_PARTS = [
    (wb_snapshot, "discover", "discover inputs (stat)", False),
    (ObjectStore, "put_file", "hash+store (put_file)", False),
    (wb_config, "parse", "parse stored config", False),
    (wb_profile, "profile_files", "profile_files (total)", False),
    (wb_profile, "profile_frame", "  profile_frame (2 passes)", False),
    (wb_profile, "_count", "  per-file row counts (re-scan)", False),
    (gitinfo, "state", "git state", False),
    (wb_snapshot, "_check_unchanged", "re-stat inputs", False),
    (Store, "read", "DuckDB read sessions (+schema)", True),
    (Store, "write", "DuckDB write session", True),
    (wb_inputs.StatCache, "save", "stat cache save", False),
]


@dataclass
class PutCall:
    path: str
    bytes: int
    seconds: float


@contextlib.contextmanager
def count_puts() -> Iterator[list[PutCall]]:
    """Every file whose bytes are stored (``put_file`` and batches go through ``put_files``;
    a batch's time is shared out evenly)."""
    calls: list[PutCall] = []
    original = ObjectStore.put_files

    def counted(self: ObjectStore, sources: list[Path]) -> list[tuple[str, int]]:
        t0 = time.perf_counter()
        stored = original(self, sources)
        each = (time.perf_counter() - t0) / max(len(sources), 1)
        calls.extend(
            PutCall(str(p), size, each) for p, (_, size) in zip(sources, stored, strict=True)
        )
        return stored

    ObjectStore.put_files = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        ObjectStore.put_files = original  # type: ignore[method-assign]


def take(root: Path) -> wb_snapshot.SnapshotResult:
    settings = wb_config.load(root)
    return wb_snapshot.take(settings, Store(settings.store_dir))


PROFILE_CHILD = """
import json, resource, sys, time
from pathlib import Path
from workbench.data.profile import profile_files
files = [(Path(p).name, Path(p)) for p in sys.argv[1:]]
t0 = time.perf_counter()
profile = profile_files(files)
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rows": profile["rows"], "peak_rss_mib": rss}))
"""


def profile_in_child(paths: Sequence[Path], repeats: int) -> dict[str, Any]:
    """``profile_files`` timed inside a fresh interpreter (import excluded), with peak RSS.

    Runs longer than ``SLOW`` are not repeated: their noise is small next to their size.
    """
    runs: list[dict[str, Any]] = []
    while len(runs) < repeats and not (runs and runs[0]["seconds"] > SLOW):
        runs.append(json.loads(run([sys.executable, "-c", PROFILE_CHILD, *paths])))
    return {
        "seconds": med([r["seconds"] for r in runs]),
        "runs": [r["seconds"] for r in runs],
        "rows": runs[0]["rows"],
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
    }


# ---------------------------------------------------------------- 1. big file


def bench_big(work: Path, plan: Plan, dvc: Path | None) -> dict[str, Any]:
    src = work / "src" / "big.csv"
    log(f"1. big CSV: generating/reusing {src} ({plan.size_bytes / GIB:.2f} GiB)")
    gen = generated(src, {"bytes": plan.size_bytes, "v": 1}, write_big_csv(plan.size_bytes))
    size = src.stat().st_size
    read_through(src)  # page cache warm-up: every run below starts from a cached file
    res: dict[str, Any] = {"file": str(src), "bytes": size, "rows": gen["rows"]}
    res["baselines"] = big_baselines(work, src, plan)

    log("1. interleaved runs: dvc add / hash+store / workbench snapshot")
    dvc_runs: list[float] = []
    hs_runs: list[float] = []
    cli_runs: list[float] = []
    cli_project = work / "p1" / "wb"
    for r in range(plan.heavy):
        if dvc is not None:
            dvc_runs.append(dvc_add_big(work / "p1" / "dvc", src, dvc))
        hs_runs.append(hash_store_once(work / "p1" / "hs", src))
        if not cli_runs or cli_runs[0] <= SLOW:
            make_project(cli_project, {"big.csv": src}, link=True)
            os.sync()
            seconds, out = wall([WB, "snapshot", "--json"], cli_project)
            assert json.loads(out)["created"], out
            cli_runs.append(seconds)
        log(
            f"   run {r + 1}: dvc {dvc_runs[-1] if dvc_runs else float('nan'):.2f} s, "
            f"hash+store {hs_runs[-1]:.2f} s, snapshot {cli_runs[-1]:.2f} s"
        )
    shutil.rmtree(work / "p1" / "dvc", ignore_errors=True)
    res["hash_store"] = {"seconds": med(hs_runs), "runs": hs_runs}
    res["snapshot_cli"] = {"seconds": med(cli_runs), "runs": cli_runs}
    if dvc is not None:
        res["dvc_add"] = {"seconds": med(dvc_runs), "runs": dvc_runs}
        res["dvc_startup"] = {"seconds": med(walls([dvc, "--version"], plan.light))}
    if plan.breakdown:
        log("1. profile_files alone (child process)")
        res["profile"] = profile_in_child([src], plan.heavy)
        log("1. in-process snapshot breakdown")
        res["breakdown"] = snapshot_breakdown(work / "p1" / "inproc", src)
    res["project"] = str(cli_project)
    return res


def big_baselines(work: Path, src: Path, plan: Plan) -> dict[str, Any]:
    log("1. baselines: cat, cp, copy+fdatasync, xxh3-128, md5")
    tmp = fresh(work / "tmp")
    copy = tmp / "copy.csv"
    out: dict[str, list[float]] = {"cat": [], "cp": [], "copy_fdatasync": [], "xxh3": [], "md5": []}
    for _ in range(plan.heavy):
        out["cat"].append(wall(["sh", "-c", 'cat "$0" > /dev/null', src])[0])
        os.sync()
        out["cp"].append(wall(["cp", src, copy])[0])
        copy.unlink()
        os.sync()
        out["copy_fdatasync"].append(timed(lambda: durable_copy(src, copy)))
        copy.unlink()
        out["xxh3"].append(timed(lambda: read_through(src, xxhash.xxh3_128().update)))
        out["md5"].append(timed(lambda: read_through(src, hashlib.md5().update)))
    shutil.rmtree(tmp)
    return {k: {"seconds": med(v), "runs": v} for k, v in out.items()}


def durable_copy(src: Path, dst: Path) -> None:
    with open(dst, "wb", buffering=0) as out:
        read_through(src, out.write)
        os.fdatasync(out.fileno())


def dvc_add_big(repo: Path, src: Path, dvc: Path) -> float:
    dvc_repo(repo, dvc)
    os.link(src, repo / "big.csv")
    os.sync()
    seconds, _ = wall([dvc, "add", "-q", "big.csv"], repo)
    assert (repo / "big.csv.dvc").is_file()
    os.chmod(src, 0o644)  # in case DVC protected the shared inode
    shutil.rmtree(repo)
    return seconds


def hash_store_once(root: Path, src: Path) -> float:
    store = ObjectStore(fresh(root) / ".workbench")
    os.sync()
    t0 = time.perf_counter()
    _, size = store.put_file(src)
    if hasattr(store, "sync"):  # the folder fsync, batched since objects.py v2: timed too
        store.sync()
    seconds = time.perf_counter() - t0
    assert size == src.stat().st_size
    shutil.rmtree(root)
    return seconds


def snapshot_breakdown(root: Path, src: Path) -> dict[str, float]:
    make_project(root, {"big.csv": src}, link=True)
    os.sync()
    with instrument(SNAPSHOT_PARTS) as timings:
        t0 = time.perf_counter()
        result = take(root)
        total = time.perf_counter() - t0
    assert result.created
    parts = {label: sum(v) for label, v in timings.items()}
    top = sum(v for k, v in parts.items() if not k.startswith("  "))
    shutil.rmtree(root)
    return {"total in-process take()": total, **parts, "other": total - top}


# ---------------------------------------------------------------- 2. profile


def bench_profile(work: Path, plan: Plan, skip_large: bool) -> dict[str, Any]:
    res: dict[str, Any] = {}
    sizes = [plan.rows_base] + ([] if skip_large else [plan.rows_large])
    for rows in sizes:
        csv = work / "prof" / f"rows{rows}.csv"
        pq = csv.with_suffix(".parquet")
        log(f"2. profile data: {rows:,} rows x 30 columns (generating/reusing)")
        generated(csv, {"rows": rows, "v": 1}, write_rows_csv(rows))
        generated(pq, {"rows": rows, "v": 1}, write_parquet_from(csv, rows))
        repeats = plan.heavy if rows == plan.rows_base else 1
        for path in (csv, pq):
            read_through(path)
            log(f"2. profile_files {path.name} x{repeats}")
            entry = profile_in_child([path], repeats)
            entry["bytes"] = path.stat().st_size
            assert entry["rows"] == rows, entry
            res[f"{rows}:{path.suffix[1:]}"] = entry
    return res


# ---------------------------------------------------------------- 3. no-change check


def bench_nochange(work: Path, plan: Plan, dvc: Path | None) -> dict[str, Any]:
    n = plan.small_files
    files = work / "small" / f"files{n}"
    if len(list(files.glob("*.csv"))) != n:
        log(f"3. writing {n:,} small CSVs")
        write_small_files(files, n)
    proj = make_project(work / "p3" / "wb", {}, link=False)
    shutil.rmtree(proj / "data")
    shutil.copytree(files, proj / "data")
    log("3. first snapshot of the small files (CLI)")
    first, out = wall([WB, "snapshot", "--json"], proj)
    assert json.loads(out)["created"], out
    res: dict[str, Any] = {"files": n, "first_snapshot_cli": first}
    log("3. no-change snapshot (CLI) x5")
    res["nochange_cli"] = runs_of(
        [WB, "snapshot", "--json"], proj, plan.light, lambda out: not json.loads(out)["created"]
    )
    log("3. no-change snapshot, human output (CLI) x5")
    res["nochange_cli_text"] = runs_of(
        [WB, "snapshot"], proj, plan.light, lambda out: "unchanged" in out
    )
    inproc = []
    for _ in range(plan.light):
        t0 = time.perf_counter()
        assert not take(proj).created
        inproc.append(time.perf_counter() - t0)
    res["nochange_inproc"] = {"seconds": med(inproc), "runs": inproc}
    res["nochange_top"] = top_functions(lambda: take(proj))
    if dvc is not None:
        repo = dvc_repo(work / "p3" / "dvc", dvc)
        shutil.copytree(files, repo / "data")
        log(f"3. dvc add data ({n:,} files)")
        res["dvc_add_dir"] = wall([dvc, "add", "-q", "data"], repo)[0]
        log("3. dvc status x5")
        res["dvc_status"] = runs_of(
            [dvc, "status"], repo, plan.light, lambda out: "up to date" in out
        )
    return res


def runs_of(argv: list[Any], cwd: Path, n: int, ok: Callable[[str], bool]) -> dict[str, Any]:
    """``n`` timed runs of a command whose output must pass ``ok``: median and all runs."""
    runs = []
    for _ in range(n):
        seconds, out = wall(argv, cwd)
        assert ok(out), out
        runs.append(seconds)
    return {"seconds": med(runs), "runs": runs}


def top_functions(fn: Callable[[], Any], limit: int = 6) -> list[str]:
    prof = cProfile.Profile()
    prof.runcall(fn)
    stats = pstats.Stats(prof)
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    return [
        f"{Path(f).name}:{line}({name}) {tt * 1000:.0f} ms in {nc} calls"
        for (f, line, name), (_, nc, tt, _, _) in rows[:limit]
    ]


# ---------------------------------------------------------------- 4. append


def bench_append(work: Path, plan: Plan, src: Path) -> dict[str, Any]:
    log("4. append: project with the big file (a copy) + small files")
    proj = make_project(work / "p4", {"big.csv": src}, link=False)
    for i in range(plan.other_files):
        make_frame(plan.other_rows, 500 + i).write_csv(
            proj / "data" / f"part-{i:02d}.csv", float_precision=6
        )
    big = proj / "data" / "big.csv"
    os.sync()
    with count_puts() as first_calls:
        t0 = time.perf_counter()
        first = take(proj)
        first_s = time.perf_counter() - t0
    big_rows = json.loads((src.with_name(src.name + ".meta.json")).read_text())["rows"]
    extra = max(1, int(big_rows * plan.append_rows_share))
    tail = csv_bytes(make_frame(extra, 99), header=False)
    with open(big, "ab") as f:
        f.write(tail)
    os.sync()
    log(f"4. appended {extra:,} rows ({len(tail) / MIB:.1f} MiB); snapshot again")
    with count_puts() as calls, instrument(SNAPSHOT_PARTS[3:4]) as timings:
        t0 = time.perf_counter()
        second = take(proj)
        second_s = time.perf_counter() - t0
    with count_puts() as third_calls:
        third = take(proj)
    only_big = [Path(c.path).resolve() for c in calls] == [big.resolve()]
    ok = only_big and not third_calls and first.created and second.created and not third.created
    ok = ok and second.summary["rows"] == first.summary["rows"] + extra
    shutil.rmtree(proj)
    return {
        "files": plan.other_files + 1,
        "first": {"seconds": first_s, "put_file_calls": len(first_calls)},
        "appended_rows": extra,
        "appended_bytes": len(tail),
        "second": {
            "seconds": second_s,
            "put_file_calls": [asdict(c) for c in calls],
            "bytes_rehashed": sum(c.bytes for c in calls),
            "hash_seconds": sum(c.seconds for c in calls),
            "profile_seconds": sum(timings["profile_files (total)"]),
        },
        "third_put_file_calls": len(third_calls),
        "rows": [first.summary["rows"], second.summary["rows"]],
        "ok": ok,
    }


# ---------------------------------------------------------------- 5. CLI start-up


def bench_cli(project: Path, plan: Plan) -> dict[str, Any]:
    log("5. python -c pass / workbench --help / workbench status / no-change snapshot")
    out = {
        "python_pass": walls([sys.executable, "-c", "pass"], plan.light),
        "help": walls([WB, "--help"], plan.light),
        "status": walls([WB, "status"], plan.light, project),
        "snapshot_nochange_big": walls([WB, "snapshot"], plan.light, project),
    }
    return {k: {"seconds": med(v), "runs": v} for k, v in out.items()}


# ---------------------------------------------------------------- report


def rate(size: int, seconds: float) -> str:
    return f"{size / MIB / seconds:,.0f} MiB/s"


def get(d: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def report(results: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    lines: list[str] = []

    def row(label: str, value: str, note: str = "") -> None:
        lines.append(f"  {label:<44} {value:>14}  {note}")

    m = results["machine"]
    lines.append(
        f"workbench {m['workbench_commit']}{' (uncommitted changes)' * m['workbench_tree_dirty']}"
        f", python {m['python']}, polars {m['polars']}, dvc {m.get('dvc', '-')}, "
        f"{m['cpus']} cpus, load average {m['loadavg'][0]:.2f} at start, "
        f"{m['loadavg_end'][0]:.2f} at end"
    )
    big = results["big"]
    size = big["bytes"]
    lines.append(f"\n1. big CSV: {size / GIB:.2f} GiB, {big['rows']:,} rows (warm page cache)")
    for key, label in [
        ("cat", "cat file > /dev/null"),
        ("cp", "cp file copy"),
        ("copy_fdatasync", "copy + fdatasync (in-process)"),
        ("xxh3", "xxh3-128 pass (in-process)"),
        ("md5", "md5 pass (in-process, DVC's hash)"),
    ]:
        s = big["baselines"][key]["seconds"]
        row(label, fmt_s(s, 3), rate(size, s))
    hs = big["hash_store"]["seconds"]
    cli = big["snapshot_cli"]["seconds"]
    prof = big["profile"]["seconds"]
    dvc_add = get(big, "dvc_add", "seconds")
    row("workbench hash+store (put_file)", fmt_s(hs, 3), rate(size, hs))
    n_cli, n_prof = len(big["snapshot_cli"]["runs"]), len(big["profile"]["runs"])
    row(
        "workbench snapshot (CLI, whole command)", fmt_s(cli, 3), f"{rate(size, cli)}, {n_cli} runs"
    )
    row(
        "profile_files alone",
        fmt_s(prof, 3),
        f"peak RSS {big['profile']['peak_rss_mib']:,.0f} MiB, {n_prof} runs",
    )
    row("dvc add (CLI, whole command)", fmt_s(dvc_add, 3), rate(size, dvc_add) if dvc_add else "")
    row("dvc --version (DVC start-up)", fmt_s(get(big, "dvc_startup", "seconds"), 3))
    row("ratio dvc add / workbench hash+store", fmt_x(ratio(dvc_add, hs)))
    row("ratio dvc add / workbench snapshot", fmt_x(ratio(dvc_add, cli)))
    lines.append("  in-process snapshot.take() on a fresh project, by phase:")
    for label, seconds in big["breakdown"].items():
        row(f"  {label}", fmt_s(seconds, 3))

    prof_res = results.get("profile", {})
    lines.append("\n2. profile_files, 30 columns (median; child process, import excluded)")
    for key, entry in prof_res.items():
        rows, kind = key.split(":")
        row(
            f"{int(rows):,} rows, {kind} ({entry['bytes'] / MIB:,.0f} MiB)",
            fmt_s(entry["seconds"], 3),
            f"{int(rows) / entry['seconds'] / 1e6:.2f} M rows/s, "
            f"peak RSS {entry['peak_rss_mib']:,.0f} MiB, {len(entry['runs'])} runs",
        )
    for kind in ("csv", "parquet"):
        base = get(prof_res, f"{plan.rows_base}:{kind}", "seconds")
        large = get(prof_res, f"{plan.rows_large}:{kind}", "seconds")
        if base and large:
            row(f"scaling {kind} 10x rows -> time", fmt_x(large / base), "(10.00x = linear)")

    nc = results["nochange"]
    wb_nc = nc["nochange_cli"]["seconds"]
    dvc_status = get(nc, "dvc_status", "seconds")
    lines.append(f"\n3. no-change check over {nc['files']:,} small CSVs (median of {plan.light})")
    row("first workbench snapshot (CLI)", fmt_s(nc["first_snapshot_cli"], 3))
    row("workbench snapshot --json, no change (CLI)", fmt_s(wb_nc, 3), "created: false")
    if "nochange_cli_text" in nc:
        row(
            "workbench snapshot, no change (CLI)",
            fmt_s(nc["nochange_cli_text"]["seconds"], 3),
            "3 lines of output",
        )
    row("snapshot.take, no change (in-process)", fmt_s(nc["nochange_inproc"]["seconds"], 3))
    row("dvc add data (once)", fmt_s(nc.get("dvc_add_dir"), 3))
    row("dvc status", fmt_s(dvc_status, 3))
    row("ratio dvc status / workbench no-change", fmt_x(ratio(dvc_status, wb_nc)))
    lines.append("  top functions of the in-process check (cProfile, by own time):")
    lines += [f"    {t}" for t in nc["nochange_top"]]

    ap = results["append"]
    second = ap["second"]
    lines.append(f"\n4. append {ap['appended_rows']:,} rows to the big file ({ap['files']} files)")
    row(
        "first snapshot (in-process)",
        fmt_s(ap["first"]["seconds"], 3),
        f"{ap['first']['put_file_calls']} put_file calls",
    )
    row("snapshot after append (in-process)", fmt_s(second["seconds"], 3))
    row(
        "  put_file calls",
        str(len(second["put_file_calls"])),
        ", ".join(Path(c["path"]).name for c in second["put_file_calls"]),
    )
    row(
        "  bytes re-hashed",
        f"{second['bytes_rehashed'] / MIB:,.1f} MiB",
        f"appended {ap['appended_bytes'] / MIB:,.1f} MiB",
    )
    row("  hash+store time", fmt_s(second["hash_seconds"], 3))
    row("  profile time (whole data again)", fmt_s(second["profile_seconds"], 3))
    row("unchanged third snapshot: put_file calls", str(ap["third_put_file_calls"]))

    cl = results["cli"]
    lines.append(f"\n5. CLI wall time on the step-1 project (median of {plan.light})")
    row("python -c pass", fmt_s(cl["python_pass"]["seconds"], 3))
    row("workbench --help", fmt_s(cl["help"]["seconds"], 3))
    row("workbench status", fmt_s(cl["status"]["seconds"], 3))
    row(
        "workbench snapshot, no change (1 big file)",
        fmt_s(cl["snapshot_nochange_big"]["seconds"], 3),
    )

    summary = targets(results, plan)
    lines.append("\nSUMMARY")
    lines.append(f"  {'target':<44} {'measured':>24}  verdict")
    for s in summary:
        lines.append(f"  {s['target']:<44} {s['measured']:>24}  {s['verdict']}")
    print("\n".join(lines), flush=True)
    return summary


def partial_report(results: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of the sections that ran (``--only``), printed and returned."""
    out: dict[str, Any] = {}
    big, nc = results.get("big"), results.get("nochange")
    if big:
        base = big["baselines"]
        for label, value in (
            ("cp", base["cp"]["seconds"]),
            ("copy+fdatasync", base["copy_fdatasync"]["seconds"]),
            ("xxh3-128 pass", base["xxh3"]["seconds"]),
            ("md5 pass", base["md5"]["seconds"]),
            ("workbench hash+store", big["hash_store"]["seconds"]),
            ("workbench snapshot (CLI)", big["snapshot_cli"]["seconds"]),
            ("dvc add", get(big, "dvc_add", "seconds")),
        ):
            out[f"big {big['bytes'] / GIB:.2f} GiB: {label}"] = fmt_s(value, 3)
        dvc = get(big, "dvc_add", "seconds")
        out["ratio dvc add / hash+store"] = fmt_x(ratio(dvc, big["hash_store"]["seconds"]))
        out["ratio dvc add / snapshot CLI"] = fmt_x(ratio(dvc, big["snapshot_cli"]["seconds"]))
        floor = base["copy_fdatasync"]["seconds"]
        out["ratio dvc add / copy+fdatasync (the ceiling)"] = fmt_x(ratio(dvc, floor))
    if nc:
        out[f"{nc['files']:,} small files: first snapshot (CLI)"] = fmt_s(
            nc["first_snapshot_cli"], 3
        )
        out["no-change snapshot --json (CLI)"] = fmt_s(nc["nochange_cli"]["seconds"], 3)
        if "nochange_cli_text" in nc:
            out["no-change snapshot (CLI)"] = fmt_s(nc["nochange_cli_text"]["seconds"], 3)
        out["no-change take() in-process"] = fmt_s(nc["nochange_inproc"]["seconds"], 3)
        out["dvc add of the folder"] = fmt_s(nc.get("dvc_add_dir"), 3)
        out["dvc status"] = fmt_s(get(nc, "dvc_status", "seconds"), 3)
        out["ratio dvc status / no-change --json"] = fmt_x(
            ratio(get(nc, "dvc_status", "seconds"), nc["nochange_cli"]["seconds"])
        )
        if "nochange_cli_text" in nc:
            out["ratio dvc status / no-change"] = fmt_x(
                ratio(get(nc, "dvc_status", "seconds"), nc["nochange_cli_text"]["seconds"])
            )
    width = max(map(len, out), default=0)
    for key, value in out.items():
        print(f"{key:<{width}}  {value}")
    return out


def targets(results: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    big, nc, ap, cl = results["big"], results["nochange"], results["append"], results["cli"]
    out: list[dict[str, Any]] = []

    def add(target: str, measured: str, ok: bool | None) -> None:
        verdict = "SKIP" if ok is None else ("PASS" if ok else "FAIL")
        out.append({"target": target, "measured": measured, "verdict": verdict})

    r = ratio(get(big, "dvc_add", "seconds"), big["hash_store"]["seconds"])
    add("hash+store >= 5x faster than dvc add", fmt_x(r), None if r is None else r >= 5)
    r = ratio(get(big, "dvc_add", "seconds"), big["snapshot_cli"]["seconds"])
    out.append({"target": "  (whole snapshot vs dvc add)", "measured": fmt_x(r), "verdict": "INFO"})
    wb_nc = nc["nochange_cli"]["seconds"]
    add(f"no-change check <= 0.2 s ({nc['files']:,} files)", fmt_s(wb_nc, 3), wb_nc <= 0.2)
    dvc_status = get(nc, "dvc_status", "seconds")
    r = ratio(dvc_status, wb_nc)
    add("  no-change check faster than dvc status", fmt_x(r), None if r is None else r > 1)
    n = len(ap["second"]["put_file_calls"])
    add("append re-hashes only that file", f"{n} file(s) re-hashed", ap["ok"])
    add("workbench --help <= 0.3 s", fmt_s(cl["help"]["seconds"], 3), cl["help"]["seconds"] <= 0.3)
    add(
        "workbench status <= 0.6 s",
        fmt_s(cl["status"]["seconds"], 3),
        cl["status"]["seconds"] <= 0.6,
    )
    for key, entry in results.get("profile", {}).items():
        rows, kind = key.split(":")
        out.append(
            {
                "target": f"profile {int(rows) / 1e6:g}M rows x 30 cols, {kind}",
                "measured": fmt_s(entry["seconds"], 3),
                "verdict": "INFO",
            }
        )
    return out


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/wb-bench"))
    p.add_argument("--size-gb", type=float, default=1.0, help="size of the big CSV in GiB")
    p.add_argument("--skip-dvc", action="store_true", help="do not install or time DVC")
    p.add_argument("--skip-10m", action="store_true", help="skip the 10x-rows profile")
    p.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    p.add_argument("--clean", action="store_true", help="delete generated data at the end")
    p.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})",
    )
    p.add_argument(
        "--no-breakdown",
        action="store_true",
        help="skip the big file's profile-alone and in-process breakdown runs",
    )
    return p.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    breakdown = not args.no_breakdown
    if args.quick:
        return Plan(
            50 * MIB, 100_000, 1_000_000, 1_000, 2, 5, other_rows=2_000, breakdown=breakdown
        )
    return Plan(int(args.size_gb * GIB), 1_000_000, 10_000_000, 10_000, 3, 5, breakdown=breakdown)


def machine() -> dict[str, Any]:
    repo = Path(__file__).resolve().parents[2]
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"], repo, check=False)
    return {
        "workbench_commit": run(["git", "rev-parse", "--short", "HEAD"], repo, check=False).strip(),
        "workbench_tree_dirty": bool(dirty.strip()),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "platform": platform.platform(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"plan": asdict(plan), "args": vars(args) | {"workdir": str(work)}}
    results["machine"] = machine()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    if unknown := only - set(SECTIONS):
        raise SystemExit(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    if only & {"cli", "append"}:
        only.add("big")  # they use the big file and its project
    out_file = work / ("results.json" if only == set(SECTIONS) else "results-partial.json")
    ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")

    def save() -> None:
        out_file.write_text(json.dumps(results, indent=2, default=str))

    dvc: Path | None = None
    if not args.skip_dvc and only & {"big", "nochange"}:
        dvc, results["machine"]["dvc"] = ensure_dvc(work)
    run([sys.executable, "-m", "workbench", "--help"])  # compile the bytecode once, untimed
    t0 = time.perf_counter()
    if "big" in only:
        results["big"] = bench_big(work, plan, dvc)
        save()
    if "cli" in only:
        results["cli"] = bench_cli(Path(results["big"]["project"]), plan)
        save()
    if "profile" in only:
        results["profile"] = bench_profile(work, plan, args.skip_10m)
        save()
    if "nochange" in only:
        results["nochange"] = bench_nochange(work, plan, dvc)
        save()
    if "append" in only:
        results["append"] = bench_append(work, plan, Path(results["big"]["file"]))
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["total_seconds"] = time.perf_counter() - t0
    if only == set(SECTIONS):
        results["summary"] = report(results, plan)
    else:
        results["summary"] = partial_report(results)
    save()
    print(f"\nresults: {out_file} (total {results['total_seconds']:.0f} s)")
    if args.clean:
        for name in ("src", "prof", "small", "p1", "p3", "p4", "tmp"):
            shutil.rmtree(work / name, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
