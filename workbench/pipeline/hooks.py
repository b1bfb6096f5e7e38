"""Hooks: user commands run on promote, drift and failure.

Each hook is an argv list run without a shell (no quoting surprises, no injection through
event data), with the event's data in ``WORKBENCH_*`` environment variables, a timeout, and its
exit code and the tail of its output recorded as a ``hook`` event. A hook that fails, hangs,
does not exist or cannot start is recorded as such and never fails the cycle that triggered it.

Each hook runs in its own process group (a new session), and a timeout ends the whole group:
``sh -c "sleep 300 & sleep 300"`` leaves no orphan behind. Event data is bounded
(``MAX_VALUE`` characters a variable): a 200 KB error message must not make the hook
impossible to start (``E2BIG``). The timeout (``WORKBENCH_HOOK_TIMEOUT``, seconds) is read
when a hook runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from workbench.config import Argv, Settings, env_seconds
from workbench.store import Store, now_iso

DEFAULT_TIMEOUT_S = 60.0
KEEP_OUTPUT = 4000
MAX_VALUE = 8192  # characters of one WORKBENCH_* variable; longer values are cut


def timeout_s() -> float:
    return env_seconds("WORKBENCH_HOOK_TIMEOUT", DEFAULT_TIMEOUT_S)


@dataclass(frozen=True)
class HookRun:
    argv: Argv
    returncode: int | None  # None: did not start or timed out
    output: str
    error: str | None


def run_hooks(
    settings: Settings, store: Store, event: str, env: Mapping[str, str]
) -> list[HookRun]:
    """Run every command of ``[hooks] on_<event>``; record each run as an event."""
    commands: tuple[Argv, ...] = getattr(settings.hooks, f"on_{event}")
    runs = [_run(argv, settings, event, env) for argv in commands]
    if runs:
        with store.write("hooks") as s:
            for run in runs:
                ok = run.returncode == 0
                s.add_event(
                    "hook",
                    f"on_{event} hook {run.argv[0]} "
                    + ("succeeded" if ok else f"failed: {run.error or f'exit {run.returncode}'}"),
                    ts=now_iso(),
                    level="info" if ok else "warning",
                    data={
                        "hook": f"on_{event}",
                        "argv": list(run.argv),
                        "returncode": run.returncode,
                        "output": run.output,
                    },
                )
    return runs


def _run(argv: Argv, settings: Settings, event: str, env: Mapping[str, str]) -> HookRun:
    timeout = timeout_s()
    full_env = {
        **os.environ,
        "WORKBENCH_EVENT": event,
        "WORKBENCH_PROJECT": settings.project.name or settings.root.name,
        "WORKBENCH_ROOT": str(settings.root),
        **{f"WORKBENCH_{k.upper()}": _bounded(str(v)) for k, v in env.items()},
    }
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=settings.root,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group: a timeout ends all of it
        )
    except FileNotFoundError:
        return HookRun(argv, None, "", f"command not found: {argv[0]}")
    except PermissionError:
        return HookRun(argv, None, "", f"not executable: {argv[0]}")
    except (OSError, ValueError) as e:  # E2BIG, a NUL byte, ...: a hook event, not a failure
        return HookRun(argv, None, "", f"could not start: {e}")
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        return HookRun(argv, None, (out or "")[-KEEP_OUTPUT:], f"timed out after {timeout:g} s")
    return HookRun(argv, proc.returncode, (out or "")[-KEEP_OUTPUT:], None)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(proc.pid, signal.SIGKILL)


def _bounded(value: str) -> str:
    return value if len(value) <= MAX_VALUE else value[: MAX_VALUE - 1] + "…"
