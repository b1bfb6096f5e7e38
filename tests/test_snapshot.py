"""Snapshots: exact bytes, git state, profile, idempotence, and every bad input they refuse."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest

from tests.conftest import git, write_csv
from workbench import config
from workbench.data import profile as profile_mod
from workbench.data import snapshot
from workbench.errors import DataError, FileChangedError
from workbench.store import Store, objects


def take(project: Path) -> snapshot.SnapshotResult:
    settings = config.load(project)
    return snapshot.take(settings, Store(settings.store_dir))


def events(project: Path) -> list[tuple[str, str]]:
    with Store(project / ".workbench").read() as s:
        return [(e.kind, e.message) for e in s.events()]


def snapshot_rows(project: Path) -> int:
    con = duckdb.connect(str(project / ".workbench" / "meta.duckdb"), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM snapshots").fetchone()[0]
    finally:
        con.close()


def test_snapshot_stores_exact_bytes_and_profile(project: Path) -> None:
    result = take(project)
    assert result.created
    data = project / "data" / "batch_000.csv"
    (entry,) = result.summary["files"]
    assert entry["path"] == "data/batch_000.csv"
    assert entry["bytes"] == data.stat().st_size
    store = Store(project / ".workbench")
    assert store.objects.read(entry["hash"]) == data.read_bytes()
    frame = pl.read_csv(data)
    assert entry["rows"] == frame.height
    with store.read() as s:
        snap = s.snapshot(result.id)
    assert store.objects.read(snap.config_hash) == (project / "workbench.toml").read_bytes()
    cols = {c["name"]: c for c in snap.profile["columns"]}
    assert set(cols) == set(frame.columns)
    charges = frame["monthly_charges"].drop_nulls().to_numpy()
    mc = cols["monthly_charges"]
    assert mc["kind"] == "numeric"
    assert mc["mean"] == pytest.approx(np.mean(charges))
    assert mc["std"] == pytest.approx(np.std(charges, ddof=1))
    assert mc["min"] == pytest.approx(charges.min())
    assert mc["quantiles"]["0.5"] == pytest.approx(np.quantile(charges, 0.5))
    assert mc["quantiles"]["0.9"] == pytest.approx(np.quantile(charges, 0.9))
    counts, edges = np.histogram(charges, bins=profile_mod.HIST_BINS)
    assert mc["histogram"]["counts"] == counts.tolist()
    assert mc["histogram"]["edges"] == pytest.approx(edges.tolist())
    sat = cols["satisfaction_score"]
    assert sat["nulls"] == frame["satisfaction_score"].null_count() > 0
    contract = cols["contract"]
    assert contract["kind"] == "categorical"
    expected = frame["contract"].value_counts(sort=True).rows()
    assert [(t["value"], t["count"]) for t in contract["top"]] == expected
    assert cols["event_time"]["kind"] == "datetime"


def test_same_inputs_same_snapshot_no_duplicate_no_rehash(project: Path, monkeypatch) -> None:
    first = take(project)
    calls: list[Path] = []
    real = objects.ObjectStore.put_files  # every store of file bytes goes through it

    def counting(self, paths):
        calls.extend(paths)
        return real(self, paths)

    monkeypatch.setattr(objects.ObjectStore, "put_files", counting)
    again = take(project)
    assert (again.id, again.created) == (first.id, False)
    assert calls == []  # the stat cache answered; no byte was read
    hashed: list[str] = []
    real_hash = objects.ObjectStore.hash_file
    monkeypatch.setattr(
        objects.ObjectStore,
        "hash_file",
        lambda self, p: (hashed.append(p.name), real_hash(self, p))[1],
    )
    os.utime(project / "data" / "batch_000.csv")  # touched, same bytes
    third = take(project)
    assert (third.id, third.created) == (first.id, False)
    assert hashed == ["batch_000.csv"] and calls == []  # read once, not stored again
    fourth = take(project)
    assert (fourth.id, fourth.created) == (first.id, False)
    assert hashed == ["batch_000.csv"]  # the stat cache learned the new mtime
    assert snapshot_rows(project) == 1


def test_stat_cache_loss_gives_the_same_id(project: Path) -> None:
    first = take(project)
    (project / ".workbench" / "cache" / "stat.json").unlink()
    again = take(project)
    assert (again.id, again.created) == (first.id, False)
    assert snapshot_rows(project) == 1


def test_new_batch_changes_only_that_file(project: Path, monkeypatch) -> None:
    first = take(project)
    src = project / "data" / "batch_000.csv"
    lines = src.read_text().splitlines(keepends=True)
    write_csv(project / "data" / "batch_001.csv", "".join(lines[:1] + lines[1:501]))
    hashed: list[str] = []
    real = objects.ObjectStore.put_files
    monkeypatch.setattr(
        objects.ObjectStore,
        "put_files",
        lambda self, ps, **kw: (hashed.extend(p.name for p in ps), real(self, ps, **kw))[1],
    )
    second = take(project)
    assert second.created and second.id != first.id
    assert hashed == ["batch_001.csv"]
    assert second.summary["rows"] == 30_500
    rows = {f["path"]: f["rows"] for f in second.summary["files"]}
    assert rows == {"data/batch_000.csv": 30_000, "data/batch_001.csv": 500}


def test_config_change_is_a_new_snapshot(project: Path) -> None:
    first = take(project)
    cfg = project / "workbench.toml"
    cfg.write_text(cfg.read_text().replace("min_delta = 0.0", "min_delta = 0.01"))
    second = take(project)
    assert second.created and second.id != first.id


def test_outside_git_it_works_and_says_so(project: Path) -> None:
    result = take(project)
    assert result.summary["in_git"] is False
    assert result.summary["git_commit"] is None


def test_git_state_is_recorded(git_project: Path) -> None:
    result = take(git_project)
    head = git(git_project, "rev-parse", "HEAD")
    assert result.summary["git_commit"] == head
    assert result.summary["git_branch"] == "main"
    assert result.summary["git_dirty"] is False  # .workbench/ ignores itself
    (git_project / "notes.txt").write_text("untracked")
    write_csv(git_project / "data" / "b.csv", (git_project / "data" / "batch_000.csv").read_text())
    dirty = take(git_project)
    assert dirty.summary["git_dirty"] is True


def test_missing_data_folder(project: Path) -> None:
    shutil.rmtree(project / "data")
    with pytest.raises(DataError) as info:
        take(project)
    assert "data folder 'data' does not exist" in info.value.message
    assert "snapshot_failed" in [k for k, _ in events(project)]


def test_empty_file_is_refused_and_recorded(project: Path) -> None:
    first = take(project)
    (project / "data" / "batch_001.csv").write_bytes(b"")
    with pytest.raises(DataError) as info:
        take(project)
    assert "data/batch_001.csv is empty" in info.value.message
    assert info.value.hint
    kinds = events(project)
    assert kinds[0][0] == "snapshot_failed" and "batch_001.csv" in kinds[0][1]
    assert snapshot_rows(project) == 1
    (project / "data" / "batch_001.csv").unlink()
    assert take(project).id == first.id


def test_malformed_csv_names_the_line(project: Path) -> None:
    write_csv(project / "data" / "bad.csv", "a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n")
    with pytest.raises(DataError) as info:
        take(project)
    assert "data/bad.csv:4" in info.value.message
    assert "expected 3 fields" in info.value.message


def test_non_utf8_bytes_are_refused(project: Path) -> None:
    (project / "data" / "garbage.csv").write_bytes(b"a,b\n" + bytes(range(128, 256)) * 40)
    with pytest.raises(DataError, match=r"garbage\.csv is not UTF-8"):
        take(project)


def test_header_only_file_is_a_snapshot_with_zero_rows(project: Path) -> None:
    header = (project / "data" / "batch_000.csv").read_text().splitlines()[0]
    write_csv(project / "data" / "batch_001.csv", header + "\n")
    result = take(project)
    rows = {f["path"]: f["rows"] for f in result.summary["files"]}
    assert rows["data/batch_001.csv"] == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(project: Path) -> None:
    bad = write_csv(project / "data" / "locked.csv", "a\n1\n")
    bad.chmod(0)
    with pytest.raises(DataError, match=r"locked\.csv is not readable"):
        take(project)


def test_unreadable_directory_entry_is_not_data(project: Path) -> None:
    (project / "data" / "folder.csv").mkdir()  # a folder with a data-like name
    (project / "data" / ".hidden.csv").write_text("x\n1\n")
    (project / "data" / "batch_002.csv.part").write_text("half")
    (project / "data" / "notes.txt").write_text("not data")
    result = take(project)
    assert [f["path"] for f in result.summary["files"]] == ["data/batch_000.csv"]


def test_file_changed_during_snapshot_is_not_recorded(project: Path, monkeypatch) -> None:
    first = take(project)
    batch = write_csv(project / "data" / "batch_001.csv", "customer_id,churned\nC1,0\n")
    real = profile_mod.profile_files

    def writer_keeps_writing(files, **kwargs):
        result = real(files, **kwargs)
        with open(batch, "a") as f:  # the batch grows after it was hashed
            f.write("C2,1\n")
        return result

    monkeypatch.setattr(profile_mod, "profile_files", writer_keeps_writing)
    with pytest.raises(FileChangedError, match="changed while the snapshot was being taken"):
        take(project)
    assert snapshot_rows(project) == 1
    monkeypatch.setattr(profile_mod, "profile_files", real)
    settled = take(project)
    assert settled.created and settled.id != first.id
    assert {f["path"]: f["rows"] for f in settled.summary["files"]}["data/batch_001.csv"] == 2


def test_parquet_and_csv_together(project: Path) -> None:
    frame = pl.read_csv(project / "data" / "batch_000.csv").head(100)
    frame.write_parquet(project / "data" / "extra.parquet")
    result = take(project)
    assert result.summary["rows"] == 30_100
    # event_time is text in the Parquet file and a datetime in the CSV: the combined read
    # widens it, so the profile comes from the combined rows, not from per-file sketches
    with Store(project / ".workbench").read() as s:
        snap = s.snapshot(result.id)
    direct = profile_mod.profile_files([(f.path, project / f.path) for f in snap.data_files])
    direct.pop("file_rows")
    assert _close({k: v for k, v in snap.profile.items() if k != "git_note"}, direct)
    cols = {c["name"]: c for c in snap.profile["columns"]}
    assert cols["event_time"]["dtype"] == "String"


def test_snapshot_json_cli_shape(project: Path, cli) -> None:
    proc = cli("snapshot", "--json", cwd=project, check=True)
    data = json.loads(proc.stdout)
    assert set(data) >= {"id", "created", "git_commit", "git_dirty", "files"}
    assert data["created"] is True
    assert set(data["files"][0]) >= {"path", "hash", "bytes", "rows"}
    again = json.loads(cli("snapshot", "--json", cwd=project, check=True).stdout)
    assert again["created"] is False and again["id"] == data["id"]
    assert proc.stderr == ""


def test_touched_file_is_hashed_not_copied_again(project: Path, monkeypatch) -> None:
    first = take(project)
    os.utime(project / "data" / "batch_000.csv", ns=(1, 1))  # same bytes, new mtime
    copies: list[str] = []
    real = objects.ObjectStore.put_files
    monkeypatch.setattr(
        objects.ObjectStore,
        "put_files",
        lambda self, ps: (copies.extend(p.name for p in ps), real(self, ps))[1],
    )
    again = take(project)
    assert (again.id, again.created) == (first.id, False)
    assert copies == []  # hashed in place; the stored object was not written twice


def test_symlinked_data_file_pointing_outside_is_refused(project: Path, tmp_path: Path) -> None:
    outside = write_csv(tmp_path / "elsewhere.csv", "a,b\n1,2\n")
    (project / "data" / "linked.csv").symlink_to(outside)
    with pytest.raises(DataError, match="outside the project"):
        take(project)


def _two_batches(project: Path) -> pl.DataFrame:
    """batch_001: 700 rows without the `contract` column and with extra nulls; returns all rows
    as the combined read sees them (the missing column null there)."""
    first = pl.read_csv(project / "data" / "batch_000.csv", try_parse_dates=True)
    second = first.slice(100, 700).drop("contract")
    second = second.with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(None)
        .otherwise(pl.col("monthly_charges"))
        .alias("monthly_charges")
    )
    second.write_csv(project / "data" / "batch_001.csv")
    return pl.concat([first, second], how="diagonal_relaxed")


def test_merged_profile_equals_numpy_over_all_rows(project: Path) -> None:
    take(project)  # profiles batch_000 alone
    combined = _two_batches(project)
    result = take(project)
    with Store(project / ".workbench").read() as s:
        snap = s.snapshot(result.id)
    cols = {c["name"]: c for c in snap.profile["columns"]}
    assert snap.profile["rows"] == combined.height == 30_700
    assert list(cols) == combined.columns
    for name in ("monthly_charges", "tenure_months", "satisfaction_score"):
        col = cols[name]
        values = combined[name].drop_nulls().cast(pl.Float64).to_numpy()
        assert col["nulls"] == combined[name].null_count()
        assert col["unique"] == combined[name].n_unique()
        assert col["min"] == values.min() and col["max"] == values.max()
        assert col["mean"] == pytest.approx(np.mean(values), rel=1e-12)
        assert col["std"] == pytest.approx(np.std(values, ddof=1), rel=1e-12)
        for q in profile_mod.QUANTILES:
            assert col["quantiles"][str(q)] == pytest.approx(np.quantile(values, q), rel=1e-12)
        counts, edges = np.histogram(values, bins=profile_mod.HIST_BINS)
        assert col["histogram"]["counts"] == counts.tolist()
        assert col["histogram"]["edges"] == pytest.approx(edges.tolist())
    contract = cols["contract"]
    assert contract["nulls"] == 700
    expected = combined["contract"].drop_nulls().value_counts(sort=True).rows()
    assert [(t["value"], t["count"]) for t in contract["top"]] == expected
    ids = cols["customer_id"]
    assert ids["unique"] == combined["customer_id"].n_unique()
    assert ids["other_count"] == combined.height - sum(t["count"] for t in ids["top"])
    # and the whole merged profile is the profile of the combined rows, statistic by statistic
    files = [(f.path, project / f.path) for f in snap.data_files]
    direct = profile_mod.profile_files(files)
    direct.pop("file_rows")
    assert _close({k: v for k, v in snap.profile.items() if k != "git_note"}, direct)


def _close(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-12)
    return a == b


def test_profile_of_an_unchanged_file_is_reused(project: Path, monkeypatch) -> None:
    take(project)
    profile_mod.clear_caches()  # as a new process: only the store knows the first profile
    _two_batches(project)
    profiled: list[int] = []  # rows of every file profiled (sketched) from its data
    real = profile_mod.sketch_frame

    def counting(df):
        profiled.append(df.height)
        return real(df)

    monkeypatch.setattr(profile_mod, "sketch_frame", counting)
    second = take(project)
    assert second.created
    # the new file, and batch_000 once more for the merge (its profile came from the store,
    # but a new process has no sketch of it); never the 30,700 rows together
    assert profiled == [700, 30_000]
    with Store(project / ".workbench").read() as s:
        stored = s.file_profiles(
            [profile_mod.profile_key(f["path"], f["hash"]) for f in second.summary["files"]]
        )
    assert sorted(p["rows"] for p in stored.values()) == [700, 30_000]
    # in the same process a third batch reads and profiles only itself, and the store is
    # opened once (the existence check and the insert share one write session)
    write_csv(project / "data" / "batch_002.csv", "customer_id,churned\nX1,0\nX2,1\n")
    sessions: list[str] = []
    real_read, real_write = Store.read, Store.write
    monkeypatch.setattr(Store, "read", lambda self: sessions.append("r") or real_read(self))
    monkeypatch.setattr(
        Store, "write", lambda self, purpose: sessions.append("w") or real_write(self, purpose)
    )
    third = take(project)
    assert third.created and third.summary["rows"] == 30_702
    assert profiled == [700, 30_000, 2]
    assert sessions == ["w"]


def test_process_caches_hold_only_the_newest_snapshots_files(project: Path) -> None:
    """A watcher whose batch file is rewritten every cycle does not accumulate frames."""
    take(project)
    lines = (project / "data" / "batch_000.csv").read_text().splitlines(keepends=True)
    for i in range(5):
        write_csv(project / "data" / "batch_001.csv", "".join(lines[:1] + lines[1 + i : 40 + i]))
        assert take(project).created
        for cache in (profile_mod._FRAMES, profile_mod._SKETCHES, profile_mod._PROFILES):
            assert len(cache.items) <= 2  # batch_000 and this batch_001, nothing older


def test_top_values_equal_a_full_sort_by_count_then_value() -> None:
    import random

    rng = random.Random(7)
    for _ in range(200):
        n = rng.choice([0, 1, 5, 19, 20, 21, 60, 800])
        counts = {
            f"v{rng.randrange(2000)}{'é' if rng.random() < 0.2 else ''}": rng.choice(
                [1, 1, 2, 3, rng.randrange(1, 60)]
            )
            for _ in range(n)
        }
        for k in (1, 5, profile_mod.TOP_K):
            expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
            assert profile_mod._top(counts, k) == expected


def test_many_new_small_files_are_stored_in_one_batch(project: Path, monkeypatch) -> None:
    src = project / "data" / "batch_000.csv"
    lines = src.read_text().splitlines(keepends=True)
    for i in range(40):
        write_csv(project / "data" / f"part_{i:02d}.csv", "".join([lines[0], *lines[1 + i :: 997]]))
    batches: list[list[str]] = []
    real = objects.ObjectStore.put_files

    def spy(self: objects.ObjectStore, paths: list[Path], **kw: Any) -> list[tuple[str, int]]:
        batches.append(sorted(p.name for p in paths))
        return real(self, paths, **kw)

    monkeypatch.setattr(objects.ObjectStore, "put_files", spy)
    result = take(project)
    assert result.created
    # the 40 small parts and the config together; batch_000 (3 MB) is stored on its own
    assert sorted(batches, key=len) == [
        ["batch_000.csv"],
        [*sorted(f"part_{i:02d}.csv" for i in range(40)), "workbench.toml"],
    ]
    store = Store(project / ".workbench")
    for f in result.summary["files"]:
        assert store.objects.path(f["hash"]).read_bytes() == (project / f["path"]).read_bytes()
    # 41 files were profiled by the thread pool; the merged profile is still the profile of
    # all rows read together
    with store.read() as s:
        snap = s.snapshot(result.id)
    direct = profile_mod.profile_files([(f.path, project / f.path) for f in snap.data_files])
    direct.pop("file_rows")
    assert _close({k: v for k, v in snap.profile.items() if k != "git_note"}, direct)
    again = take(project)
    assert (again.id, again.created) == (result.id, False)
