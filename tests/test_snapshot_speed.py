"""The fast snapshot paths give the profile the exact paths give (or one within stated bounds).

- a large file profiled in one streaming pass (``data.sketch``): counts, nulls, min/max,
  mean/std and categories exact; quantiles and histogram within the rank error the column
  states, checked against numpy on the same values;
- many small CSVs read in groups (``data.grouped``): the same profile, row counts and column
  gaps as the combined exact read, and a bad file still named;
- the whole snapshot of both, through the real store and CLI.

Thresholds are lowered with monkeypatch so small files take the large-file paths.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from tests.conftest import Run
from workbench import config
from workbench.data import profile as profile_mod
from workbench.data import sketch, snapshot
from workbench.errors import DataError
from workbench.store import Store

ROWS = 20_000


def _big_csv(path: Path, rows: int = ROWS, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows) * 50
    x[rng.random(rows) < 0.05] = np.nan  # written empty: nulls
    frame = pl.DataFrame(
        {
            "x": x,
            "n": rng.integers(0, 300, rows),
            "skew": rng.exponential(size=rows) ** 3,
            "cat": rng.choice(["a", "b", "c", "d"], rows),
            "day": [f"2024-01-{1 + i % 28:02d}" for i in range(rows)],
            "churned": rng.integers(0, 2, rows),
        }
    ).with_columns(pl.col("x").fill_nan(None))
    frame.write_csv(path)
    return path


def _exact(path: Path, label: str) -> dict[str, Any]:
    return profile_mod.merge_sketches([profile_mod.sketch_frame(profile_mod._read(path, label))])


def _columns(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in profile["columns"]}


def _assert_rank_bound(values: np.ndarray, got: dict[str, float | None], error: float) -> None:
    """Each quantile is a value whose rank is within ``error`` (a fraction) of numpy's."""
    ordered = np.sort(values)
    n = len(ordered)
    slack = error * n + 1
    for q_text, v in got.items():
        target = float(q_text) * (n - 1)
        assert v is not None
        below = np.searchsorted(ordered, v, side="left")  # values < v
        at_or_below = np.searchsorted(ordered, v, side="right")
        assert below <= target + slack and at_or_below >= target - slack, (q_text, v)
        exact = float(np.quantile(ordered, float(q_text)))
        assert ordered[0] <= v <= ordered[-1] and (error > 0 or v == pytest.approx(exact))


def test_streamed_profile_is_exact_but_for_stated_bounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sketch, "BATCH_ROWS", 3_000)
    monkeypatch.setattr(sketch, "POINTS_PER_BATCH", 64)
    path = _big_csv(tmp_path / "big.csv")
    streamed = _columns(profile_mod.profile_source("big.csv", path))
    exact = _columns(_exact(path, "big.csv"))
    assert list(streamed) == list(exact)
    raw = pl.read_csv(path)
    for name, col in exact.items():
        got = streamed[name]
        assert (got["dtype"], got["kind"], got["nulls"]) == (
            col["dtype"],
            col["kind"],
            col["nulls"],
        )
        for stat in ("min", "max", "top", "other_count"):
            assert got.get(stat) == col.get(stat), (name, stat)
        if col["kind"] == "numeric":
            assert got["mean"] == pytest.approx(col["mean"], rel=1e-12)
            assert got["std"] == pytest.approx(col["std"], rel=1e-9)
            assert got["approximate"] == ["unique", "quantiles", "histogram"]
            bound = got["rank_error"]
            values = raw[name].drop_nulls().cast(pl.Float64).to_numpy()
            assert 0 < bound <= ROWS / 64 / len(values)
            _assert_rank_bound(values, got["quantiles"], bound)
            # histogram: the count below each edge within the same bound
            cum_got = np.cumsum(got["histogram"]["counts"])
            cum_exact = np.cumsum(col["histogram"]["counts"])
            assert got["histogram"]["edges"] == col["histogram"]["edges"]
            assert np.abs(cum_got - cum_exact).max() <= bound * len(values) + 1
            assert cum_got[-1] == len(values)
        if col["unique"] <= sketch.DISTINCT_K:  # exact below DISTINCT_K distinct values
            assert got["unique"] == col["unique"], name
        else:
            assert (
                abs(got["unique"] - col["unique"]) <= 4 / np.sqrt(sketch.DISTINCT_K) * col["unique"]
            )


def test_streamed_quantiles_are_numpys_when_every_value_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sketch, "BATCH_ROWS", 5_000)
    monkeypatch.setattr(sketch, "POINTS_PER_BATCH", 10_000)
    path = _big_csv(tmp_path / "big.csv", seed=3)
    streamed = _columns(profile_mod.profile_source("big.csv", path))
    exact = _columns(_exact(path, "big.csv"))
    for name in ("x", "n", "skew"):
        assert "rank_error" not in streamed[name]
        assert streamed[name]["quantiles"] == pytest.approx(exact[name]["quantiles"], rel=1e-12)
        assert streamed[name]["histogram"] == exact[name]["histogram"]


def test_distinct_estimate_of_many_values_is_within_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sketch, "BATCH_ROWS", 7_000)
    monkeypatch.setattr(sketch, "DISTINCT_K", 1024)
    rows = 60_000
    values = np.random.default_rng(5).integers(0, 40_000, rows)
    path = tmp_path / "ids.csv"
    pl.DataFrame({"v": values}).write_csv(path)
    got = _columns(profile_mod.profile_source("ids.csv", path))["v"]["unique"]
    truth = len(np.unique(values))
    assert abs(got - truth) <= 4 / np.sqrt(1024) * truth  # 4 standard errors


def test_a_value_past_the_sample_that_breaks_the_type_is_profiled_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sketch, "BATCH_ROWS", 3_000)
    path = tmp_path / "late.csv"
    lines = ["a,b"] + [f"{i},{i % 7}" for i in range(profile_mod.SAMPLE_ROWS + 500)] + ["x,1"]
    path.write_text("\n".join(lines) + "\n")
    streamed = _columns(profile_mod.profile_source("late.csv", path))
    exact = _columns(_exact(path, "late.csv"))
    assert streamed["a"]["dtype"] == exact["a"]["dtype"] == "String"
    assert streamed == exact


def test_a_streamed_file_with_a_short_row_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n")
    with pytest.raises(DataError, match=r"cut\.csv:3: expected 3 fields"):
        profile_mod.profile_source("cut.csv", path)


def _small_files(folder: Path, count: int, seed: int = 1) -> list[tuple[str, Path]]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        lines = ["a,b,s,churned"]
        for r in range(20):
            a = "" if (i + r) % 9 == 0 else f"{rng.normal():.5f}"
            b = "" if i == 4 else str(int(rng.integers(0, 50)))  # one file: b is empty
            lines.append(f"{a},{b},{'xyz'[r % 3]},{r % 2}")
        path = folder / f"f{i:03d}.csv"
        path.write_text("\n".join(lines) + ("\n" if i % 5 else ""))  # some end without one
        files.append((f"data/f{i:03d}.csv", path))
    return files


def test_small_files_read_in_groups_profile_as_the_combined_read(tmp_path: Path) -> None:
    files = _small_files(tmp_path / "data", 30)
    hashes = {label: f"h{i}" for i, (label, _) in enumerate(files)}
    grouped = profile_mod.profile_files(files, hashes=hashes)
    together = profile_mod._profile_together(files, profile_mod.NULL_VALUES)
    assert grouped["rows"] == together["rows"] == 600
    assert grouped["file_rows"] == together["file_rows"]
    assert grouped["column_gaps"] == together["column_gaps"] == {"b": 1}
    # the combined read a snapshot falls back on (an empty column takes the others' type)
    combined = profile_mod.profile_frame(profile_mod.read_frames(files, hashes))
    for name, col in _columns(combined).items():
        got = _columns(grouped)[name]
        for stat, value in col.items():
            if isinstance(value, float):
                assert got[stat] == pytest.approx(value, rel=1e-12), (name, stat)
            elif stat == "quantiles":
                assert got[stat] == pytest.approx(value, rel=1e-12)
            else:
                assert got[stat] == value, (name, stat)
    partial = grouped["file_profiles"][profile_mod.profile_key("data/f004.csv", "h4")]
    assert partial["partial"] is True and partial["rows"] == 20
    assert _columns(partial)["b"]["nulls"] == 20


def test_a_partial_profile_is_never_a_snapshots_own(tmp_path: Path) -> None:
    files = _small_files(tmp_path / "data", 10)
    hashes = {label: f"h{i}" for i, (label, _) in enumerate(files)}
    grouped = profile_mod.profile_files(files, hashes=hashes)
    key = profile_mod.profile_key(files[0][0], hashes[files[0][0]])
    alone = profile_mod.profile_files(
        files[:1], hashes=hashes, known={key: grouped["file_profiles"][key]}
    )
    assert "partial" not in alone and "quantiles" in _columns(alone)["a"]
    assert alone["columns"] == _exact(files[0][1], files[0][0])["columns"]


def test_a_bad_file_among_small_files_is_named(tmp_path: Path) -> None:
    files = _small_files(tmp_path / "data", 12)
    bad = files[7][1]
    bad.write_text("a,b,s,churned\n1.0,2,x,1\n2.0,3,y\n")
    hashes = {label: f"h{i}" for i, (label, _) in enumerate(files)}
    with pytest.raises(DataError, match=r"f007\.csv:3: expected 4 fields"):
        profile_mod.profile_files(files, hashes=hashes)
    bad.write_text("a,b,s,churned\n1.0,2,x,1,9\n")  # a long row: the group read fails
    with pytest.raises(DataError, match=r"f007\.csv"):
        profile_mod.profile_files(files, hashes=hashes)


def _project(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "workbench.toml").write_text('[data]\npath = "data"\ntarget = "churned"\n')
    return root


def test_first_snapshot_of_many_small_files_and_the_next(tmp_path: Path, cli: Run) -> None:
    root = _project(tmp_path / "proj")
    _small_files(root / "data", 60)
    first = json.loads(cli("snapshot", "--json", cwd=root, check=True).stdout)
    assert first["created"] and first["rows"] == 1200
    again = json.loads(cli("snapshot", "--json", cwd=root, check=True).stdout)
    assert again["id"] == first["id"] and not again["created"]
    (root / "data" / "f999.csv").write_text("a,b,s,churned\n1.5,3,x,1\n")
    third = json.loads(cli("snapshot", "--json", cwd=root, check=True).stdout)
    assert third["created"] and third["rows"] == 1201 and third["id"] != first["id"]
    settings = config.load(root)
    with Store(settings.store_dir).read() as s:
        record = s.snapshot(third["id"])
    together = profile_mod._profile_together(
        [(f"data/{p.name}", p) for p in sorted((root / "data").iterdir())],
        profile_mod.NULL_VALUES,
    )
    assert record.profile["columns"][0]["quantiles"] == pytest.approx(
        together["columns"][0]["quantiles"], rel=1e-12
    )
    assert record.profile["column_gaps"] == together["column_gaps"]


def test_a_large_new_file_is_profiled_while_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "PROFILE_BESIDE_BYTES", 1 << 10)
    monkeypatch.setattr(profile_mod, "STREAM_PROFILE_BYTES", 1 << 10)
    monkeypatch.setattr(sketch, "BATCH_ROWS", 3_000)
    monkeypatch.setattr(sketch, "POINTS_PER_BATCH", 64)
    root = _project(tmp_path / "proj")
    path = _big_csv(root / "data" / "big.csv")
    settings = config.load(root)
    store = Store(settings.store_dir)
    result = snapshot.take(settings, store)
    assert result.created and result.summary["rows"] == ROWS
    with store.read() as s:
        record = s.snapshot(result.id)
    x = _columns(record.profile)["x"]
    assert x["approximate"] == ["unique", "quantiles", "histogram"]
    values = pl.read_csv(path)["x"].drop_nulls().to_numpy()
    _assert_rank_bound(values, x["quantiles"], x["rank_error"])
    digest = next(f.hash for f in record.files if f.path == "data/big.csv")
    assert store.objects.path(digest).read_bytes() == path.read_bytes()


def _rows_of(path: Path, rows: int, seed: int) -> bytes:
    """``rows`` more rows in ``_big_csv``'s shape, without the header line."""
    extra = tmp = path.with_suffix(".more")
    _big_csv(tmp, rows, seed)
    data = extra.read_bytes()
    tmp.unlink()
    return data[data.index(b"\n") + 1 :]


@pytest.fixture
def streamed_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose one data file takes the large-file paths (thresholds lowered)."""
    monkeypatch.setattr(snapshot, "PROFILE_BESIDE_BYTES", 1 << 10)
    monkeypatch.setattr(profile_mod, "STREAM_PROFILE_BYTES", 1 << 10)
    monkeypatch.setattr(sketch, "BATCH_ROWS", 3_000)
    monkeypatch.setattr(sketch, "POINTS_PER_BATCH", 64)
    root = _project(tmp_path / "proj")
    _big_csv(root / "data" / "big.csv")
    return root


def _snapshot_profile(root: Path) -> dict[str, Any]:
    from workbench.caches import clear_process_caches

    clear_process_caches()  # as a new command: what is known comes from the store
    settings = config.load(root)
    store = Store(settings.store_dir)
    result = snapshot.take(settings, store)
    assert result.created
    with store.read() as s:
        return s.snapshot(result.id).profile


def _assert_profiles_agree(got: dict[str, Any], fresh: dict[str, Any], path: Path) -> None:
    """``got`` is ``fresh`` (a stream of the whole file) exactly for counts, nulls, min/max and
    categories, to float rounding for mean/std, within the stated bound for quantiles."""
    assert got["rows"] == fresh["rows"]
    raw = pl.read_csv(path)
    for name, col in _columns(fresh).items():
        mine = _columns(got)[name]
        for stat in ("dtype", "kind", "nulls", "min", "max", "top", "other_count"):
            assert mine.get(stat) == col.get(stat), (name, stat)
        if col["kind"] == "numeric":
            assert mine["mean"] == pytest.approx(col["mean"], rel=1e-12)
            assert mine["std"] == pytest.approx(col["std"], rel=1e-9)
            values = raw[name].drop_nulls().cast(pl.Float64).to_numpy()
            _assert_rank_bound(values, mine["quantiles"], mine["rank_error"])
            assert sum(mine["histogram"]["counts"]) == len(values)


def _spy_resumed(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, for each streamed profile, whether it continued a stored state."""
    resumed: list[bool] = []
    real = sketch.stream_profile

    def recording(*args: Any, **kw: Any) -> dict[str, Any]:
        resumed.append(kw.get("after") is not None)
        return real(*args, **kw)

    monkeypatch.setattr(sketch, "stream_profile", recording)
    return resumed


def test_an_append_profiles_only_the_new_rows_and_equals_a_fresh_profile(
    streamed_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = streamed_project / "data" / "big.csv"
    _snapshot_profile(streamed_project)
    with open(path, "ab") as f:
        f.write(_rows_of(path, 500, seed=11))
    resumed = _spy_resumed(monkeypatch)
    got = _snapshot_profile(streamed_project)
    assert resumed == [True]
    assert got["rows"] == ROWS + 500 and "sketch" not in got
    _assert_profiles_agree(got, profile_mod.profile_source("big.csv", path), path)


def test_an_edit_before_the_end_is_not_taken_for_an_append(
    streamed_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = streamed_project / "data" / "big.csv"
    _snapshot_profile(streamed_project)
    data = path.read_bytes()
    first_row = data.index(b"\n") + 1
    edited = data[:first_row] + b"-99999" + data[first_row:]  # the first x, changed
    path.write_bytes(edited + _rows_of(path, 300, seed=12))
    resumed = _spy_resumed(monkeypatch)
    got = _snapshot_profile(streamed_project)
    assert True not in resumed[-1:]  # the whole file was read again
    assert _columns(got)["x"]["min"] <= -99999
    _assert_profiles_agree(got, profile_mod.profile_source("big.csv", path), path)


def test_a_new_header_with_more_rows_is_profiled_whole(
    streamed_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = streamed_project / "data" / "big.csv"
    _snapshot_profile(streamed_project)
    data = path.read_bytes()
    header_end = data.index(b"\n")
    path.write_bytes(
        data[:header_end].replace(b"x,", b"x2,") + data[header_end:] + b"1,2,3,a,2024-01-02,1\n"
    )
    got = _snapshot_profile(streamed_project)
    assert "x2" in _columns(got) and "x" not in _columns(got)
    _assert_profiles_agree(got, profile_mod.profile_source("big.csv", path), path)


def test_rows_appended_to_a_file_without_a_final_newline_are_profiled_whole(
    streamed_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = streamed_project / "data" / "big.csv"
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    _snapshot_profile(streamed_project)
    with open(path, "ab") as f:  # the old last row gets more digits, then new rows follow
        f.write(b"7\n" + _rows_of(path, 200, seed=13))
    resumed = _spy_resumed(monkeypatch)
    got = _snapshot_profile(streamed_project)
    assert resumed == [False]
    _assert_profiles_agree(got, profile_mod.profile_source("big.csv", path), path)


def test_a_large_file_only_touched_is_not_profiled_again(
    streamed_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.caches import clear_process_caches

    path = streamed_project / "data" / "big.csv"
    first = _snapshot_profile(streamed_project)
    path.write_bytes(path.read_bytes())  # the same bytes, a new mtime
    os.utime(path, ns=(1, 1))
    resumed = _spy_resumed(monkeypatch)
    clear_process_caches()
    settings = config.load(streamed_project)
    again = snapshot.take(settings, Store(settings.store_dir))
    assert not again.created and again.summary["rows"] == first["rows"]
    assert resumed == []  # hashed, found stored: not read for a profile


def test_empty_lines_and_crlf_in_small_files_keep_each_files_rows(tmp_path: Path) -> None:
    files = _small_files(tmp_path / "data", 10)
    files[2][1].write_bytes(b"a,b,s,churned\r\n1.5,2,x,1\r\n\r\n2.5,3,y,0\r\n")
    files[3][1].write_bytes(b"a,b,s,churned\n\n3.5,4,z,1\n\n")
    hashes = {label: f"h{i}" for i, (label, _) in enumerate(files)}
    grouped = profile_mod.profile_files(files, hashes=hashes)
    alone = {
        label: profile_mod.profile_files([(label, path)], hashes=hashes)["rows"]
        for label, path in files
    }
    assert grouped["file_rows"] == alone
    assert grouped["rows"] == sum(alone.values())


def test_a_second_large_file_is_merged_from_stored_states_without_reading_the_first(
    streamed_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = streamed_project
    settings = config.load(root)
    store = Store(settings.store_dir)
    snapshot.take(settings, store)
    profile_mod.clear_caches()  # a new process: the first file's profile is in the store only
    second = _big_csv(root / "data" / "batch.csv", rows=15_000, seed=7)
    read: list[str] = []
    original = sketch.stream_profile

    def counting(path: Path, label: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        read.append(label)
        return original(path, label, *args, **kwargs)

    monkeypatch.setattr(sketch, "stream_profile", counting)
    monkeypatch.setattr(
        profile_mod, "sketch_of", lambda *a: pytest.fail("a streamed file was read again")
    )
    result = snapshot.take(settings, store)
    assert read == ["data/batch.csv"]  # only the new file was read
    assert result.summary["rows"] == ROWS + 15_000
    with store.read() as s:
        merged = _columns(s.snapshot(result.id).profile)
    both = pl.concat([pl.read_csv(root / "data" / "big.csv"), pl.read_csv(second)])
    x = merged["x"]
    values = both["x"].drop_nulls().to_numpy()
    assert x["nulls"] == both["x"].null_count()
    assert (x["min"], x["max"]) == (values.min(), values.max())
    assert x["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert x["std"] == pytest.approx(values.std(ddof=1), rel=1e-9)
    assert 0 < x["rank_error"] <= (ROWS + 15_000) / 64 / len(values)
    _assert_rank_bound(values, x["quantiles"], x["rank_error"])
    counts = both["cat"].value_counts()
    top = {t["value"]: t["count"] for t in merged["cat"]["top"]}
    assert top == dict(zip(counts["cat"], counts["count"], strict=True))
    assert merged["n"]["unique"] == both["n"].n_unique()  # below DISTINCT_K: exact
