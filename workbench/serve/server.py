"""``workbench serve``: run the app under uvicorn, one process or ``--workers N``.

One worker (the default) runs the app object in this process. ``--workers N`` uses uvicorn's
own multi-process mode: a supervisor that binds the socket once and starts N worker
processes, each importing ``app.from_environment`` (the project root and the token pass in
the environment, never on a command line other users can read), each following the champion
and buffering its own prediction log (every batch is its own object, so workers never write
the same file), each counting its own ``/metrics``. SIGTERM (or Ctrl-C) stops accepting,
lets the requests in flight finish, flushes the log and exits 0 (``_stopped``) — uvicorn's
graceful shutdown, with no time limit on the drain (a service manager's ``TimeoutStopSec``
bounds it).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import sys

from workbench.config import Settings
from workbench.errors import UsageError
from workbench.serve.app import ROOT_ENV, TOKEN_ENV, create


def serve(settings: Settings, *, host: str, port: int, workers: int, token: str | None) -> None:
    import uvicorn

    from workbench.model.lean import lean_lightgbm

    lean_lightgbm()  # a server only scores: LightGBM without scikit-learn and pandas

    if workers < 1:
        raise UsageError(f"--workers {workers} must be at least 1", "use --workers 1 or more")
    if not _loopback(host) and not token:
        print(
            f"warning: serving on {host} without a token: anyone who can reach this port can"
            f" score (set --token or {TOKEN_ENV})",
            file=sys.stderr,
        )
    options = {
        "host": host,
        "port": port,
        "access_log": settings.serve.access_log,
        "log_level": "info",
        "lifespan": "on",
        "server_header": False,
        "timeout_graceful_shutdown": None,
    }
    # uvicorn drains, then re-raises the SIGTERM it caught, to the handler found at start:
    # this one makes that a clean exit 0, as `workbench watch` gives (not death by signal)
    signal.signal(signal.SIGTERM, _stopped)
    guarded = " (bearer token required)" if token else ""
    print(f"workbench serve: http://{host}:{port}{guarded}", file=sys.stderr, flush=True)
    if workers == 1:
        uvicorn.run(create(settings, token=token), **options)  # type: ignore[arg-type]
        return
    os.environ[ROOT_ENV] = str(settings.root)
    if token:
        os.environ[TOKEN_ENV] = token
    uvicorn.run(
        "workbench.serve.app:from_environment",
        factory=True,
        workers=workers,
        **options,  # type: ignore[arg-type]
    )


def _stopped(_sig: int, _frame: object) -> None:
    raise SystemExit(0)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
