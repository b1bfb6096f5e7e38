"""`workbench serve`: a real server process on 127.0.0.1, a real project trained with the real
CLI, a real HTTP client (httpx). Answers equal `workbench predict` of the same rows by the
version they name; rollbacks reach the server; bad bodies are refused; SIGTERM drains."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest

from tests.conftest import copy_sample
from tests.helpers import configure, cut_sample, store_of
from workbench.store import predictions

SERVE_CONFIG = "\n[serve]\nmax_body_bytes = 400000\nlog_flush_seconds = 0.2\n"
TOKEN = "s3cret-token"


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=180,
    )
    assert proc.returncode == 0, f"workbench {' '.join(args)} failed:\n{proc.stderr}"
    return proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A `workbench serve` subprocess and a client on it."""

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", "serve", "--port", str(self.port), *args],
            cwd=root,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=60)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.communicate()[0]
            try:
                self.client.get("/health")
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the server did not start")

    def stop(self) -> str:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        return out


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 and v2 trained with the real CLI; v2 (more rounds, other predictions) is champion."""
    root = tmp_path_factory.mktemp("serve") / "proj"
    copy_sample(root)
    configure(cut_sample(root, 2000), rounds=8)
    (root / "workbench.toml").write_text((root / "workbench.toml").read_text() + SERVE_CONFIG)
    cli(root, "train")
    text = (
        (root / "workbench.toml").read_text().replace("num_boost_round = 8", "num_boost_round = 16")
    )
    (root / "workbench.toml").write_text(text.replace("min_delta = 0.0", "min_delta = -1.0"))
    cli(root, "train")
    assert json.loads(cli(root, "status", "--json"))["champion"] == "v2"
    (root / "scoring").mkdir()
    return root


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Served]:
    served = Served(project)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def rows(project: Path) -> pl.DataFrame:
    """200 rows of the data, one with an unseen category and one with a missing number."""
    frame = pl.read_csv(project / "data" / "batch_000.csv").slice(500, 200)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("lifetime"))
        .otherwise(pl.col("contract"))
        .alias("contract"),
        pl.when(pl.int_range(pl.len()) == 5)
        .then(None)
        .otherwise(pl.col("monthly_charges"))
        .alias("monthly_charges"),
    )
    frame.write_csv(project / "scoring" / "rows.csv")
    return frame


_PREDICTED: dict[str, pl.DataFrame] = {}


def predicted(project: Path, version: str) -> pl.DataFrame:
    """What `workbench predict --version V` writes for ``rows.csv`` (Parquet: exact floats)."""
    if version not in _PREDICTED:
        out = f"scoring/{version}.parquet"
        cli(project, "predict", "scoring/rows.csv", "-o", out, "--version", version)
        _PREDICTED[version] = pl.read_parquet(project / out)
    return _PREDICTED[version]


def assert_equals_predict(project: Path, answer: dict, count: int) -> None:
    expected = predicted(project, answer["version"]).head(count)
    assert answer["rows"] == count
    assert answer["predictions"] == expected["prediction"].to_list()  # exact, not approximate
    assert answer["labels"] == expected["prediction_label"].to_list()
    assert answer["classes"] == [0, 1] and answer["probabilities"] is None


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def test_every_body_format_scores_as_predict_does(project: Path, server: Served, rows) -> None:
    """JSON rows, JSON columns, CSV and Parquet: the values `workbench predict` writes for
    those rows, by the version the answer names — the unseen category and the null too."""
    csv_text = (project / "scoring" / "rows.csv").read_bytes()
    bodies = {
        "rows": (json.dumps({"rows": rows.to_dicts()}), "application/json"),
        "columns": (json.dumps({"columns": rows.to_dict(as_series=False)}), "application/json"),
        "csv": (csv_text, "text/csv"),
        "parquet": (parquet_bytes(rows), "application/vnd.apache.parquet"),
    }
    seen = set()
    for name, (body, kind) in bodies.items():
        r = server.client.post("/predict", content=body, headers={"content-type": kind})
        assert r.status_code == 200, (name, r.text)
        answer = r.json()
        assert r.headers["x-workbench-version"] == answer["version"]
        assert_equals_predict(project, answer, len(rows))
        seen.add(answer["version"])
    one = server.client.post("/predict", json={"rows": rows.head(1).to_dicts()}).json()
    assert_equals_predict(project, one, 1)
    # v1 and v2 differ on these rows: equality above is with the named version, not by luck
    assert (
        predicted(project, "v1")["prediction"].to_list()
        != predicted(project, "v2")["prediction"].to_list()
    )


def test_concurrent_requests_each_get_their_own_rows_scores(project: Path, server, rows):
    """Requests that arrive together are scored as one batch: each answer is still its own
    rows' values, and a bad request among them is refused alone."""
    from concurrent.futures import ThreadPoolExecutor

    def post(i: int) -> httpx.Response:
        one = rows.slice(i, 1).to_dicts()
        if i == 7:
            one[0]["age"] = "old"
        return server.client.post("/predict", json={"rows": one, "n": i})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(post, range(40)))
    assert answers[7].status_code == 400 and answers[7].json()["column"] == "age"
    for i, r in enumerate(answers):
        if i == 7:
            continue
        answer = r.json()
        expected = predicted(project, answer["version"]).slice(i, 1)
        assert answer["predictions"] == expected["prediction"].to_list(), i
        assert answer["labels"] == expected["prediction_label"].to_list()


def test_bad_bodies_are_refused_and_the_server_lives_on(server: Served, rows) -> None:
    good = rows.head(3).to_dicts()
    post = server.client.post

    def refused(status: int, body: bytes | str, kind: str = "application/json") -> dict:
        r = post("/predict", content=body, headers={"content-type": kind})
        assert r.status_code == status, r.text
        return r.json()

    assert "not valid JSON" in refused(400, b"{rows: nope")["error"]
    assert "empty" in refused(400, b"")["error"]
    missing = refused(400, json.dumps({"rows": [{k: v for k, v in good[0].items() if k != "age"}]}))
    assert missing["columns"] == ["age"] and "age" in missing["error"]
    wrong = [dict(good[0]), dict(good[1], tenure_months="twelve"), dict(good[2])]
    bad = refused(400, json.dumps({"rows": wrong}))
    assert (bad["row"], bad["column"], bad["type"]) == (1, "tenure_months", "string")
    assert "row 1" in bad["error"] and "'tenure_months'" in bad["error"]
    lacking = [dict(good[0]), {k: v for k, v in good[1].items() if k != "region"}]
    assert refused(400, json.dumps({"rows": lacking}))["row"] == 1
    assert refused(400, json.dumps({"columns": {"age": [1, 2]}}))["columns"]
    assert "neither" in refused(400, json.dumps([1, 2]))["error"]
    bad_csv = "tenure_months,age\nabc,3\n"
    assert refused(400, bad_csv, "text/csv")["error"]
    text_number = rows.head(2).with_columns(pl.col("age").cast(pl.String) + "y")
    assert refused(400, parquet_bytes(text_number), "application/x-parquet")["column"] == "age"
    assert refused(400, b"PAR1garbage", "application/vnd.apache.parquet")["error"]
    assert "unsupported content type" in refused(415, b"<xml/>", "application/xml")["error"]
    big = json.dumps({"rows": good * 600})  # > [serve] max_body_bytes = 400000
    assert len(big) > 400_000
    assert refused(413, big)["limit"] == 400_000

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        for _ in range(50):
            yield b" " * 10_000

    r = post("/predict", content=chunked(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert server.client.get("/health").status_code == 200
    r = post("/predict", json={"rows": good})
    assert r.status_code == 200 and r.json()["rows"] == 3


def test_version_and_metrics(server: Served, rows) -> None:
    version = server.client.get("/version").json()
    assert version["champion"] in ("v1", "v2") and version["task"] == "binary"
    assert set(version["metrics"]) >= {"auc", "logloss"} and version["snapshot"]
    for _ in range(3):
        server.client.post("/predict", json={"rows": rows.head(2).to_dicts()})
    server.client.post("/predict", content=b"", headers={"content-type": "application/json"})
    text = server.client.get("/metrics").text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert int(lines['workbench_serve_requests_total{endpoint="/predict",code="200"}']) >= 3
    assert int(lines['workbench_serve_errors_total{endpoint="/predict"}']) >= 1
    count = int(lines['workbench_serve_request_duration_seconds_count{endpoint="/predict"}'])
    inf = 'workbench_serve_request_duration_seconds_bucket{endpoint="/predict",le="+Inf"}'
    assert int(lines[inf]) == count >= 4
    scored = sum(int(v) for k, v in lines.items() if k.startswith("workbench_serve_rows_scored"))
    assert scored >= 6
    assert any(
        k.startswith(f'workbench_serve_info{{version="{version["champion"]}"') for k in lines
    )


def test_a_rollback_reaches_the_server_within_a_second(project: Path, server: Served, rows):
    body = {"rows": rows.head(20).to_dicts()}
    before = server.client.post("/predict", json=body).json()["version"]
    target = "v1" if before == "v2" else "v2"
    cli(project, "rollback", target, "--reason", "serve test")
    done = time.monotonic()
    while server.client.get("/health").json()["version"] != target:
        assert time.monotonic() - done < 1.0, "the rollback did not reach the server in 1 s"
        time.sleep(0.02)
    answer = server.client.post("/predict", json=body).json()
    assert answer["version"] == target
    assert_equals_predict(project, answer, 20)
    deadline = time.monotonic() + 30
    while server.client.get("/version").json()["promoted_at"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    history = json.loads(cli(project, "status", "--json"))["champion_history"][0]
    assert server.client.get("/version").json()["promoted_at"] == history["ts"]


def test_the_prediction_log_holds_what_serve_and_predict_scored(project: Path, server, rows):
    body = {"rows": rows.head(7).to_dicts()}
    r = server.client.post("/predict", json=body, headers={"x-request-id": "log-test-1"})
    answer = r.json()
    assert r.headers["x-request-id"] == "log-test-1"
    deadline = time.monotonic() + 30
    logged = pl.DataFrame()
    while logged.height < 7:
        assert time.monotonic() < deadline, "the server's log was not flushed"
        time.sleep(0.2)
        logged = predictions.scan(store_of(project)).filter(pl.col("request") == "log-test-1")
        logged = logged.collect()
    assert logged["source"].unique().to_list() == ["serve"]
    assert logged["row"].to_list() == list(range(7))
    assert logged["version"].unique().to_list() == [answer["version"]]
    assert logged["id"].to_list() == rows["customer_id"].head(7).to_list()
    assert logged["prediction"].to_list() == answer["predictions"]
    assert logged["label"].to_list() == [str(x) for x in answer["labels"]]
    assert logged["ts"][0][:4].isdigit() and logged["ts"][0].endswith("+00:00")
    # `workbench predict` logs one batch per run, read back from its output
    cli(project, "predict", "scoring/rows.csv", "-o", "scoring/logged.csv", "--version", "v1")
    with store_of(project).read() as s:
        batch = predictions.batches(s, source="predict")[-1]
    assert (batch.rows, batch.versions) == (len(rows), ("v1",))
    mine = predictions.scan(store_of(project)).filter(pl.col("request") == "scoring/rows.csv")
    mine = mine.filter(pl.col("ts") == batch.first_ts).collect()
    out = pl.read_csv(project / "scoring" / "logged.csv")
    assert mine["id"].to_list() == out["customer_id"].to_list()
    assert mine["prediction"].to_list() == pytest.approx(out["prediction"].to_list(), rel=1e-12)
    assert mine["label"].to_list() == [str(x) for x in out["prediction_label"].to_list()]
    assert mine["row"].to_list() == list(range(len(rows)))


def test_health_is_503_until_a_champion_exists(tmp_path: Path, rows) -> None:
    root = copy_sample(tmp_path / "proj")
    configure(cut_sample(root, 1500), rounds=5)
    served = Served(root)
    try:
        r = served.client.get("/health")
        assert r.status_code == 503 and r.json()["ready"] is False
        assert served.client.get("/version").status_code == 503
        assert served.client.post("/predict", json={"rows": []}).status_code == 503
        cli(root, "train")
        deadline = time.monotonic() + 5
        while served.client.get("/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert served.client.get("/health").json()["version"] == "v1"
        r = served.client.post("/predict", json={"rows": rows.head(2).to_dicts()})
        assert r.status_code == 200 and r.json()["version"] == "v1"
    finally:
        served.stop()


def test_a_token_guards_every_endpoint_but_health(project: Path, rows) -> None:
    """With --workers 2 as well: the token reaches every worker (through the environment)."""
    served = Served(project, "--workers", "2", env={"WORKBENCH_SERVE_TOKEN": TOKEN})
    try:
        c, body = served.client, {"rows": rows.head(1).to_dicts()}
        assert c.get("/health").status_code == 200
        for wrong in ({}, {"authorization": "Bearer nope"}, {"authorization": TOKEN}):
            assert c.post("/predict", json=body, headers=wrong).status_code == 401
            assert c.get("/version", headers=wrong).status_code == 401
            assert c.get("/metrics", headers=wrong).status_code == 401
        good = {"authorization": f"Bearer {TOKEN}"}
        assert c.post("/predict", json=body, headers=good).status_code == 200
        assert c.get("/metrics", headers=good).status_code == 200
        assert c.get("/version", headers=good).json()["champion"]
        pids = set()
        deadline = time.monotonic() + 60
        while len(pids) < 2:  # both workers answer (new connections: either may accept)
            assert time.monotonic() < deadline, pids
            with httpx.Client(base_url=served.url, headers=good) as fresh:
                text = fresh.get("/metrics").text
            pids |= {line.split('pid="')[1].split('"')[0] for line in text.splitlines()
                     if line.startswith("workbench_serve_info{")}  # fmt: skip
            assert fresh.is_closed
    finally:
        served.stop()


def test_sigterm_drains_the_request_in_flight(project: Path, rows) -> None:
    """SIGTERM arrives while a request's body is still being sent: the request is answered
    (200, every row), its rows reach the prediction log, the process exits 0."""
    served = Served(project)
    sent_half = threading.Event()
    body = json.dumps({"rows": rows.head(50).to_dicts()}, separators=(",", ":")).encode()
    result: dict = {}

    def slowly() -> Iterator[bytes]:
        yield body[: len(body) // 2]
        sent_half.set()
        time.sleep(1.0)
        yield body[len(body) // 2 :]

    def request() -> None:
        with httpx.Client(base_url=served.url, timeout=60) as c:
            headers = {"content-type": "application/json", "x-request-id": "draining-1"}
            result["response"] = c.post("/predict", content=slowly(), headers=headers)

    thread = threading.Thread(target=request)
    thread.start()
    assert sent_half.wait(30)
    time.sleep(0.2)
    served.proc.send_signal(signal.SIGTERM)
    thread.join(60)
    out = served.stop()
    response = result["response"]
    assert response.status_code == 200, out
    assert response.json()["rows"] == 50
    assert served.proc.returncode == 0, out
    logged = predictions.scan(store_of(project)).filter(pl.col("request") == "draining-1")
    assert logged.collect().height == 50  # flushed at shutdown, not lost
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{served.url}/health", timeout=2)


def test_the_log_buffer_keeps_rows_while_the_store_is_busy(tmp_path: Path, monkeypatch) -> None:
    """In-process: multiclass and regression parts land in the log's one schema; a flush that
    cannot get the store keeps its rows for the next one (nothing lost, nothing doubled)."""
    from workbench.store import Store, locking

    monkeypatch.setenv("WORKBENCH_LOCK_TIMEOUT", "0.3")
    store = Store(tmp_path / ".workbench")
    with store.read():
        pass  # create the store
    log = predictions.PredictionLog(store)
    log.add(predictions.LogPart(2, "v1", "t1", "a", [7, None], None, ["x", "y"],
                                [[0.2, 0.8], [0.6, 0.4]]))  # fmt: skip
    log.add(predictions.LogPart(1, "v2", "t2", "b", None, [1.5], None, None))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with locking.hold(store.lock_path, exclusive=True, purpose="test"):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    assert log.flush("now") == 0 and log.failures == 1 and log.pending == 3
    release.set()
    holder.join()
    assert log.flush("later") == 3 and log.pending == 0 and log.written == 3
    rows = predictions.scan(store).collect()
    assert rows.schema == pl.Schema(predictions.log_schema())
    assert rows["id"].to_list() == ["7", None, None]
    assert rows["row"].to_list() == [0, 1, 0] and rows["request"].to_list() == ["a", "a", "b"]
    assert rows["probabilities"].to_list() == [[0.2, 0.8], [0.6, 0.4], None]
    assert rows["prediction"].to_list() == [None, None, 1.5]
    assert rows["version"].to_list() == ["v1", "v1", "v2"]
    with store.read() as s:
        (batch,) = predictions.batches(s)
    assert (batch.rows, batch.versions, batch.first_ts, batch.last_ts) == (
        3,
        ("v1", "v2"),
        "t1",
        "t2",
    )
