"""``workbench card``: every number is the store's record, the same records give the same
bytes, hand-written notes are merged and never overwritten, a failed version says so.
Real LightGBM, real DuckDB, one CLI subprocess; intervals checked against scikit-learn."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from tests.conftest import SAMPLE, copy_sample
from tests.helpers import configure, store_of, train
from workbench import config
from workbench.errors import ExitCode, TrainingError
from workbench.governance import intervals
from workbench.governance.card import Card, build_card
from workbench.model.rollback import rollback
from workbench.monitor.drift import run_drift
from workbench.store import outcomes

NOTES = """# Our churn model

Maintained by the retention team.

## Intended use

Rank customers for a retention call; not for pricing.

## Risks

Under-serves customers with short tenure.

## Lineage

The January batch was relabelled by hand.

## Contact

retention@example.com
"""


def _rows(root: Path, n: int) -> None:
    pl.read_csv(SAMPLE / "data" / "batch_000.csv").head(n).write_csv(
        root / "data" / "batch_000.csv"
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 on 1,500 rows; v2 on 3,000 (drift stored first, promoted), a rollback to v1, and a
    failed v3 (every positive in the time-split holdout: one class to train on)."""
    root = copy_sample(tmp_path_factory.mktemp("card") / "proj")
    configure(root, rounds=30)
    _rows(root, 1500)
    train(root)
    _rows(root, 3000)
    settings = config.load(root)
    run_drift(settings, store_of(root))
    train(root)
    rollback(settings, store_of(root), "v1", reason="v2 misranks new customers")
    data = root / "data" / "batch_000.csv"
    frame = pl.read_csv(data)
    keep = pl.int_range(pl.len()) >= frame.height - int(frame.height * 0.15)
    frame.with_columns(pl.when(keep).then(pl.col("churned")).otherwise(0)).write_csv(data)
    with pytest.raises(TrainingError):
        train(root)
    return root


@pytest.fixture
def proj(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(built, root, symlinks=True)
    return root


def _card(root: Path, ref: str) -> Card:
    return build_card(config.load(root), store_of(root), ref)


def test_every_number_is_the_records(proj: Path) -> None:
    store = store_of(proj)
    with store.read() as s:
        v = s.version("v2")
        snap = s.snapshot(v.snapshot_id)
        history = [c.to_json() for c in reversed(s.champion_history())]
        drift = s.drift_result(snap.id, 1)
    meta = store.objects.read_json(v.meta_hash or "")
    card = _card(proj, "v2")
    data = card.to_json()
    d = data["model_details"]
    assert (d["version"], d["snapshot"], d["git_commit"]) == ("v2", v.snapshot_id, v.git_commit)
    assert (d["created_at"], d["created_by"], d["status"]) == (
        v.created_at,
        v.created_by,
        "retired",
    )
    assert (
        d["model_sha256"]
        == __import__("hashlib").sha256(store.objects.read(v.model_hash or "")).hexdigest()
    )
    perf = data["quantitative_analysis"]["performance_metrics"]
    assert {m["type"]: m["value"] for m in perf} == v.metrics
    assert data["quantitative_analysis"]["gate"] == v.gate
    assert [f["hash"] for f in data["lineage"]["files"]] == [f.hash for f in snap.data_files]
    assert [f["rows"] for f in data["lineage"]["files"]] == [f.rows for f in snap.data_files]
    assert data["model_parameters"]["params"] == meta["params"]
    importance = {
        i["feature"]: i["importance"] for i in data["quantitative_analysis"]["feature_importance"]
    }
    assert importance == meta["importance"]
    assert drift is not None and data["drift_at_promotion"]["drift_share"] == drift.drift_share
    mine = [h for h in history if "v2" in (h["version"], h["previous"])]
    assert [{k: h[k] for k in mine[0]} for h in data["champion_history"]] == mine
    assert [h["event"] for h in data["champion_history"]] == ["became champion", "replaced"]
    assert data["champion_history"][1]["reason"].endswith("v2 misranks new customers")
    # the front matter carries the recorded values exactly
    front = yaml.safe_load(card.markdown.split("---\n")[1])
    assert front["library_name"] == "lightgbm"
    values = {m["type"]: m["value"] for m in front["model-index"][0]["results"][0]["metrics"]}
    assert values == v.metrics
    assert data["monitoring"] is None and "No monitoring results recorded." in card.markdown

    # the AUC interval: a percentile bootstrap, recomputed with scikit-learn on the same draws
    y, pred = intervals.holdout_scores(store, v)
    assert len(y) == data["quantitative_analysis"]["holdout"]["rows"]
    assert roc_auc_score(y, pred) == pytest.approx(v.metrics["auc"], abs=1e-12)
    rng = np.random.default_rng(intervals.SEED)
    draws = []
    for _ in range(intervals.RESAMPLES):
        idx = rng.integers(0, len(y), size=len(y))
        draws.append(roc_auc_score(y[idx], pred[idx]))
    low, high = np.quantile(draws, [0.025, 0.975])
    ci = next(m for m in perf if m["type"] == "auc")["confidence_interval"]
    assert ci["lower_bound"] == pytest.approx(low, abs=1e-12)
    assert ci["upper_bound"] == pytest.approx(high, abs=1e-12)
    assert ci["lower_bound"] < v.metrics["auc"] < ci["upper_bound"]


def test_same_records_same_bytes_as_a_process(proj: Path, cli) -> None:
    first = cli("card", "v1", "-o", "card.md", cwd=proj)
    assert first.returncode == 0, first.stderr
    again = cli("card", "v1", cwd=proj)
    assert again.returncode == 0, again.stderr
    assert (proj / "card.md").read_text() == again.stdout  # cached intervals, same bytes
    assert _card(proj, "v1").markdown == again.stdout
    js = cli("card", "v1", "--json", cwd=proj)
    assert js.returncode == 0 and '"champion_history"' in js.stdout


def test_notes_are_merged_by_heading_and_never_overwritten(proj: Path, cli) -> None:
    (proj / "MODEL_CARD.md").write_text(NOTES)
    with (proj / "workbench.toml").open("a") as f:
        f.write('\n[governance]\ncard_notes = "MODEL_CARD.md"\n')
    md = _card(proj, "v1").markdown
    assert "## Intended use\n\nRank customers for a retention call; not for pricing." in md
    assert "## Risks\n\nUnder-serves customers with short tenure." in md
    assert "## Limitations\n\n_Not written: add a `## Limitations` section to MODEL_CARD.md._" in md
    lineage = md.split("## Lineage\n")[1].split("\n## ")[0]
    assert "| data file | hash |" in lineage  # the generated section stays
    assert "The January batch was relabelled by hand." in lineage  # and the note joins it
    assert md.count("## Lineage") == 1 and "## Contact\n\nretention@example.com" in md
    assert "Maintained by the retention team." in md
    proc = cli("card", "v1", "-o", "MODEL_CARD.md", cwd=proj)
    assert proc.returncode == ExitCode.USAGE and "never overwritten" in proc.stderr
    assert (proj / "MODEL_CARD.md").read_text() == NOTES


def test_a_failed_version_gets_a_card_that_says_so(proj: Path) -> None:
    card = _card(proj, "v3")
    data = card.to_json()
    assert data["model_details"]["status"] == "failed"
    assert "1 class" in data["model_details"]["error"]
    assert data["quantitative_analysis"]["performance_metrics"] == []
    assert "**Training failed**" in card.markdown and "No metrics" in card.markdown
    front = yaml.safe_load(card.markdown.split("---\n")[1])
    assert front["metrics"] == [] and front["model-index"][0]["results"] == []


def test_an_unknown_version_is_a_usage_error_and_writes_nothing(proj: Path, cli) -> None:
    proc = cli("card", "v99", "-o", "card.md", cwd=proj)
    assert proc.returncode == ExitCode.USAGE and "v99" in proc.stderr
    assert not (proj / "card.md").exists()


def test_monitoring_results_are_the_records(proj: Path) -> None:
    """Training v2 and v3 first scored the champion v1 on the labelled rows that arrived."""
    with store_of(proj).read() as s:
        chunks = outcomes.chunks(s, 1)
    assert chunks, "the fixture should have monitored v1"
    card = _card(proj, "v1")
    got = card.to_json()["monitoring"]
    assert [c["key"] for c in got] == [c.key for c in chunks]
    assert [c["metrics"] for c in got] == [[m.to_json() for m in c.metrics] for c in chunks]
    assert "No monitoring results recorded." not in card.markdown
    assert "No monitoring results recorded." in _card(proj, "v3").markdown


def test_kept_holdout_scores_are_the_rebuilt_holdout(proj: Path) -> None:
    """Training keeps the holdout's targets and scores (numpy reads them: a card needs no
    LightGBM); they are exactly what rebuilding the holdout from the records and rescoring
    it gives."""
    store = store_of(proj)
    with store.read() as s:
        version = s.version("v2")
    assert "holdout_scores" in store.objects.read_json(version.meta_hash)
    y, pred = intervals.holdout_scores(store, version)
    y2, pred2 = intervals._rebuilt(store, version)
    assert len(y) == len(y2) > 0
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_allclose(pred, pred2, rtol=0, atol=1e-12)
