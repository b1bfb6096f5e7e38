"""The no-change snapshot path stays light, and objects stored in a batch are whole and durable.

Real parts only: the real CLI in a subprocess (``-X importtime`` names every module it
imports), real git repositories, a real store and DuckDB, a real ``kill -9``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import xxhash

from workbench.data import gitinfo, inputs, profile
from workbench.errors import FileChangedError
from workbench.store import Store, objects
from workbench.store.objects import ObjectStore

HEAVY = ("duckdb", "polars", "numpy", "pyarrow", "lightgbm", "git", "textual", "pandas")
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]


def _project(root: Path, files: int) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "workbench.toml").write_text('[data]\npath = "data"\ntarget = "y"\n')
    (root / ".gitignore").write_text(".workbench/\n")
    for i in range(files):
        (root / "data" / f"part-{i:03d}.csv").write_text(f"x,y\n{i},{i % 2}\n{i + 1},1\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "data"], cwd=root, check=True)
    return root


def _snapshot_imports(root: Path) -> tuple[dict, set[str]]:
    """Run `workbench snapshot --json` for real; return its output and every module imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "workbench", "snapshot", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return json.loads(proc.stdout), modules


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_no_change_snapshot_imports_nothing_heavy(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", 30)
    first, modules_first = _snapshot_imports(root)
    assert first["created"] is True
    assert "git" not in _top(modules_first)  # the git state comes from one `git status`
    assert first["git_commit"] and first["git_dirty"] is False and first["in_git"] is True

    again, modules = _snapshot_imports(root)
    assert again["created"] is False and again["id"] == first["id"]
    assert again["files"] == first["files"]
    heavy = _top(modules) & set(HEAVY)
    assert not heavy, f"the no-change path imported {sorted(heavy)}"
    for light_only in ("subprocess", "ctypes"):
        assert light_only not in modules, light_only
    assert "duckdb" in _top(modules_first)  # sanity: the check can see heavy imports


def _cli(root: Path, *args: str, full: bool = False) -> subprocess.CompletedProcess[str]:
    """The real CLI: through the console-script entry (``entry.run``) or, with ``full``,
    straight into the click CLI (``cli.run``), which never takes the early answer."""
    code = (
        "from workbench.cli import run; run()" if full else "from workbench.entry import run; run()"
    )
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )


def _imported(proc: subprocess.CompletedProcess[str]) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize("args", [("snapshot",), ("snapshot", "--json")])
def test_early_answer_prints_what_the_full_path_prints(tmp_path: Path, args: tuple) -> None:
    root = _project(tmp_path / "p", 12)
    assert json.loads(_cli(root, "snapshot", "--json").stdout)["created"] is True
    early = _cli(root, *args)
    full = _cli(root, *args, full=True)
    assert early.stdout == full.stdout
    assert "unchanged" in early.stdout or '"created": false' in early.stdout
    # the early answer loads neither the CLI toolkit, the config, nor the store
    for module in ("click", "workbench.cli", "workbench.config", "workbench.store", "tomllib"):
        assert module not in _imported(early), module
    assert "click" in _imported(full)  # sanity: the check sees what the full path loads


def test_early_answer_with_project_option_from_elsewhere(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", 3)
    first = json.loads(_cli(root, "snapshot", "--json").stdout)
    for argv in (["--project", str(root)], [f"--project={root}"]):
        proc = _cli(tmp_path, *argv, "snapshot", "--json")
        assert json.loads(proc.stdout) == {**first, "created": False}
        assert "click" not in _imported(proc)


def test_any_moved_input_takes_the_full_path(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", 4)
    first = json.loads(_cli(root, "snapshot", "--json").stdout)
    part = root / "data" / "part-001.csv"

    # same bytes, new mtime: the full path re-hashes it, answers the same snapshot, and the
    # next check is early again (the listing was recorded anew)
    st = part.stat()
    os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    touched = _cli(root, "snapshot", "--json")
    assert "click" in _imported(touched)
    assert json.loads(touched.stdout) == {**first, "created": False}
    assert "click" not in _imported(_cli(root, "snapshot", "--json"))

    # new bytes of the same size: a new snapshot
    part.write_text(part.read_text().replace("1,1", "1,0", 1))
    assert part.stat().st_size == st.st_size
    changed = json.loads(_cli(root, "snapshot", "--json").stdout)
    assert changed["created"] is True and changed["id"] != first["id"]

    # an added file, a removed file, and an edited config: each a full-path answer
    (root / "data" / "part-new.csv").write_text("x,y\n5,1\n")
    added = _cli(root, "snapshot", "--json")
    assert "click" in _imported(added) and json.loads(added.stdout)["created"] is True
    (root / "data" / "part-new.csv").unlink()
    removed = _cli(root, "snapshot", "--json")
    assert "click" in _imported(removed)
    assert json.loads(removed.stdout) == {**changed, "created": False}
    with (root / "workbench.toml").open("a") as f:
        f.write("# a comment changes the config bytes\n")
    config = _cli(root, "snapshot", "--json")
    assert "click" in _imported(config) and json.loads(config.stdout)["created"] is True


def test_a_damaged_last_snapshot_record_only_costs_the_full_path(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", 3)
    first = json.loads(_cli(root, "snapshot", "--json").stdout)
    last = root / ".workbench" / inputs.LAST_SNAPSHOT
    for damage in (b"", b"{not json", b'{"v": 1, "listing": 5}', json.dumps({"v": 99}).encode()):
        last.write_bytes(damage)
        proc = _cli(root, "snapshot", "--json")
        assert "click" in _imported(proc)
        assert json.loads(proc.stdout) == {**first, "created": False}
        assert inputs.read_last(root / ".workbench") is not None  # written whole again


def test_early_answer_declines_other_command_lines(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", 3)
    _cli(root, "snapshot")
    for args in (("status", "--json"), ("snapshot", "--help"), ("snapshot", "--json", "x")):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "workbench", *args],
            cwd=root,
            capture_output=True,
            text=True,
        )
        assert "click" in _imported(proc), args


def test_inputs_suffixes_match_what_profile_reads() -> None:
    assert set(inputs.DATA_SUFFIXES) == set(profile.DATA_SUFFIXES)


def test_stat_cache_version_1_is_read_and_rewritten(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", 3)
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "snapshot", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    sid = json.loads(out.stdout)["id"]
    cache = root / ".workbench" / "cache" / "stat.json"
    raw = json.loads(cache.read_text())
    assert raw["v"] == 3
    old = {k: [*map(int, v.split(":")[:3]), v.split(":")[3]] for k, v in raw["entries"].items()}
    cache.write_text(json.dumps({"v": 1, "entries": old, "last": None}))
    (root / ".workbench" / inputs.LAST_SNAPSHOT).unlink()  # so the stat cache is consulted
    store = Store(root / ".workbench")
    stat_cache = inputs.StatCache(store)
    assert stat_cache.dirty  # converted: the next save writes version 2
    from workbench import config
    from workbench.data import snapshot

    result = snapshot.take(config.load(root), store)
    assert (result.id, result.created) == (sid, False)
    assert json.loads(cache.read_text())["v"] == 3


def test_stat_cache_sees_size_mtime_and_inode(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", 2)
    from workbench import config

    settings = config.load(root)
    store = Store(root / ".workbench")
    cache = inputs.StatCache(store)
    files = {f.rel: f for f in inputs.discover(settings)}
    target = files["data/part-000.csv"]
    cache.remember(target, "h" * 32)
    assert cache.hash_of(target) == "h" * 32
    size, mtime_ns, inode = target.sig
    for sig in ((size + 1, mtime_ns, inode), (size, mtime_ns + 1, inode), (size, mtime_ns, 1)):
        moved = target._replace(sig=type(target.sig)(*sig))
        assert cache.hash_of(moved) is None
    assert cache.same_size(target._replace(sig=type(target.sig)(size, 1, 1)))


# ---------------------------------------------------------------- git state


def _git(root: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=root, check=True, capture_output=True)


def test_git_state_clean_dirty_untracked_detached_and_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    state = gitinfo.state(outside)
    assert not state.in_git and state.note

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    empty = gitinfo.state(repo)
    assert (empty.in_git, empty.commit, empty.branch, empty.dirty) == (True, None, "main", False)
    (repo / "a.txt").write_text("a\n")
    assert gitinfo.state(repo).dirty  # untracked
    _git(repo, "add", "a.txt")
    assert gitinfo.state(repo).dirty  # staged, no commit yet
    _git(repo, "commit", "-q", "-m", "one")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    clean = gitinfo.state(repo)
    assert (clean.commit, clean.branch, clean.dirty) == (head, "main", False)
    (repo / "sub").mkdir()
    assert gitinfo.state(repo / "sub").commit == head  # found from a subfolder
    (repo / "a.txt").write_text("changed\n")
    assert gitinfo.state(repo).dirty  # modified
    _git(repo, "commit", "-q", "-am", "two")
    (repo / ".gitignore").write_text(".workbench/\n")
    _git(repo, "add", ".gitignore")
    _git(repo, "commit", "-q", "-m", "ignore")
    (repo / ".workbench").mkdir()
    (repo / ".workbench" / "x").write_text("x")
    assert not gitinfo.state(repo).dirty  # ignored files are not changes
    _git(repo, "checkout", "-q", "--detach", "HEAD")
    detached = gitinfo.state(repo)
    assert detached.branch is None and detached.commit and not detached.dirty
    _git(repo, "checkout", "-q", "HEAD~1")  # no .gitignore there: .workbench/ is untracked
    assert gitinfo.state(repo).dirty


def test_git_state_without_a_git_executable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no git on PATH
    state = gitinfo.state(tmp_path)
    assert not state.in_git and state.note and "git is not available" in state.note


# ---------------------------------------------------------------- objects in batches


def test_objects_stored_in_a_batch_are_whole_and_synced_before_a_reference(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    blobs = {}
    for i in range(300):
        data = f"row,{i}\n".encode() * (i + 1)
        (src / f"f{i}.csv").write_bytes(data)
        blobs[xxhash.xxh3_128_hexdigest(data)] = data
    big = os.urandom(3 << 20)  # the chunked path too
    (src / "big.bin").write_bytes(big)
    blobs[xxhash.xxh3_128_hexdigest(big)] = big

    store = Store(tmp_path / ".workbench")
    digests = [store.objects.put_file(p)[0] for p in sorted(src.iterdir())]
    assert set(digests) == set(blobs)
    pending = set(store.objects._unsynced)
    folders = {str(store.objects.path(d).parent) for d in digests}
    assert folders <= pending  # renamed, folder fsync deferred ...
    with store.write("test") as s:
        assert not store.objects._unsynced  # ... and done before the transaction opens
        s.add_event("test", "batch stored", ts="t")
    for digest, data in blobs.items():
        assert store.objects.path(digest).read_bytes() == data
    assert list((tmp_path / ".workbench" / "tmp").iterdir()) == []
    # an object that was already there is relied on: its folder is synced again too
    assert store.objects.has(digests[0])
    assert str(store.objects.path(digests[0]).parent) in store.objects._unsynced
    store.write_json("cache/x.json", {"a": 1})
    assert not store.objects._unsynced


def test_put_files_stores_a_batch_with_one_sync_and_publishes_after_it(
    tmp_path: Path, monkeypatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    paths, datas = [], []
    for i in range(200):
        data = f"a,b\n{i},{i * i}\n".encode() * (i % 7 + 1)
        (src / f"f{i:03d}.csv").write_bytes(data)
        paths.append(src / f"f{i:03d}.csv")
        datas.append(data)
    paths.append(paths[0])  # the same file twice in one batch
    datas.append(datas[0])
    monkeypatch.setattr(objects, "PACK_FILES", len(paths) + 1)  # whole objects, not a pack
    store = ObjectStore(tmp_path / ".workbench")
    synced: list[int] = []
    real_sync_all = store._sync_all

    def sync_all(temps: list[str]) -> None:
        # when the batch is made durable, nothing of it has an address yet
        assert not any(store.path(xxhash.xxh3_128_hexdigest(d)).exists() for d in datas)
        assert all(os.path.exists(t) for t in temps)
        synced.append(len(temps))
        real_sync_all(temps)

    monkeypatch.setattr(store, "_sync_all", sync_all)
    fdatasyncs: list[int] = []
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (fdatasyncs.append(fd), real_fdatasync(fd)))
    result = store.put_files(paths)
    assert synced == [len(paths)]
    if objects._syncfs() is not None:
        assert fdatasyncs == []  # one syncfs, no per-file sync
    assert result == [(xxhash.xxh3_128_hexdigest(d), len(d)) for d in datas]
    for (digest, _), data in zip(result, datas, strict=True):
        assert store.path(digest).read_bytes() == data
    assert list((tmp_path / ".workbench" / "tmp").iterdir()) == []


def test_put_files_refuses_a_batch_with_a_file_changing_and_stores_none(
    tmp_path: Path, monkeypatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}.csv").write_bytes(f"x\n{i}\n".encode())
    store = ObjectStore(tmp_path / ".workbench")
    real_stat = objects._stat
    seen: list[Path] = []

    def stat_then_append(path: Path) -> os.stat_result:
        seen.append(path)
        if path.name == "f3.csv" and seen.count(path) == 2:  # the check after reading it
            with open(path, "ab") as f:
                f.write(b"9\n")
        return real_stat(path)

    monkeypatch.setattr(objects, "_stat", stat_then_append)
    with pytest.raises(FileChangedError, match=r"f3\.csv changed while it was being read"):
        store.put_files(sorted(src.iterdir()))
    left = [p for p in (tmp_path / ".workbench").rglob("*") if p.is_file()]
    left = [p for p in left if p.name not in (".gitignore", "gc.lock")]  # the store's own
    assert left == []  # no object of the batch published, no temp file left


WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from workbench.store.objects import ObjectStore
    store = ObjectStore(Path(sys.argv[1]))
    src = Path(sys.argv[2])
    many = [src.with_name(f"many{j}.csv") for j in range(20)]
    i = 0
    while True:
        size = (i * 7919) % (3 << 20) + 1  # small and chunked copies
        src.write_bytes(os.urandom(size))
        store.put_file(src)
        if i % 5 == 0:
            store.put_bytes(os.urandom(size // 3 + 1))
        for j, path in enumerate(many):  # and batches of small files
            path.write_bytes(os.urandom((i * 31 + j * 997) % 5000 + 1))
        store.put_files(many)
        if i == 3:
            print("running", flush=True)
        i += 1
    """
)


def test_kill_during_a_batch_leaves_only_whole_objects(tmp_path: Path) -> None:
    root = tmp_path / ".workbench"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(tmp_path / "src.bin")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "running"
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    objects = [p for p in (root / "objects").rglob("*") if p.is_file()]
    assert len(objects) > 4
    for path in objects:
        digest = path.parent.name + path.name
        assert xxhash.xxh3_128_hexdigest(path.read_bytes()) == digest, path
    # a new writer ignores the temp file the killed one left, and stores normally
    store = ObjectStore(root)
    (tmp_path / "again.csv").write_bytes(b"a,b\n1,2\n")
    digest, _ = store.put_file(tmp_path / "again.csv")
    assert store.path(digest).read_bytes() == b"a,b\n1,2\n"


@pytest.mark.parametrize("size", [0, 1, (1 << 20), (1 << 20) + 1])
def test_put_file_sizes_around_the_small_limit(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    store = ObjectStore(tmp_path / ".workbench")
    digest, stored = store.put_file(tmp_path / "f")
    assert (digest, stored) == (xxhash.xxh3_128_hexdigest(data), size)
    assert store.path(digest).read_bytes() == data
