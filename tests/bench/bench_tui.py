"""Benchmark of the TUI (issue: the terminal UI). Not part of the test run.

    python tests/bench/bench_tui.py [--versions 10000] [--presses 40] [--workdir DIR]

Prints two figures, each beside its baseline from the same run:

1. First paint with a long history: a store with --versions versions (made-up rows, the same
   builder the snapshot tests use); the time from creating the app to the first frame that
   shows the history rows (headless ``run_test`` at 120x36). Side by side, interleaved: the
   same app on a 3-version store (the floor: Textual start-up and one store read), the paged
   table on the long history (200 newest rows, the default), and the same app told to load
   every version at once.
2. Key latency while a training cycle runs: the sample project (30,000 rows, 300 rounds), the
   app with its real watch loop; ``t`` starts a forced cycle and while LightGBM trains, ``down``
   and ``up`` are pressed --presses times; each press is timed from sending the key to the
   history cursor having moved and the screen being refreshed. Baseline: the same presses with
   nothing running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the `workbench` command does

from textual import events  # noqa: E402

from tests.tui_data import build  # noqa: E402
from workbench import config  # noqa: E402
from workbench.pipeline import train as trainer  # noqa: E402
from workbench.store import Store  # noqa: E402
from workbench.tui.app import WorkbenchApp  # noqa: E402
from workbench.tui.widgets import HistoryTable  # noqa: E402


async def first_paint(root: Path, page: int) -> float:
    started = time.perf_counter()
    app = WorkbenchApp(config.load(root), live=False, poll_s=3600, page=page)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(HistoryTable)
        while table.row_count == 0:
            await pilot.pause(0.005)
        await pilot.pause(0)  # the frame with the rows
        return time.perf_counter() - started


async def presses(pilot: Any, app: WorkbenchApp, n: int, busy: Any = None) -> list[float]:
    """Post key events as the terminal driver does; time each until the cursor has moved."""
    table = app.query_one(HistoryTable)
    out: list[float] = []
    for i in range(n):
        if busy is not None and not busy():
            break
        key = "down" if i % 2 == 0 else "up"
        before = table.cursor_row
        t0 = time.perf_counter()
        app.post_message(events.Key(key, None))
        deadline = t0 + 10
        while table.cursor_row == before and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
        out.append(time.perf_counter() - t0)
        await asyncio.sleep(0.05)
    return out


async def latency(root: Path, n: int) -> tuple[list[float], list[float], int]:
    app = WorkbenchApp(config.load(root), live=True, poll_s=1.0)
    async with app.run_test(size=(120, 36)) as pilot:
        while app.mode != "own" or app.view is None or app.cycle_running:
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        idle = await presses(pilot, app, n)
        await pilot.press("t")
        while not (app.progress and app.progress.get("step") == "train"):
            await pilot.pause(0.01)
        seen: list[int] = []

        def training() -> bool:
            seen.append(int((app.progress or {}).get("round", 0)))
            return app.cycle_running

        busy = await presses(pilot, app, n, busy=training)
        rounds = max(seen) - min(seen)
        app.stop.set()
        return idle, busy, rounds


def summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return (
        f"{name:<28} n={len(ms):<3} median {statistics.median(ms):6.1f} ms"
        f"  p95 {p95:6.1f} ms  max {ms[-1]:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-tui-"))

    big = build(work / "history", args.versions)
    tiny = build(work / "tiny", 3)
    runs: dict[str, list[float]] = {"tiny": [], "paged": [], "whole": []}
    for _ in range(5):
        runs["tiny"].append(asyncio.run(first_paint(tiny, 200)))
        runs["paged"].append(asyncio.run(first_paint(big, 200)))
        runs["whole"].append(asyncio.run(first_paint(big, args.versions)))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"first paint (5 interleaved runs each, median; target <= 1 s at {args.versions}):")
    print(f"  3 versions (floor)             {med['tiny']:6.3f} s")
    print(
        f"  {args.versions} versions, paged       {med['paged']:6.3f} s"
        f"   {med['paged'] / med['tiny']:4.2f}x the floor"
    )
    print(
        f"  {args.versions} versions, all rows    {med['whole']:6.3f} s"
        f"   {med['whole'] / med['tiny']:4.2f}x the floor"
    )

    proj = work / "sample"
    shutil.rmtree(proj, ignore_errors=True)
    shutil.copytree(REPO / "sample_project", proj, ignore=shutil.ignore_patterns(".workbench"))
    settings = config.load(proj)
    trainer.run_train(settings, Store(settings.store_dir))
    trainer.run_train(settings, Store(settings.store_dir), force=True)  # two rows to move between
    idle, busy, rounds = asyncio.run(latency(proj, args.presses))
    print("key press -> cursor moved and painted (target <= 100 ms while training):")
    print("  " + summary("idle", idle))
    print("  " + summary(f"during training ({rounds} rounds)", busy))


if __name__ == "__main__":
    main()
