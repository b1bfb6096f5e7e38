"""CSV files as they come in the wild, through the real CLI: types from the whole file, missing
values written as text, and one column-kind classifier for the profile, validation and features.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import configure, cut_sample, store_of
from workbench.errors import ExitCode


@pytest.fixture
def small(project: Path) -> Path:
    cut_sample(project, 3000)
    configure(project)
    return project


def latest_profile(root: Path) -> dict:
    with store_of(root).read() as s:
        return s.snapshot(s.latest_snapshot_id()).profile


def kinds_of(profile: dict) -> dict[str, str]:
    return {c["name"]: c["kind"] for c in profile["columns"]}


def serving_spec(root: Path) -> dict:
    return json.loads((root / ".workbench" / "serving" / "model.json").read_text())["spec"]


# ------------------------------------------------------------------ one column-kind classifier


def test_a_boolean_column_has_one_kind_in_the_profile_validation_and_the_model(small, cli) -> None:
    """has_partner as true/false is Boolean: "boolean" in the profile and the model's spec; a
    batch where it turned into text is a kind change validation fails (it was "text" for
    validation before, so boolean -> text passed with a warning and scored as all-missing)."""
    data = small / "data" / "batch_000.csv"
    frame = pl.read_csv(data).with_columns(pl.col("has_partner") == "yes")
    frame.write_csv(data)
    cli("train", cwd=small, check=True)
    assert kinds_of(latest_profile(small))["has_partner"] == "boolean"
    assert serving_spec(small)["kinds"]["has_partner"] == "boolean"

    same = cli("validate", "--json", cwd=small)
    assert same.returncode == 0, same.stdout + same.stderr

    text = frame.head(400).with_columns(
        pl.when(pl.col("has_partner"))
        .then(pl.lit("yes"))
        .otherwise(pl.lit("no"))
        .alias("has_partner")
    )
    text.write_csv(small / "data" / "batch_001.csv")
    proc = cli("validate", "--json", cwd=small)
    assert proc.returncode == ExitCode.DATA, proc.stdout + proc.stderr
    checks = json.loads(proc.stdout)["checks"]
    failed = [c for c in checks if c["status"] == "fail" and c["column"] == "has_partner"]
    assert failed and "kind boolean -> categorical" in failed[0]["message"], checks


# ------------------------------------------------------------------ types from the whole file

CONFIG = """
[data]
path = "data"
target = "y"
id_column = "id"
[model]
task = "binary"
num_boost_round = 30
early_stopping_rounds = 0
params = { learning_rate = 0.1, num_leaves = 15, min_data_in_leaf = 20 }
[train]
split = "random"
seed = 3
[gate]
metric = "auc"
"""


def late_conflicts(rows: int = 12_000, at: int = 11_000, seed: int = 0) -> pl.DataFrame:
    """Integers in ``amount`` for 11,000 rows, then ``2.5``; ``code`` integers, then text."""
    import numpy as np

    rng = np.random.default_rng(seed)
    amount = rng.integers(0, 100, rows)
    noise = rng.normal(0, 1, rows)
    y = (amount + 10 * noise > 50).astype(int)
    return pl.DataFrame(
        {
            "id": np.arange(rows),
            "amount": [str(v) if i != at else "2.5" for i, v in enumerate(amount)],
            "code": [str(i % 7) if i != at else "abc" for i in range(rows)],
            "noise": noise.round(4),
            "y": y,
        }
    )


def project_with(root: Path, frame: pl.DataFrame, config: str = CONFIG) -> Path:
    (root / "data").mkdir(parents=True)
    frame.write_csv(root / "data" / "batch.csv")
    (root / "workbench.toml").write_text(config)
    return root


def test_a_value_past_the_inferred_rows_widens_the_column(tmp_path: Path, cli) -> None:
    """``2.5`` at row 11,000 of an integer column: snapshot, validate, train and predict read
    it as a float column (they refused the file: "could not parse `2.5` as dtype i64"); text
    there makes the column text, never a traceback."""
    frame = late_conflicts()
    root = project_with(tmp_path / "p", frame)
    snap = cli("snapshot", "--json", cwd=root)
    assert snap.returncode == 0, snap.stderr
    columns = {c["name"]: c for c in latest_profile(root)["columns"]}
    assert (columns["amount"]["dtype"], columns["amount"]["kind"]) == ("Float64", "numeric")
    assert columns["amount"]["min"] == 0 and columns["amount"]["nulls"] == 0
    assert (columns["code"]["dtype"], columns["code"]["kind"]) == ("String", "categorical")

    check = cli("validate", "--json", cwd=root)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Traceback" not in check.stderr

    trained = cli("train", "--json", cwd=root)
    assert trained.returncode == 0, trained.stderr
    spec = serving_spec(root)
    assert spec["kinds"]["amount"] == "numeric" and "amount" not in spec["categories"]

    # a batch to score whose first 11,000 rows are integers in every numeric feature
    batch = late_conflicts(seed=1).with_columns(pl.col("noise").round(0).cast(pl.Int64))
    lines = batch.write_csv().splitlines()
    lines[11_001] = lines[11_001].rsplit(",", 2)[0] + ",0.5," + lines[11_001].rsplit(",", 1)[1]
    (root / "in.csv").write_text("\n".join(lines) + "\n")
    scored = cli("predict", "in.csv", "-o", "scored.csv", cwd=root)
    assert scored.returncode == 0, scored.stderr
    out = pl.read_csv(root / "scored.csv", infer_schema_length=None)
    assert out.height == 12_000 and out["prediction"].is_not_null().all()
    assert out["noise"][11_000] == 0.5 and out["amount"][11_000] == 2.5


# ------------------------------------------------------------------ missing values written as text

PANDAS_NA = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]
QUALITY = """
[data]
path = "data"
target = "y"
id_column = "id"
[model]
task = "binary"
num_boost_round = 80
early_stopping_rounds = 0
params = { learning_rate = 0.05, num_leaves = 7, min_data_in_leaf = 10 }
[train]
split = "random"
seed = 11
[gate]
metric = "auc"
"""
PARAMS = {"learning_rate": 0.05, "num_leaves": 7, "min_data_in_leaf": 10}


def breast_cancer_with_na(path: Path, share: float = 0.1) -> list[str]:
    """scikit-learn's breast cancer data as a CSV with ``share`` of the numeric cells written
    as pandas' NA strings (mostly ``NA``); the names of the feature columns."""
    import numpy as np

    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_breast_cancer()
    names = [f"f{i:02d}" for i in range(data.data.shape[1])]
    rng = np.random.default_rng(5)
    tokens = ["NA"] * 6 + ["N/A", "NaN", "null", "None", "#N/A", ""]
    columns: dict[str, list[str]] = {"id": [str(i) for i in range(len(data.target))]}
    for j, name in enumerate(names):
        missing = rng.random(len(data.target)) < share
        columns[name] = [
            str(rng.choice(tokens)) if gone else repr(float(v))
            for v, gone in zip(data.data[:, j], missing, strict=True)
        ]
    columns["y"] = [str(int(v)) for v in data.target]
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(columns).write_csv(path)
    return names


def plain_lightgbm(path: Path, names: list[str], seed: int) -> dict[str, float]:
    """The holdout metrics of LightGBM on the CSV read by polars with pandas' NA strings as
    missing, on the split workbench's random split makes (each row's side from its id's hash
    and the seed: the first 20% of [0, 1) holds out, the next 10% of the rest validates)."""
    import lightgbm as lgb
    import numpy as np
    from sklearn.metrics import log_loss, roc_auc_score

    frame = pl.read_csv(path, null_values=PANDAS_NA, infer_schema_length=None)
    x = frame.select(pl.col(names).cast(pl.Float64)).to_numpy()
    y = frame["y"].to_numpy()
    from workbench.model.split import row_keys, unit

    u = unit(row_keys(frame, "id"), seed)
    hold, train = np.flatnonzero(u < 0.2), np.flatnonzero(u >= 0.2 + 0.8 * 0.1)
    params = {"objective": "binary", "seed": seed, "deterministic": True, "verbosity": -1}
    booster = lgb.train(params | PARAMS, lgb.Dataset(x[train], y[train]), num_boost_round=80)
    p = booster.predict(x[hold])
    return {"auc": float(roc_auc_score(y[hold], p)), "logloss": float(log_loss(y[hold], p))}


def test_na_written_numbers_train_as_numbers_as_well_as_plain_lightgbm(tmp_path: Path, cli) -> None:
    """10% of the cells written as NA (N/A, NaN, null, ...): the columns stay numeric features
    (they were text, so categoricals with hundreds of levels) and the holdout metrics are
    those of plain LightGBM on the same split with NA read as missing."""
    root = tmp_path / "p"
    names = breast_cancer_with_na(root / "data" / "cancer.csv")
    (root / "workbench.toml").write_text(QUALITY)
    trained = cli("train", "--json", cwd=root)
    assert trained.returncode == 0, trained.stderr
    meta = json.loads((root / ".workbench" / "serving" / "model.json").read_text())
    assert all(meta["spec"]["kinds"][name] == "numeric" for name in names)
    assert meta["spec"]["categories"] == {}
    assert all(kinds_of(latest_profile(root))[name] == "numeric" for name in names)

    plain = plain_lightgbm(root / "data" / "cancer.csv", names, seed=11)
    ours = meta["metrics"]
    assert abs(ours["auc"] - plain["auc"]) <= 0.005, (ours, plain)
    assert abs(ours["logloss"] - plain["logloss"]) <= 0.01, (ours, plain)


def test_numbers_but_for_a_few_strings_warn_and_null_values_reads_them_as_missing(
    tmp_path: Path, cli
) -> None:
    """``?`` and ``missing`` in a numeric column: init and validate warn naming the column, the
    strings and ``[data] null_values``; listing them there makes the column numeric (the
    per-file profile is keyed by the null values, so the same bytes are profiled again)."""
    frame = (
        late_conflicts(rows=2000)
        .drop("code")
        .with_columns(
            pl.when(pl.int_range(pl.len()) % 50 == 0)
            .then(pl.lit("?"))
            .when(pl.int_range(pl.len()) % 77 == 0)
            .then(pl.lit("missing"))
            .otherwise(pl.col("noise").cast(pl.String))
            .alias("noise")
        )
    )
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    frame.write_csv(root / "data" / "batch.csv")
    init = cli("init", ".", "--target", "y", cwd=root)
    assert init.returncode == 0, init.stderr
    assert '\'noise\' is numeric but for "?", "missing"' in init.stderr
    assert "[data] null_values" in init.stderr

    proc = cli("validate", "--json", cwd=root)
    warned = [c for c in json.loads(proc.stdout)["checks"] if c["name"] == "null_values"]
    assert [(c["status"], c["file"], c["column"]) for c in warned] == [
        ("warn", "data/batch.csv", "noise")
    ]
    assert '"?", "missing"' in warned[0]["message"]
    cli("snapshot", cwd=root, check=True)
    assert kinds_of(latest_profile(root))["noise"] == "categorical"

    config = (root / "workbench.toml").read_text()
    config = config.replace("[data]\n", '[data]\nnull_values = ["", "NA", "?", "missing"]\n', 1)
    (root / "workbench.toml").write_text(config)
    cli("snapshot", cwd=root, check=True)
    assert kinds_of(latest_profile(root))["noise"] == "numeric"
    again = cli("validate", "--json", cwd=root)
    listed = [c for c in json.loads(again.stdout)["checks"] if c["name"] == "null_values"]
    assert [c["status"] for c in listed] == ["pass"]


def test_an_over_long_category_value_is_capped_in_the_export(small, cli) -> None:
    """A 200,000-character value in a text column: the serving export carries a short
    placeholder (the store keeps the version's full metadata) and every other category keeps
    its code (its position in the list)."""
    from workbench.model.serving import MAX_CATEGORY_CHARS

    data = small / "data" / "batch_000.csv"
    frame = pl.read_csv(data)
    long = "x" * 200_000
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit(long))
        .otherwise(pl.col("region"))
        .alias("region")
    )
    frame.write_csv(data)
    cli("train", cwd=small, check=True)
    path = small / ".workbench" / "serving" / "model.json"
    meta = json.loads(path.read_text())
    assert path.stat().st_size < 100_000
    exported = meta["spec"]["categories"]["region"]
    with store_of(small).read() as s:
        champion = s.champion()
    stored = store_of(small).objects.read_json(champion.meta_hash)["spec"]["categories"]["region"]
    assert long in stored and long not in exported and len(exported) == len(stored)
    assert [v for v in exported if len(v) <= MAX_CATEGORY_CHARS] == exported
    assert [a == b for a, b in zip(exported, stored, strict=True)].count(False) == 1
    assert meta["capped_categories"] == {"region": 1}
    assert "200,000 characters" in next(v for v in exported if v not in stored)
