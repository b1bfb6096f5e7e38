"""Benchmark of `workbench serve` beside `mlflow models serve`. Not part of the test run.

    python tests/bench/bench_serve.py [--seconds 10] [--clients 50] [--swaps 100] [--workdir DIR]

One run, side by side, on the sample project (30,000 rows) trained twice with the real CLI
(v1, then v2 with other params), and on the same champion Booster saved with
``mlflow.lightgbm.save_model`` and served by ``mlflow models serve --env-manager local``:

1. 1-row requests, ``--clients`` concurrent keep-alive connections, closed loop (each sends
   its next request when the answer arrives) for ``--seconds``: p50 / p99 latency and
   requests/s; then paced (the same clients, ``--rate`` requests/s in all), where the latency
   is the service time rather than the queue behind 50 clients on a 2-core machine.
2. 1,000-row requests, 4 concurrent clients, closed loop: rows/s. workbench gets the JSON
   ``columns`` form of the raw rows (it encodes the categoricals itself); MLflow gets
   ``dataframe_split`` of the rows already encoded as the Booster's float matrix (the pyfunc
   of a bare Booster cannot encode them), so the baseline does less work per row.
3. Swaps under load: the 1-row closed loop again while the champion is rolled back and forth
   ``--swaps`` times (the real ``rollback``, as the CLI runs it); every answer must be 200 and
   carry the prediction of the version it names (no failed request, no mixed answer).

The load generator is a separate process speaking raw HTTP/1.1 over asyncio streams (an
HTTP client library would cost more CPU per request than the servers under test). The
machine's other load shows in every figure: run it on a quiet machine for targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


# ---------------------------------------------------------------- the load generator (child)


async def _one(reader: Any, writer: Any, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _client(
    port: int, request: bytes, until: float, interval: float, out: list, keep: bool, go: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    next_at = time.perf_counter()
    try:
        while time.perf_counter() < until and (not go or os.path.exists(go)):
            if interval:
                next_at += interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            start = time.perf_counter()
            try:
                status, body = await _one(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError):
                out.append((time.perf_counter() - start, 0, b""))
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            out.append((time.perf_counter() - start, status, body if keep else b""))
    finally:
        writer.close()


def run_load(args: dict[str, Any]) -> dict[str, Any]:
    body = Path(args["body"]).read_bytes()
    request = (
        f"POST {args['path']} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    out: list[tuple[float, int, bytes]] = []
    clients, seconds = args["clients"], args["seconds"]
    interval = clients / args["rate"] if args.get("rate") else 0.0

    async def main() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _client(args["port"], request, until, interval, out, args["keep"], args["go"])
                for _ in range(clients)
            )
        )

    began = time.perf_counter()
    asyncio.run(main())
    seconds = time.perf_counter() - began  # the swap run ends when its file goes
    lat = sorted(x[0] for x in out)
    failed = [x for x in out if x[1] != 200]
    result = {
        "requests": len(out),
        "failed": len(failed),
        "per_second": len(out) / seconds,
        "p50_ms": 1e3 * lat[len(lat) // 2] if lat else None,
        "p99_ms": 1e3 * lat[int(len(lat) * 0.99)] if lat else None,
    }
    if args["keep"]:
        result["bodies"] = [x[2].decode() for x in out if x[1] == 200]
    return result


def load(port: int, path: str, body: bytes, **kw: Any) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        f.write(body)
    args = {"port": port, "path": path, "body": f.name, "keep": False, "rate": None, "go": ""}
    args |= kw
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--client", json.dumps(args)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(f.name)
    return json.loads(proc.stdout)


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, proc: subprocess.Popen, limit: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"no answer on {path}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def cli(root: Path, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def project(workdir: Path) -> Path:
    from tests.conftest import copy_sample

    if (workdir / "proj" / ".workbench" / "serving").exists():  # a --workdir trained before
        return workdir / "proj"
    root = copy_sample(workdir / "proj")
    cli(root, "train")
    cfg = root / "workbench.toml"
    cfg.write_text(cfg.read_text().replace("num_leaves = 31", "num_leaves = 15"))
    text = cfg.read_text().replace("min_delta = 0.0 ", "min_delta = -1.0 ")
    cfg.write_text(text)
    cli(root, "train")
    return root


def mlflow_model(root: Path, workdir: Path) -> Path:
    import lightgbm as lgb
    import mlflow.lightgbm

    booster = lgb.Booster(model_file=str(root / ".workbench" / "serving" / "model.txt"))
    path = workdir / "mlflow_model"
    shutil.rmtree(path, ignore_errors=True)
    mlflow.lightgbm.save_model(booster, str(path))
    return path


# ---------------------------------------------------------------- bodies


def bodies(root: Path) -> dict[str, Any]:
    import polars as pl

    from workbench.model.features import encode
    from workbench.serve.champion import Follower
    from workbench.store import Store

    follower = Follower(Store(root / ".workbench"))
    follower.poll()
    assert follower.current is not None
    spec = follower.current.model.spec
    frame = pl.read_csv(root / "data" / "batch_000.csv").slice(1000, 1000)
    features = list(spec.features)
    matrix = encode(frame, spec)
    split = {"columns": features, "data": matrix[:1].tolist()}
    split_big = {"columns": features, "data": matrix.tolist()}
    return {
        "wb_one": json.dumps({"rows": frame.head(1).to_dicts()}).encode(),
        "wb_big": json.dumps({"columns": frame.to_dict(as_series=False)}).encode(),
        "wb_big_rows": json.dumps({"rows": frame.to_dicts()}).encode(),
        "ml_one": json.dumps({"dataframe_split": split}).encode(),
        "ml_big": json.dumps({"dataframe_split": split_big}).encode(),
        "one_row": frame.head(1),
    }


def expected_one(root: Path, row: Any) -> dict[str, float]:
    """The prediction of ``row`` by each version, as `workbench predict` writes it."""
    import polars as pl

    out = {}
    row.write_csv(root / "one.csv")
    (root / "scored").mkdir(exist_ok=True)
    for v in ("v1", "v2"):
        cli(root, "predict", "one.csv", "-o", f"scored/{v}.parquet", "--version", v)
        out[v] = pl.read_parquet(root / "scored" / f"{v}.parquet")["prediction"][0]
    return out


def swaps(root: Path, count: int, done: threading.Event, record: list[float]) -> None:
    from workbench import config
    from workbench.model.rollback import rollback
    from workbench.store import Store

    settings = config.load(root)
    store = Store(settings.store_dir)
    with store.read() as s:
        current = s.champion_number()
    for i in range(count):
        target = "v1" if current == 2 else "v2"
        start = time.perf_counter()
        rollback(settings, store, target, reason=f"bench swap {i}")
        record.append(time.perf_counter() - start)
        current = 1 if target == "v1" else 2
    done.set()


# ---------------------------------------------------------------- the run


def cpu_seconds(pgid: int) -> float:
    """CPU seconds used so far by every process of a server's process group (mlflow's
    `models serve` runs uvicorn in a child)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def measured(proc: subprocess.Popen, port: int, path: str, body: bytes, **kw: Any) -> dict:
    """``load`` plus the server's CPU per request (less sensitive to the machine's other
    load than the wall-clock figures)."""
    before = cpu_seconds(proc.pid)
    r = load(port, path, body, **kw)
    r["cpu_ms"] = 1e3 * (cpu_seconds(proc.pid) - before) / max(r["requests"], 1)
    return r


def fmt(r: dict[str, Any]) -> str:
    return (
        f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  {r['per_second']:,.0f} req/s"
        f"  server CPU {r.get('cpu_ms', 0):.2f} ms/request"
        f"  ({r['requests']:,} requests, {r['failed']} failed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200, help="paced 1-row requests/s")
    parser.add_argument("--swaps", type=int, default=100)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(run_load(json.loads(args.client))))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_serve_"))
    print(f"workdir {workdir}; training v1 and v2 on the sample project …", flush=True)
    root = project(workdir)
    b = bodies(root)
    expected = expected_one(root, b["one_row"])
    wb_port, ml_port = free_port(), free_port()
    wb = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--port", str(wb_port)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    model = mlflow_model(root, workdir)
    mlflow_bin = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    ml = subprocess.Popen(
        [
            mlflow_bin,
            "models",
            "serve",
            "-m",
            str(model),
            "--env-manager",
            "local",
            "-p",
            str(ml_port),
            "-h",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_http(wb_port, "/health", wb)
        wait_http(ml_port, "/ping", ml)
        secs, n = args.seconds, args.clients
        load(wb_port, "/predict", b["wb_one"], clients=n, seconds=2)  # warm up
        load(ml_port, "/invocations", b["ml_one"], clients=n, seconds=2)
        runs = (
            (f"1-row requests, {n} clients, closed loop, {secs:g} s", {"clients": n}),
            (
                f"1-row requests, {n} clients, paced at {args.rate:g}/s",
                {"clients": n, "rate": args.rate},
            ),
            ("1-row requests, 1 client, closed loop (service time)", {"clients": 1}),
        )
        for title, kw in runs:
            print(f"\n{title}")
            kw |= {"seconds": secs}
            print(f"  workbench  {fmt(measured(wb, wb_port, '/predict', b['wb_one'], **kw))}")
            print(f"  mlflow     {fmt(measured(ml, ml_port, '/invocations', b['ml_one'], **kw))}")
        print(f"\n1,000-row requests, 4 clients, closed loop, {secs:g} s")
        rates = {}
        for name, port, path, body in (
            ("workbench (columns)", wb_port, "/predict", b["wb_big"]),
            ("workbench (rows)", wb_port, "/predict", b["wb_big_rows"]),
            ("mlflow (encoded)", ml_port, "/invocations", b["ml_big"]),
        ):
            proc = wb if port == wb_port else ml
            r = measured(proc, port, path, body, clients=4, seconds=secs)
            rates[name] = 1000 * r["requests"] / secs
            print(
                f"  {name:<20} {rates[name]:>10,.0f} rows/s  p50 {r['p50_ms']:.1f} ms"
                f"  server CPU {r['cpu_ms']:.1f} µs/row  ({r['failed']} failed)"
            )
        base = rates["mlflow (encoded)"]
        print(
            f"  ratio: columns {rates['workbench (columns)'] / base:.1f}x, rows"
            f" {rates['workbench (rows)'] / base:.1f}x the baseline's rows/s"
        )
        print(f"\nchampion swapped {args.swaps} times under the 1-row load ({n} clients)")
        done, took = threading.Event(), []
        swapper = threading.Thread(target=swaps, args=(root, args.swaps, done, took))
        result: dict[str, Any] = {}
        go = workdir / "loading"  # the load runs while this file exists
        go.touch()
        loader = threading.Thread(
            target=lambda: result.update(
                load(
                    wb_port, "/predict", b["wb_one"], clients=n, seconds=600, keep=True, go=str(go)
                )
            )
        )
        loader.start()
        time.sleep(1)
        swapper.start()
        swapper.join()
        time.sleep(1)
        go.unlink()
        loader.join()
        answers = [json.loads(x) for x in result.pop("bodies")]
        versions: dict[str, int] = {}
        mixed = 0
        for a in answers:
            versions[a["version"]] = versions.get(a["version"], 0) + 1
            mixed += a["predictions"][0] != expected[a["version"]]
        print(f"  {fmt(result)}")
        print(
            f"  answers by version {versions};"
            f" answers not equal to predict of their version: {mixed}"
        )
        print(f"  rollback (CLI code path) took {1e3 * sorted(took)[len(took) // 2]:.0f} ms median")
    finally:
        stop(wb)
        stop(ml)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
