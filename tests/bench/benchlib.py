"""Small pieces the benchmark scripts share (they run as scripts: ``import benchlib``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def last_json(text: str) -> Any:
    """The JSON document a command printed (workbench --json: the whole stdout)."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(text.splitlines()[-1])


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt_s(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def fmt_x(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}x"


def read_through(path: Path) -> None:
    """Bring a file into the page cache."""
    with open(path, "rb", buffering=0) as f:
        while f.read(32 << 20):
            pass


def med(values: list[float]) -> float | None:
    """Median, or None for no values."""
    import statistics

    return float(statistics.median(values)) if values else None


def verdict(ok: bool | None) -> str:
    return "SKIP" if ok is None else ("PASS" if ok else "FAIL")


def du_bytes(path: Path) -> int:
    """``du -sb PATH``: apparent bytes of a tree (0 when it does not exist)."""
    import subprocess

    if not path.exists():
        return 0
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])
