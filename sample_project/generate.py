"""Generate data batches for the workbench sample project (telecom customer churn).

The problem
-----------
Each row is one customer of a telecom operator, observed at ``event_time``.
The task is to predict ``churned`` (1 if the customer cancels the contract,
0 otherwise) from account, usage and billing features. The label is drawn from
a noisy logistic model: month-to-month contracts, short tenure, high monthly
charges, many support tickets, late payments, fiber internet, electronic-check
payment and low satisfaction all push towards churn. About 24% of customers
churn, and a gradient-boosting model reaches a holdout AUC of roughly 0.84.

Columns: ``customer_id``, ``event_time``, ``tenure_months``,
``monthly_charges``, ``total_charges``, ``num_support_tickets``, ``age``,
``data_usage_gb``, ``avg_call_minutes``, ``late_payments_12m``,
``satisfaction_score``, ``contract``, ``payment_method``,
``internet_service``, ``region``, ``has_partner``, ``churned``.
``total_charges`` (~2%), ``satisfaction_score`` (~8%) and ``payment_method``
(~1%) contain missing values (empty CSV fields).

Modes
-----
``python generate.py``
    A normal batch (same distribution as the first one), ``--rows`` rows
    (default 5000), written to ``data/batch_NNN.csv`` where NNN is the next
    free index. It covers about one month, starting just after the latest
    ``event_time`` found in the existing files of the data folder.
``python generate.py --drift``
    A drifted batch: monthly charges about 25% higher, more month-to-month
    contracts, more fiber, more electronic-check payments, 60% more data usage,
    30% shorter calls, a new ``region`` level ("islands") and a much higher
    churn rate (~45%). K-S / Wasserstein / chi-square tests flag most features.
``python generate.py --broken [--broken-kind KIND]``
    A batch the tool must reject. KIND is one of:

    * ``missing-target`` (default): a valid CSV without the ``churned`` column;
    * ``malformed``: a CSV where a few rows have the wrong number of fields;
    * ``empty``: a zero-byte file;
    * ``garbage``: random non-UTF-8 binary bytes under a ``.csv`` name.
``python generate.py --first``
    Regenerate the shipped first batch ``data/batch_000.csv`` (30,000 rows,
    seed 42, 2025-01-01 to 2025-06-30), byte-for-byte identical every time.

Customer ids are unique across batches: batch ``b`` uses the numbers
``b * 1_000_000 + i`` ("C0000123" in batch 0, "C1000123" in batch 1).
The random stream is seeded from ``(seed, batch index, mode)``, so the same
arguments and the same existing files always give the same bytes. Files are
written atomically (a hidden temporary file in the same folder, fsync, then
``os.replace``), so a folder watcher never sees a half-written batch.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

TARGET = "churned"
TIME_COLUMN = "event_time"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

FIRST_START = datetime(2025, 1, 1, 0, 0, 0)
FIRST_END = datetime(2025, 6, 30, 23, 59, 59)
LATER_SPAN = timedelta(days=30)

FIRST_ROWS = 30_000
DEFAULT_ROWS = 5_000
DEFAULT_SEED = 42
IDS_PER_BATCH = 1_000_000

CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENT_METHODS = ["electronic-check", "mailed-check", "bank-transfer", "credit-card"]
INTERNET_SERVICES = ["dsl", "fiber", "none"]
REGIONS = ["north", "south", "east", "west", "central", "metro"]
DRIFT_REGION = "islands"

BROKEN_KINDS = ["missing-target", "malformed", "empty", "garbage"]
MODE_TAGS = {"normal": 0, "drift": 1, "broken": 2}

BATCH_RE = re.compile(r"^batch_(\d+)\.csv$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def next_batch_index(data_dir: Path) -> int:
    """Return 1 + the highest NNN of the ``batch_NNN.csv`` files (0 if none)."""
    indices = [
        int(m.group(1)) for p in data_dir.iterdir() if (m := BATCH_RE.match(p.name)) is not None
    ]
    return max(indices, default=-1) + 1


def _latest_time_in_csv(path: Path) -> str | None:
    """Latest well-formed ``event_time`` of a CSV file; tolerates broken files."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or TIME_COLUMN not in header:
                return None
            idx = header.index(TIME_COLUMN)
            latest: str | None = None
            for row in reader:
                if len(row) != len(header):
                    continue
                value = row[idx]
                if TIME_RE.match(value) and (latest is None or value > latest):
                    latest = value
            return latest
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _latest_time_in_parquet(path: Path) -> str | None:
    """Latest ``event_time`` of a Parquet file, or None if unreadable."""
    try:
        col = pl.read_parquet(path, columns=[TIME_COLUMN])[TIME_COLUMN]
        if col.dtype == pl.String:
            col = col.str.to_datetime(TIME_FORMAT, strict=False)
        latest = col.max()
    except Exception:  # any unreadable file is simply ignored
        return None
    return latest.strftime(TIME_FORMAT) if isinstance(latest, datetime) else None


def latest_event_time(data_dir: Path) -> datetime | None:
    """Latest ``event_time`` over all CSV/Parquet files in ``data_dir``."""
    found: list[str] = []
    for path in sorted(data_dir.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix == ".csv":
            value = _latest_time_in_csv(path)
        elif suffix == ".parquet":
            value = _latest_time_in_parquet(path)
        else:
            value = None
        if value is not None:
            found.append(value)
    return datetime.strptime(max(found), TIME_FORMAT) if found else None


def time_window(batch_index: int, data_dir: Path) -> tuple[datetime, datetime]:
    """Time range covered by a batch.

    Batch 0 covers the first half of 2025. Any later batch covers 30 days
    starting one second after the latest event_time already in ``data_dir``
    (or after the first-batch window if no readable time is found).
    """
    if batch_index == 0:
        return FIRST_START, FIRST_END
    latest = latest_event_time(data_dir) or FIRST_END
    start = latest + timedelta(seconds=1)
    return start, start + LATER_SPAN


def _choice(rng: np.random.Generator, levels: list[str], probs: list[float], n: int) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return np.asarray(levels, dtype=object)[rng.choice(len(levels), size=n, p=p / p.sum())]


def _with_missing(rng: np.random.Generator, values: np.ndarray, rate: float) -> list[object]:
    mask = rng.random(len(values)) < rate
    return [None if m else v for v, m in zip(values.tolist(), mask, strict=True)]


def make_batch(
    rng: np.random.Generator,
    n_rows: int,
    batch_index: int,
    window: tuple[datetime, datetime],
    *,
    drift: bool,
) -> pl.DataFrame:
    """Draw ``n_rows`` customers in ``window``; ``drift`` shifts the distribution and churn."""
    n = n_rows
    start, end = window

    # Time stamps, sorted; ids follow time order inside the batch.
    span = int((end - start).total_seconds())
    offsets = np.sort(rng.integers(0, span + 1, size=n))
    epoch0 = int((start - datetime(1970, 1, 1)).total_seconds())
    epochs = epoch0 + offsets
    ids = [f"C{batch_index * IDS_PER_BATCH + i:07d}" for i in range(n)]

    # Categorical account attributes.
    contract_p = [0.72, 0.17, 0.11] if drift else [0.52, 0.25, 0.23]
    contract = _choice(rng, CONTRACTS, contract_p, n)
    internet_p = [0.25, 0.60, 0.15] if drift else [0.35, 0.45, 0.20]
    internet = _choice(rng, INTERNET_SERVICES, internet_p, n)
    payment_p = [0.52, 0.16, 0.16, 0.16] if drift else [0.34, 0.22, 0.22, 0.22]
    payment = _choice(rng, PAYMENT_METHODS, payment_p, n)
    if drift:
        region = _choice(
            rng, [*REGIONS, DRIFT_REGION], [0.14, 0.14, 0.12, 0.12, 0.14, 0.20, 0.14], n
        )
    else:
        region = _choice(rng, REGIONS, [0.18, 0.17, 0.15, 0.14, 0.16, 0.20], n)

    age = np.clip(np.rint(rng.normal(45, 14, n)), 18, 85).astype(np.int64)
    partner_p = np.clip(0.2 + 0.007 * (age - 18), 0.0, 0.9)
    has_partner = np.where(rng.random(n) < partner_p, "yes", "no")

    # Tenure depends on the contract type.
    is_m2m = contract == "month-to-month"
    is_two = contract == "two-year"
    tenure_scale = np.where(is_m2m, 12.0, np.where(is_two, 40.0, 28.0))
    tenure = np.clip(np.ceil(rng.exponential(tenure_scale)), 1, 72).astype(np.int64)

    # Billing.
    is_fiber = internet == "fiber"
    is_none = internet == "none"
    base_charge = np.where(is_fiber, 85.0, np.where(is_none, 24.0, 55.0))
    monthly = np.clip(base_charge * rng.normal(1.0, 0.15, n), 18.0, 130.0)
    if drift:
        monthly = monthly * 1.25
    total = tenure * monthly * rng.normal(1.0, 0.05, n)

    # Usage.
    usage_mu = np.where(is_fiber, 3.3, np.where(is_none, 0.3, 2.6))
    usage = rng.lognormal(usage_mu, 0.6)
    if drift:
        usage = usage * 1.6
    call_minutes = rng.gamma(2.0, 4.0, n)
    if drift:
        call_minutes = call_minutes * 0.7

    # Service quality and payment behaviour.
    tickets = rng.poisson(0.7 + 0.6 * is_fiber + 0.3 * is_m2m)
    late_lam = np.where(payment == "electronic-check", 1.0, 0.4)
    late = rng.poisson(late_lam)
    satisfaction = np.clip(4.0 - 0.35 * tickets - 0.2 * late + rng.normal(0, 0.7, n), 1.0, 5.0)

    # Churn: logistic model on the (complete, pre-missingness) features.
    logit = (
        -2.0
        + 1.2 * is_m2m
        - 0.8 * is_two
        - 0.04 * tenure
        + 0.018 * (monthly - 65.0)
        + 0.3 * tickets
        + 0.4 * late
        - 0.65 * (satisfaction - 3.3)
        + 0.3 * is_fiber
        + 0.25 * (payment == "electronic-check")
        - 0.2 * (has_partner == "yes")
        + rng.normal(0, 0.5, n)
    )
    if drift:
        logit = logit + 0.3
    churned = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    df = pl.DataFrame(
        {
            "customer_id": ids,
            "event_time": epochs,
            "tenure_months": tenure,
            "monthly_charges": np.round(monthly, 2),
            "total_charges": _with_missing(rng, np.round(total, 2), 0.02),
            "num_support_tickets": tickets.astype(np.int64),
            "age": age,
            "data_usage_gb": np.round(usage, 2),
            "avg_call_minutes": np.round(call_minutes, 2),
            "late_payments_12m": late.astype(np.int64),
            "satisfaction_score": _with_missing(rng, np.round(satisfaction, 1), 0.08),
            "contract": contract.tolist(),
            "payment_method": _with_missing(rng, payment, 0.01),
            "internet_service": internet.tolist(),
            "region": region.tolist(),
            "has_partner": has_partner.tolist(),
            "churned": churned,
        },
        schema_overrides={
            "total_charges": pl.Float64,
            "satisfaction_score": pl.Float64,
            "payment_method": pl.String,
        },
    )
    return df.with_columns(pl.from_epoch("event_time", time_unit="s").dt.strftime(TIME_FORMAT))


def to_csv_bytes(df: pl.DataFrame) -> bytes:
    """Serialise a frame to CSV bytes (UTF-8, '\\n' line endings, '' for null)."""
    return df.write_csv(line_terminator="\n", null_value="").encode("utf-8")


def make_malformed(rng: np.random.Generator, df: pl.DataFrame) -> bytes:
    """CSV with a handful of rows having too many or too few fields."""
    lines = to_csv_bytes(df).decode("utf-8").splitlines()
    n_bad = min(6, len(lines) - 1)
    bad_rows = sorted(rng.choice(np.arange(1, len(lines)), size=n_bad, replace=False))
    for k, row in enumerate(bad_rows):
        fields = lines[row].split(",")
        if k % 2 == 0:
            lines[row] = ",".join([*fields, "oops", "extra"])
        else:
            lines[row] = ",".join(fields[:-4])
    return ("\n".join(lines) + "\n").encode("utf-8")


def make_garbage(rng: np.random.Generator, n_bytes: int = 4096) -> bytes:
    """Random bytes that are guaranteed not to be valid UTF-8."""
    payload = bytearray(rng.integers(0, 256, size=n_bytes, dtype=np.uint8).tobytes())
    payload[:4] = b"\xc3\x28\xff\xfe"  # invalid continuation + bytes never in UTF-8
    return bytes(payload)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a hidden temp file, fsync and os.replace."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Generate churn data batches for the workbench sample project.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--first",
        action="store_true",
        help="regenerate the shipped data/batch_000.csv (30,000 rows, seed 42)",
    )
    mode.add_argument("--drift", action="store_true", help="write a drifted batch")
    mode.add_argument("--broken", action="store_true", help="write a batch the tool must reject")
    parser.add_argument(
        "--broken-kind",
        choices=BROKEN_KINDS,
        default=None,
        help="what is wrong with a --broken batch (default: missing-target)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help=f"number of rows (default {DEFAULT_ROWS}; {FIRST_ROWS} with --first)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="base seed, combined with the batch index and mode (default 42)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "data",
        help="output folder (default: the data/ folder next to generate.py)",
    )
    args = parser.parse_args(argv)
    if args.broken_kind is not None and not args.broken:
        parser.error("--broken-kind requires --broken")
    if args.broken_kind is None:
        args.broken_kind = "missing-target"
    if args.rows is None:
        args.rows = FIRST_ROWS if args.first else DEFAULT_ROWS
    if not 1 <= args.rows <= IDS_PER_BATCH:
        parser.error(f"--rows must be between 1 and {IDS_PER_BATCH}")
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)

    batch_index = 0 if args.first else next_batch_index(data_dir)
    mode = "drift" if args.drift else "broken" if args.broken else "normal"
    rng = np.random.default_rng([args.seed, batch_index, MODE_TAGS[mode]])
    path = data_dir / f"batch_{batch_index:03d}.csv"

    if args.broken and args.broken_kind == "empty":
        data, n_rows = b"", 0
    elif args.broken and args.broken_kind == "garbage":
        data, n_rows = make_garbage(rng), 0
    else:
        window = time_window(batch_index, data_dir)
        df = make_batch(rng, args.rows, batch_index, window, drift=args.drift)
        n_rows = df.height
        if args.broken and args.broken_kind == "missing-target":
            data = to_csv_bytes(df.drop(TARGET))
        elif args.broken and args.broken_kind == "malformed":
            data = make_malformed(rng, df)
        else:
            data = to_csv_bytes(df)

    write_atomic(path, data)
    label = f"{mode} ({args.broken_kind})" if args.broken else mode
    print(f"wrote {path} ({n_rows} rows, {label})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
