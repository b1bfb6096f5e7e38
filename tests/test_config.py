"""Config: defaults, strict validation with file/line/key and close matches, discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import config
from workbench.errors import ConfigError, ProjectNotFoundError

GOOD = b"""
[project]
name = "churn"
[data]
path = "data"
target = "churned"
time_column = "event_time"
[model]
params = { learning_rate = 0.1, num_leaves = 15 }
[train]
split = "time"
[hooks]
on_promote = ["notify", "--ok"]
on_failure = [["a", "1"], ["b"]]
[drift.features.monthly_charges]
method = "psi"
threshold = 0.2
"""


def parse(text: bytes, root: Path) -> config.Settings:
    return config.parse(text, root / "workbench.toml", root)


def test_good_config_round_trips(tmp_path: Path) -> None:
    s = parse(GOOD, tmp_path)
    assert s.project.name == "churn"
    assert s.data.target == "churned"
    assert s.model.params == {"learning_rate": 0.1, "num_leaves": 15}
    assert s.train.split == "time"
    assert s.hooks.on_promote == (("notify", "--ok"),)
    assert s.hooks.on_failure == (("a", "1"), ("b",))
    assert s.drift.features["monthly_charges"].method == "psi"
    assert s.drift.features["monthly_charges"].threshold == 0.2
    # untouched keys keep their documented defaults
    assert s.model.num_boost_round == 300
    assert s.gate.metric == "auc"
    assert s.watch.debounce_ms == 1000


def test_empty_config_gives_defaults(tmp_path: Path) -> None:
    s = parse(b"", tmp_path)
    assert s == config.Settings()
    assert s.data.path == "data"


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = parse(GOOD, tmp_path)
    with pytest.raises(AttributeError):
        s.data.target = "x"  # type: ignore[misc]


def test_every_key_is_documented() -> None:
    docs = config.field_docs()
    assert len(docs) >= 25
    assert all(doc for _, _, doc in docs), [k for k, _, d in docs if not d]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"[modle]\ntask = 'binary'\n", ["workbench.toml:1", "unknown section [modle]", "[model]"]),
        (b"[model]\ntaks = 'binary'\n", ["workbench.toml:2", "unknown key 'taks'", "'task'"]),
        (b"[data]\n\n\ntargte = 'y'\n", ["workbench.toml:4", "'targte'", "'target'"]),
        (b"[model]\nnum_boost_round = 'many'\n", ["num_boost_round must be an integer"]),
        (b"[model]\nnum_boost_round = 1.5\n", ["num_boost_round must be an integer"]),
        (b"[train]\nholdout_fraction = 'x'\n", ["holdout_fraction must be a number"]),
        (b"[drift]\nretrain_on_drift = 1\n", ["retrain_on_drift must be true or false"]),
        (b"[data]\nfeatures = 'a'\n", ["features must be a list of strings"]),
        (b"[model]\ntask = 'binar'\n", ["not one of binary | multiclass | regression", "'binary'"]),
        (b"[train]\nsplit = 'time'\n", ["needs data.time_column"]),
        (b"[train]\nholdout_fraction = 1.5\n", ["between 0 and 1"]),
        (b"[gate]\nmetric = 'acu'\n", ["not a known metric", "'auc'"]),
        (b"[hooks]\non_promote = 'curl x'\n", ["argv list", "no shell"]),
        (b'[hooks]\non_promote = ["echo", "a\\u0000b"]\n', ["hooks.on_promote", "NUL byte"]),
        (b"[model]\nparams = { learning_rate = [1] }\n", ["model.params.learning_rate"]),
        (b"[train]\nengine = 'dask'\n", ["needs train.scheduler", "tcp://host:8786"]),
        (
            b"[train]\nengine = 'dask'\nscheduler = 'tcp://host 8786'\n",
            ["workbench.toml:3", "train.scheduler", "'tcp://host 8786'"],
        ),
        (b"model = 3\n", ["[model] must be a table"]),
        (b"[drift.features.x]\nmethdo = 'ks'\n", ["unknown key 'methdo'", "'method'"]),
    ],
)
def test_bad_config_is_refused_with_location_and_hint(
    tmp_path: Path, text: bytes, expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text, tmp_path)
    shown = str(info.value)
    for piece in expected:
        assert piece in shown, shown


def test_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse(b'[data]\ntarget = "y"\npath = data\n', tmp_path)
    assert "workbench.toml" in info.value.message
    assert "line 3" in info.value.message


def test_non_utf8_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        parse(b"[data]\ntarget = '\xff'\n", tmp_path)


@pytest.mark.parametrize("path", ["../outside", "/etc", "data/../../x", "../*.csv"])
def test_paths_escaping_the_project_are_refused(tmp_path: Path, path: str) -> None:
    text = f'[data]\npath = "{path}"\n'.encode()
    with pytest.raises(ConfigError, match="outside the project"):
        parse(text, tmp_path)


def test_symlink_escaping_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    (root / "data").symlink_to(outside)
    with pytest.raises(ConfigError, match="outside the project"):
        parse(b'[data]\npath = "data"\n', root)


def test_globs_inside_the_project_are_fine(tmp_path: Path) -> None:
    s = parse(b'[data]\npath = "data/**/*.parquet"\n', tmp_path)
    assert s.data.path == "data/**/*.parquet"


def test_find_project_walks_up(tmp_path: Path) -> None:
    (tmp_path / "workbench.toml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert config.find_project(deep) == tmp_path.resolve()


def test_pyproject_tool_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.workbench.data]\ntarget = "y"\n[tool.workbench.modle]\n'
    )
    assert config.find_project(tmp_path) == tmp_path.resolve()
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    assert "pyproject.toml:5" in info.value.message
    assert "[model]" in str(info.value.hint)


def test_no_project_found(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError) as info:
        config.find_project(tmp_path)
    assert "workbench init" in str(info.value.hint)
