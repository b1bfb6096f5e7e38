"""Hooks: argv lists without a shell, event data in the environment, a timeout, never fatal."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import configure, cut_sample, store_of, train
from workbench import config
from workbench.errors import ConfigError, TrainingError
from workbench.pipeline import hooks

RECORDER = (
    "import json, os, sys; "
    "env = {k: v for k, v in os.environ.items() if k.startswith('WORKBENCH_')}; "
    "json.dump(env | {'argv': sys.argv[1:]}, open(sys.argv[1], 'w'))"
)


@pytest.fixture
def small(project: Path) -> Path:
    cut_sample(project, 3000)
    return project


def set_hooks(root: Path, **hooks_: list[list[str]]) -> None:
    configure(root)
    lines = ["[hooks]"] + [f"on_{k} = {json.dumps(v)}" for k, v in hooks_.items()]
    with open(root / "workbench.toml", "a") as f:
        f.write("\n".join(lines) + "\n")


def hook_events(root: Path) -> list[dict]:
    with store_of(root).read() as s:
        return [e.data for e in s.events(limit=200) if e.kind == "hook"]


def test_on_promote_gets_event_data_and_no_shell(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "promote.json"
    # `; touch pwned` would run under a shell; as one argv element it is just an argument
    set_hooks(small, promote=[[sys.executable, "-c", RECORDER, str(out), "; touch pwned"]])
    train(small)
    seen = json.loads(out.read_text())
    assert seen["WORKBENCH_EVENT"] == "promote"
    assert seen["WORKBENCH_VERSION"] == "v1"
    assert float(seen["WORKBENCH_SCORE"]) > 0.5
    assert "first model" in seen["WORKBENCH_REASON"]
    assert seen["argv"] == [str(out), "; touch pwned"]
    assert not (small / "pwned").exists()
    (event,) = hook_events(small)
    assert event["returncode"] == 0 and event["hook"] == "on_promote"


def test_failing_missing_and_slow_hooks_do_not_fail_the_cycle(small: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOOK_TIMEOUT", "0.5")  # read when the hook runs
    set_hooks(
        small,
        promote=[
            [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
            ["/no/such/command"],
            [sys.executable, "-c", "import time; time.sleep(5)"],
        ],
    )
    v = train(small).version
    assert v is not None and v.status == "champion"
    events = hook_events(small)
    by_argv = {e["argv"][0] if len(e["argv"]) == 1 else e["argv"][-1]: e for e in events}
    assert len(events) == 3
    assert any(e["returncode"] == 3 and "boom" in e["output"] for e in events)
    assert by_argv["/no/such/command"]["returncode"] is None
    assert sum(e["returncode"] is None for e in events) == 2  # missing + timed out


def test_on_failure_runs_when_training_fails(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "failure.json"
    set_hooks(small, failure=[[sys.executable, "-c", RECORDER, str(out)]])
    cfg = small / "workbench.toml"
    cfg.write_text(
        cfg.read_text().replace(
            'path = "data"', 'path = "data"\nfeatures = ["tenure_months", "nope"]'
        )
    )
    with pytest.raises(TrainingError):
        train(small)
    seen = json.loads(out.read_text())
    assert seen["WORKBENCH_EVENT"] == "failure"
    assert seen["WORKBENCH_STAGE"] == "train"
    assert "nope" in seen["WORKBENCH_ERROR"]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its parent has not reaped it


def test_a_timed_out_hook_ends_its_whole_process_group(
    small: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("WORKBENCH_HOOK_TIMEOUT", "0.5")
    pids = tmp_path / "pids"
    set_hooks(small, promote=[["sh", "-c", f"sleep 30 & echo $! > {pids}; sleep 30"]])
    v = train(small).version
    assert v is not None and v.status == "champion"
    (event,) = hook_events(small)
    assert event["returncode"] is None
    background = int(pids.read_text())
    deadline = time.monotonic() + 5
    while _alive(background) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(background), "the hook's background child outlived its timeout"


def test_huge_event_data_is_bounded_and_the_hook_still_runs(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "failure.json"
    set_hooks(small, failure=[[sys.executable, "-c", RECORDER, str(out)]])
    settings = config.load(small)
    store = store_of(small)
    (run,) = hooks.run_hooks(settings, store, "failure", {"error": "x" * 200_000})
    assert run.returncode == 0, run.error
    seen = json.loads(out.read_text())
    assert len(seen["WORKBENCH_ERROR"]) == hooks.MAX_VALUE


def test_a_bad_hook_timeout_in_the_environment_is_a_clear_config_error(
    small: Path, monkeypatch
) -> None:
    set_hooks(small, promote=[[sys.executable, "-c", "pass"]])
    monkeypatch.setenv("WORKBENCH_HOOK_TIMEOUT", "abc")
    with pytest.raises(ConfigError, match="WORKBENCH_HOOK_TIMEOUT='abc'"):
        hooks.timeout_s()


def test_a_bad_lock_timeout_is_a_clear_error_from_the_cli(project: Path, cli) -> None:
    proc = cli("status", cwd=project, env={"WORKBENCH_LOCK_TIMEOUT": "abc"})
    assert proc.returncode == 3, proc.stderr
    assert "WORKBENCH_LOCK_TIMEOUT='abc'" in proc.stderr and "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
