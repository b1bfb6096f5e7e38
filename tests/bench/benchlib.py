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
