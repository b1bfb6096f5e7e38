"""The watch loop: real cycles, real watchfiles events, real processes, bad input, kills."""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import SAMPLE, copy_sample
from tests.helpers import CountingStore, configure, copy_project, cut_sample, store_of
from workbench import watch as watch_mod
from workbench.caches import clear_process_caches
from workbench.pipeline.events import CycleEvent

BATCH_ROWS = 400


@pytest.fixture(scope="module")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3000 rows, 20 rounds, v1 trained once for the whole module; tests get copies."""
    root = tmp_path_factory.mktemp("template") / "proj"
    copy_sample(root)
    configure(cut_sample(root, 3000), rounds=20)
    with open(root / "workbench.toml", "a") as f:
        f.write("\n[watch]\ndebounce_ms = 200\n")
    assert finished(cycles(root, []))[-1]["outcome"] == "promoted"
    return root


@pytest.fixture
def small(trained_template: Path, tmp_path: Path) -> Path:
    return copy_project(trained_template, tmp_path)


def new_batch(root: Path, name: str, n: int = BATCH_ROWS) -> Path:
    """A normal batch: later rows of the original data (distinct ids, later times)."""
    frame = pl.read_csv(SAMPLE / "data" / "batch_000.csv")
    offset = 3000 + 400 * len(list((root / "data").glob("*.csv")))
    path = root / "data" / name
    frame.slice(offset, n).write_csv(path)
    return path


def cycles(root: Path, batches: list[set[Path]]) -> list[CycleEvent]:
    return list(watch_mod.watch(root, store_of(root), changes=iter(batches)))


def finished(events: list[CycleEvent]) -> list[dict]:
    return [e.data | {"message": e.message} for e in events if e.event == "cycle_finished"]


def champion(root: Path) -> int | None:
    with store_of(root).read() as s:
        return s.champion_number()


# ------------------------------------------------------------------ in-process loop, fed batches


BAD_INPUTS = {
    "malformed": lambda p: p.write_text("customer_id,churned\nC1,0\nC2,1,extra,fields\n"),
    "wrong_delimiter": lambda p: p.write_text(
        (p.parent / "batch_000.csv").read_text().replace(",", ";", 2000)[:20000]
    ),
    "empty": lambda p: p.write_bytes(b""),
    "header_only": lambda p: p.write_text(
        (p.parent / "batch_000.csv").read_text().splitlines()[0] + "\n"
    ),
    "missing_target": lambda p: (
        pl.read_csv(p.parent / "batch_000.csv").head(50).drop("churned").write_csv(p)
    ),
    "target_all_null": lambda p: (
        pl.read_csv(p.parent / "batch_000.csv")
        .with_columns(pl.lit(None).alias("churned"))
        .write_csv(p)
    ),
    "retyped_column": lambda p: (
        pl.read_csv(p.parent / "batch_000.csv")
        .head(50)
        .with_columns(pl.lit("lots").alias("tenure_months"))
        .write_csv(p)
    ),
    "non_utf8": lambda p: p.write_bytes(b"customer_id,churned\n\xff\xfe\xfa,1\n"),
    "binary_garbage": lambda p: p.write_bytes(
        bytes(random.Random(1).randrange(256) for _ in range(4096))
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_is_a_failed_cycle_then_recovery(small: Path, kind: str) -> None:
    assert champion(small) == 1
    bad = small / "data" / "batch_bad.csv"
    BAD_INPUTS[kind](bad)
    events = cycles(small, [{bad}])
    fail = finished(events)[-1]
    assert fail["outcome"] == "failed", fail
    assert (
        "batch_bad.csv" in fail["message"]
        or "tenure_months" in fail["message"]
        or "churned" in fail["message"]
    )
    assert fail["hint"]
    assert champion(small) == 1
    bad.unlink()
    fixed = new_batch(small, "batch_001.csv")
    outcomes = [f["outcome"] for f in finished(cycles(small, [{bad, fixed}]))]
    assert {"promoted", "kept"} & set(outcomes), outcomes  # the next cycle recovers by itself


def test_config_syntax_error_then_fix(small: Path) -> None:
    cfg = small / "workbench.toml"
    good = cfg.read_text()
    cfg.write_text(good.replace("[model]", "[model"))
    fail = finished(cycles(small, [{cfg}]))[-1]
    assert fail["outcome"] == "failed" and fail["step"] == "config"
    assert "workbench.toml" in fail["message"] and "line" in fail["message"]
    cfg.write_text(good.replace("num_leaves = 15", "num_leaves = -2"))  # invalid LightGBM param
    bad_param = finished(cycles(small, [{cfg}]))[-1]
    assert bad_param["outcome"] == "failed" and "num_leaves" in bad_param["message"]
    assert champion(small) == 1
    cfg.write_text(good.replace("learning_rate = 0.1", "learning_rate = 0.11"))
    outcomes = [f["outcome"] for f in finished(cycles(small, [{cfg}]))]
    assert {"promoted", "kept"} & set(outcomes), outcomes


def test_each_step_is_an_event_with_timing(small: Path) -> None:
    new_batch(small, "batch_001.csv")
    events = cycles(small, [{small / "data" / "batch_001.csv"}])
    steps = [e.data["step"] for e in events if e.event == "step"]
    assert steps[:3] == ["snapshot", "drift", "train"]  # the start cycle trains the new batch
    with store_of(small).read() as s:
        stored = [e for e in s.events(limit=50) if e.kind == "step"]
    assert all(e.data["seconds"] >= 0 and e.data["cycle"] for e in stored)


def test_a_file_still_being_written_is_waited_for(small: Path) -> None:
    path = small / "data" / "slow.csv"
    path.write_text("x\n")

    def writer() -> None:
        for _ in range(6):
            time.sleep(0.03)
            with open(path, "a") as f:
                f.write("1\n")

    t = threading.Thread(target=writer)
    t.start()
    start = time.monotonic()
    watch_mod.wait_until_settled({path}, poll_s=0.05)
    t.join()
    assert time.monotonic() - start >= 0.15
    assert path.read_text().count("1\n") == 6


def test_a_file_quiet_for_a_poll_is_not_waited_for(small: Path) -> None:
    old = small / "data" / "old.csv"
    old.write_text("x\n1\n")
    past = time.time_ns() - 2_000_000_000
    os.utime(old, ns=(past, past))
    fresh = small / "data" / "fresh.csv"
    fresh.write_text("x\n1\n")  # written just now: one poll is needed to see it is quiet
    start = time.monotonic()
    watch_mod.wait_until_settled({old, small / "data" / "gone.csv"}, poll_s=0.5)
    assert time.monotonic() - start < 0.25  # no poll: the old file was quiet already
    start = time.monotonic()
    watch_mod.wait_until_settled({old, fresh}, poll_s=0.5)
    assert time.monotonic() - start >= 0.5  # the fresh one was watched for a poll


def test_input_filter(small: Path) -> None:
    keep = watch_mod.input_filter(small)
    assert keep(small / "data" / "b.csv")
    assert keep(small / "workbench.toml")
    assert not keep(small / ".workbench" / "meta.duckdb")
    assert not keep(small / "data" / ".b.csv.swp")
    assert not keep(small / "data" / "b.csv.part")
    assert not keep(small / "notes.txt")


# ------------------------------------------------------------------ real processes


class Watcher:
    """`workbench watch --json` in a subprocess, its stdout read line by line."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", "watch", "--json"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict] = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def wait_for(self, pred, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ev = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
                continue
            self.seen.append(ev)
            if pred(ev):
                return ev
        raise AssertionError(f"timed out waiting for a watcher event; seen: {self.seen[-8:]}")


def test_watcher_process_real_events_sigterm_and_cli_together(small: Path, cli) -> None:
    w = Watcher(small)
    try:
        w.wait_for(lambda e: e["event"] == "watching")
        status = json.loads(cli("status", "--json", cwd=small, check=True).stdout)
        assert status["watcher"] == "running" and status["champion"] == "v1"
        second = cli("watch", "--once", cwd=small)
        assert second.returncode == 2 and "already running" in second.stderr
        new_batch(small, "batch_001.csv")
        done = w.wait_for(lambda e: e["event"] == "cycle_finished")
        assert done["outcome"] in ("promoted", "kept")
        # a rollback made elsewhere is respected by the watcher's next gate
        rb = cli("rollback", "v1", "--reason", "manual", cwd=small)
        if champion(small) != 1:
            assert rb.returncode == 0, rb.stderr
        (small / "data" / "bad.csv").write_bytes(b"")
        failed = w.wait_for(lambda e: e["event"] == "cycle_finished")
        assert failed["outcome"] == "failed" and "bad.csv" in failed["message"]
        (small / "data" / "bad.csv").unlink()
        new_batch(small, "batch_002.csv")
        step = w.wait_for(lambda e: e["event"] == "step" and e["step"] == "train")
        with store_of(small).read() as s:
            v = s.version(step["version"])
        assert v.gate and v.gate["champion_version"] == "v1"
        w.proc.send_signal(signal.SIGTERM)
        assert w.proc.wait(timeout=30) == 0
    finally:
        if w.proc.poll() is None:
            w.proc.kill()


def test_a_file_name_that_is_not_utf8_does_not_stop_the_watcher(small: Path) -> None:
    """watchfiles cannot decode such a path and raises; the watcher restarts watching, says
    so, and the next batch is trained. SIGTERM still ends it with 0 and a JSON last line."""
    (small / "notes").mkdir()  # watched from the start (inotify adds new folders late)
    w = Watcher(small)
    try:
        w.wait_for(lambda e: e["event"] == "watching")
        with open(os.fsencode(small / "notes") + b"/r\xe9sum\xe9.txt", "w") as f:
            f.write("cv")
        w.wait_for(lambda e: e["event"] == "watch_restarted")
        new_batch(small, "batch_001.csv")  # at once: a change before watching is up again
        # is found by the rescan once it is
        done = w.wait_for(
            lambda e: e["event"] == "cycle_finished" and e["outcome"] != "nothing to do"
        )
        assert done["outcome"] in ("promoted", "kept"), done
        w.proc.send_signal(signal.SIGTERM)
        assert w.proc.wait(timeout=30) == 0, w.proc.stderr.read() if w.proc.stderr else ""
        rest = [json.loads(line) for line in w.proc.stdout or []]
        last = ([*_drain(w), *rest] or [{}])[-1]
        assert last["event"] == "stopped" and {"ts", "level", "message"} <= set(last)
    finally:
        if w.proc.poll() is None:
            w.proc.kill()


def test_more_signals_while_stopping_still_end_with_0_and_the_last_line(
    small: Path,
) -> None:
    """A service manager (or an impatient user) may signal more than once: the first stops
    the watcher; a SIGTERM or Ctrl-C arriving while it stops must not kill it."""
    w = Watcher(small)
    try:
        w.wait_for(lambda e: e["event"] == "watching")
        for i in range(60):  # over ~0.6 s: some land while it is stopping
            if w.proc.poll() is not None:
                break
            w.proc.send_signal(signal.SIGINT if i % 2 else signal.SIGTERM)
            time.sleep(0.01)
        assert w.proc.wait(timeout=30) == 0, w.proc.stderr.read() if w.proc.stderr else ""
        rest = [json.loads(line) for line in w.proc.stdout or []]
        last = ([*_drain(w), *rest] or [{}])[-1]
        assert last["event"] == "stopped"
    finally:
        if w.proc.poll() is None:
            w.proc.kill()


def test_a_data_file_name_that_is_not_utf8_is_a_failed_cycle_and_a_data_error(
    small: Path, cli
) -> None:
    bad = os.fsencode(small / "data") + b"/b\xe9.csv"
    shutil.copy(small / "data" / "batch_000.csv", bad)
    events = cycles(small, [{Path(os.fsdecode(bad))}])
    fail = finished(events)[-1]
    assert fail["outcome"] == "failed" and "b\\xe9.csv" in fail["message"]
    assert "not valid UTF-8" in fail["message"] and fail["hint"]
    proc = cli("train", cwd=small)
    assert proc.returncode == 4 and "Traceback" not in proc.stderr, proc.stderr
    assert champion(small) == 1


def _drain(w: Watcher) -> list[dict]:
    out = []
    while not w.lines.empty():
        out.append(w.lines.get_nowait())
    return out


def test_a_watcher_whose_file_watching_ends_says_why_and_exits_non_zero(
    small: Path, monkeypatch
) -> None:
    """The watching thread ending for good is an error, never a silent exit 0."""

    def broken(root: Path, debounce_ms: int, stop: threading.Event, ready=None):
        raise RuntimeError("inotify: no watches left")
        yield set()  # a generator, as watchfiles_changes is

    monkeypatch.setattr(watch_mod, "watchfiles_changes", broken)
    monkeypatch.setattr(watch_mod.time, "sleep", lambda _s: None)
    from workbench.errors import WatchStoppedError

    with pytest.raises(WatchStoppedError, match="no watches left"):
        for _ in watch_mod.watch(small, store_of(small)):
            pass


def test_kill_9_at_random_moments_leaves_a_working_store(small: Path, cli) -> None:
    rng = random.Random(7)
    for i in range(3):
        w = Watcher(small)
        w.wait_for(lambda e: e["event"] == "watching")
        new_batch(small, f"batch_{i + 1:03d}.csv")
        time.sleep(rng.uniform(0.3, 4.0))
        os.kill(w.proc.pid, signal.SIGKILL)
        w.proc.wait()
    status = cli("status", "--json", cwd=small)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["champion"] is not None
    pred = cli("predict", "data/batch_000.csv", "-o", "out.csv", cwd=small)
    assert pred.returncode == 0, pred.stderr
    assert pl.read_csv(small / "out.csv").height == 3000
    events = list(watch_mod.watch(small, store_of(small), changes=iter([]), once=True))
    assert finished(events)[-1]["outcome"] in ("promoted", "kept", "nothing to do")
    with store_of(small).read() as s:
        assert s.unfinished_cycles() == []
        for v in s.versions():
            if v.model_hash:
                assert store_of(small).objects.has(v.model_hash)


def test_a_cycle_with_nothing_to_do_writes_no_events(small: Path) -> None:
    with store_of(small).read() as s:
        before = [e.id for e in s.events(limit=1000)]
    events = cycles(small, [])  # the start cycle: the inputs are already trained
    assert [e.event for e in events if e.event != "watching"] == [
        "cycle_started",
        "step",
        "cycle_finished",
    ]
    assert finished(events)[-1]["outcome"] == "nothing to do"
    with store_of(small).read() as s:
        assert [e.id for e in s.events(limit=1000)] == before


def test_a_working_cycle_records_its_start_and_snapshot_before_training(small: Path) -> None:
    new_batch(small, "batch_101.csv")
    events = cycles(small, [])  # the start cycle sees the new batch
    assert finished(events)[0]["outcome"] in ("promoted", "kept")
    with store_of(small).read() as s:
        recorded = sorted(s.events(limit=1000), key=lambda e: e.id)
    cycle = next(e.data["cycle"] for e in recorded if e.kind == "cycle_started")
    mine = [e for e in recorded if e.data.get("cycle") == cycle]
    kinds = [e.kind if e.kind != "step" else f"step:{e.data['step']}" for e in mine]
    assert kinds[:2] == ["cycle_started", "step:snapshot"]
    assert kinds[-1] == "cycle_finished" and "step:train" in kinds


def _warm(store: CountingStore) -> None:
    """As a watcher that has run a cycle: the current files' profiles are in this process."""
    from workbench.data import profile
    from workbench.data.reader import snapshot_files, snapshot_hashes

    with store.read() as s:
        snap = s.snapshot(s.latest_snapshot_id() or "")
    profile.profile_files(snapshot_files(store, snap), hashes=snapshot_hashes(snap), known={})


def _counted_cycle(
    store: CountingStore, root: Path, batch: str
) -> tuple[list[CycleEvent], dict[str, list[str]]]:
    """A cycle on a new batch; which threads had opened sessions as each step began."""
    from workbench import config
    from workbench.pipeline.cycle import run_cycle

    _warm(store)
    new_batch(root, batch)
    store.opened = []
    at: dict[str, list[str]] = {}

    def progress(step: str, info: dict) -> None:
        at.setdefault(step, list(store.opened))

    events = list(run_cycle(config.load(root), store, progress=progress))
    steps = [e.data.get("step") for e in events if e.event == "step"]
    assert steps == ["snapshot", "drift", "train"]
    return events, at


def test_a_cycle_opens_one_session_before_training_and_drift_runs_beside_it(
    small: Path,
) -> None:
    """A new batch with a champion: the snapshot's transaction also records the held cycle
    events; drift runs in its own thread beside training and records its result and its step
    in one transaction; the gate waits for it. Nothing else opens DuckDB before training
    starts (each session costs ~20-30 ms on a small machine). The champion's drift reference
    was built after the cycle that promoted it."""

    store = CountingStore(small / ".workbench")
    with store.read() as s:
        number = s.champion_number()
        assert number is not None and s.drift_reference(number) is not None
    events, at = _counted_cycle(store, small, "batch_102.csv")
    main = threading.current_thread().name
    assert at["validate"] == [main]  # the snapshot's write: training's steps start after it
    assert [t for t in at["train"] if t == main] == [main]
    assert at["gate"].count("workbench-drift") == 1  # the gate saw drift's one session done
    with store.read() as s:
        recorded = sorted(s.events(limit=1000), key=lambda e: e.id)
        drift = s.drift_result(events[1].data["snapshot"], number)
    assert drift is not None and drift.reference_version == f"v{number}"
    cycle = next(e.data["cycle"] for e in reversed(recorded) if e.kind == "cycle_started")
    mine = [e for e in recorded if e.data.get("cycle") == cycle]
    kinds = [e.kind if e.kind != "step" else f"step:{e.data['step']}" for e in mine]
    assert kinds == [
        "cycle_started",
        "step:snapshot",
        "step:drift",
        "step:train",
        "cycle_finished",
    ]
    snapshot_event = next(e for e in recorded if e.kind == "snapshot" and e.id < mine[0].id + 2)
    drift_event = next(e for e in reversed(recorded) if e.kind == "drift")
    assert snapshot_event.id < mine[0].id < drift_event.id < mine[2].id


def test_with_spinning_openmp_drift_runs_before_training(small: Path, monkeypatch) -> None:

    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    events, at = _counted_cycle(CountingStore(small / ".workbench"), small, "batch_106.csv")
    main = threading.current_thread().name
    assert at["validate"] == [main, main]  # the snapshot's and the drift result's sessions
    assert finished(events)[-1]["outcome"] in ("promoted", "kept")


def test_a_drift_failure_beside_training_fails_the_cycle_before_the_gate(small: Path) -> None:
    """The champion's model object is lost: drift fails in its thread, the gate waits for it,
    and the cycle ends failed at the drift step; no version is added, the champion stays."""
    from workbench import config
    from workbench.pipeline.cycle import run_cycle

    store = watch_mod.Store(small / ".workbench")
    with store.read() as s:
        champ = s.champion()
        versions = len(s.versions())
    assert champ is not None and champ.model_hash
    store.objects.path(champ.model_hash).unlink()
    new_batch(small, "batch_104.csv")
    events = list(run_cycle(config.load(small), store))
    done = finished(events)[-1]
    assert done["outcome"] == "failed" and done["step"] == "drift", done
    assert champ.model_hash[:8] in done["message"] or "model" in done["message"], done
    with store.read() as s:
        assert s.champion_number() == champ.number
        assert len(s.versions()) == versions
        assert s.unfinished_cycles() == []


def test_a_damaged_drift_reference_is_rebuilt(small: Path) -> None:
    from workbench import config
    from workbench.pipeline.cycle import run_cycle

    store = watch_mod.Store(small / ".workbench")
    with store.read() as s:
        number = s.champion_number()
        reference = s.drift_reference(number)
    assert reference is not None
    damaged = store.objects.path(reference.object_hash)
    damaged.write_bytes(b"not parquet")
    clear_process_caches()  # the template's cycle left the frame in this process
    new_batch(small, "batch_105.csv")
    events = list(run_cycle(config.load(small), store))
    assert finished(events)[-1]["outcome"] in ("promoted", "kept"), finished(events)
    assert [e.data.get("step") for e in events if e.event == "step"][1] == "drift"
    with store.read() as s:
        rebuilt = s.drift_reference(number)
    assert rebuilt is not None
    frame = pl.read_parquet(store.objects.path(rebuilt.object_hash))
    assert frame.height == reference.rows
