"""``workbench diff A B``: what changed between two snapshots.

Everything comes from the store (file hashes, the stored profiles, the config bytes in the
object store) plus ``git log`` between the two commits — no data file is read again.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from workbench.data import gitinfo
from workbench.store import Store
from workbench.store.registry import VersionRecord
from workbench.store.session import SnapshotRecord

STATS = ("nulls", "unique", "min", "max", "mean", "std")
VERSION = re.compile(r"^[vV]\d+$")


def _versions(va: VersionRecord | None, vb: VersionRecord | None) -> dict[str, Any] | None:
    if va is None and vb is None:
        return None
    out: dict[str, Any] = {}
    for key, v in (("a", va), ("b", vb)):
        out[key] = {"version": v.name, "status": v.status, "metrics": v.metrics} if v else None
    if va and vb:
        out["metric_deltas"] = {
            k: vb.metrics[k] - va.metrics[k] for k in va.metrics if k in vb.metrics
        }
    return out


def diff(store: Store, ref_a: str, ref_b: str) -> dict[str, Any]:
    """A and B are snapshot ids (or prefixes, or ``latest``) or model versions (``v3``)."""
    with store.read() as s:
        va, vb = (s.version(r) if VERSION.match(r) else None for r in (ref_a, ref_b))
        a = s.snapshot(va.snapshot_id if va else s.resolve_snapshot(ref_a))
        b = s.snapshot(vb.snapshot_id if vb else s.resolve_snapshot(ref_b))
    root = store.root.parent
    return {
        "a": a.id,
        "b": b.id,
        "versions": _versions(va, vb),
        "files": _files(a, b),
        "rows": {"a": a.rows, "b": b.rows, "delta": b.rows - a.rows},
        "schema": _schema(a, b),
        "stats": _stats(a, b),
        "config": config_changes(store, a, b),
        "git": {
            "a": a.git_commit,
            "b": b.git_commit,
            "commits": gitinfo.commits_between(root, a.git_commit, b.git_commit),
        },
    }


def _files(a: SnapshotRecord, b: SnapshotRecord) -> dict[str, list[Any]]:
    fa = {f.path: f for f in a.data_files}
    fb = {f.path: f for f in b.data_files}
    return {
        "added": [fb[p].to_json() for p in sorted(fb.keys() - fa.keys())],
        "removed": [fa[p].to_json() for p in sorted(fa.keys() - fb.keys())],
        "changed": [
            {
                "path": p,
                "hash": [fa[p].hash, fb[p].hash],
                "bytes": [fa[p].bytes, fb[p].bytes],
                "rows": [fa[p].rows, fb[p].rows],
            }
            for p in sorted(fa.keys() & fb.keys())
            if fa[p].hash != fb[p].hash
        ],
    }


def _columns(s: SnapshotRecord) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in s.profile.get("columns", [])}


def _schema(a: SnapshotRecord, b: SnapshotRecord) -> dict[str, list[Any]]:
    ca, cb = _columns(a), _columns(b)
    return {
        "added": [{"name": n, "dtype": cb[n]["dtype"]} for n in cb if n not in ca],
        "removed": [{"name": n, "dtype": ca[n]["dtype"]} for n in ca if n not in cb],
        "type_changed": [
            {"name": n, "a": ca[n]["dtype"], "b": cb[n]["dtype"]}
            for n in ca
            if n in cb and ca[n]["dtype"] != cb[n]["dtype"]
        ],
    }


def _stats(a: SnapshotRecord, b: SnapshotRecord) -> list[dict[str, Any]]:
    ca, cb = _columns(a), _columns(b)
    out = []
    for name in (n for n in ca if n in cb):
        for stat in STATS:
            va, vb = ca[name].get(stat), cb[name].get(stat)
            if va == vb or (va is None and vb is None):
                continue
            row: dict[str, Any] = {"column": name, "stat": stat, "a": va, "b": vb}
            if isinstance(va, int | float) and isinstance(vb, int | float):
                row["delta"] = vb - va
            out.append(row)
    return out


def config_changes(store: Store, a: SnapshotRecord, b: SnapshotRecord) -> list[dict[str, Any]]:
    """The config keys whose value differs from snapshot ``a`` to ``b`` (flattened, dotted)."""
    if a.config_hash == b.config_hash:
        return []
    fa, fb = _flat_config(store, a), _flat_config(store, b)
    return [
        {"key": k, "a": fa.get(k), "b": fb.get(k)}
        for k in sorted(fa.keys() | fb.keys())
        if fa.get(k) != fb.get(k)
    ]


def _flat_config(store: Store, snap: SnapshotRecord) -> dict[str, Any]:
    raw = tomllib.loads(store.objects.read(snap.config_hash).decode("utf-8"))
    if snap.config_path.endswith("pyproject.toml"):
        raw = raw.get("tool", {}).get("workbench", {})
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = value

    walk("", raw)
    return out
