"""Plain-text rendering of core results for the terminal (the CLI's human output)."""

from __future__ import annotations

from typing import Any


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def diff_text(d: dict[str, Any]) -> str:
    out = [f"diff {d['a']} -> {d['b']}"]
    files = d["files"]
    for f in files["added"]:
        out.append(f"  + {f['path']} ({f['rows']} rows)")
    for f in files["removed"]:
        out.append(f"  - {f['path']} ({f['rows']} rows)")
    for f in files["changed"]:
        out.append(f"  ~ {f['path']} (rows {f['rows'][0]} -> {f['rows'][1]})")
    if not any(files.values()):
        out.append("  data files: identical")
    rows = d["rows"]
    out.append(f"rows: {rows['a']} -> {rows['b']} ({rows['delta']:+d})")
    schema = d["schema"]
    for c in schema["added"]:
        out.append(f"column added: {c['name']} ({c['dtype']})")
    for c in schema["removed"]:
        out.append(f"column removed: {c['name']} ({c['dtype']})")
    for c in schema["type_changed"]:
        out.append(f"column type: {c['name']} {c['a']} -> {c['b']}")
    if d["stats"]:
        out.append("column statistics:")
        for s in d["stats"]:
            delta = f" ({s['delta']:+.4g})" if "delta" in s else ""
            out.append(f"  {s['column']}.{s['stat']}: {_num(s['a'])} -> {_num(s['b'])}{delta}")
    for c in d["config"]:
        out.append(f"config {c['key']}: {c['a']!r} -> {c['b']!r}")
    git = d["git"]
    if git["a"] != git["b"]:
        out.append(f"git: {(git['a'] or '-')[:10]} -> {(git['b'] or '-')[:10]}")
        for c in git["commits"] or []:
            out.append(f"  {c['sha'][:10]} {c['summary']}")
    return "\n".join(out)
