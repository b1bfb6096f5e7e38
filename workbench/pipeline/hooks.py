"""Hooks: user commands run on promote, drift and failure.

Each hook is an argv list run without a shell (no quoting surprises, no injection through
event data), with the event's data in ``WORKBENCH_*`` environment variables, a timeout, and its
exit code and the tail of its output recorded as a ``hook`` event. A hook that fails, hangs or
does not exist is recorded as such and never fails the cycle that triggered it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from workbench.config import Argv, Settings
from workbench.store import Store, now_iso

TIMEOUT_S = float(os.environ.get("WORKBENCH_HOOK_TIMEOUT", "60"))
KEEP_OUTPUT = 4000


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
    full_env = {
        **os.environ,
        "WORKBENCH_EVENT": event,
        "WORKBENCH_PROJECT": settings.project.name or settings.root.name,
        "WORKBENCH_ROOT": str(settings.root),
        **{f"WORKBENCH_{k.upper()}": str(v) for k, v in env.items()},
    }
    try:
        proc = subprocess.run(
            list(argv),
            cwd=settings.root,
            env=full_env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        return HookRun(argv, None, "", f"command not found: {argv[0]}")
    except PermissionError:
        return HookRun(argv, None, "", f"not executable: {argv[0]}")
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else ""
        return HookRun(argv, None, out[-KEEP_OUTPUT:], f"timed out after {TIMEOUT_S:.0f} s")
    return HookRun(argv, proc.returncode, (proc.stdout + proc.stderr)[-KEEP_OUTPUT:], None)
