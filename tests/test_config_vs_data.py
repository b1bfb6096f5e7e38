"""A config the data cannot satisfy is the config's error (exit 3): named key, a close match,
no version recorded, the champion as it was, and a watcher that lives on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import configure, cut_sample, store_of, train
from workbench import watch as watch_mod
from workbench.errors import ExitCode


@pytest.fixture
def small(project: Path) -> Path:
    configure(cut_sample(project, 1500), rounds=5)
    return project


@pytest.mark.parametrize(
    ("old", "new", "key", "close"),
    [
        (
            'time_column = "event_time"',
            'time_column = "event_tme"',
            "data.time_column",
            "event_time",
        ),
        ('id_column = "customer_id"', 'id_column = "cust"', "data.id_column", None),
    ],
)
def test_a_config_naming_a_missing_column_is_a_config_error(
    small: Path, cli, old: str, new: str, key: str, close: str | None
) -> None:
    train(small)
    cfg = small / "workbench.toml"
    cfg.write_text(cfg.read_text().replace(old, new))
    proc = cli("train", cwd=small)
    assert proc.returncode == ExitCode.CONFIG, proc.stderr
    assert key in proc.stderr and "Traceback" not in proc.stderr
    if close:
        assert f"did you mean {close!r}" in proc.stderr
    history = json.loads(cli("history", "--json", cwd=small, check=True).stdout)
    assert [v["version"] for v in history] == ["v1"]  # no failed version, v1 still champion
    assert history[0]["status"] == "champion"
    # the watcher reports it as a failed cycle at every start, and goes on
    events = list(watch_mod.watch(small, store_of(small), changes=iter([{cfg}])))
    failed = [e for e in events if e.event == "cycle_finished"]
    assert len(failed) == 2 and all(e.data["exit_code"] == ExitCode.CONFIG for e in failed)
