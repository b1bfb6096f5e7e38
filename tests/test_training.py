"""Training, the gate, the registry, rollback, serving and predict — real LightGBM, small data."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from scipy import stats

from tests.conftest import write_csv
from tests.helpers import configure, cut_sample, store_of, train
from workbench import config
from workbench.errors import ConflictError, DataError, ExitCode, UsageError
from workbench.model import metrics, serving
from workbench.model.predict import predict_file
from workbench.model.rollback import rollback
from workbench.pipeline import train as trainer
from workbench.store import Store


@pytest.fixture
def small(project: Path) -> Path:
    """The sample project cut to 4000 rows, 40 rounds: seconds per training."""
    configure(cut_sample(project, 4000))
    return project


def model_bytes(root: Path, version: str) -> bytes:
    store = store_of(root)
    with store.read() as s:
        v = s.version(version)
    assert v.model_hash
    return store.objects.read(v.model_hash)


# ------------------------------------------------------------------ tasks end to end


def test_binary_end_to_end_first_model_is_champion(small: Path) -> None:
    out = train(small)
    v = out.version
    assert v is not None and v.name == "v1" and v.status == "champion"
    assert set(v.metrics) == {"auc", "logloss", "accuracy", "f1", "precision", "recall"}
    assert 0.7 < v.metrics["auc"] < 0.95
    assert v.gate and v.gate["decision"] == "promoted" and "first model" in v.gate["reason"]
    assert set(v.timings) == {"snapshot", "validate", "load", "prepare", "train", "evaluate"}
    assert all(seconds >= 0 for seconds in v.timings.values())
    meta = json.loads((small / ".workbench" / "serving" / "model.json").read_text())
    assert meta["version"] == "v1"
    assert meta["spec"]["categories"]["contract"] == ["month-to-month", "one-year", "two-year"]
    assert "customer_id" not in meta["spec"]["features"]
    assert "event_time" not in meta["spec"]["features"]
    assert list(meta["importance"].values()) == sorted(meta["importance"].values(), reverse=True)
    assert meta["learning_curve"]["valid"]["binary_logloss"]
    assert meta["libraries"]["lightgbm"] == lgb.__version__
    with store_of(small).read() as s:
        (change,) = s.champion_history()
    assert change.kind == "gate" and change.number == 1 and change.actor


def _synthetic(root: Path, task: str, rng_seed: int = 0, n: int = 3000) -> None:
    rng = np.random.default_rng(rng_seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    shift = np.select([color == "red", color == "green"], [1.0, -1.0], 0.0)
    if task == "multiclass":
        score = x1 + shift + rng.normal(scale=0.3, size=n)
        y = np.digitize(score, [-0.7, 0.7])  # three classes
        target = np.array(["low", "mid", "high"])[y]
    else:
        target = 3 * x1 - 2 * x2 + shift + rng.normal(scale=0.1, size=n)
    times = pl.datetime_range(
        pl.datetime(2025, 1, 1),
        pl.datetime(2025, 1, 1) + pl.duration(minutes=n - 1),
        "1m",
        eager=True,
    )
    frame = pl.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "event_time": times,
            "x1": x1,
            "x2": x2,
            "color": color,
            "y": target,
        }
    )
    (root / "data").mkdir(exist_ok=True)
    frame.write_csv(root / "data" / "batch_000.csv")


def test_multiclass_end_to_end(tmp_path: Path) -> None:
    _synthetic(tmp_path, "multiclass")
    configure(tmp_path, target="y", task="multiclass", metric="multi_logloss")
    v = train(tmp_path).version
    assert v is not None and v.status == "champion"
    assert set(v.metrics) == {"multi_logloss", "accuracy", "macro_f1"}
    assert v.metrics["accuracy"] > 0.7
    src = tmp_path / "data" / "batch_000.csv"
    predict_file(store_of(tmp_path), src, tmp_path / "out.csv")
    out = pl.read_csv(tmp_path / "out.csv")
    probs = out.select("proba_high", "proba_low", "proba_mid").to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert set(out["prediction_label"].unique()) <= {"low", "mid", "high"}
    assert (out["prediction_label"] == out["y"]).mean() > 0.7


def test_regression_end_to_end(tmp_path: Path) -> None:
    _synthetic(tmp_path, "regression")
    configure(tmp_path, target="y", task="regression", metric="rmse", rounds=100)
    v = train(tmp_path).version
    assert v is not None
    assert set(v.metrics) == {"rmse", "mae", "r2"}
    assert v.metrics["r2"] > 0.9


# ------------------------------------------------------------------ determinism and quality


def test_same_snapshot_config_seed_give_identical_model_and_predictions(small: Path) -> None:
    train(small)
    train(small, force=True)
    assert model_bytes(small, "v1") == model_bytes(small, "v2")
    store = store_of(small)
    src = small / "data" / "batch_000.csv"
    predict_file(store, src, small / "a.csv", ref="v1")
    predict_file(store, src, small / "b.csv", ref="v2")
    assert (small / "a.csv").read_bytes() == (small / "b.csv").read_bytes()


def test_already_trained_inputs_are_not_retrained(small: Path, cli) -> None:
    train(small)
    again = train(small)
    assert again.trained is False and again.previous and again.previous.name == "v1"
    proc = cli("train", "--json", cwd=small, check=True)
    assert json.loads(proc.stdout)["trained"] is False
    with store_of(small).read() as s:
        assert s.version_count() == 1


def test_metric_matches_a_plain_lightgbm_script_on_the_same_split(small: Path) -> None:
    v = train(small).version
    assert v is not None
    meta = json.loads((small / ".workbench" / "serving" / "model.json").read_text())
    # the split, rebuilt independently: newest 20% by event_time is the holdout, the newest
    # 10% of the rest is early-stopping validation
    frame = pl.read_csv(small / "data" / "batch_000.csv", try_parse_dates=True)
    frame = frame.sort("event_time", maintain_order=True)
    n_hold = int(np.ceil(frame.height * 0.2))
    rest, hold = frame.head(frame.height - n_hold), frame.tail(n_hold)
    n_valid = int(np.ceil(rest.height * 0.1))
    fit, valid = rest.head(rest.height - n_valid), rest.tail(n_valid)
    features = meta["spec"]["features"]
    cats = {c: sorted(fit[c].drop_nulls().unique().to_list()) for c in meta["spec"]["categories"]}

    def matrix(df: pl.DataFrame) -> np.ndarray:
        cols = []
        for f in features:
            if f in cats:
                lookup = {c: i for i, c in enumerate(cats[f])}
                cols.append([lookup.get(x, np.nan) if x is not None else np.nan for x in df[f]])
            else:
                cols.append(df[f].cast(pl.Float64).fill_null(np.nan).to_numpy())
        return np.column_stack(cols).astype(float)

    cat_idx = [i for i, f in enumerate(features) if f in cats]
    dtrain = lgb.Dataset(matrix(fit), fit["churned"].to_numpy(), categorical_feature=cat_idx)
    dvalid = dtrain.create_valid(matrix(valid), valid["churned"].to_numpy())
    booster = lgb.train(
        meta["params"],
        dtrain,
        num_boost_round=40,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(10, verbose=False)],
    )
    pred = booster.predict(matrix(hold), num_iteration=booster.best_iteration)
    y = hold["churned"].to_numpy()
    fpr, tpr = _roc(y, pred)
    assert v.metrics["auc"] == pytest.approx(np.trapezoid(tpr, fpr), abs=1e-9)
    q = np.clip(pred, 1e-15, 1 - 1e-15)
    assert v.metrics["logloss"] == pytest.approx(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def _roc(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    thresholds = np.r_[np.inf, np.unique(score)[::-1]]
    tpr = np.array([(score[y == 1] >= t).mean() for t in thresholds])
    fpr = np.array([(score[y == 0] >= t).mean() for t in thresholds])
    return fpr, tpr


def test_auc_and_ranks_agree_with_scipy() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=500)
    score = np.round(rng.normal(size=500) + y, 1)  # many ties
    assert np.array_equal(metrics.average_ranks(score), stats.rankdata(score))
    u = stats.mannwhitneyu(score[y == 1], score[y == 0]).statistic
    assert metrics.auc(y, score) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()))
    fpr, tpr = _roc(y, score)
    assert metrics.auc(y, score) == pytest.approx(np.trapezoid(tpr, fpr))


def test_classification_metrics_equal_scikit_learns() -> None:
    """Including macro F1 when a class is neither true nor predicted in the rows (averaged
    over the classes present, as scikit-learn does) and one only predicted (F1 0)."""
    from sklearn import metrics as sk

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=400)
    p = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0.01, 0.99)
    m = metrics.compute("binary", y, p)
    label = (p >= 0.5).astype(int)
    assert m["auc"] == pytest.approx(sk.roc_auc_score(y, p))
    assert m["logloss"] == pytest.approx(sk.log_loss(y, p))
    for name, fn in (
        ("accuracy", sk.accuracy_score),
        ("f1", sk.f1_score),
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
    ):
        assert m[name] == pytest.approx(fn(y, label)), name
    y4 = rng.integers(0, 3, size=300)  # class 3 of 4 never true; class 2 never predicted
    proba = rng.dirichlet(np.ones(4), size=300)
    proba[:, 3] = 0.0
    proba[y4 == 0, 2] = 0.0
    proba[:, 2] *= 0.1
    proba /= proba.sum(axis=1, keepdims=True)
    m = metrics.compute("multiclass", y4, proba)
    pred = proba.argmax(axis=1)
    assert 3 not in set(y4) | set(pred)
    assert m["macro_f1"] == pytest.approx(sk.f1_score(y4, pred, average="macro"))
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y4, pred))
    assert m["multi_logloss"] == pytest.approx(sk.log_loss(y4, proba, labels=[0, 1, 2, 3]))


def test_regression_metrics_against_numpy() -> None:
    rng = np.random.default_rng(4)
    y, p = rng.normal(size=200), rng.normal(size=200)
    m = metrics.compute("regression", y, p)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((p - y) ** 2)))
    assert m["mae"] == pytest.approx(np.mean(np.abs(p - y)))
    assert m["r2"] == pytest.approx(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))


# ------------------------------------------------------------------ the gate


def test_gate_rejects_a_worse_candidate_and_promotes_a_better_one(small: Path) -> None:
    configure(small, rounds=2)
    weak = train(small).version
    assert weak is not None and weak.status == "champion"
    configure(small, rounds=60)
    strong = train(small).version
    assert strong is not None and strong.status == "champion"
    assert strong.gate and strong.gate["champion_version"] == "v1"
    assert strong.gate["candidate"] > strong.gate["champion"]
    assert "auc" in strong.gate["reason"] and ">" in strong.gate["reason"]
    configure(small, rounds=3)
    worse = train(small).version
    assert worse is not None and worse.status == "rejected"
    assert worse.gate and worse.gate["decision"] == "rejected"
    with store_of(small).read() as s:
        assert s.champion_number() == 2
        assert s.version("v1").status == "retired"
    assert serving.served_version(store_of(small)) == "v2"


def test_gate_tie_keeps_champion_and_negative_min_delta_tolerates(small: Path) -> None:
    train(small)
    tie = train(small, force=True).version
    assert tie is not None and tie.status == "rejected" and "<=" in tie.gate["reason"]
    configure(small, min_delta=-0.01)
    tolerated = train(small, force=True).version
    assert tolerated is not None and tolerated.status == "champion"


def test_gate_loss_metric_direction(small: Path) -> None:
    configure(small, rounds=2, metric="logloss")
    train(small)
    configure(small, rounds=60, metric="logloss")
    better = train(small).version
    assert better is not None and better.status == "champion"
    assert better.gate["candidate"] < better.gate["champion"]


def test_gate_redecides_when_the_champion_changes_meanwhile(small: Path, monkeypatch) -> None:
    configure(small, rounds=2)
    train(small)
    configure(small, rounds=60)
    train(small)  # v2 champion
    configure(small, rounds=30)
    real = trainer._gate
    calls: list[int | None] = []

    def racing_gate(settings, store, trained, champion):
        result = real(settings, store, trained, champion)
        if not calls:  # another process rolls back while this one decides
            rollback(config.load(small), store_of(small), "v1", reason="race")
        calls.append(result[0])
        return result

    monkeypatch.setattr(trainer, "_gate", racing_gate)
    v = train(small).version
    assert calls == [2, 1]  # decided against v2, then again against the new champion v1
    assert v is not None and v.gate["champion_version"] == "v1"


# ------------------------------------------------------------------ failures


def test_training_failure_is_a_failed_version_and_the_champion_stays(small: Path, cli) -> None:
    train(small)
    data = small / "data" / "batch_000.csv"
    frame = pl.read_csv(data).sort("event_time")
    # both classes overall (validation passes), but the training part holds only one:
    # every positive is among the newest 15% of rows, inside the time-split holdout
    newest = frame.height - int(frame.height * 0.15)
    keep = pl.int_range(pl.len()) >= newest
    frame.with_columns(pl.when(keep).then(pl.col("churned")).otherwise(0)).write_csv(data)
    proc = cli("train", cwd=small)
    assert proc.returncode == ExitCode.TRAINING, proc.stderr
    assert "has 1 class" in proc.stderr and "v2" in proc.stderr
    with store_of(small).read() as s:
        assert s.champion_number() == 1
        failed = s.version("v2")
        events = [e.kind for e in s.events()]
    assert failed.status == "failed" and "1 class" in (failed.error or "")
    assert "train_failed" in events
    assert serving.served_version(store_of(small)) == "v1"


def test_one_class_target_is_stopped_by_validation(small: Path, cli) -> None:
    train(small)
    data = small / "data" / "batch_000.csv"
    pl.read_csv(data).with_columns(pl.lit(0).alias("churned")).write_csv(data)
    proc = cli("train", cwd=small)
    assert proc.returncode == ExitCode.DATA
    assert "has 1 class(es)" in proc.stderr
    with store_of(small).read() as s:
        assert s.champion_number() == 1 and s.version_count() == 1


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("num_leaves = 15", "num_leaves = -3", "num_leaves"),
        ("learning_rate = 0.1", "learning_rat = 0.1", "did you mean 'learning_rate'?"),
        ("learning_rate = 0.1", "eta = 0.1", None),  # an alias LightGBM knows: fine
        ('task = "binary"', 'task = "multiclass"', "not computed for task 'multiclass'"),
    ],
)
def test_lightgbm_params_and_metrics_are_checked_before_any_version(
    small: Path, cli, old: str, new: str, expected: str | None
) -> None:
    """LightGBM's own parameter names and aliases, and its acceptance of the values; the gate
    metric against the task: a config error (exit 3), no version recorded."""
    train(small)
    cfg = small / "workbench.toml"
    cfg.write_text(cfg.read_text().replace(old, new))
    proc = cli("train", "--force", cwd=small)
    with store_of(small).read() as s:
        versions = s.version_count()
        assert s.champion_number() == 1
    if expected is None:
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode == ExitCode.CONFIG, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert versions == 1


# ------------------------------------------------------------------ rollback


def test_rollback_serves_exactly_the_old_version(small: Path, cli) -> None:
    configure(small, rounds=2)
    train(small)
    configure(small, rounds=60)
    train(small)
    store = store_of(small)
    src = small / "data" / "batch_000.csv"
    predict_file(store, src, small / "v1.csv", ref="v1")
    proc = cli("rollback", "v1", "--reason", "v2 misbehaves on Mondays", cwd=small)
    assert proc.returncode == 0, proc.stderr
    served = small / ".workbench" / "serving" / "model.txt"
    assert served.read_bytes() == model_bytes(small, "v1")
    predict_file(store, src, small / "champion.csv")
    assert (small / "champion.csv").read_bytes() == (small / "v1.csv").read_bytes()
    # a plain LightGBM booster on the served file predicts the same numbers
    plain = lgb.Booster(model_file=str(served))
    out = pl.read_csv(small / "champion.csv")
    meta = json.loads((small / ".workbench" / "serving" / "model.json").read_text())
    assert meta["version"] == "v1"
    with store.read() as s:
        history = s.champion_history()
        assert s.version("v2").status == "retired"
    assert (
        history[0].kind == "rollback" and history[0].reason == "rollback: v2 misbehaves on Mondays"
    )
    assert history[0].previous == 2
    assert plain.num_trees() == lgb.Booster(model_str=model_bytes(small, "v1").decode()).num_trees()
    assert out["prediction"].is_not_null().all()
    status = json.loads(cli("status", "--json", cwd=small, check=True).stdout)
    assert status["champion"] == "v1"


@pytest.mark.parametrize(
    ("ref", "reason", "message"),
    [
        ("v9", "x", "no model version v9"),
        ("v1", "x", "already the champion"),
        ("v1", "  ", "needs a reason"),
        ("banana", "x", "not a model version"),
    ],
)
def test_rollback_refusals_change_nothing(small: Path, ref: str, reason: str, message: str) -> None:
    train(small)
    before = (small / ".workbench" / "serving" / "model.txt").read_bytes()
    with pytest.raises(UsageError, match=message):
        rollback(config.load(small), store_of(small), ref, reason=reason)
    with store_of(small).read() as s:
        assert s.champion_number() == 1 and len(s.champion_history()) == 1
    assert (small / ".workbench" / "serving" / "model.txt").read_bytes() == before


def test_rollback_to_a_failed_version_is_refused(small: Path, cli) -> None:
    train(small)
    cfg = small / "workbench.toml"
    cfg.write_text(
        cfg.read_text().replace(
            'path = "data"', 'path = "data"\nfeatures = ["tenure_months", "nope"]'
        )
    )  # a feature the data does not have
    assert cli("train", cwd=small).returncode == ExitCode.TRAINING
    proc = cli("rollback", "v2", "--reason", "try", cwd=small)
    assert proc.returncode == ExitCode.USAGE and "failed to train" in proc.stderr


def test_rollback_restore_inputs_checks_out_the_training_snapshot(small: Path) -> None:
    train(small)
    data = small / "data" / "batch_000.csv"
    original = data.read_bytes()
    rows = pl.read_csv(data)  # an old row corrected: the newest rows still hold out
    rows.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(99)
        .otherwise(pl.col("tenure_months"))
        .alias("tenure_months")
    ).write_csv(data)
    configure(small, min_delta=-1.0)  # any candidate wins: v2 becomes champion
    assert train(small).version.status == "champion"
    result = rollback(config.load(small), store_of(small), "v1", reason="r", restore_inputs=True)
    assert result.checkout is not None
    assert data.read_bytes() == original
    assert "min_delta = 0.0" in (small / "workbench.toml").read_text()  # config restored too
    with store_of(small).read() as s:
        assert s.champion_number() == 1


def test_rollback_restore_inputs_refuses_unsaved_changes_before_moving(small: Path) -> None:
    train(small)
    configure(small, min_delta=-1.0)
    train(small)
    write_csv(small / "data" / "unsaved.csv", "a\n1\n")
    with pytest.raises(ConflictError):
        rollback(config.load(small), store_of(small), "v1", reason="r", restore_inputs=True)
    with store_of(small).read() as s:
        assert s.champion_number() == 2  # the champion did not move either


# ------------------------------------------------------------------ predict


def test_predict_passes_extra_columns_and_scores_every_row(small: Path, cli) -> None:
    train(small)
    src = small / "data" / "batch_000.csv"
    frame = pl.read_csv(src).with_columns(pl.lit("keep me").alias("note"))
    frame.write_parquet(small / "in.parquet")
    proc = cli("predict", "in.parquet", "-o", "out.parquet", cwd=small)
    assert proc.returncode == 0, proc.stderr
    out = pl.read_parquet(small / "out.parquet")
    assert out.height == frame.height
    assert out.columns == [*frame.columns, "prediction", "prediction_label"]
    assert out.select(frame.columns).equals(frame)
    assert ((out["prediction"] >= 0.5).cast(pl.Int64) == out["prediction_label"]).all()


def test_predict_missing_column_names_it(small: Path, cli) -> None:
    train(small)
    pl.read_csv(small / "data" / "batch_000.csv").drop("contract").write_csv(small / "in.csv")
    proc = cli("predict", "in.csv", "-o", "out.csv", cwd=small)
    assert proc.returncode == ExitCode.DATA
    assert "missing feature column(s) contract" in proc.stderr
    assert not (small / "out.csv").exists()


def test_predict_unseen_category_does_not_crash(small: Path) -> None:
    train(small)
    frame = pl.read_csv(small / "data" / "batch_000.csv").head(50)
    frame = frame.with_columns(pl.lit("islands").alias("region"))
    frame.write_csv(small / "in.csv")
    predict_file(store_of(small), small / "in.csv", small / "out.csv")
    out = pl.read_csv(small / "out.csv")
    assert out.height == 50 and out["prediction"].is_between(0, 1).all()


def test_predict_empty_and_header_only_inputs(small: Path) -> None:
    train(small)
    (small / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        predict_file(store_of(small), small / "empty.csv", small / "out.csv")
    header = (small / "data" / "batch_000.csv").read_text().splitlines()[0]
    (small / "header.csv").write_text(header + "\n")
    result = predict_file(store_of(small), small / "header.csv", small / "out.csv")
    assert result.rows == 0
    assert pl.read_csv(small / "out.csv").columns[-2:] == ["prediction", "prediction_label"]


def test_predict_without_champion(small: Path) -> None:
    with pytest.raises(UsageError, match="no champion"):
        predict_file(store_of(small), small / "data" / "batch_000.csv", small / "o.csv")


def test_history_json_shape(small: Path, cli) -> None:
    train(small)
    train(small, force=True)
    rows = json.loads(cli("history", "--json", cwd=small, check=True).stdout)
    assert [r["version"] for r in rows] == ["v2", "v1"]
    for r in rows:
        assert set(r) >= {
            "version",
            "status",
            "snapshot",
            "git_commit",
            "created_at",
            "metrics",
            "gate",
        }
        assert set(r["gate"]) >= {"decision", "reason"}
    assert [r["status"] for r in rows] == ["rejected", "champion"]
    text = cli("history", cwd=small, check=True).stdout
    assert "* v1" in text


def test_snapshot_validation_and_training_share_one_read_of_each_file(
    small: Path, monkeypatch
) -> None:
    from workbench.data import profile

    profile.clear_caches()
    lines = (small / "data" / "batch_000.csv").read_text().splitlines(keepends=True)
    write_csv(small / "data" / "batch_001.csv", "".join(lines[:2001]))
    reads: list[str] = []
    real = profile._read
    monkeypatch.setattr(
        profile, "_read", lambda path, label, *how: reads.append(label) or real(path, label, *how)
    )
    out = train(small)  # snapshot (profile), validation, training: one process
    assert out.version is not None and out.version.status == "champion"
    assert sorted(reads) == ["data/batch_000.csv", "data/batch_001.csv"]
    with store_of(small).read() as s:
        kinds = [e.kind for e in s.events()]
    # a passed validation is recorded with the version it let through, before it
    assert kinds.index("validated") > kinds.index("trained")  # newest first


def test_time_split_positions_match_an_independent_split(small: Path) -> None:
    import math

    from workbench.model.split import split_indices

    frame = pl.read_csv(small / "data" / "batch_000.csv", try_parse_dates=True)
    n_hold = math.ceil(frame.height * 0.2)
    n_valid = math.ceil((frame.height - n_hold) * 0.1)
    settings = config.load(small)  # split = "time"
    fit, valid, hold = split_indices(frame, settings)
    ordered = frame.with_row_index("_row").sort("event_time", maintain_order=True)
    assert hold.tolist() == sorted(ordered.tail(n_hold)["_row"].to_list())
    assert valid.tolist() == sorted(
        ordered.head(frame.height - n_hold).tail(n_valid)["_row"].to_list()
    )
    assert fit.tolist() == sorted(ordered.head(frame.height - n_hold - n_valid)["_row"].to_list())


def _sides(frame: pl.DataFrame, settings: config.Settings) -> dict[tuple, int]:
    """Each row (as a tuple of its values, nulls dropped) -> its part (0 train, 1 valid, 2 hold)."""
    from workbench.model.split import split_indices

    out: dict[tuple, int] = {}
    for part, rows in enumerate(split_indices(frame, settings)):
        for row in frame[rows].iter_rows(named=True):
            values = ((k, float(v) if isinstance(v, int) else v) for k, v in row.items())
            out[tuple(sorted((k, v) for k, v in values if v is not None))] = part
    return out


def test_a_row_keeps_its_side_of_the_random_split_from_version_to_version(small: Path) -> None:
    """Rows appended, reordered, a column added (null for the old rows), an integer column
    widened to float: every old row stays on its side, and the shares are as configured."""
    import dataclasses

    from workbench.model.split import split_indices

    settings = config.load(small)
    rand = dataclasses.replace(
        settings,
        train=dataclasses.replace(settings.train, split="random"),
        data=dataclasses.replace(settings.data, id_column=None),  # the row's values decide
    )
    rows = pl.read_csv(small / "data" / "batch_000.csv", try_parse_dates=True)
    old, new = rows.head(2000), rows.tail(rows.height - 2000)
    ints = [c for c, t in old.schema.items() if t == pl.Int64 and c != "churned"]
    assert ints, "the sample needs an integer feature for this test"
    grown = pl.concat(
        [old.with_columns(pl.col(ints[0]).cast(pl.Float64)), new], how="vertical_relaxed"
    ).with_columns(promo=pl.when(pl.int_range(pl.len()) >= old.height).then(pl.lit("x")))
    grown = grown.sample(fraction=1.0, shuffle=True, seed=3)
    before, after = _sides(old, rand), _sides(grown, rand)
    assert all(after[row] == side for row, side in before.items())
    parts = [len(p) for p in split_indices(grown, rand)]
    n = grown.height
    assert abs(parts[2] / n - 0.2) < 0.03 and abs(parts[1] / n - 0.08) < 0.03
    other = dataclasses.replace(
        rand, train=dataclasses.replace(rand.train, seed=rand.train.seed + 1)
    )
    reseeded = _sides(old, other)
    moved = sum(reseeded[row] != side for row, side in before.items())
    assert moved > len(before) * 0.2  # the seed does choose the sides


def test_duplicate_rows_and_ids_share_a_side(small: Path) -> None:
    import dataclasses

    from workbench.model.split import split_indices

    settings = config.load(small)
    rand = dataclasses.replace(settings, train=dataclasses.replace(settings.train, split="random"))
    frame = pl.read_csv(small / "data" / "batch_000.csv", try_parse_dates=True).head(200)
    doubled = pl.concat([frame, frame])
    part = np.zeros(doubled.height, dtype=int)
    for p, rows in enumerate(split_indices(doubled, rand)):
        part[rows] = p
    assert (part[:200] == part[200:]).all()
    by_id = dataclasses.replace(rand, data=dataclasses.replace(rand.data, id_column="customer_id"))
    changed = frame.with_columns(pl.col("tenure_months") + 1)  # same ids, other values
    a, b = (np.zeros(200, dtype=int) for _ in range(2))
    for p, rows in enumerate(split_indices(frame, by_id)):
        a[rows] = p
    for p, rows in enumerate(split_indices(changed, by_id)):
        b[rows] = p
    assert (a == b).all()


def test_fit_on_row_positions_equals_fit_on_the_gathered_rows(small: Path) -> None:
    """Training fits the spec from row positions: same categories and classes as the rows."""
    from workbench.model import features

    settings = config.load(small)
    frame = pl.read_csv(small / "data" / "batch_000.csv", try_parse_dates=True)
    frame = frame.with_columns(  # a level that only a row outside the training rows has
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit("held-out-only"))
        .otherwise(pl.col("region"))
        .alias("region")
    )
    rows = np.arange(0, frame.height, 2)
    by_rows = features.fit(frame, settings, rows=rows)
    assert by_rows == features.fit(frame[rows], settings)
    assert "held-out-only" in frame["region"].to_list()
    assert "held-out-only" not in by_rows.categories["region"]
    assert by_rows.categories["region"] == sorted(frame["region"][rows].drop_nulls().unique())
    x = features.encode(frame, by_rows)
    j = by_rows.features.index("region")
    assert np.isnan(x[1, j])  # unseen in training: missing, not a code
    expected = [by_rows.categories["region"].index(v) for v in frame["region"][rows[:50]]]
    assert x[rows[:50], j].tolist() == expected


def test_predict_a_bad_row_past_the_first_batch_fails_cleanly(small: Path, monkeypatch) -> None:
    """An unreadable row in a later batch: a DataError naming the input, no output left."""
    from workbench.model import predict

    train(small)
    lines = (small / "data" / "batch_000.csv").read_text().splitlines()
    body = (lines[1:] * 4)[:12_000]
    body[11_500] += ",1,2,3"  # more fields than the header, far past schema inference
    (small / "in.csv").write_text("\n".join([lines[0], *body]) + "\n")
    monkeypatch.setattr(predict, "BATCH_ROWS", 1000)  # several batches are written first
    with pytest.raises(DataError, match=r"cannot read \S*in.csv: found more fields"):
        predict_file(store_of(small), small / "in.csv", small / "out.parquet")
    assert sorted(p.name for p in small.iterdir() if p.name.startswith((".out", "out"))) == []
    result = predict_file(store_of(small), small / "data" / "batch_000.csv", small / "out.tsv")
    tsv = pl.read_csv(small / "out.tsv", separator="\t")
    assert result.rows == tsv.height == len(lines) - 1
    assert tsv["prediction_label"].dtype == pl.Int64


def test_gate_scores_the_champion_from_the_candidates_matrix_as_from_the_rows(small: Path) -> None:
    """Same encoding: the champion scores the candidate's holdout matrix; the same numbers as
    encoding the holdout rows with the champion's own spec."""
    import dataclasses

    from workbench.data.reader import snapshot_settings
    from workbench.model import gate
    from workbench.model.loading import load_version
    from workbench.model.train import train_snapshot

    configure(small, rounds=3)
    train(small)
    store = store_of(small)
    champion, snap = _champion_and_snapshot(store)
    settings = snapshot_settings(store, snap, small)
    settings = dataclasses.replace(
        settings, model=dataclasses.replace(settings.model, num_boost_round=9)
    )
    trained = train_snapshot(settings, store, snap)
    loaded = load_version(store.objects, champion)
    assert gate.same_encoding(loaded.spec, trained.model.spec)
    known = ~np.isnan(trained.y_holdout)
    rows = trained.holdout.filter(pl.Series(known))
    assert len(trained.x_holdout) == rows.height
    for metric in ("auc", "logloss"):
        by_rows = metrics.compute("binary", trained.y_holdout[known], loaded.predict(rows))[metric]
        assert gate.shared_scores(trained, loaded, metric).champion == by_rows
    assert gate.shared_scores(trained, loaded, "logloss").champion != trained.metrics["logloss"]
    other = dataclasses.replace(loaded, spec=dataclasses.replace(loaded.spec, categories={}))
    assert not gate.same_encoding(other.spec, trained.model.spec)


# ------------------------------------------------------------------ a fair gate


def _champion_and_snapshot(store: Store) -> tuple:
    """The champion version and the snapshot it trained on."""
    with store.read() as s:
        champion = s.champion()
        assert champion is not None
        return champion, s.snapshot(champion.snapshot_id)


def _random_split(root: Path) -> None:
    text = (root / "workbench.toml").read_text().replace('split = "time"', 'split = "random"')
    (root / "workbench.toml").write_text(text)


def test_no_gate_row_was_in_the_champions_training_or_validation_rows(small: Path) -> None:
    """v1 trains on 2,000 rows, v2 on 4,000 (a random split): the gate scores both only on
    v2's holdout rows, and none of them is among the rows v1 trained or validated on."""
    from workbench.data.reader import load_frame
    from workbench.model.split import split_indices

    data = small / "data" / "batch_000.csv"
    rows = pl.read_csv(data)
    configure(small, rounds=20)
    _random_split(small)
    rows.head(2000).write_csv(data)
    first = train(small).version
    rows.write_csv(data)
    second = train(small).version
    assert first is not None and second is not None and second.gate is not None
    store = store_of(small)
    with store.read() as s:
        snaps = [s.snapshot(v.snapshot_id) for v in (first, second)]
    settings = config.load(small)
    frames = [load_frame(store, snap).filter(pl.col("churned").is_not_null()) for snap in snaps]
    fit1, valid1, _ = split_indices(frames[0], settings)
    _, _, hold2 = split_indices(frames[1], settings)
    seen = set(frames[0][np.concatenate([fit1, valid1])]["customer_id"].to_list())
    gate_rows = frames[1][hold2]["customer_id"].to_list()
    assert not seen.intersection(gate_rows)
    assert second.gate["rows"] == len(gate_rows) and second.gate["excluded"] == 0
    assert f"{len(gate_rows)} rows" in second.gate["reason"]


def test_a_champion_from_the_old_split_is_scored_only_on_rows_it_did_not_see(small: Path) -> None:
    """A champion whose split record predates the row-hash rule (a seeded permutation of its
    own rows) loses exactly the gate rows it trained or validated on, found by replaying it."""
    import dataclasses
    import math

    from workbench.model import gate
    from workbench.model.loading import load_version
    from workbench.model.train import labelled_rows, train_snapshot

    configure(small, rounds=5)
    _random_split(small)
    train(small)
    store = store_of(small)
    champion, snap = _champion_and_snapshot(store)
    loaded = load_version(store.objects, champion)
    old_split = {"kind": "random", "holdout_fraction": 0.2, "seed": 11, "rows": {}}
    legacy = dataclasses.replace(loaded, meta=loaded.meta | {"split": old_split})
    settings = config.load(small)
    trained = train_snapshot(settings, store, snap)
    frame = labelled_rows(store, champion.snapshot_id, loaded)
    order = np.random.default_rng(11).permutation(frame.height)
    n_hold = math.ceil(frame.height * 0.2)
    seen_ids = set(frame[order[n_hold:]]["customer_id"].to_list())
    expected = sum(i in seen_ids for i in trained.holdout["customer_id"].to_list())
    shared = gate.shared_scores(trained, legacy, "auc", lambda: frame)
    assert 0 < shared.excluded == expected
    assert shared.rows == trained.holdout.height - expected
    fresh = gate.shared_scores(trained, loaded, "auc", lambda: frame)  # today's rule: none seen
    assert fresh.excluded == 0 and fresh.candidate == trained.metrics["auc"]
    from workbench.model.split import row_keys, unit

    reseeded = loaded.meta["split"] | {"seed": 5}  # the row-hash rule, another seed
    other = dataclasses.replace(loaded, meta=loaded.meta | {"split": reseeded})
    u = unit(row_keys(trained.holdout, reseeded["id_column"]), 5)
    shared = gate.shared_scores(trained, other, "auc", lambda: frame)
    assert shared.excluded == int((u >= 0.2).sum()) > 0


def test_rows_without_a_target_are_counted_in_the_output_and_the_version(small: Path, cli) -> None:
    data = small / "data" / "batch_000.csv"
    rows = pl.read_csv(data)
    rows.with_columns(
        pl.when(pl.int_range(pl.len()) % 10 == 3)
        .then(None)
        .otherwise(pl.col("churned"))
        .alias("churned")
    ).write_csv(data)
    proc = cli("train", "--json", cwd=small)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["rows_without_target"] == 400 and out["version"]["rows"] == 3600
    meta = json.loads((small / ".workbench" / "serving" / "model.json").read_text())
    assert meta["split"]["rows"]["no_target"] == 400
    text = cli("train", "--force", cwd=small)
    assert "3,600 rows; 400 rows without a target left out" in text.stdout


def test_small_data_trains_on_one_thread_unless_the_config_says(small: Path) -> None:
    from workbench.model import features
    from workbench.model.train import ONE_THREAD_CELLS, lgb_params

    v = train(small).version
    assert v is not None
    meta = json.loads((small / ".workbench" / "serving" / "model.json").read_text())
    assert meta["params"]["num_threads"] == 1  # 4,000 rows: one thread
    settings = config.load(small)
    spec = features.FeatureSpec.from_json(meta["spec"])
    assert lgb_params(settings, spec, cells=ONE_THREAD_CELLS + 1)["num_threads"] == 0
    cfg = small / "workbench.toml"
    cfg.write_text(
        cfg.read_text().replace("min_data_in_leaf = 20 }", "min_data_in_leaf = 20, nthread = 2 }")
    )
    mine = lgb_params(config.load(small), spec, cells=10)
    assert mine["nthread"] == 2 and "num_threads" not in mine
