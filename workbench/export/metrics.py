"""``workbench export metrics``: the monitoring and drift tables as one file for a dashboard.

The file is one long table, one row per measured value, oldest first:

==============  =============================================================================
column          meaning
==============  =============================================================================
``table``       ``monitor`` (a metric or KPI of a chunk) | ``drift`` (a drift result)
``version``     the version measured (``v3``)
``chunk``       the chunk key (``data/batch_004.csv``); drift: the current snapshot
``source``      ``data`` | ``predictions``; drift: null
``snapshot``    the snapshot the chunk's rows came from; drift: the reference snapshot
``start``       first time in the chunk (ISO) or null
``end``         last time in the chunk (ISO) or null
``rows``        rows in the chunk; drift: null
``labelled``    rows with a label; drift: null
``computed_at`` when it was computed (ISO)
``name``        ``auc``, ``kpi:NAME``; drift: ``drift_share``
``kind``        ``metric`` | ``kpi`` | ``drift``
``realized``    the realized value (null without labels); drift: the drift share
``estimated``   the estimate (CBPE / DLE / the KPI's), or null
``se``          the standard error at the chunk's size, or null
``lower``       alert band, lower bound (null: none)
``upper``       alert band, upper bound (null: none)
``alert``       the value left its band; drift: dataset drift
==============  =============================================================================

Where it may be written (decision): anywhere the user names with ``-o`` — the export's purpose
is to hand the tables to another tool, whose folder is usually outside the project — except
the places inside the project that workbench reads or owns: the store, the config file, and
``[data] path`` (the next snapshot would train on the export). The folder must exist. The
file is written atomically (a temporary file in that folder, fsynced, renamed).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.config import Settings
from workbench.data.inputs import in_data_path
from workbench.errors import UsageError
from workbench.store import Store
from workbench.store import outcomes as table
from workbench.store.objects import atomic_write

FORMATS = ("parquet", "csv")
COLUMNS = (
    "table",
    "version",
    "chunk",
    "source",
    "snapshot",
    "start",
    "end",
    "rows",
    "labelled",
    "computed_at",
    "name",
    "kind",
    "realized",
    "estimated",
    "se",
    "lower",
    "upper",
    "alert",
)


@dataclass(frozen=True)
class MetricsExport:
    output: str
    format: str
    rows: int
    monitor_rows: int
    drift_rows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "format": self.format,
            "rows": self.rows,
            "monitor_rows": self.monitor_rows,
            "drift_rows": self.drift_rows,
        }


def check_output(settings: Settings, output: Path) -> Path:
    """The resolved path to write, or a ``UsageError`` saying why not (see the docstring)."""
    target = Path(os.path.realpath(output.absolute()))
    root = Path(os.path.realpath(settings.root))
    if not target.parent.is_dir():
        raise UsageError(
            f"the folder {output.parent} of {output} does not exist",
            f"create it first (mkdir -p {output.parent})",
        )
    if target.is_dir():
        raise UsageError(f"{output} is a folder", "give a file name, e.g. -o metrics.parquet")
    if root == target or root in target.parents:
        rel = target.relative_to(root).as_posix()
        store = Path(os.path.realpath(settings.store_dir))
        why = None
        if target == store or store in target.parents:
            why = f"is inside the store ({settings.store_dir.name}/), which only workbench writes"
        elif target == Path(os.path.realpath(settings.root / settings.source.name)):
            why = "is the project's config file"
        elif in_data_path(settings.data.path, rel):
            why = (
                f"is inside [data] path {settings.data.path!r}: the next snapshot would take"
                " the export as training data"
            )
        if why is not None:
            raise UsageError(f"{output} {why}", "write it elsewhere, e.g. -o metrics.parquet")
    return target


def export_metrics(settings: Settings, store: Store, fmt: str, output: Path) -> MetricsExport:
    import polars as pl

    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", "use --format parquet or --format csv")
    target = check_output(settings, output)
    with store.read() as s:
        names, monitor = table.export_rows(s)
        drift_names, drift = table.drift_rows(s)
    rows: list[dict[str, Any]] = [
        {"table": "monitor"} | dict(zip(names, r, strict=True)) for r in monitor
    ]
    for r in drift:
        d = dict(zip(drift_names, r, strict=True))
        rows.append(
            {
                "table": "drift",
                "version": d["version"],
                "chunk": d["current_snapshot"],
                "snapshot": d["reference_snapshot"],
                "computed_at": d["computed_at"],
                "name": "drift_share",
                "kind": "drift",
                "realized": d["drift_share"],
                "alert": d["dataset_drift"],
            }
        )
    schema = {
        "table": pl.String,
        "version": pl.String,
        "chunk": pl.String,
        "source": pl.String,
        "snapshot": pl.String,
        "start": pl.String,
        "end": pl.String,
        "rows": pl.Int64,
        "labelled": pl.Int64,
        "computed_at": pl.String,
        "name": pl.String,
        "kind": pl.String,
        "realized": pl.Float64,
        "estimated": pl.Float64,
        "se": pl.Float64,
        "lower": pl.Float64,
        "upper": pl.Float64,
        "alert": pl.Boolean,
    }
    frame = pl.DataFrame({c: [r.get(c) for r in rows] for c in COLUMNS}, schema=schema)
    buf = io.BytesIO()
    if fmt == "parquet":
        frame.write_parquet(buf, compression="zstd")
    else:
        frame.write_csv(buf)
    atomic_write(target, buf.getvalue())
    return MetricsExport(str(output), fmt, frame.height, len(monitor), len(drift))
