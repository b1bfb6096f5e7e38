"""``workbench serve``: a scoring server that follows the champion (a front end, beside
``watch``; it imports the pipeline's layers and below, never the UI, the CLI or duckdb).

Why uvicorn and starlette. An ASGI server with one event loop answers many keep-alive clients
from one process, and its graceful shutdown (stop accepting, finish what is in flight, then
end the app's lifespan) is the SIGTERM drain the issue asks for, already written and widely
run. uvicorn is the reference ASGI server (with httptools and uvloop it parses HTTP in C),
its supervisor gives ``--workers N`` without our own process management, and it is what
``mlflow models serve`` itself runs, so the comparison in ``tests/bench/bench_serve.py`` is
of the scoring, not of the HTTP stack. Starlette is the small routing/request layer under
FastAPI, without FastAPI's pydantic validation (rows are typed by the model's own feature
spec here, and a second schema layer would only cost time per request); it has no
dependencies of its own beyond anyio. Flask/gunicorn would be synchronous (one thread per
waiting client, no cheap batching of concurrent requests); aiohttp would bring its own
server and HTTP stack to maintain beside the one everyone deploys.

Modules: ``server`` (uvicorn, workers, signals), ``app`` (endpoints, token guard, lifespan),
``champion`` (follows ``.workbench/serving``), ``bodies`` (JSON/CSV/Parquet -> rows, the 4xx
errors), ``batching`` (concurrent small requests scored together), ``scoring`` (the scores
and the answers, through ``model.predict``), ``metrics`` (Prometheus text). What is scored
goes to the prediction log (``store.predictions``).
"""
