"""``workbench gc``: referenced bytes survive byte-exact and every command still works;
unreferenced bytes (a refused snapshot's, bytes put directly, stale temp files) go; a dry run
lists the same and removes nothing; snapshots running beside gc lose nothing; chunked files.

Real LightGBM, real DuckDB, the real CLI in subprocesses; chunked files with small chunks
(``WORKBENCH_CHUNKED_MIN_BYTES``, ``WORKBENCH_CHUNK_AVG_BYTES``).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import xxhash

from tests.conftest import SAMPLE, copy_sample
from tests.helpers import configure, store_of, train
from workbench import config
from workbench.store.references import CALL_SITES, referenced

REPO = Path(__file__).resolve().parents[1]
STORE_CALLS = {"put_bytes", "put_file", "put_files", "store_file"}
OBJECT_STORE = {  # the object store itself: its verbs call one another
    "workbench/store/objects.py",
    "workbench/store/chunks.py",
    "workbench/store/collect.py",
    "workbench/store/packs.py",
    "workbench/store/pins.py",
}


def _rows(path: Path, start: int, n: int) -> None:
    pl.read_csv(SAMPLE / "data" / "batch_000.csv").slice(start, n).write_csv(path)


def _stored(root: Path) -> set[str]:
    """Every whole object's digest, read from the folder itself."""
    objects = root / ".workbench" / "objects"
    return {
        p.parent.name + p.name
        for p in objects.glob("??/*")
        if p.is_file() and len(p.parent.name + p.name) == 32
    }


def _intact(root: Path, digests: set[str]) -> None:
    """Every digest is stored and its bytes hash to it."""
    objects = store_of(root).objects
    for d in sorted(digests):
        assert xxhash.xxh3_128_hexdigest(objects.read(d)) == d, d


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two snapshots (v1 on one file, v2 on two), a drift run, monitoring of v1 on the second
    file (training v2 monitors first), a prediction log batch, an export and a card."""
    from workbench.export.metrics import export_metrics
    from workbench.governance.card import build_card
    from workbench.model.predict import log_prediction, predict_file
    from workbench.monitor.drift import run_drift

    root = copy_sample(tmp_path_factory.mktemp("gc") / "proj")
    configure(root, rounds=20)
    data = root / "data"
    _rows(data / "batch_000.csv", 0, 1200)
    train(root)
    _rows(data / "batch_001.csv", 1200, 1200)
    settings = config.load(root)
    run_drift(settings, store_of(root))
    train(root)
    _rows(root / "score.csv", 2400, 300)
    store = store_of(root)
    result = predict_file(store, root / "score.csv", root / "scored.csv", settings=settings)
    log_prediction(store, settings, result, request="score.csv")
    export_metrics(settings, store, "csv", root / "metrics.csv")
    build_card(settings, store, "v1")
    return root


@pytest.fixture
def proj(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(built, root, symlinks=True)
    return root


def _put_loose(root: Path, data: bytes) -> str:
    """Bytes stored directly, by a process of their own: a process that stored bytes holds
    ``gc.lock`` shared until its next store transaction, so this test's own could not run gc
    in another process meanwhile."""
    code = (
        "import sys; from pathlib import Path; from workbench.store import Store;"
        "print(Store(Path(sys.argv[1])).objects.put_bytes(sys.stdin.buffer.read()))"
    )
    return (
        subprocess.run(
            [sys.executable, "-c", code, str(root / ".workbench")],
            input=data,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )


def _gc(cli, root: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    proc = cli("gc", "--json", *args, cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# ------------------------------------------------------------------ references


def test_a_history_project_stores_nothing_unreferenced(proj: Path) -> None:
    """Every object a normal history stored is referenced: of each kind, one is there."""
    store = store_of(proj)
    live = referenced(store)
    assert _stored(proj) <= live
    with store.read() as s:
        kinds = {
            table: {r[0] for r in s.con.execute(f"SELECT {col} FROM {table}").fetchall()}
            for table, col in (
                ("prediction_log", "object_hash"),
                ("monitor_references", "object_hash"),
                ("drift_references", "object_hash"),
                ("model_versions", "meta_hash"),
            )
        }
        assert s.snapshot_count() == 2
    assert all(kinds.values()), kinds
    holdout = {
        store.objects.read_json(m)["holdout_scores"]["object"] for m in kinds["model_versions"]
    }
    assert holdout <= live and holdout <= _stored(proj)
    # the holdout scores are named only inside the meta: not by any column
    for values in kinds.values():
        assert not holdout & values


def test_a_missing_meta_object_stops_gc_instead_of_guessing(proj: Path) -> None:
    from workbench.errors import StoreError

    store = store_of(proj)
    with store.read() as s:
        meta = s.con.execute("SELECT meta_hash FROM model_versions LIMIT 1").fetchone()[0]
    store.objects.path(meta).unlink()
    with pytest.raises(StoreError, match=f"object {meta} named by model_versions.meta_hash"):
        referenced(store)


def _store_call_sites() -> set[tuple[str, str]]:
    """(file, innermost enclosing function) of every call of a store verb in workbench/."""
    found: set[tuple[str, str]] = set()
    for path in sorted((REPO / "workbench").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel in OBJECT_STORE:
            continue
        _visit(ast.parse(path.read_text()), rel, "<module>", found)
    return found


def _visit(node: ast.AST, rel: str, function: str, found: set[tuple[str, str]]) -> None:
    for child in ast.iter_child_nodes(node):
        inner = function
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            inner = child.name
        elif (
            isinstance(child, ast.Call)
            and isinstance(child.func, ast.Attribute)
            and child.func.attr in STORE_CALLS
        ):
            found.add((rel, function))
        _visit(child, rel, inner, found)


def test_every_store_call_site_is_known() -> None:
    """A new kind of object must be added to ``store.references`` (and CALL_SITES) before
    it can be stored: else gc would delete it."""
    sites = _store_call_sites()
    assert sites - CALL_SITES == set(), (
        "new object store call sites: add what they store to workbench/store/references.py"
    )
    files = {rel for rel, _ in sites}
    assert {rel for rel, _ in CALL_SITES} <= files, "CALL_SITES names files that store nothing"


# ------------------------------------------------------------------ gc itself


def test_gc_keeps_everything_referenced_and_every_command_works(proj: Path, cli) -> None:
    store = store_of(proj)
    live = referenced(store)
    with store.read() as s:
        snaps = [s.snapshot(r.id) for r in s.snapshots()]
    done = _gc(cli, proj)
    assert done["dry_run"] is False and not set(done["digests"]) & live
    assert done["removed"]["objects"] == 0 and done["digests"] == []
    _intact(proj, live & _stored(proj))
    _every_command_works(proj, cli, snaps)
    with store.read() as s:
        event = s.last_event("gc")
    assert event is not None and event.data["objects"] == 0


def _every_command_works(root: Path, cli, snaps: list) -> None:
    """Checkout of every snapshot is byte-exact; train, predict, drift, card, status (in this
    process, the real code) and monitor (the CLI) work."""
    from workbench.data.checkout import checkout
    from workbench.governance.card import build_card
    from workbench.model.predict import log_prediction, predict_file
    from workbench.monitor.drift import run_drift
    from workbench.pipeline.status import status

    settings = config.load(root)
    for snap in snaps:  # every snapshot's files come back byte for byte
        checkout(settings, store_of(root), snap.id, force=True)
        for f in snap.files:
            assert xxhash.xxh3_128_hexdigest((root / f.path).read_bytes()) == f.hash
    assert train(root, force=True).version is not None
    store = store_of(root)
    scored = predict_file(store, root / "score.csv", root / "scored2.csv", settings=settings)
    log_prediction(store, settings, scored, request="score.csv")
    assert run_drift(settings, store, force=True) is not None
    assert build_card(settings, store, "v1").markdown
    assert status(settings, store)["champion"]
    proc = cli("monitor", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr


def test_unreferenced_bytes_go_and_a_dry_run_only_lists_them(proj: Path, cli) -> None:
    store = store_of(proj)
    before = _stored(proj)
    # a snapshot refused after storing its inputs: a new good file beside a malformed one
    _rows(proj / "data" / "batch_002.csv", 2400, 200)
    _malformed(proj / "data" / "batch_009.csv")
    refusal = cli("snapshot", cwd=proj)
    assert refusal.returncode == 4 and "batch_009.csv" in refusal.stderr
    refused = _stored(proj) - before
    assert len(refused) == 2  # both files were stored before the profile refused one
    loose = _put_loose(proj, b"nothing names these bytes")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a temp file of a process that no longer runs
    stale = proj / ".workbench" / "tmp" / f"in.{gone.pid}.1.0"
    stale.write_bytes(b"half a copy")
    old = time.time() - 7 * 86400
    os.utime(stale, (old, old))
    live = referenced(store)
    unreferenced = refused | {loose}

    dry = _gc(cli, proj, "--dry-run")
    assert dry["dry_run"] is True and set(dry["digests"]) == unreferenced
    assert dry["removed"]["objects"] == 3 and dry["removed"]["temp"] == 1 and dry["bytes_freed"] > 0
    assert _stored(proj) >= unreferenced and stale.exists()  # nothing removed
    with store.read() as s:
        assert s.last_event("gc") is None  # a dry run records nothing

    done = _gc(cli, proj)
    assert set(done["digests"]) == unreferenced and done["removed"] == dry["removed"]
    assert done["bytes_freed"] == dry["bytes_freed"]
    assert not _stored(proj) & unreferenced and not stale.exists()
    assert _stored(proj) == before
    _intact(proj, live & _stored(proj))
    with store.read() as s:
        event = s.last_event("gc")
    assert event is not None and event.data["objects"] == 3
    again = _gc(cli, proj)
    assert again["digests"] == [] and again["bytes_freed"] == 0

    # the stat cache still names the collected good file: a snapshot re-stores it
    (proj / "data" / "batch_009.csv").unlink()
    snap = json.loads(cli("snapshot", "--json", cwd=proj, check=True).stdout)
    assert snap["created"] is True
    new = next(f for f in snap["files"] if f["path"] == "data/batch_002.csv")
    assert new["hash"] in refused and store.objects.has(new["hash"])
    (proj / "data" / "batch_002.csv").unlink()
    assert cli("checkout", snap["id"], cwd=proj).returncode == 0
    assert xxhash.xxh3_128_hexdigest((proj / "data" / "batch_002.csv").read_bytes()) == new["hash"]


def _malformed(path: Path) -> None:
    """A CSV whose last line has too few fields: stored by a snapshot, then refused."""
    head = (SAMPLE / "data" / "batch_000.csv").read_text().splitlines()[:40]
    path.write_text("\n".join([*head, "a,b"]) + "\n")


def test_gc_waits_for_bytes_in_flight_then_takes_them_once_their_writer_died(
    proj: Path, cli
) -> None:
    """A process that stored bytes and has not recorded them yet holds gc off (a clear busy
    error past the wait limit, exit 6); killed before recording, its bytes are garbage."""
    code = (
        "import sys, time; from pathlib import Path; from workbench.store import Store;"
        "print(Store(Path(sys.argv[1])).objects.put_bytes(b'in flight'), flush=True);"
        "time.sleep(60)"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code, str(proj / ".workbench")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        digest = writer.stdout.readline().strip()
        busy = cli("gc", "--json", cwd=proj, env={"WORKBENCH_LOCK_TIMEOUT": "1"})
        assert busy.returncode == 6 and busy.stdout == ""
        assert f"pid {writer.pid}" in busy.stderr and "WORKBENCH_LOCK_TIMEOUT" in busy.stderr
        assert digest in _stored(proj)
    finally:
        writer.kill()
        writer.wait()
    dry = cli("gc", "--dry-run", cwd=proj)  # the human line
    assert dry.stdout.startswith("would remove 1 object: 9 B to free; ") and dry.returncode == 0
    done = cli("gc", cwd=proj)
    assert done.stdout.startswith("removed 1 object: 9 B freed; ")
    assert done.stdout.strip().endswith(" kept") and len(done.stdout.splitlines()) == 1
    assert digest not in _stored(proj)
    again = _gc(cli, proj)
    assert again["digests"] == [] and again["removed"]["objects"] == 0


_SNAPSHOT_LOOP = """
import sys, time
from pathlib import Path
import polars as pl
from workbench import config
from workbench.data import snapshot
from workbench.errors import WorkbenchError
from workbench.store import Store
root = Path(sys.argv[1]); n = int(sys.argv[2])
frame = pl.read_csv(root / "data" / "batch_000.csv")
ids = []
for i in range(n):
    frame.slice(i * 7, 400).write_csv(root / "data" / "batch_003.csv")
    settings = config.load(root)
    try:
        ids.append(snapshot.take(settings, Store(settings.store_dir)).id)
    except WorkbenchError as e:
        print("FAILED", type(e).__name__, e.message, flush=True)
print("IDS", " ".join(ids), flush=True)
"""


def test_snapshots_beside_gc_lose_nothing(proj: Path) -> None:
    """One process snapshots changing data in a loop while another runs gc again and again:
    every digest a record names exists at the end and hashes to itself."""
    env = {**os.environ, "WORKBENCH_LOCK_TIMEOUT": "30"}
    snapper = subprocess.Popen(
        [sys.executable, "-c", _SNAPSHOT_LOOP, str(proj), "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    gcs = []
    while snapper.poll() is None:
        gcs.append(
            subprocess.run(
                [sys.executable, "-m", "workbench.cli", "gc", "--json"],
                cwd=proj,
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
        )
    out, err = snapper.communicate(timeout=60)
    assert snapper.returncode == 0, err
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert all(line.startswith("FAILED StoreBusyError") for line in failed), out
    for proc in gcs:  # a gc either ran or said the store stayed busy
        assert proc.returncode == 0 or "busy" in proc.stderr, proc.stderr
    assert sum(proc.returncode == 0 for proc in gcs) >= 2
    ids = out.split("IDS", 1)[1].split()
    assert len(set(ids)) == len(ids) == 8 - len(failed) and ids
    store = store_of(proj)
    live = referenced(store)
    assert all(store.objects.has(d) for d in _file_digests(store))
    _intact(proj, _file_digests(store))
    assert _stored(proj) <= live


def _file_digests(store) -> set[str]:
    with store.read() as s:
        return {r[0] for r in s.con.execute("SELECT hash FROM snapshot_files").fetchall()}


def test_chunked_files_survive_and_a_refused_versions_own_chunks_go(tmp_path: Path, cli) -> None:
    """A large file changed in its middle: the snapshot that would name the changed version
    is refused, so that version's own chunks go; the kept version reads back exact."""
    root = copy_sample(tmp_path / "proj")
    env = {"WORKBENCH_CHUNKED_MIN_BYTES": "65536", "WORKBENCH_CHUNK_AVG_BYTES": "16384"}
    big = root / "data" / "batch_000.csv"
    frame = pl.read_csv(big).head(8000)
    frame.write_csv(big)
    first = json.loads(cli("snapshot", "--json", cwd=root, env=env, check=True).stdout)
    kept = first["files"][0]["hash"]
    # a changed middle beside a malformed file: stored, then refused
    changed = frame.with_columns(
        pl.when(pl.int_range(pl.len()).is_between(4000, 4100))
        .then(pl.col("age") + 1)
        .otherwise(pl.col("age"))
        .alias("age")
    )
    changed.write_csv(big)
    refused_version = xxhash.xxh3_128_hexdigest(big.read_bytes())
    _malformed(root / "data" / "batch_009.csv")
    assert cli("snapshot", cwd=root, env=env).returncode == 4
    assert refused_version in (root / ".workbench" / "cache" / "stat.json").read_text()
    done = _gc(cli, root, env=env)
    assert done["removed"]["chunked_files"] == 1
    assert done["removed"]["chunks"] >= 1 and done["removed"]["objects"] == 1
    assert kept not in done["digests"] and refused_version in done["digests"]
    # only the changed version's own chunks went: most of its bytes are the kept version's
    assert done["bytes_freed"] < big.stat().st_size / 4
    (root / "data" / "batch_009.csv").unlink()
    # the stat cache names the collected version as the one the file grew from: an append to
    # it is stored again, whole and exact
    pl.concat([changed, changed.head(500)]).write_csv(big)
    grown = json.loads(cli("snapshot", "--json", cwd=root, env=env, check=True).stdout)
    assert grown["files"][0]["hash"] == xxhash.xxh3_128_hexdigest(big.read_bytes())
    for snap in (first, grown):
        big.unlink()
        assert cli("checkout", snap["id"], "--force", cwd=root, env=env).returncode == 0
        assert xxhash.xxh3_128_hexdigest(big.read_bytes()) == snap["files"][0]["hash"]
    assert _gc(cli, root, env=env)["digests"] == []


def test_sizes_read_in_decimal_units() -> None:
    from workbench.pipeline.gc import human_bytes

    assert [human_bytes(n) for n in (0, 999, 1500, 2_048_000, 1_234_567_890, 4_100 * 10**9)] == [
        "0 B",
        "999 B",
        "1.5 kB",
        "2.0 MB",
        "1.2 GB",
        "4100.0 GB",
    ]
