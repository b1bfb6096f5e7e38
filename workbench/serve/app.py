"""The scoring server's ASGI app: endpoints, the bearer-token guard, metrics, the lifespan.

``POST /predict`` takes one ``Served`` reference (``champion.Follower.current``) at its start
and does everything with it — parse, score, answer, log — so the version it names scored
every row. Scoring is ``model.predict.score_frame`` (``scoring``): the columns ``workbench
predict`` writes, from the same encoder and booster, so the values are the ones predict
writes for those rows. A small JSON body (``BATCHED_BYTES``) is checked on the event loop
and joins the next batch (``batching``: concurrent requests share one frame and one booster
call); a larger body, and every CSV or Parquet one, is scored alone in Starlette's thread
pool, where polars and LightGBM release the GIL and the loop keeps answering.

The guard is a plain ASGI wrapper (cheaper than Starlette's ``BaseHTTPMiddleware``): it times
every request for ``/metrics`` and, with a token, refuses every path but ``/health`` without
``Authorization: Bearer <token>`` (compared in constant time). No request can take the server
down: a refused body is a 4xx JSON error (``bodies.BadBody``), anything unexpected a 500 JSON
error with the traceback on stderr, and the process goes on.

The lifespan loads the champion at start (``/health`` is 503 until one loads), follows the
serving link every ``champion.POLL_SECONDS``, runs the prediction log's flusher thread, and on
shutdown (uvicorn stops accepting, waits for requests in flight, then ends the lifespan) stops
following and flushes the log one last time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from workbench.config import Settings, load
from workbench.errors import WorkbenchError
from workbench.serve.batching import Batcher
from workbench.serve.bodies import BadBody, json_columns, media_type
from workbench.serve.champion import POLL_SECONDS, Follower
from workbench.serve.metrics import Metrics
from workbench.serve.scoring import Scorer
from workbench.store import Store, now_iso
from workbench.store.predictions import PredictionLog

BATCHED_BYTES = 65_536  # JSON bodies up to this size are checked on the loop and batched
TOKEN_ENV = "WORKBENCH_SERVE_TOKEN"
ROOT_ENV = "WORKBENCH_SERVE_ROOT"  # the project of ``from_environment`` (multi-worker mode)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Server:
    """One process's server state: the followed champion, the log buffer, the counters."""

    def __init__(self, settings: Settings, store: Store, *, token: str | None) -> None:
        self.settings = settings
        self.store = store
        self.token = token or None
        self.follower = Follower(store)
        self.metrics = Metrics()
        self.log = PredictionLog(store) if settings.serve.log_predictions else None
        self.id_column = settings.data.id_column
        self.max_body = settings.serve.max_body_bytes
        self._wake = threading.Event()
        self.scorer = Scorer(
            tmp=store.objects.tmp,
            id_column=self.id_column,
            log=self.log,
            metrics=self.metrics,
            flush_due=self._wake.set,
        )
        self.batcher = Batcher(self.scorer.batch)
        self._stop = threading.Event()
        self._background: set[asyncio.Future[Any]] = set()

    def app(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        routes = [
            Route("/predict", self.predict, methods=["POST"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/version", self.version, methods=["GET"]),
            Route("/metrics", self.metrics_text, methods=["GET"]),
        ]
        return _Guard(Starlette(routes=routes, lifespan=self.lifespan), self)

    # ------------------------------------------------------------ endpoints

    async def predict(self, request: Request) -> Response:
        ts = now_iso()
        rid = request.headers.get("x-request-id", "")
        rid = rid if _REQUEST_ID.fullmatch(rid) else uuid.uuid4().hex[:16]
        served = self.follower.current  # the one model this request uses, start to end
        try:
            kind = media_type(request.headers.get("content-type"))
            body = await self._body(request)
            if served is None:
                raise BadBody("no champion is loaded yet", "train one: workbench train", status=503)
            if kind == "json" and len(body) <= BATCHED_BYTES:
                spec = served.model.spec
                columns = json_columns(body, spec, self.id_column)
                rows = len(next(iter(columns.values()), []))
                answer = await self.batcher.submit(served, columns, rows, rid, ts)
            else:
                answer = await run_in_threadpool(self.scorer.body, body, kind, served, rid, ts)
        except BadBody as e:
            return JSONResponse(e.to_json(), e.status, headers={"x-request-id": rid})
        except WorkbenchError as e:  # the encoder's own refusals (a column it cannot read)
            return JSONResponse(_error(e), 400, headers={"x-request-id": rid})
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            failure = {
                "error": f"internal error: {type(e).__name__}: {e}",
                "hint": "a bug: report it",
            }
            return JSONResponse(failure, 500, headers={"x-request-id": rid})
        headers = {"x-request-id": rid, "x-workbench-version": served.version}
        return Response(answer, 200, headers=headers, media_type="application/json")

    async def _body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise self._too_large(int(length))
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large(size)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, size: int) -> BadBody:
        return BadBody(
            f"the body is {size:,} bytes or more; the limit is {self.max_body:,}",
            "send fewer rows per request, or raise [serve] max_body_bytes",
            status=413,
            limit=self.max_body,
        )

    async def health(self, request: Request) -> Response:
        served = self.follower.current
        if served is None:
            why = self.follower.last_error or "no champion has been exported yet"
            return JSONResponse({"status": "starting", "ready": False, "detail": why}, 503)
        return JSONResponse({"status": "ok", "ready": True, "version": served.version})

    async def version(self, request: Request) -> Response:
        served = self.follower.current
        if served is None:
            return JSONResponse({"error": "no champion is loaded yet", "champion": None}, 503)
        return JSONResponse(served.to_json())

    async def metrics_text(self, request: Request) -> Response:
        served = self.follower.current
        log = self.log
        gauges = {
            "workbench_serve_model_swaps_total": (
                "Champion loads (the first included).",
                float(self.follower.swaps),
            ),
        }
        if log is not None:
            gauges |= {
                "workbench_serve_log_pending_rows": (
                    "Scored rows not yet in the log.",
                    log.pending,
                ),
                "workbench_serve_log_written_rows_total": ("Rows written to the log.", log.written),
                "workbench_serve_log_dropped_rows_total": ("Rows the log gave up.", log.dropped),
                "workbench_serve_log_failures_total": ("Log flushes that failed.", log.failures),
            }
        text = self.metrics.render(served.version if served else None, gauges)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    # ------------------------------------------------------------ lifespan

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(_warm)
        await asyncio.to_thread(self._load)
        follow = asyncio.create_task(self._follow())
        flusher = threading.Thread(target=self._flush_loop, name="prediction-log", daemon=True)
        flusher.start()
        try:
            yield
        finally:
            follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follow
            self._stop.set()
            self._wake.set()
            await asyncio.to_thread(flusher.join)

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if self.follower.moved():
                await asyncio.to_thread(self._load)

    def _load(self) -> None:
        if self.follower.poll():
            served = self.follower.current
            assert served is not None
            print(f"serving {served.version} ({served.folder.name})", file=sys.stderr, flush=True)
            done = threading.Thread(target=self.follower.fill_promoted_at, daemon=True)
            done.start()  # the store may be busy: never hold up the next swap for it

    def _flush_loop(self) -> None:
        if self.log is None:
            return
        seconds = self.settings.serve.log_flush_seconds
        while not self._stop.is_set():
            self._wake.wait(seconds)
            self._wake.clear()
            self._flush()
        self._flush()  # shutdown: what the drained requests scored

    def _flush(self) -> None:
        assert self.log is not None
        failures = self.log.failures
        self.log.flush(now_iso())
        if self.log.failures > failures:
            print(f"prediction log: {self.log.last_error} (kept, retried)", file=sys.stderr)


def _warm() -> None:
    """Import what loading and scoring need before the first champion exists: that import
    (seconds on a busy machine) would otherwise delay the first promotion past its second."""
    import lightgbm  # noqa: F401
    import polars  # noqa: F401


def _error(e: WorkbenchError) -> dict[str, Any]:
    return {"error": e.message, **({"hint": e.hint} if e.hint else {})}


class _Guard:
    """Times every request and checks the bearer token (all paths but ``/health``)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], server: Server):
        self.inner = app
        self.server = server
        token = server.token
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        path = scope["path"]
        try:
            if self.expected is not None and path != "/health" and not self._authorized(scope):
                refusal = JSONResponse(
                    {
                        "error": "missing or wrong bearer token",
                        "hint": "send the header Authorization: Bearer <token>",
                    },
                    401,
                    headers={"www-authenticate": "Bearer"},
                )
                await refusal(scope, receive, timed)
            else:
                await self.inner(scope, receive, timed)
        finally:
            self.server.metrics.observe(path, status, time.perf_counter() - start)

    def _authorized(self, scope: Scope) -> bool:
        assert self.expected is not None
        for name, value in scope["headers"]:
            if name == b"authorization":
                return hmac.compare_digest(value, self.expected)
        return False


def create(settings: Settings, *, token: str | None) -> Callable[..., Awaitable[None]]:
    """The ASGI app serving the project of ``settings``."""
    return Server(settings, Store(settings.store_dir), token=token).app()


def from_environment() -> Callable[..., Awaitable[None]]:
    """The app of one worker in ``--workers N`` mode (uvicorn imports it by name in each
    worker process): the project and the token come from the environment. A worker only
    scores: LightGBM comes without scikit-learn and pandas (``model.lean``)."""
    from workbench.model.lean import lean_lightgbm

    lean_lightgbm()
    return create(load(_root()), token=os.environ.get(TOKEN_ENV))


def _root() -> Any:
    from pathlib import Path

    return Path(os.environ[ROOT_ENV])
