"""A project whose store holds a made-up history with fixed timestamps.

For what real training cannot give: byte-stable screens (SVG snapshots) and 10,000 versions
(first paint with a long history). The rows go in through the store's own verbs, in one write
transaction, so the TUI reads them exactly as it reads trained ones.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from workbench.store import Store
from workbench.store.drift import DriftResult
from workbench.store.registry import VersionRecord

CONFIG = """[project]
name = "churn"
[data]
path = "data"
target = "churned"
[model]
task = "binary"
"""

FEATURES = [
    ("monthly_charges", "wasserstein", 0.91, 0.1),
    ("data_usage_gb", "wasserstein", 0.42, 0.1),
    ("region", "jensenshannon", 0.23, 0.1),
    ("tenure_months", "wasserstein", 0.06, 0.1),
    ("contract", "chisquare", 0.31, 0.05),
    ("age", "ks", 0.004, 0.05),
]


# the top 10 by gain, as a real model's meta holds them (more features than drift lists)
IMPORTANCE = [
    *(name for name, *_rest in FEATURES),
    "support_calls",
    "payment_method",
    "paperless_billing",
    "senior_citizen",
]


def ts(i: int) -> str:
    """A fixed, increasing timestamp per index (minutes after a fixed start)."""
    day, minute = divmod(i, 24 * 60)
    hour, minute = divmod(minute, 60)
    return f"2026-11-{1 + day % 28:02d}T{hour:02d}:{minute:02d}:00.000+00:00"


def auc_of(n: int) -> float:
    return round(0.80 + 0.03 * math.sin(n / 3) + 0.0005 * n, 4) if n < 40 else 0.82


def gate_of(n: int, champion: int) -> dict[str, object]:
    """What version ``n``'s gate stored: the candidate and the champion of that moment (v1
    until ``champion`` took over) on ``n``'s holdout, where the champion scores a little
    differently from its own holdout — as on real data."""
    if n == 1:
        return {
            "decision": "promoted",
            "reason": "gate: first model (auc 0.8103)",
            "metric": "auc",
            "candidate": auc_of(1),
            "champion": None,
            "champion_version": None,
        }
    then = 1 if n <= champion else champion
    promoted = n == champion
    theirs = round(auc_of(n) + (-0.006 if promoted else 0.002 + 0.001 * (n % 4)), 4)
    sign = ">" if promoted else "<="
    return {
        "decision": "promoted" if promoted else "rejected",
        "reason": f"gate: auc {auc_of(n):.4f} {sign} {theirs:.4f} + 0.0 (v{then})",
        "metric": "auc",
        "candidate": auc_of(n),
        "champion": theirs,
        "champion_version": f"v{then}",
        "rows": 200 * n,
    }


def build(root: Path, versions: int, *, champion: int | None = None) -> Path:
    """A project at ``root`` with ``versions`` versions; the champion defaults to the best."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "workbench.toml").write_text(CONFIG)
    (root / "data").mkdir(exist_ok=True)
    store = Store(root / ".workbench")
    meta = {
        "params": {"objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "seed": 42},
        "num_boost_round": 300,
        "best_iteration": 128,
        "importance": {name: 1000.0 / (i + 1) for i, name in enumerate(IMPORTANCE)},
    }
    meta_hash = store.objects.put_bytes(json.dumps(meta).encode())
    best = max(range(1, versions + 1), key=lambda n: (auc_of(n), -n))
    champion = champion or best
    with store.write("test history") as s:
        for n in range(1, versions + 1):
            failed = n % 7 == 0
            s.insert_version(
                VersionRecord(
                    number=n,
                    snapshot_id=f"{n:016x}",
                    config_hash="c" * 32,
                    git_commit=f"{n * 7919:07x}abcdef" if n % 3 else None,
                    git_dirty=n % 5 == 0,
                    created_at=ts(n * 17),
                    created_by="ana",
                    outcome="failed"
                    if failed
                    else ("promoted" if n in (1, champion) else "rejected"),
                    task="binary",
                    metric="auc",
                    metrics={} if failed else {"auc": auc_of(n), "logloss": 0.5},
                    gate=None if failed else gate_of(n, champion),
                    model_hash=None if failed else "m" * 32,
                    meta_hash=None if failed else meta_hash,
                    rows=1000 * n,
                    timings={"train": 1.5},
                    error="the training part has 1 class" if failed else None,
                )
            )
        s.set_champion(1, ts=ts(17), actor="ana", kind="gate", reason="gate: first model")
        if champion != 1:
            s.set_champion(
                champion, ts=ts(champion * 17), actor="ana", kind="gate", reason="gate: better"
            )
        for i, (kind, level, message) in enumerate(
            [
                ("cycle_started", "info", "cycle 1a2b3c started"),
                ("step", "info", "snapshot: snapshot 00000000000000aa (new) (0.12s)"),
                ("validation_failed", "error", "data/batch_007.csv line 3: target is empty"),
                ("cycle_finished", "info", f"cycle promoted: v{champion} is champion"),
            ]
        ):
            s.add_event(kind, message, ts=ts(versions * 17 + i), level=level)
        s.put_drift_result(
            DriftResult.from_json(
                {
                    "dataset_drift": True,
                    "drift_share": 4 / len(FEATURES),
                    "drifted_features": 4,
                    "features": [
                        {
                            "name": name,
                            "method": method,
                            "score": score,
                            "threshold": thr,
                            "drifted": score < thr
                            if method in ("ks", "chisquare")
                            else score > thr,
                            "histogram": {
                                "labels": ["0", "10", "20", "30", "40", "50"],
                                "edges": [0, 10, 20, 30, 40, 50, 60],
                                "reference": [0.05, 0.2, 0.35, 0.25, 0.1, 0.05],
                                "current": [0.0, 0.05, 0.15, 0.3, 0.3, 0.2],
                            }
                            if method != "jensenshannon"
                            else {
                                "labels": ["north", "south", "east", "west", "(other)"],
                                "reference": [0.4, 0.3, 0.15, 0.1, 0.05],
                                "current": [0.2, 0.2, 0.3, 0.25, 0.05],
                            },
                        }
                        for name, method, score, thr in FEATURES
                    ],
                    "prediction_drift": {"method": "wasserstein", "score": 0.61, "drifted": True},
                    "note": None,
                    "reference": "0" * 16,
                    "reference_version": f"v{champion}",
                    "current": f"{versions:016x}",
                    "reference_rows": 30000,
                    "current_rows": 5000,
                    "computed_at": ts(versions * 17 + 5),
                }
            ),
            champion,
            ts=ts(versions * 17 + 5),
        )
    return root
