"""The server's counters, as the Prometheus text exposition format (``GET /metrics``).

Written by hand rather than with ``prometheus_client``: five metric families do not justify a
dependency, and a plain dict update costs less on the request path. Endpoints are a fixed set
(an unknown path counts as ``other``), so the label sets stay bounded. Each process counts
its own requests: with ``--workers N`` a scrape is answered by whichever worker took it (the
``pid`` label of ``workbench_serve_info`` says which).
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict

ENDPOINTS = ("/predict", "/health", "/version", "/metrics")
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)
        self.rows: dict[str, int] = defaultdict(int)
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)

    def observe(self, path: str, status: int, seconds: float) -> None:
        endpoint = path if path in ENDPOINTS else "other"
        with self._lock:
            self.requests[(endpoint, status)] += 1
            if status >= 400:
                self.errors[endpoint] += 1
            counts = self.latency.get(endpoint)
            if counts is None:
                counts = self.latency[endpoint] = [0] * (len(BUCKETS) + 1)
            i = 0
            while i < len(BUCKETS) and seconds > BUCKETS[i]:
                i += 1
            counts[i] += 1
            self.latency_sum[endpoint] += seconds

    def scored(self, version: str, rows: int) -> None:
        with self._lock:
            self.rows[version] += rows

    def render(self, version: str | None, gauges: dict[str, tuple[str, float]]) -> str:
        """The exposition text; ``gauges`` adds name -> (help, value) lines of the caller's."""
        out: list[str] = []
        with self._lock:
            _family(out, "workbench_serve_requests_total", "counter", "HTTP requests answered.")
            for (endpoint, status), n in sorted(self.requests.items()):
                out.append(
                    f'workbench_serve_requests_total{{endpoint="{endpoint}",code="{status}"}} {n}'
                )
            _family(out, "workbench_serve_errors_total", "counter", "Requests answered 4xx or 5xx.")
            for endpoint, n in sorted(self.errors.items()):
                out.append(f'workbench_serve_errors_total{{endpoint="{endpoint}"}} {n}')
            name = "workbench_serve_request_duration_seconds"
            _family(out, name, "histogram", "Time from request to response, by endpoint.")
            for endpoint, counts in sorted(self.latency.items()):
                total = 0
                for le, n in zip((*map(_num, BUCKETS), "+Inf"), counts, strict=True):
                    total += n
                    out.append(f'{name}_bucket{{endpoint="{endpoint}",le="{le}"}} {total}')
                out.append(f'{name}_sum{{endpoint="{endpoint}"}} {self.latency_sum[endpoint]:.6f}')
                out.append(f'{name}_count{{endpoint="{endpoint}"}} {total}')
            _family(out, "workbench_serve_rows_scored_total", "counter", "Rows scored, by version.")
            for v, n in sorted(self.rows.items()):
                out.append(f'workbench_serve_rows_scored_total{{version="{v}"}} {n}')
        _family(out, "workbench_serve_info", "gauge", "The version being served (1), this pid.")
        shown = version or "none"
        out.append(f'workbench_serve_info{{version="{shown}",pid="{os.getpid()}"}} 1')
        for gauge, (text, value) in gauges.items():
            _family(out, gauge, "counter" if gauge.endswith("_total") else "gauge", text)
            out.append(f"{gauge} {_num(value)}")
        return "\n".join(out) + "\n"


def _family(out: list[str], name: str, kind: str, text: str) -> None:
    out.append(f"# HELP {name} {text}")
    out.append(f"# TYPE {name} {kind}")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
