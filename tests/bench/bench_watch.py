"""Benchmark of the watch loop (issue: continuous training). Not part of the test run.

    python tests/bench/bench_watch.py [--cycles 500] [--idle-seconds 30] [--workdir DIR]
    python tests/bench/bench_watch.py --in-process 10

Prints three figures:

1. settle -> training start: a real `workbench watch --json` process on a copy of the sample
   project; a batch is written atomically (rename), and the time from the end of the settle
   wait (the `changed` event, printed after the debounce) to the moment training starts
   (the `train` step's end time minus its duration) is measured per batch. Also split into the
   steps before training (snapshot, validation inside train, drift), and a stricter figure:
   settle -> LightGBM start, the moment the trainer enters its boosting step (the `train`
   progress entry the watcher publishes in `.workbench/progress.json`, polled every 5 ms;
   its `ts` is written by the watcher itself), which also counts the store reads, validation,
   loading and encoding inside the train step.
2. idle CPU: the same watcher left alone for --idle-seconds; CPU seconds from /proc/PID/stat
   divided by wall seconds.
   With ``--in-process N`` (and then nothing else runs): batches fed to ``run_cycle`` in this
   process, N times,
   timing cycle start -> LightGBM start (wall and CPU seconds) from the progress callback;
   no process start, file watching or settle wait, so it shows the cycle's own cost, and
   its minimum is the figure least disturbed by other load on a shared machine.
3. memory growth: the in-process loop (`workbench.watch.watch` with a fed change source, real
   cycles on a tiny project: 300 rows, 5 boosting rounds) run for --cycles cycles; resident
   memory (VmRSS) after cycle 10 and after the last, and their ratio (target <= 1.2).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_project"


def ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_batch(data: Path, name: str, frame: pl.DataFrame) -> None:
    tmp = data / f".{name}.tmp"
    frame.write_csv(tmp)
    os.replace(tmp, data / name)


def latency_and_idle(
    work: Path, batches: int, idle_s: float, tree: Path | None = None, offset: int = 0
) -> dict[str, object]:
    """``tree``: run the watcher from that source tree (PYTHONPATH) instead of this one."""
    proj = work / f"watch-proj-{offset}-{'base' if tree else 'this'}"
    shutil.copytree(SAMPLE, proj, ignore=shutil.ignore_patterns(".workbench"))
    with open(proj / "workbench.toml", "a") as f:
        f.write("\n")
    text = (proj / "workbench.toml").read_text().replace("debounce_ms = 1000", "debounce_ms = 300")
    (proj / "workbench.toml").write_text(text)
    source = pl.read_csv(SAMPLE / "data" / "batch_000.csv")
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "watch", "--json"],
        cwd=proj,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[dict] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(json.loads(line))

    threading.Thread(target=read, daemon=True).start()

    def wait(pred) -> dict:
        while True:
            ev = lines.get(timeout=600)
            if pred(ev):
                return ev

    wait(lambda e: e["event"] == "watching")
    boosting: list[float] = []  # watcher timestamps of each "train" progress step's start
    polling = threading.Event()

    def poll_progress() -> None:
        path = proj / ".workbench" / "progress.json"
        last = None
        while not polling.is_set():
            try:
                value = json.loads(path.read_text())
            except (OSError, ValueError):
                value = {}
            if value.get("step") == "train" and "round" not in value and value["ts"] != last:
                last = value["ts"]
                boosting.append(ts(value["ts"]))
            time.sleep(0.005)

    threading.Thread(target=poll_progress, daemon=True).start()
    results = []
    for i in range(offset, offset + batches):
        frame = source.slice(1000 * i % 29_000, 1000).with_columns(
            pl.col("customer_id").str.replace("C0", f"B{i:02d}")
        )
        write_batch(proj / "data", f"batch_{i + 1:03d}.csv", frame)
        changed = wait(lambda e: e["event"] == "changed")
        steps: dict[str, dict] = {}
        while True:
            ev = wait(lambda e: e["event"] in ("step", "cycle_finished"))
            if ev["event"] == "cycle_finished":
                break
            steps[ev["step"]] = ev
        if "train" not in steps:
            continue
        train_start = ts(steps["train"]["ts"]) - steps["train"]["seconds"]
        settled = ts(changed["ts"])
        boost = [b for b in boosting if b > settled]
        results.append(
            {
                "settle_to_train_s": train_start - settled,
                "settle_to_lightgbm_s": boost[0] - settled if boost else None,
                "snapshot_s": steps["snapshot"]["seconds"],
                "drift_s": steps.get("drift", {}).get("seconds", 0.0),
            }
        )
    wait(lambda e: e["event"] == "watching")
    polling.set()
    time.sleep(2)
    cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
    time.sleep(idle_s)
    idle = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
    proc.terminate()
    proc.wait(timeout=60)
    return {"batches": results, "idle_cpu_share": idle}


def in_process(work: Path, batches: int) -> list[dict[str, float]]:
    """Cycle start -> LightGBM start of ``batches`` cycles run in this process."""
    from workbench import config
    from workbench.pipeline.cycle import run_cycle
    from workbench.store import Store

    proj = work / "inproc-proj"
    shutil.copytree(SAMPLE, proj, ignore=shutil.ignore_patterns(".workbench"))
    store = Store(proj / ".workbench")
    source = pl.read_csv(SAMPLE / "data" / "batch_000.csv")
    out = []
    for i in range(batches + 1):  # the first cycle trains v1 (no champion, no drift): not timed
        if i:
            frame = source.slice(1000 * (i - 1) % 29_000, 1000).with_columns(
                pl.col("customer_id").str.replace("C0", f"I{i:02d}")
            )
            write_batch(proj / "data", f"batch_{i:03d}.csv", frame)
        marks: dict[str, tuple[float, float]] = {}
        t0, c0 = time.perf_counter(), time.process_time()

        def progress(step: str, info: dict, marks=marks, t0=t0, c0=c0) -> None:
            if step not in marks:
                marks[step] = (time.perf_counter() - t0, time.process_time() - c0)

        for _ in run_cycle(config.load(proj), store, progress=progress):
            pass
        if i and "train" in marks:
            out.append({"wall_s": marks["train"][0], "cpu_s": marks["train"][1]})
            print(f"  in-process batch {i}: {marks['train'][0]:.3f} s", flush=True)
    return out


def memory_growth(work: Path, cycles: int) -> dict[str, float]:
    from workbench.store import Store
    from workbench.watch import watch

    proj = work / "mem-proj"
    (proj / "data").mkdir(parents=True)
    source = pl.read_csv(SAMPLE / "data" / "batch_000.csv")
    source.head(300).write_csv(proj / "data" / "batch_000.csv")
    (proj / "workbench.toml").write_text(
        '[data]\ntarget = "churned"\nid_column = "customer_id"\ntime_column = "event_time"\n'
        '[data.validation]\nmin_rows = 10\nduplicate_ids = "ignore"\n'
        "[model]\nnum_boost_round = 5\nearly_stopping_rounds = 0\n"
    )
    store = Store(proj / ".workbench")
    marks: dict[int, float] = {}

    def changes():
        for i in range(cycles):
            path = proj / "data" / "batch_001.csv"
            source.slice(300 + (i % 50) * 20, 100).write_csv(path)  # a rewrite each cycle
            yield {path}

    done = 0
    for ev in watch(proj, store, changes=changes()):
        if ev.event == "cycle_finished":
            done += 1
            if done in (10, cycles) or done % 50 == 0:
                marks[done] = rss_mb()
                print(f"  cycle {done}: RSS {marks[done]:.0f} MB", flush=True)
    marks[done] = rss_mb()  # the start cycle counts too, so done = cycles + 1
    return {
        "cycles": done,
        "rss_after_10_mb": marks.get(10, 0.0),
        "rss_after_last_mb": marks.get(done, 0.0),
    }


def ab(work: Path, baseline: Path, batches: int, rounds: int) -> None:
    """This tree and ``baseline`` in turns (A B A B ...): medians and their ratio."""
    got: dict[str, list[dict]] = {"this": [], "base": []}
    for r in range(rounds):
        for name, tree in (("base", baseline), ("this", None)):
            live = latency_and_idle(work, batches, 0.5, tree, offset=r * batches)
            got[name] += live["batches"]  # type: ignore[arg-type]
            print(
                f"  round {r + 1} {name}: "
                + " ".join(
                    f"{b['settle_to_train_s']:.3f}"
                    for b in live["batches"]  # type: ignore[attr-defined]
                ),
                flush=True,
            )
    print(f"\nA/B over {rounds} rounds x {batches} batches (load {os.getloadavg()[0]:.1f})")
    for key, label in (
        ("settle_to_train_s", "settle -> train step start"),
        ("settle_to_lightgbm_s", "settle -> LightGBM start"),
        ("snapshot_s", "snapshot step"),
    ):
        med = {n: statistics.median([b[key] for b in got[n] if b[key] is not None]) for n in got}
        print(
            f"  {label:28} baseline {med['base']:.3f} s  this {med['this']:.3f} s"
            f"  ratio {med['base'] / med['this']:.2f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--cycles", type=int, default=500)
    ap.add_argument("--in-process", type=int, default=0, metavar="N")
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="TREE",
        help="A/B: settle -> training start of this tree and of TREE (e.g. a `git worktree` of"
        " an older commit), watchers run in turns, --rounds times each; nothing else runs",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--memory-only", action="store_true", help="only figure 3 (memory growth)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="wb-bench-watch."))
    work.mkdir(parents=True, exist_ok=True)
    if args.baseline:
        ab(work, args.baseline.resolve(), args.batches, args.rounds)
        shutil.rmtree(work, ignore_errors=True)
        return
    if args.memory_only:
        mem = memory_growth(work, args.cycles)
        ratio = mem["rss_after_last_mb"] / mem["rss_after_10_mb"]
        print(
            f"RSS after 10 cycles {mem['rss_after_10_mb']:.0f} MB, after {mem['cycles']}"
            f" {mem['rss_after_last_mb']:.0f} MB: ratio {ratio:.2f} (target <= 1.2)"
        )
        shutil.rmtree(work, ignore_errors=True)
        return
    if args.in_process:
        runs = in_process(work, args.in_process)
        walls = [r["wall_s"] for r in runs]
        cpus = [r["cpu_s"] for r in runs]
        print(
            f"in-process cycle start -> LightGBM start over {len(runs)} batches:"
            f" wall min {min(walls):.3f} s, median {statistics.median(walls):.3f} s;"
            f" CPU min {min(cpus):.3f} s, median {statistics.median(cpus):.3f} s"
        )
        shutil.rmtree(work, ignore_errors=True)
        return
    live = latency_and_idle(work, args.batches, args.idle_seconds)
    print(json.dumps({"live": live}, indent=1), flush=True)
    mem = memory_growth(work, args.cycles)
    print(json.dumps({"memory": mem}, indent=1))
    lat = [b["settle_to_train_s"] for b in live["batches"]]  # type: ignore[index]
    print("\nsummary")
    print(
        f"  settle -> training start: median {statistics.median(lat):.3f} s over {len(lat)}"
        f" batches (target <= 0.2 s)"
    )
    boost = [b["settle_to_lightgbm_s"] for b in live["batches"] if b["settle_to_lightgbm_s"]]  # type: ignore[index,attr-defined]
    if boost:
        print(
            f"  settle -> LightGBM start: median {statistics.median(boost):.3f} s over"
            f" {len(boost)} batches"
        )
    for b in live["batches"]:  # type: ignore[attr-defined]
        lgb = b["settle_to_lightgbm_s"]
        print(
            f"    snapshot {b['snapshot_s']:.3f} s  drift {b['drift_s']:.3f} s"
            f"  -> train step {b['settle_to_train_s']:.3f} s"
            + (f", LightGBM {lgb:.3f} s" if lgb is not None else "")
        )
    print(f"  idle CPU: {100 * float(live['idle_cpu_share']):.2f}% (target < 1%)")  # type: ignore[arg-type]
    ratio = mem["rss_after_last_mb"] / mem["rss_after_10_mb"]
    print(
        f"  RSS after 10 cycles {mem['rss_after_10_mb']:.0f} MB, after {mem['cycles']}"
        f" {mem['rss_after_last_mb']:.0f} MB: ratio {ratio:.2f} (target <= 1.2)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
