"""Benchmark: issue 14's targets as users meet them — the real commands, fresh processes, peers.

A standalone script, not a pytest test. Every figure is a whole command run as a fresh
subprocess (interpreter start and imports included), timed beside its peer in the same run
(DVC for storage, Evidently for drift, polars / ``cp`` for the floor), with its peak RSS; it
prints each target beside its bar (PASS / FAIL / SKIP) and writes ``<workdir>/results.json``.
Run it from the project venv::

    python tests/bench/bench_commands.py                      # full run, ~30 min on 2 cores
    python tests/bench/bench_commands.py --quick              # smoke run, ~3-5 min
    python tests/bench/bench_commands.py --quick --only 1,4   # some parts

Flags: ``--workdir`` (default /tmp/wb-bench-commands: venvs, generated data and projects; data
and venvs are re-used by the next run), ``--quick`` (~50 MB CSV, 1,000 small files, 100k-row
drift, 3 appends, scaling at 25 and 50 MB; Evidently skipped unless ``--with-evidently``),
``--only 1,2,...`` (parts 1-7 below), ``--skip-dvc``, ``--skip-evidently``, ``--clean`` (delete
the generated data and projects at the end; venvs and results.json stay). Disk: the full run
needs ~25 GB under the workdir (DVC's cache alone holds 11 copies of the big file in part 4).

Conventions (shared with bench_snapshot.py and bench_drift.py, whose pieces this imports):
every timed run is a fresh subprocess launched by ``/usr/bin/time`` (``bench_drift.run``: wall
time measured here, ``%M`` peak RSS and user+sys CPU from GNU time); ``os.sync()`` (untimed)
before each; every input is read into the page cache first, so all contenders start from a
warm cache (it measures CPU and write cost, not the disk's read speed); figures are medians of
3 runs, except runs that take over 30 s, done once (the table gives the run count); contenders
are interleaved, their order rotating from round to round; load averages are recorded at the
start and end of each part; all ratios come from the same run. DVC 3.67.1 lives in
``<workdir>/venv-dvc`` (``python3 -m venv`` + pip; /tmp/perf/venv-dvc is linked when present),
Evidently in ``<workdir>/venv-evidently`` (``bench_drift.ensure_evidently``). Analytics off.

Data: the columns of bench_drift.py (20 float, 5 int, 5 string categoricals, binary
``target``: 31 columns, ~432 bytes a CSV row; 1 GB = 2.5M rows), written as CSV with polars.
Projects: a git repo with ``workbench.toml`` (``[data] path = "data"``, ``target``,
``[model] num_boost_round = 5``: few rounds, so training time is mostly reading and encoding)
and ``data/`` holding hard links to the generated files (workbench only reads its data).

What each figure means
----------------------
1. New 1 GB CSV: ``workbench snapshot --json`` in a fresh project; ``dvc add`` of the same file
   in a fresh ``git init`` + ``dvc init`` repo; the floor = max(``pl.read_csv`` of the file in a
   fresh Python process, ``cp`` + ``sync``). Targets: wb <= dvc add, wb <= 1.5x floor, wb peak
   RSS <= 1 GiB.
2. 10,000 CSVs of 50 rows (one schema, ~5 MB) copied into a fresh project / DVC repo (untimed):
   first ``workbench snapshot --json`` vs ``dvc add data`` (>= 1.5x faster, stretch 2x; RSS
   <= 500 MB), then the no-change ``workbench snapshot --json`` right after (<= 0.25 s; 5 runs).
3. Drift right after a batch lands: ``bench_drift.bench_wb_drift`` (a project whose champion
   trained 5 rounds on the 1M-row reference; the 999,999-row batch is added, then ``workbench
   drift --json``, each repeat on the store as it was after training: snapshot of the new
   file + reference cache + drift) runs before and after Evidently's whole process
   (``bench_drift.EVIDENTLY_SCRIPT``: pandas reads both files, DataDriftPreset, scores) on the
   same two Parquet files: 2 workbench runs, Evidently (3 runs, or 1 if it takes over 30 s),
   1 more workbench run; workbench's figure is the median wall and the larger peak RSS.
   Targets: Evidently wall / wb wall >= 50, wb peak RSS <= 1/3 of
   Evidently's. ``cached`` is ``drift --json --force`` right after (informational).
4. Appends: a project and a DVC repo each with its own copy of the 1 GB CSV, both stored once
   (untimed); then N times: append 1% more rows (new seeded rows, same bytes to both files),
   ``workbench snapshot --json`` and ``dvc add big.csv`` (interleaved, once each per append).
   ``store growth`` = growth of ``du -sb .workbench`` minus ``meta.duckdb*`` (target <= 3% of
   the file, first append), ``dvc add / wb`` per append (target >= 3x, median over appends).
   After the N appends: the store (and its parts) vs the final file (<= 1.3x) beside
   ``du -sb .dvc/cache``. Then a second project links the same final file with
   ``WORKBENCH_CHUNKED_MIN_BYTES=1000000000000`` (stored whole): ``workbench train --json`` on
   both (interleaved), one more append, then ``workbench drift --json`` on both (the reference
   and the current are read from the store). Each train and drift repeat starts from
   ``meta.duckdb`` as it was before the first one (copied back, untimed): a second train of
   unchanged data would otherwise do nothing, and a second drift would find its reference
   cache and stored result. Target: chunked / whole <= 1.1 for both.
5. ``workbench gc --dry-run --json`` then ``workbench gc --json`` on part 4's project: wall and
   bytes freed (``du`` before / after; the JSON is kept). Skipped when ``workbench gc --help``
   fails (the command is being built).
6. Scaling at 0.25, 0.5, 1 and 2 GB CSVs: ``workbench snapshot --json`` of the new file (fresh
   project) and ``workbench drift --json`` (champion trained on a reference CSV of that size,
   a current CSV of as many rows added). Time per GB and peak RSS per size; verdicts: time
   linear (the cost of each step up in size, s per extra GB, varies by <= 1.3x max / min: a
   fixed start-up is not growth) and memory flat (RSS at the largest size <= 1.3x the
   smallest).
7. No regressions: ``workbench --help`` <= 0.3 s and ``workbench status`` <= 0.6 s (5 runs; on
   part 1's project, or part 4's), the no-change snapshot of part 2 (<= 0.25 s; SKIP unless
   part 2 ran in the same run), settle ->
   training start <= 200 ms (``bench_watch.latency_and_idle``: a real ``workbench watch``, 5
   batches), and ``bench_train.py --quick --skip-csv`` as a subprocess (100k rows, its own
   interleaved medians of 3): ``workbench predict`` / plain ``Booster.predict`` script <= 1.5x
   and ``workbench train`` wall / plain script wall (read + lightgbm.train, same parameters)
   <= 1.15x.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bench_drift as bd
import bench_snapshot as bs
from benchlib import du_bytes, fmt_s, fmt_x, last_json, med, ratio, read_through, verdict

HERE = Path(__file__).resolve().parent
GB = 1_000_000_000
MB = 1_000_000
MIB = 1 << 20
ROWS_PER_GB = 2_500_000  # bench_drift's 31 columns: ~432 bytes a CSV row
SLOW = 30.0  # a run longer than this is done once
PY = sys.executable
WB = [str(Path(PY).with_name("workbench"))]
WHOLE = {"WORKBENCH_CHUNKED_MIN_BYTES": "1000000000000"}
ENV = dict(bd.ENV, DVC_NO_ANALYTICS="1", GIT_TERMINAL_PROMPT="0")
ENV.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled bytecode, as after `pip install`
TOML = bd.WORKBENCH_TOML  # [data] path = "data", target = "target"; [model] 5 rounds
PARTS = {
    1: "new 1 GB CSV: snapshot vs dvc add vs floor",
    2: "many small CSVs: first snapshot vs dvc add; no-change",
    3: "drift after a batch vs Evidently",
    4: "appends: store growth, re-snapshot vs dvc add, chunked vs whole",
    5: "gc",
    6: "scaling 0.25-2 GB",
    7: "no regressions",
}
ESTIMATE_MIN = {  # minutes on 2 cores (full, quick), first-run data generation included
    1: (3, 0.5),
    2: (4, 1),
    3: (9, 1),
    4: (8, 3),
    5: (0.5, 0.1),
    6: (10, 2),
    7: (4, 4),
}


@dataclass(frozen=True)
class Plan:
    big_rows: int
    small_files: int
    drift_rows: int
    appends: int
    sizes_gb: tuple[float, ...]
    repeats: int = 3
    light: int = 5


def make_plan(quick: bool) -> Plan:
    if quick:
        return Plan(125_000, 1_000, 100_000, 3, (0.025, 0.05))
    return Plan(2_500_000, 10_000, 1_000_000, 10, (0.25, 0.5, 1.0, 2.0))


log = bd.log
Run = bd.Run


def timed(cmd: Sequence[Any], cwd: Path | None = None, env: dict[str, str] | None = None) -> bd.Run:
    """One fresh, timed process (os.sync first; wall, peak RSS, CPU); it must succeed."""
    return bd.run([str(c) for c in cmd], cwd=cwd, env=dict(ENV, **(env or {})))


def summary(runs: list[bd.Run]) -> dict[str, Any]:
    return {
        "wall": med([r.wall for r in runs]),
        "rss_mb": med([r.rss_mb for r in runs]),
        "cpu": med([r.cpu for r in runs]),
        "walls": [r.wall for r in runs],
        "rss": [r.rss_mb for r in runs],
        "n": len(runs),
    }


def interleave(contenders: dict[str, Callable[[], bd.Run]], repeats: int) -> dict[str, Any]:
    """Rounds of one run per contender (order rotating); a contender slower than SLOW runs once."""
    runs: dict[str, list[bd.Run]] = {name: [] for name in contenders}
    names = list(contenders)
    for rep in range(repeats):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            if runs[name] and (rep >= repeats or runs[name][0].wall > SLOW):
                continue
            r = contenders[name]()
            runs[name].append(r)
            log(f"   {name} run {len(runs[name])}: {r.wall:.2f} s, {r.rss_mb:,.0f} MiB")
    return {name: summary(rs) for name, rs in runs.items()}


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------- data and projects


def write_csv(path: Path, rows: int, side: str = "ref", first_index: int = 0) -> None:
    """``rows`` rows of bench_drift's columns as CSV, written 500k rows at a time."""
    step = 500_000
    with open(path, "wb") as out:
        for i, start in enumerate(range(0, rows, step)):
            frame = bd.make_chunk(side, first_index + i, min(step, rows - start))
            frame.write_csv(out, include_header=start == 0)


def csv_file(work: Path, rows: int, side: str = "ref") -> Path:
    path = work / "data" / f"{side}_{rows}.csv"
    spec = {"rows": rows, "side": side, "seed": bd.DATA_SEED, "format": bd.DATA_FORMAT}

    def write(tmp: Path) -> dict[str, Any]:
        log(f"generating {path.name} ({rows:,} rows)")
        write_csv(tmp, rows, side)
        return {"rows": rows}

    bs.generated(path, spec, write)
    return path


def parquet_file(work: Path, rows: int, side: str) -> Path:
    path = work / "data" / f"{side}_{rows}.parquet"
    spec = {"rows": rows, "side": side, "seed": bd.DATA_SEED, "format": bd.DATA_FORMAT}

    def write(tmp: Path) -> dict[str, Any]:
        log(f"generating {path.name} ({rows:,} rows)")
        bd.write_dataset(tmp, side, rows)
        return {"rows": rows}

    bs.generated(path, spec, write)
    return path


def append_bytes(rows: int, index: int) -> bytes:
    """``rows`` new rows (seeded by ``index``) as CSV lines without a header."""
    buf = io.BytesIO()
    bd.make_chunk("ref", 10_000 + index, rows).write_csv(buf, include_header=False)
    return buf.getvalue()


def project(root: Path, files: dict[str, Path], *, copy: bool = False) -> Path:
    """A git repo with workbench.toml and data/ holding ``files`` (hard links, or copies)."""
    bs.fresh(root)
    (root / "workbench.toml").write_text(TOML)
    (root / ".gitignore").write_text(".workbench/\ndata/\n")
    (root / "data").mkdir()
    for name, src in files.items():
        (shutil.copyfile if copy else os.link)(src, root / "data" / name)
    bs.run(["git", "init", "-q"], root)
    bs.run(["git", *bs.GIT_ID, "add", "workbench.toml", ".gitignore"], root)
    bs.run(["git", *bs.GIT_ID, "commit", "-q", "-m", "bench"], root)
    return root


def store_bytes(root: Path) -> dict[str, int]:
    """``du -sb .workbench`` minus the DuckDB file(s), and the store's parts."""
    store = root / ".workbench"
    db = sum(p.stat().st_size for p in store.glob("meta.duckdb*") if p.is_file())
    parts = {p.name: du_bytes(p) for p in sorted(store.iterdir()) if p.is_dir()}
    return {"total": du_bytes(store) - db, "duckdb": db, **parts}


@contextlib.contextmanager
def saved_metadata(root: Path) -> Any:
    """Yield a function that puts ``meta.duckdb*`` back as they were on entry."""
    store = root / ".workbench"
    keep = root / ".meta-backup"
    bs.fresh(keep)
    for p in store.glob("meta.duckdb*"):
        shutil.copy2(p, keep / p.name)

    def restore() -> None:
        for p in store.glob("meta.duckdb*"):
            p.unlink()
        for p in keep.iterdir():
            shutil.copy2(p, store / p.name)

    try:
        yield restore
    finally:
        shutil.rmtree(keep, ignore_errors=True)


def fresh_metadata(restore: Callable[[], None], run: Callable[[], bd.Run]) -> Callable[[], bd.Run]:
    """``run`` after putting the metadata back (untimed): every repeat does the same work."""

    def go() -> bd.Run:
        restore()
        return run()

    return go


def ensure_dvc(work: Path) -> tuple[Path, str]:
    venv, ready = work / "venv-dvc", Path("/tmp/perf/venv-dvc")
    if not venv.exists() and (ready / "bin" / "dvc").exists():
        venv.symlink_to(ready)
    return bs.ensure_dvc(work)


def ensure_evidently(work: Path) -> tuple[Path, str]:
    venv, ready = work / "venv-evidently", Path("/tmp/wb-bench-drift/venv-evidently")
    if not venv.exists() and (ready / "bin" / "python").exists():
        venv.symlink_to(ready)
    return bd.ensure_evidently(work)


def dvc_add(repo: Path, dvc: Path, target: str) -> bd.Run:
    r = timed([dvc, "add", "-q", target], repo)
    assert (repo / f"{target}.dvc").is_file(), r.stderr
    return r


# ---------------------------------------------------------------- 1. new big file


def part1(work: Path, plan: Plan, dvc: Path | None) -> dict[str, Any]:
    src = csv_file(work, plan.big_rows)
    size = src.stat().st_size
    read_through(src)
    base = work / "p1"
    copy = base / "copy.csv"

    def wb() -> bd.Run:
        root = project(base / "wb", {"big.csv": src})
        r = timed([*WB, "snapshot", "--json"], root)
        assert last_json(r.stdout)["created"], r.stdout
        return r

    def dvc_run() -> bd.Run:
        assert dvc is not None
        repo = bs.dvc_repo(base / "dvc", dvc)
        os.link(src, repo / "big.csv")
        r = dvc_add(repo, dvc, "big.csv")
        os.chmod(src, 0o644)  # DVC may protect the shared inode
        shutil.rmtree(repo)
        return r

    def polars_read() -> bd.Run:
        return timed([PY, "-c", "import sys, polars; polars.read_csv(sys.argv[1])", src])

    def cp_sync() -> bd.Run:
        copy.unlink(missing_ok=True)
        r = timed(["sh", "-c", 'cp "$0" "$1" && sync', src, copy])
        copy.unlink()
        return r

    contenders = {"workbench snapshot": wb, "polars read_csv": polars_read, "cp + sync": cp_sync}
    if dvc:
        contenders["dvc add"] = dvc_run
    base.mkdir(parents=True, exist_ok=True)
    log(f"1. {size / GB:.2f} GB CSV: snapshot / dvc add / polars read / cp+sync")
    res = interleave(contenders, plan.repeats)
    floor = max(res["polars read_csv"]["wall"], res["cp + sync"]["wall"])
    return {
        "file": str(src),
        "bytes": size,
        "rows": plan.big_rows,
        "project": str(base / "wb"),
        "runs": res,
        "floor": floor,
    }


def targets1(r: dict[str, Any]) -> list[dict[str, Any]]:
    wb = r["runs"]["workbench snapshot"]
    dvc = r["runs"].get("dvc add", {}).get("wall")
    gb = f"{r['bytes'] / GB:.2f} GB"
    x = ratio(wb["wall"], r["floor"])
    return [
        target(
            1,
            f"snapshot {gb} <= dvc add",
            f"{fmt_s(wb['wall'])} vs {fmt_s(dvc)}",
            "<= 1x",
            None if dvc is None else wb["wall"] <= dvc,
        ),
        target(
            1,
            "snapshot <= 1.5x floor (max polars read, cp+sync)",
            f"{fmt_s(wb['wall'])} / {fmt_s(r['floor'])} = {fmt_x(x)}",
            "<= 1.5x",
            x <= 1.5,
        ),
        target(
            1, "snapshot peak RSS", f"{wb['rss_mb']:,.0f} MiB", "<= 1024 MiB", wb["rss_mb"] <= 1024
        ),
    ]


# ---------------------------------------------------------------- 2. many small files


def small_files(work: Path, count: int) -> Path:
    folder = work / "data" / f"small_{count}"
    if len(list(folder.glob("*.csv"))) == count:
        return folder
    log(f"2. writing {count:,} CSVs of 50 rows")
    bs.fresh(folder)
    frame = bd.make_chunk("ref", 500, count * 50).select("target", "i0", "c0")
    for i in range(count):
        frame.slice(i * 50, 50).write_csv(folder / f"part-{i:05d}.csv")
    return folder


def part2(work: Path, plan: Plan, dvc: Path | None) -> dict[str, Any]:
    folder = small_files(work, plan.small_files)
    for p in folder.iterdir():
        read_through(p)
    base = work / "p2"
    base.mkdir(parents=True, exist_ok=True)

    def wb() -> bd.Run:
        root = project(base / "wb", {})
        (root / "data").rmdir()
        shutil.copytree(folder, root / "data")
        r = timed([*WB, "snapshot", "--json"], root)
        assert last_json(r.stdout)["created"], r.stdout
        return r

    def dvc_run() -> bd.Run:
        assert dvc is not None
        repo = bs.dvc_repo(base / "dvc", dvc)
        shutil.copytree(folder, repo / "data")
        return dvc_add(repo, dvc, "data")

    contenders = {"workbench snapshot": wb} | ({"dvc add data": dvc_run} if dvc else {})
    log(f"2. {plan.small_files:,} small CSVs: first snapshot / dvc add data")
    # creating 10,000 files costs what the disk's state makes it (2x from one run to the
    # next here): a few seconds each, so more rounds than elsewhere for the medians
    res = interleave(contenders, max(plan.repeats, 5))
    log("2. no-change snapshot x5")
    nochange = []
    for _ in range(plan.light):
        r = timed([*WB, "snapshot", "--json"], base / "wb")
        assert not last_json(r.stdout)["created"], r.stdout
        nochange.append(r)
    return {
        "files": plan.small_files,
        "bytes": du_bytes(folder),
        "runs": res,
        "nochange": summary(nochange),
    }


def targets2(r: dict[str, Any]) -> list[dict[str, Any]]:
    wb = r["runs"]["workbench snapshot"]
    dvc = r["runs"].get("dvc add data", {}).get("wall")
    x = ratio(dvc, wb["wall"])
    n = f"{r['files']:,} files"
    nc = r["nochange"]["wall"]
    return [
        target(
            2,
            f"first snapshot {n}: dvc add / wb",
            f"{fmt_s(dvc)} / {fmt_s(wb['wall'])} = {fmt_x(x)}",
            ">= 1.5x",
            None if x is None else x >= 1.5,
        ),
        target(2, "  stretch", fmt_x(x), ">= 2x", None if x is None else x >= 2),
        target(
            2,
            "first snapshot peak RSS",
            f"{wb['rss_mb']:,.0f} MiB",
            "<= 500 MB",
            wb["rss_mb"] * MIB <= 500 * MB,
        ),
        target(2, f"no-change snapshot ({n})", fmt_s(nc, 3), "<= 0.25 s", nc <= 0.25),
    ]


# ---------------------------------------------------------------- 3. drift vs Evidently


def part3(work: Path, plan: Plan, ev_py: Path | None) -> dict[str, Any]:
    ref = parquet_file(work, plan.drift_rows, "ref")
    cur = parquet_file(work, plan.drift_rows - 1, "cur")
    for p in (ref, cur):
        read_through(p)
    base = work / "p3"
    base.mkdir(parents=True, exist_ok=True)
    log(f"3. workbench drift ({plan.drift_rows:,} vs {plan.drift_rows - 1:,} rows), 2 runs")
    before = bd.bench_wb_drift(base, ref, cur, 2)
    res: dict[str, Any] = {"rows": [plan.drift_rows, plan.drift_rows - 1], "before": before}
    walls = list(before["first"]["walls"])
    rss = [before["first"]["rss_mb"]]
    if ev_py is not None:
        scripts = base / "scripts"
        scripts.mkdir(exist_ok=True)
        (scripts / "evidently_drift.py").write_text(bd.EVIDENTLY_SCRIPT)
        c = bd.evidently_cmd(ev_py, scripts, ref, cur)
        ev_runs = []
        for _ in range(plan.repeats):
            log("3. Evidently DataDriftPreset (whole process)")
            ev_runs.append(timed(c.cmd))
            log(f"   {ev_runs[-1].wall:.1f} s, {ev_runs[-1].rss_mb:,.0f} MiB")
            if ev_runs[0].wall > SLOW:
                break
        res["evidently"] = summary(ev_runs)
        res["evidently"]["inside"] = last_json(ev_runs[-1].stdout)
        res["evidently"]["inside"].pop("features", None)
        log("3. workbench drift again, after Evidently")
        after = bd.bench_wb_drift(base, ref, cur, 1)
        res["after"] = after
        walls += after["first"]["walls"]
        rss.append(after["first"]["rss_mb"])
    res["workbench"] = {"wall": med(walls), "walls": walls, "rss_mb": max(rss)}
    res["cached"] = before["cached"]["wall"]
    for side in ("before", "after"):
        for key in ("first", "cached"):
            res.get(side, {}).get(key, {}).pop("features", None)
    return res


def targets3(r: dict[str, Any]) -> list[dict[str, Any]]:
    wb, ev = r["workbench"], r.get("evidently")
    x = ratio(ev["wall"], wb["wall"]) if ev else None
    m = ratio(wb["rss_mb"], ev["rss_mb"]) if ev else None
    rows = f"{r['rows'][0]:,} vs {r['rows'][1]:,} rows"
    return [
        target(
            3,
            f"drift --json ({rows}): Evidently / wb wall",
            f"{fmt_s(ev['wall'] if ev else None)} / {fmt_s(wb['wall'])} = {fmt_x(x, 1)}",
            ">= 50x",
            None if x is None else x >= 50,
        ),
        target(
            3,
            "drift peak RSS / Evidently's",
            f"{wb['rss_mb']:,.0f} / {ev['rss_mb'] if ev else float('nan'):,.0f} MiB = {fmt_x(m)}",
            "<= 0.33x",
            None if m is None else m <= 1 / 3,
        ),
    ]


# ---------------------------------------------------------------- 4. appends


def part4(work: Path, plan: Plan, dvc: Path | None) -> dict[str, Any]:
    src = csv_file(work, plan.big_rows)
    read_through(src)
    base = work / "p4"
    base.mkdir(parents=True, exist_ok=True)
    log("4. setting up: project and DVC repo with their own copy, first store (untimed)")
    root = project(base / "wb", {"big.csv": src}, copy=True)
    timed([*WB, "snapshot", "--json"], root)
    files = [root / "data" / "big.csv"]
    repo = None
    if dvc:
        repo = bs.dvc_repo(base / "dvc", dvc)
        shutil.copyfile(src, repo / "big.csv")
        dvc_add(repo, dvc, "big.csv")
        files.append(repo / "big.csv")
    rows_each = plan.big_rows // 100
    steps = []
    for k in range(plan.appends):
        data = append_bytes(rows_each, k)
        for f in files:
            with open(f, "ab") as out:
                out.write(data)
            read_through(f)
        before = store_bytes(root)["total"]
        size = files[0].stat().st_size
        step: dict[str, Any] = {"file_bytes": size, "appended_bytes": len(data)}

        def wb() -> bd.Run:
            r = timed([*WB, "snapshot", "--json"], root)
            assert last_json(r.stdout)["created"], r.stdout
            return r

        contenders = {"workbench snapshot": wb}
        if repo is not None:
            contenders["dvc add"] = lambda repo=repo: dvc_add(repo, dvc, "big.csv")  # type: ignore[arg-type]
        log(f"4. append {k + 1}/{plan.appends}: {rows_each:,} rows")
        names = list(contenders)[k % 2 :] + list(contenders)[: k % 2]
        for name in names:
            r = contenders[name]()
            step[name] = {"wall": r.wall, "rss_mb": r.rss_mb}
            log(f"   {name}: {r.wall:.2f} s, {r.rss_mb:,.0f} MiB")
        step["store_growth"] = store_bytes(root)["total"] - before
        steps.append(step)
    res: dict[str, Any] = {"appends": steps, "rows_each": rows_each, "project": str(root)}
    res["final_file_bytes"] = files[0].stat().st_size
    res["store"] = store_bytes(root)
    if repo is not None:
        res["dvc_cache_bytes"] = du_bytes(repo / ".dvc" / "cache")
    res["read"] = chunked_vs_whole(base, root, plan)
    return res


def chunked_vs_whole(base: Path, root: Path, plan: Plan) -> dict[str, Any]:
    """train and drift on the chunked project and on a copy stored whole."""
    big = root / "data" / "big.csv"
    whole = project(base / "whole", {"big.csv": big})  # the same inode: same bytes as it grows
    log("4. the same file stored whole (WORKBENCH_CHUNKED_MIN_BYTES=1e12), untimed")
    timed([*WB, "snapshot", "--json"], whole, WHOLE)
    envs = {"chunked": ({}, root), "whole": (WHOLE, whole)}

    def cmd(args: list[str], name: str) -> Callable[[], bd.Run]:
        env, cwd = envs[name]
        return lambda: timed([*WB, *args], cwd, env)

    log("4. workbench train --json: chunked vs whole (metadata restored before each run)")
    with saved_metadata(root) as restore_a, saved_metadata(whole) as restore_b:
        restores = {"chunked": restore_a, "whole": restore_b}
        train = interleave(
            {n: fresh_metadata(restores[n], cmd(["train", "--json"], n)) for n in envs},
            plan.repeats,
        )
    data = append_bytes(plan.big_rows // 100, 999)
    with open(big, "ab") as out:
        out.write(data)
    read_through(big)
    for env, cwd in envs.values():
        timed([*WB, "snapshot", "--json"], cwd, env)
    log("4. workbench drift --json: chunked vs whole (metadata restored before each run)")
    with saved_metadata(root) as restore_a, saved_metadata(whole) as restore_b:
        restores = {"chunked": restore_a, "whole": restore_b}
        drifts = interleave(
            {n: fresh_metadata(restores[n], cmd(["drift", "--json"], n)) for n in envs},
            plan.repeats,
        )
    return {"train": train, "drift": drifts}


def targets4(r: dict[str, Any]) -> list[dict[str, Any]]:
    steps = r["appends"]
    first = steps[0]
    growth = ratio(first["store_growth"], first["file_bytes"])
    xs = [
        ratio(s["dvc add"]["wall"], s["workbench snapshot"]["wall"])
        for s in steps
        if "dvc add" in s
    ]
    x = med([v for v in xs if v is not None])
    wb_m = med([s["workbench snapshot"]["wall"] for s in steps])
    dvc_m = med([s["dvc add"]["wall"] for s in steps if "dvc add" in s])
    store = r["store"]["total"]
    final = r["final_file_bytes"]
    n = len(steps)
    out = [
        target(
            4,
            "store growth, first 1% append / file",
            f"{first['store_growth'] / MB:,.1f} MB = {100 * (growth or 0):.2f}%",
            "<= 3%",
            growth is not None and growth <= 0.03,
        ),
        target(
            4,
            "re-snapshot: dvc add / wb (median of appends)",
            f"{fmt_s(dvc_m)} / {fmt_s(wb_m)} = {fmt_x(x)}",
            ">= 3x",
            None if x is None else x >= 3,
        ),
        target(
            4,
            f"store after {n} appends / final file",
            f"{store / MB:,.0f} / {final / MB:,.0f} MB = {fmt_x(store / final)}",
            "<= 1.3x",
            store / final <= 1.3,
        ),
    ]
    if "dvc_cache_bytes" in r:
        d = r["dvc_cache_bytes"]
        out.append(
            info(
                4,
                f"  DVC cache after {n} appends",
                f"{d / MB:,.0f} MB = {fmt_x(d / final)} the file",
            )
        )
    for key in ("train", "drift"):
        c, w = r["read"][key]["chunked"]["wall"], r["read"][key]["whole"]["wall"]
        x = ratio(c, w)
        out.append(
            target(
                4,
                f"{key}: chunked / stored whole",
                f"{fmt_s(c)} / {fmt_s(w)} = {fmt_x(x)}",
                "<= 1.1x",
                None if x is None else x <= 1.1,
            )
        )
    return out


# ---------------------------------------------------------------- 5. gc


def part5(work: Path, plan: Plan) -> dict[str, Any]:
    root = work / "p4" / "wb"
    probe = subprocess.run([*WB, "gc", "--help"], capture_output=True, text=True, env=ENV)
    if probe.returncode != 0:
        note = (probe.stderr or probe.stdout).strip().splitlines()[-1:]
        return {"skipped": f"`workbench gc --help` failed: {' '.join(note)}"}
    if not (root / ".workbench").is_dir():
        return {"skipped": "needs part 4's project (run with --only 4,5)"}
    res: dict[str, Any] = {}
    for label, args in (("dry_run", ["gc", "--dry-run", "--json"]), ("gc", ["gc", "--json"])):
        before = store_bytes(root)["total"]
        r = timed([*WB, *args], root)
        after = store_bytes(root)["total"]
        with contextlib.suppress(ValueError):
            res[f"{label}_json"] = last_json(r.stdout)
        res[label] = {"wall": r.wall, "rss_mb": r.rss_mb, "freed": before - after}
        res[label]["store_before"] = before
        log(f"5. {' '.join(args)}: {r.wall:.2f} s, freed {(before - after) / MB:,.1f} MB")
    return res


def targets5(r: dict[str, Any]) -> list[dict[str, Any]]:
    if "skipped" in r:
        return [target(5, "gc", r["skipped"], "-", None)]
    return [
        info(
            5,
            f"gc {label}",
            f"{fmt_s(r[key]['wall'])}, freed {r[key]['freed'] / MB:,.1f} MB"
            f" of {r[key]['store_before'] / MB:,.0f} MB",
        )
        for key, label in (("dry_run", "--dry-run --json"), ("gc", "--json"))
    ]


# ---------------------------------------------------------------- 6. scaling


def part6(work: Path, plan: Plan) -> dict[str, Any]:
    base = work / "p6"
    base.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for gb in plan.sizes_gb:
        rows = int(gb * ROWS_PER_GB)
        ref, cur = csv_file(work, rows), csv_file(work, rows, "cur")
        for p in (ref, cur):
            read_through(p)
        size = ref.stat().st_size

        def snap(ref: Path = ref) -> bd.Run:
            root = project(base / "snap", {"big.csv": ref})
            return timed([*WB, "snapshot", "--json"], root)

        def floor(ref: Path = ref) -> bd.Run:  # the same file's polars read and cp + sync
            copy = base / "copy.csv"
            copy.unlink(missing_ok=True)
            read = timed([PY, "-c", "import sys, polars; polars.read_csv(sys.argv[1])", ref])
            cp = timed(["sh", "-c", 'cp "$0" "$1" && sync', ref, copy])
            copy.unlink()
            return read if read.wall >= cp.wall else cp

        log(f"6. {size / GB:.3g} GB: snapshot of the new file, beside its floor")
        runs = interleave({"snapshot": snap, "floor": floor}, plan.repeats)
        snapshot = runs["snapshot"]
        root = project(base / "drift", {"ref.csv": ref})
        log(f"6. {size / GB:.3g} GB: train (untimed), then drift --json")
        timed([*WB, "train", "--json"], root)
        os.link(cur, root / "data" / "cur.csv")
        timed([*WB, "snapshot", "--json"], root)
        with saved_metadata(root) as restore:

            def drift(root: Path = root, restore: Callable[[], None] = restore) -> bd.Run:
                restore()
                return timed([*WB, "drift", "--json"], root)

            drift_res = interleave({"drift": drift}, plan.repeats)["drift"]
        out.setdefault("sizes", {})[f"{gb:g}"] = {
            "bytes": size,
            "rows": rows,
            "snapshot": snapshot,
            "floor": runs["floor"],
            "drift": drift_res,
        }
    shutil.rmtree(base, ignore_errors=True)
    return out


def targets6(r: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    sizes = list(r["sizes"].values())
    for kind in ("snapshot", "drift"):
        per_gb = [s[kind]["wall"] / (s["bytes"] / GB) for s in sizes]
        for s, t in zip(sizes, per_gb, strict=True):
            out.append(
                info(
                    6,
                    f"{kind} {s['bytes'] / GB:.3g} GB",
                    f"{fmt_s(s[kind]['wall'])} = {t:.2f} s/GB, {s[kind]['rss_mb']:,.0f} MiB",
                )
            )
        # the cost of each further step in size (s per extra GB): a fixed start-up (imports,
        # the store) makes the smallest file's s/GB high without any growth faster than the work
        steps = [
            (b[kind]["wall"] - a[kind]["wall"]) / ((b["bytes"] - a["bytes"]) / GB)
            for a, b in itertools.pairwise(sizes)
        ]
        spread = max(steps) / min(steps) if steps and min(steps) > 0 else float("inf")
        out.append(
            target(
                6,
                f"{kind}: time linear (s per extra GB: {', '.join(f'{x:.2f}' for x in steps)})",
                f"max/min {fmt_x(spread)}",
                "<= 1.3x",
                spread <= 1.3,
            )
        )
        if kind == "snapshot" and all("floor" in s for s in sizes):
            # the disk and the parser at each size in this run: a machine whose writes slow
            # down as a run goes on makes every contender superlinear, not only workbench
            floors = [s["snapshot"]["wall"] / s["floor"]["wall"] for s in sizes]
            out.append(
                info(
                    6,
                    "snapshot / floor (max polars read, cp+sync) per size",
                    ", ".join(
                        f"{fmt_s(s['floor']['wall'])}: {x:.2f}x"
                        for s, x in zip(sizes, floors, strict=True)
                    ),
                )
            )
        grow = sizes[-1][kind]["rss_mb"] / sizes[0][kind]["rss_mb"]
        out.append(
            target(
                6,
                f"{kind}: memory flat (RSS largest/smallest)",
                fmt_x(grow),
                "<= 1.3x",
                grow <= 1.3,
            )
        )
    return out


# ---------------------------------------------------------------- 7. no regressions


def part7(work: Path, plan: Plan, results: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    log("7. workbench --help x5")
    res["help"] = summary([timed([*WB, "--help"]) for _ in range(plan.light)])
    proj = next(
        (
            Path(p)
            for p in (results.get("1", {}).get("project"), work / "p4" / "wb")
            if p and (Path(p) / ".workbench").is_dir()
        ),
        None,
    )
    if proj is None:
        proj = project(work / "p7", {"big.csv": csv_file(work, plan.big_rows // 10)})
        timed([*WB, "snapshot", "--json"], proj)
    log(f"7. workbench status x5 ({proj})")
    res["status"] = summary([timed([*WB, "status"], proj) for _ in range(plan.light)])
    res["status_project"] = str(proj)
    log("7. settle -> training start (bench_watch.latency_and_idle, 5 batches)")
    try:
        import bench_watch

        watch = bench_watch.latency_and_idle(bs.fresh(work / "watch"), 5, 1.0)
        lat = [b["settle_to_train_s"] for b in watch["batches"]]  # type: ignore[index]
        res["settle_to_train"] = {"median": med(lat), "runs": lat}
    except Exception as e:  # report it, go on with the rest
        res["settle_to_train"] = {"error": repr(e)}
    log("7. bench_train.py --quick --skip-csv (subprocess)")
    twork = work / "train"
    proc = subprocess.run(
        [PY, HERE / "bench_train.py", "--quick", "--skip-csv", "--workdir", twork],
        capture_output=True,
        text=True,
        env=ENV,
    )
    try:
        t = json.loads((twork / "results.json").read_text())
        if proc.returncode not in (0, 1):
            raise RuntimeError(proc.stderr[-2000:])
        pq = t["predict"]["parquet"]
        res["predict"] = {"wb": pq["wb"]["wall"], "plain": pq["plain"]["wall"]}
        tr = t["train"]
        res["train"] = {"wb": tr["wb_after"]["wall"], "plain": tr["plain"]["wall"]}
    except Exception as e:
        res["bench_train_error"] = f"{e!r}: {proc.stderr[-1500:]}"
    return res


def targets7(r: dict[str, Any], results: dict[str, Any]) -> list[dict[str, Any]]:
    h, s = r["help"]["wall"], r["status"]["wall"]
    out = [
        target(7, "workbench --help", fmt_s(h, 3), "<= 0.3 s", h <= 0.3),
        target(7, "workbench status", fmt_s(s, 3), "<= 0.6 s", s <= 0.6),
    ]
    nc = results.get("2", {}).get("nochange", {}).get("wall")
    n = results.get("2", {}).get("files")
    out.append(
        target(
            7,
            f"no-change snapshot ({n or '-'} files, part 2)",
            fmt_s(nc, 3),
            "<= 0.25 s",
            None if nc is None else nc <= 0.25,
        )
    )
    st = r["settle_to_train"].get("median")
    out.append(
        target(
            7,
            "settle -> training start (watch)",
            "-" if st is None else f"{st * 1000:.0f} ms",
            "<= 200 ms",
            None if st is None else st <= 0.2,
        )
    )
    for key, label, bar in (
        ("predict", "predict / plain Booster.predict", 1.5),
        ("train", "train wall / plain script wall", 1.15),
    ):
        v = r.get(key)
        x = ratio(v["wb"], v["plain"]) if v else None
        measured = f"{fmt_s(v['wb'])} / {fmt_s(v['plain'])} = {fmt_x(x)}" if v else "-"
        out.append(
            target(
                7, f"{label} (100k rows)", measured, f"<= {bar}x", None if x is None else x <= bar
            )
        )
    return out


# ---------------------------------------------------------------- report and main


def target(part: int, name: str, measured: str, bar: str, ok: bool | None) -> dict[str, Any]:
    return {"part": part, "target": name, "measured": measured, "bar": bar, "verdict": verdict(ok)}


def info(part: int, name: str, measured: str) -> dict[str, Any]:
    return {"part": part, "target": name, "measured": measured, "bar": "", "verdict": "INFO"}


def print_part(part: int, r: dict[str, Any]) -> None:
    """The raw contenders of a part: wall, peak RSS, runs."""
    groups: list[tuple[str, dict[str, Any]]] = []
    if part in (1, 2):
        groups = list(r["runs"].items())
        if part == 2:
            groups.append(("no-change snapshot", r["nochange"]))
    elif part == 3:
        groups = [("workbench drift --json", r["workbench"])]
        groups += [("Evidently (whole process)", r["evidently"])] if "evidently" in r else []
    elif part == 4:
        for key in ("train", "drift"):
            groups += [(f"{key} {n}", v) for n, v in r["read"][key].items()]
    for name, g in groups:
        walls = ", ".join(f"{w:.2f}" for w in g.get("walls", []))
        print(f"    {name:<34} {fmt_s(g['wall'], 3):>10}  {g['rss_mb']:>8,.0f} MiB  [{walls}]")
    if part == 4:
        for i, s in enumerate(r["appends"], 1):
            d = s.get("dvc add", {}).get("wall")
            print(
                f"    append {i:>2}: wb {fmt_s(s['workbench snapshot']['wall'])}, dvc "
                f"{fmt_s(d)}, store +{s['store_growth'] / MB:,.1f} MB "
                f"(appended {s['appended_bytes'] / MB:,.1f} MB)"
            )
        parts = ", ".join(f"{k} {v / MB:,.1f} MB" for k, v in r["store"].items())
        print(f"    store parts: {parts}")


TARGETS = {1: targets1, 2: targets2, 3: targets3, 4: targets4, 5: targets5, 6: targets6}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/wb-bench-commands"))
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    p.add_argument("--only", default="1,2,3,4,5,6,7", help="comma-separated parts (1-7)")
    p.add_argument("--skip-dvc", action="store_true")
    p.add_argument("--skip-evidently", action="store_true")
    p.add_argument("--with-evidently", action="store_true", help="run Evidently in --quick too")
    p.add_argument("--clean", action="store_true", help="delete data and projects at the end")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args.quick)
    only = sorted({int(x) for x in args.only.split(",") if x.strip()})
    if bad := set(only) - set(PARTS):
        raise SystemExit(f"unknown part(s) {sorted(bad)}; choose from 1-7")
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    bd.ENV.update(ENV)  # bench_drift's own runs (part 3) get the same environment
    col = 1 if args.quick else 0
    print(f"plan: {'quick' if args.quick else 'full'}; estimated minutes on 2 cores:")
    for n in only:
        print(f"  {n}. {PARTS[n]:<66} ~{ESTIMATE_MIN[n][col]:g} min")
    print(f"  total ~{sum(ESTIMATE_MIN[n][col] for n in only):g} min", flush=True)
    results: dict[str, Any] = {
        "plan": asdict(plan),
        "args": {k: str(v) for k, v in vars(args).items()},
        "machine": bs.machine() | {"loadavg_start": loadavg()},
        "parts": {},
    }
    dvc = ev_py = None
    if not args.skip_dvc and set(only) & {1, 2, 4}:
        dvc, results["machine"]["dvc"] = ensure_dvc(work)
    if set(only) & {3} and not args.skip_evidently and (args.with_evidently or not args.quick):
        ev_py, results["machine"]["evidently"] = ensure_evidently(work)
    timed([*WB, "--help"])  # compile the bytecode once, untimed
    out_file = work / ("results.json" if len(only) == len(PARTS) else "results-partial.json")
    table: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    for n in only:
        t0, load0 = time.perf_counter(), loadavg()
        try:
            if n == 1:
                r = part1(work, plan, dvc)
            elif n == 2:
                r = part2(work, plan, dvc)
            elif n == 3:
                r = part3(work, plan, ev_py)
            elif n == 4:
                r = part4(work, plan, dvc)
            elif n == 5:
                r = part5(work, plan)
            elif n == 6:
                r = part6(work, plan)
            else:
                r = part7(work, plan, results["parts"])
        except Exception as e:  # one part failing must not lose the others
            log(f"part {n} failed: {e!r}")
            r = {"error": repr(e)[-3000:]}
        r["seconds"] = time.perf_counter() - t0
        r["loadavg"] = [load0, loadavg()]
        results["parts"][str(n)] = r
        if "error" in r:
            rows = [target(n, PARTS[n], "error: " + r["error"][:60], "-", False)]
        else:
            try:
                rows = targets7(r, results["parts"]) if n == 7 else TARGETS[n](r)
            except Exception as e:  # a missing figure: say so, keep the measurements
                rows = [target(n, PARTS[n], f"no verdicts: {e!r}"[:80], "-", False)]
        table += rows
        print(
            f"\n{n}. {PARTS[n]} ({r['seconds']:.0f} s; load average "
            f"{load0[0]:.2f} -> {r['loadavg'][1][0]:.2f})"
        )
        if "error" not in r:
            print_part(n, r)
        print_targets(rows)
        results["targets"] = table
        out_file.write_text(json.dumps(results, indent=1, default=str))
    results["machine"]["loadavg_end"] = loadavg()
    results["seconds"] = time.perf_counter() - t_start
    print("\nSUMMARY (warm page cache for every contender; medians of 3 unless a run took >30 s)")
    print_targets(table)
    out_file.write_text(json.dumps(results, indent=1, default=str))
    print(
        f"\nload average {results['machine']['loadavg_start']} -> "
        f"{results['machine']['loadavg_end']}; {results['seconds']:.0f} s in all"
    )
    print(f"results: {out_file}")
    if args.clean:
        for name in ("data", "p1", "p2", "p3", "p4", "p6", "p7", "watch", "train"):
            shutil.rmtree(work / name, ignore_errors=True)
    return 0 if all(t["verdict"] != "FAIL" for t in table) else 1


def print_targets(rows: list[dict[str, Any]]) -> None:
    for t in rows:
        print(
            f"  [{t['part']}] {t['target']:<52} {t['measured']:>34}  {t['bar']:>10}  {t['verdict']}"
        )


if __name__ == "__main__":
    sys.exit(main())
