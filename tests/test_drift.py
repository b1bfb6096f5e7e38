"""`workbench drift` end to end: reference/current selection, caching, storage, actions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats
from scipy.spatial import distance

from tests.helpers import configure, cut_sample, store_of, train
from workbench import config
from workbench.errors import ExitCode, UsageError
from workbench.monitor import drift as drift_mod

SAMPLE_GEN = Path(__file__).resolve().parents[1] / "sample_project" / "generate.py"


@pytest.fixture
def trained(project: Path) -> Path:
    cut_sample(project, 6000)
    configure(project)
    train(project)
    return project


def generate(root: Path, *args: str) -> Path:
    out = subprocess.run(
        [
            sys.executable,
            str(SAMPLE_GEN),
            "--data-dir",
            str(root / "data"),
            "--rows",
            "3000",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.split()[1])


def run(root: Path, **kw) -> drift_mod.DriftOutcome:
    settings = config.load(root)
    return drift_mod.run_drift(settings, store_of(root), **kw)


def test_drifted_batch_is_flagged_with_scipy_equal_numbers(trained: Path) -> None:
    batch = generate(trained, "--drift")
    result = run(trained).result.to_json()
    assert result["reference_version"] == "v1"
    assert result["current_rows"] == 3000  # only rows after the reference's last event_time
    assert result["reference_rows"] == 6000
    assert result["dataset_drift"] is True
    by_name = {f["name"]: f for f in result["features"]}
    ref = pl.read_csv(trained / "data" / "batch_000.csv")
    cur = pl.read_csv(batch)
    # a numeric feature with > 1000 reference rows: normalised Wasserstein
    mc = by_name["monthly_charges"]
    r, c = (f["monthly_charges"].drop_nulls().to_numpy() for f in (ref, cur))
    assert mc["method"] == "wasserstein" and mc["drifted"]
    assert mc["score"] == pytest.approx(stats.wasserstein_distance(r, c) / np.std(r), rel=1e-9)
    # a categorical with a level only in the current data: Jensen-Shannon over the union
    region = by_name["region"]
    levels = sorted(set(ref["region"].drop_nulls()) | set(cur["region"].drop_nulls()))
    p = np.array([(ref["region"] == v).sum() for v in levels], dtype=float)
    q = np.array([(cur["region"] == v).sum() for v in levels], dtype=float)
    assert region["method"] == "jensenshannon" and region["drifted"]
    assert region["score"] == pytest.approx(distance.jensenshannon(p / p.sum(), q / q.sum()))
    assert result["prediction_drift"]["drifted"] is True
    assert result["target_drift"]["name"] == "churned"
    # the drift pane's histograms: shared bins for numbers, level shares for categories
    hist = mc["histogram"]
    edges = np.linspace(min(r.min(), c.min()), max(r.max(), c.max()), len(hist["edges"]))
    np.testing.assert_allclose(hist["edges"], edges)
    np.testing.assert_allclose(hist["reference"], np.histogram(r, edges)[0] / r.size, atol=1e-6)
    np.testing.assert_allclose(hist["current"], np.histogram(c, edges)[0] / c.size, atol=1e-6)
    shares = dict(zip(region["histogram"]["labels"], region["histogram"]["current"], strict=True))
    for level, count in zip(levels, q, strict=True):
        if level in shares:
            assert shares[level] == pytest.approx(count / q.sum(), abs=1e-6)


def test_normal_batch_has_no_dataset_drift(trained: Path) -> None:
    generate(trained)
    result = run(trained).result.to_json()
    assert result["dataset_drift"] is False
    assert result["drifted_features"] <= 2


def test_result_is_stored_and_reference_is_not_rescanned(trained: Path, monkeypatch) -> None:
    generate(trained, "--drift")
    first = run(trained)
    assert first.computed
    again = run(trained)
    assert not again.computed and again.result == first.result
    loads: list[str] = []
    real = drift_mod.load_frame  # (imported from workbench.data.reader)
    monkeypatch.setattr(
        drift_mod, "load_frame", lambda store, snap: loads.append(snap.id) or real(store, snap)
    )
    forced = run(trained, force=True)
    assert forced.computed and loads == []  # the cached reference Parquet was used
    assert forced.result.features == first.result.features
    with store_of(trained).read() as s:
        over_time = s.drift_over_time("monthly_charges")
    assert len(over_time) == 1 and over_time[0]["feature"]["drifted"] is True


def test_no_new_data_is_not_drift(trained: Path) -> None:
    result = run(trained).result.to_json()
    assert result["current_rows"] == 0 and result["dataset_drift"] is False
    assert result["note"] == "no new data since the reference"


def test_overrides_from_config(trained: Path) -> None:
    generate(trained)
    with open(trained / "workbench.toml", "a") as f:
        f.write('\n[drift.features.age]\nmethod = "psi"\nthreshold = 0.0\n')
    age = {f["name"]: f for f in run(trained).result.to_json()["features"]}["age"]
    assert age["method"] == "psi" and age["threshold"] == 0.0 and age["drifted"] is True
    assert age["score"] == age["psi"]


def test_no_champion_is_a_clear_error(project: Path, cli) -> None:
    configure(project)
    with pytest.raises(UsageError, match="no champion"):
        run(project)
    proc = cli("drift", cwd=project)
    assert proc.returncode == ExitCode.USAGE


def test_cli_json_status_and_on_drift_hook_and_retrain(trained: Path, cli, tmp_path: Path) -> None:
    marker = tmp_path / "drift.txt"
    with open(trained / "workbench.toml", "a") as f:
        f.write(
            "\n[drift]\nretrain_on_drift = true\n[hooks]\non_drift = "
            + json.dumps(
                [
                    sys.executable,
                    "-c",
                    "import os, sys; open(sys.argv[1], 'w').write(os.environ['WORKBENCH_DRIFTED'])",
                    str(marker),
                ]
            )
            + "\n"
        )
    generate(trained, "--drift")
    proc = cli("drift", "--json", cwd=trained)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= {
        "reference",
        "current",
        "dataset_drift",
        "drift_share",
        "features",
        "prediction_drift",
        "target_drift",
    }
    feature = data["features"][0]
    assert set(feature) >= {"name", "type", "method", "score", "threshold", "drifted", "psi"}
    assert "monthly_charges" in marker.read_text()
    assert "retrain_on_drift: v2" in proc.stderr
    status = json.loads(cli("status", "--json", cwd=trained, check=True).stdout)
    assert status["drift"]["dataset_drift"] is True
    assert status["drift"]["drift_share"] == data["drift_share"]


def test_cycle_runs_on_drift_hooks_even_when_it_retrains(trained: Path, tmp_path: Path) -> None:
    from workbench.watch import watch

    marker = tmp_path / "hook.txt"
    script = "import sys; open(sys.argv[1], 'w').write('drift')"
    with open(trained / "workbench.toml", "a") as f:
        f.write(
            "\n[drift]\nretrain_on_drift = true\n[hooks]\non_drift = "
            + json.dumps([sys.executable, "-c", script, str(marker)])
            + "\n"
        )
    generate(trained, "--drift")
    events = list(watch(trained, store_of(trained), changes=iter([]), once=True))
    steps = [e.data.get("step") for e in events if e.event == "step"]
    assert steps == ["snapshot", "drift", "train"]  # one snapshot, then drift, then training
    assert marker.read_text() == "drift"


def test_the_drift_record_round_trips_the_json_shape(trained: Path, cli) -> None:
    """Stored as its `drift --json` shape, read back as the same frozen record."""
    from workbench.store.drift import DriftResult

    generate(trained, "--drift")
    outcome = run(trained)
    shown = json.loads(cli("drift", "--json", cwd=trained, check=True).stdout)
    assert shown == outcome.result.to_json()
    assert DriftResult.from_json(shown) == outcome.result
    assert outcome.result.drifted == [f["name"] for f in shown["features"] if f["drifted"]]
    assert {"features", "prediction_drift", "target_drift", "dataset_drift"} <= set(shown)
    assert {"name", "type", "method", "score", "threshold", "drifted", "psi"} <= set(
        shown["features"][0]
    )


def test_drift_text_keeps_its_columns_in_line_with_long_feature_names() -> None:
    from workbench.render import drift_text

    def feature(name: str) -> dict:
        return {
            "name": name,
            "type": "numerical",
            "method": "ks",
            "score": 0.5,
            "threshold": 0.05,
            "drifted": False,
            "psi": 0.1,
        }

    long = "monthly_charges_after_the_promotion_ended_in_region_" + "x" * 40
    text = drift_text(
        {
            "current": "c",
            "current_rows": 10,
            "reference_version": "v1",
            "reference": "r",
            "reference_rows": 10,
            "dataset_drift": False,
            "drifted_features": 0,
            "drift_share": 0.0,
            "features": [feature(long), feature("age")],
        }
    )
    lines = text.splitlines()[2:]
    assert len({len(line) for line in lines}) == 1, lines
    assert any(line.lstrip().startswith("monthly_cha") and "…" in line for line in lines)
