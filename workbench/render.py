"""Plain-text rendering of core results for the terminal (the CLI's human output)."""

from __future__ import annotations

import json
from typing import Any


def snapshot_json(data: dict[str, Any]) -> str:
    """``snapshot --json``: the top-level keys indented, each file compact on its own line.

    Everything goes through json's C encoder (``indent`` would make json use its pure-Python
    encoder: 60 ms for 10,000 files on the no-change path).
    """
    encode = json.JSONEncoder(default=str, ensure_ascii=True).encode
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            items = ",\n    ".join(map(encode, value))
            lines.append(f"  {encode(key)}: [\n    {items}\n  ]")
        else:
            lines.append(f"  {encode(key)}: {encode(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def plural(n: int, word: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def snapshot_text(data: dict[str, Any]) -> str:
    verb = "created" if data["created"] else "unchanged, already recorded"
    out = [f"snapshot {data['id']} ({verb})"]
    git = data.get("git_commit")
    if git:
        dirty = " (dirty)" if data.get("git_dirty") else ""
        out.append(f"  git {git[:10]}{dirty} {data.get('git_branch') or ''}")
    elif not data.get("in_git", True):
        out.append("  not in a git repository")
    files, rows, size = len(data["files"]), data.get("rows") or 0, data.get("bytes") or 0
    out.append(f"  {plural(files, 'data file')}, {plural(rows, 'row')}, {plural(size, 'byte')}")
    return "\n".join(out) + "\n"


def _num(value: Any, sign: bool = False) -> str:
    """A statistic as people read it: 10,000 (not 1e+04), 0.1235, 3.2e-07 only when tiny."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    plus = "+" if sign else ""
    if value != 0 and abs(value) < 1e-3:
        return f"{value:{plus}.3g}"
    text = f"{value:{plus},.4f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def diff_text(d: dict[str, Any]) -> str:
    out = [f"diff {d['a']} -> {d['b']}"]
    versions = d.get("versions") or {}
    for key in ("a", "b"):
        v = versions.get(key)
        if v:
            scores = "  ".join(f"{k} {val:.4f}" for k, val in v["metrics"].items())
            out.append(f"  {key}: {v['version']} ({v['status']})  {scores}")
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
            delta = f" ({_num(s['delta'], sign=True)})" if "delta" in s else ""
            out.append(f"  {s['column']}.{s['stat']}: {_num(s['a'])} -> {_num(s['b'])}{delta}")
    for c in d["config"]:
        out.append(f"config {c['key']}: {c['a']!r} -> {c['b']!r}")
    git = d["git"]
    if git["a"] != git["b"]:
        out.append(f"git: {(git['a'] or '-')[:10]} -> {(git['b'] or '-')[:10]}")
        for c in git["commits"] or []:
            out.append(f"  {c['sha'][:10]} {c['summary']}")
    return "\n".join(out)


def compare_text(d: dict[str, Any]) -> str:
    a, b, metric = d["a"], d["b"], d["metric"]
    left = ", ".join(f"{v} of {k}'s" for k, v in d["excluded"].items())
    out = [
        f"{a} vs {b} on {plural(d['rows'], 'row')} of snapshot {d['snapshot'][:12]}"
        f" that neither trained on (left out: {left})",
        f"  {'metric':<14} {a:>10} {b:>10} {'Δ ' + b + '-' + a:>12}",
    ]
    for name, value in d["metrics"][a].items():
        mark = " *" if name == metric else ""
        out.append(
            f"  {name + mark:<14} {_num(value):>10} {_num(d['metrics'][b][name]):>10}"
            f" {_num(d['delta'][name], sign=True):>12}"
        )
    low, high = d["delta_interval"]
    better = d["better"]
    verdict = f"{better} is better" if better else "no difference"
    out.append(
        f"{metric} (*): {verdict}; 95% interval of the delta {_num(low, sign=True)} to"
        f" {_num(high, sign=True)} (paired bootstrap)"
    )
    return "\n".join(out)


def history_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no model versions yet: run `workbench train`"
    out = [
        f"{'':1} {'version':<8} {'created':<19} {'snapshot':<16} {'git':<9} {'metric':>16}  status"
    ]
    for r in rows:
        mark = "*" if r["status"] == "champion" else " "
        git = (r["git_commit"] or "-")[:8] + ("+" if r.get("git_dirty") else "")
        metric = r.get("metric") or ""
        value = r["metrics"].get(metric)
        shown = f"{metric} {value:.4f}" if value is not None else "-"
        pinned = " (pinned)" if r.get("pinned") else ""
        line = (
            f"{mark} {r['version']:<8} {r['created_at'][:19]:<19} {r['snapshot']:<16}"
            f" {git:<9} {shown:>16}  {r['status']}{pinned}"
        )
        if r.get("error"):
            line += f": {r['error']}"
        out.append(line)
        gate = r.get("gate") or {}
        timings = r.get("timings") or {}
        detail = [f"gate: {gate['reason']}"] if gate.get("reason") else []
        if r.get("engine", "local") != "local":
            detail.append(f"engine {r['engine']}")
        if timings:
            detail.append(f"{sum(timings.values()):.1f}s (train {timings.get('train', 0):.1f}s)")
        if detail:
            out.append("    " + " · ".join(detail))
    return "\n".join(out)


def train_text(outcome: Any) -> str:
    v = outcome.version or outcome.previous
    if not outcome.trained:
        return (
            f"snapshot {outcome.snapshot.id} was already trained as {v.name} ({v.status});"
            " nothing to do (use --force to train again)"
        )
    scores = "  ".join(f"{k} {val:.4f}" for k, val in v.metrics.items())
    gate = v.gate or {}
    left_out = getattr(outcome, "unlabelled", 0)
    without = f"; {plural(left_out, 'row')} without a target left out" if left_out else ""
    return "\n".join(
        [
            f"{v.name} trained on snapshot {v.snapshot_id} ({plural(v.rows or 0, 'row')}{without})",
            f"  {scores}",
            f"  {gate.get('decision', '?')}: {gate.get('reason', '')}",
            f"  status: {v.status}",
            *_governance_hint(v),
        ]
    )


def _governance_hint(v: Any) -> list[str]:
    """What to do about a ``held`` or ``pending`` version."""
    if v.status == "held":
        pinned = (v.gate or {}).get("pinned")
        return [
            f"  the champion v{pinned} is pinned by a rollback: `workbench promote {v.name}"
            ' --reason "..."` serves this one, `workbench unpin --reason "..."` lets the gate'
            " promote again"
        ]
    if v.status == "pending":
        return [
            f'  waiting for approval: `workbench approve {v.name} --reason "..."` or'
            f' `workbench reject {v.name} --reason "..."`'
        ]
    return []


def challenger_text(result: dict[str, Any], report: str) -> str:
    """``train --no-promote --report FILE``: the decision in one line, where the report is."""
    run = result.get("challenger")
    if run is None:
        return f"challenger could not train: {result.get('error')}; report: {report}"
    gate = run["gate"]
    against = run["champion"] or "no champion"
    return (
        f"challenger on snapshot {run['snapshot']} vs {against}: {result['decision']}"
        f" ({gate['reason']}); nothing changed; report: {report}"
    )


def governance_text(result: Any) -> str:
    """promote | approve | reject | unpin (``pipeline.approval.GovernanceResult``)."""
    v = result.version
    if result.action == "unpin":
        return f"{v.name} is no longer pinned (by {result.by}: {result.reason})"
    if result.action == "reject":
        return f"{v.name} rejected by {result.by}: {result.reason}; the champion stays"
    verb = "promoted" if result.action == "promote" else "approved"
    return (
        f"champion: {result.previous or 'none'} -> {v.name} ({verb} by {result.by}:"
        f" {result.reason}); serving updated"
    )


def log_text(found: list[Any]) -> str:
    """``workbench log``: one line an entry (``store.audit.LogEntry``), newest first."""
    if not found:
        return "the log is empty: nothing has happened in this project yet"
    out = []
    for e in found:
        d = e.detail
        if e.kind == "config":
            what = f"{d['key']}: {d['before']!r} -> {d['after']!r}"
        elif e.kind == "snapshot":
            what = f"{d['snapshot']} ({plural(d['rows'] or 0, 'row')})"
        elif e.kind == "gate":
            what = str(d.get("decision", ""))
        elif e.kind == "hook":
            what = f"{d.get('hook')} {'ok' if d.get('ok') else 'failed'}"
        elif e.kind in ("promotion", "rollback"):
            what = f"{d.get('previous') or 'none'} -> {e.version} ({d.get('how')})"
        elif e.kind == "version":
            value = (d.get("metrics") or {}).get(d.get("metric"))
            shown = f" {d['metric']} {value:.4f}" if value is not None else ""
            what = f"{d.get('outcome')} on {d.get('snapshot')}{shown}"
        else:
            what = ""
        version = e.version or "-"
        why = (f": {e.reason}" if what else e.reason) if e.reason else ""
        out.append(f"{e.ts[:19]}  {e.kind:<9} {version:<6} {e.by:<12} {what}{why}".rstrip())
    return "\n".join(out)


class Progress:
    """One self-overwriting stderr line: step, boosting round, elapsed."""

    def __init__(self) -> None:
        import time

        self.clock = time.monotonic
        self.start = self.clock()
        self.last = 0.0

    def __call__(self, step: str, info: dict[str, Any]) -> None:
        import sys

        now = self.clock()
        if step == "train" and info and now - self.last < 0.1:
            return
        self.last = now
        detail = f" round {info['round']}/{info['total']}" if "round" in info else ""
        sys.stderr.write(f"\r\x1b[K{step}{detail}  {now - self.start:5.1f}s")
        sys.stderr.flush()

    def done(self) -> None:
        import sys

        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def drift_text(d: dict[str, Any]) -> str:
    out = [
        f"drift of snapshot {d['current']} ({d['current_rows']} new rows) vs"
        f" {d['reference_version']} (snapshot {d['reference']}, {d['reference_rows']} rows)"
    ]
    if d.get("note"):
        out.append(f"  {d['note']}")
        return "\n".join(out)
    verdict = "DATASET DRIFT" if d["dataset_drift"] else "no dataset drift"
    out.append(
        f"  {verdict}: {d['drifted_features']}/{len(d['features'])} features drifted"
        f" (share {d['drift_share']:.2f})"
    )
    out.append(
        f"  {'feature':<{NAME_WIDTH}} {'type':<12} {'method':<14} {'score':>10} {'thresh':>7}"
        f" {'psi':>7}"
    )
    for f in sorted(d["features"], key=_severity, reverse=True):
        out.append(_feature_line(f))
    for key in ("prediction_drift", "target_drift"):
        if d.get(key):
            out.append(f"  {key.replace('_', ' ')}:")
            out.append(_feature_line(d[key]))
    return "\n".join(out)


NAME_WIDTH = 24


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters: a long name keeps its start and its end."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def _severity(f: dict[str, Any]) -> tuple[bool, float]:
    score = f.get("score")
    if score is None:
        return (False, -1.0)
    p_value = f["method"] in ("ks", "chisquare", "z")
    return (bool(f["drifted"]), 1 - score if p_value else score)


def _feature_line(f: dict[str, Any]) -> str:
    mark = "*" if f["drifted"] else " "
    score = "-" if f["score"] is None else f"{f['score']:.4g}"
    psi = "-" if f.get("psi") is None else f"{f['psi']:.3f}"
    return (
        f"{mark} {clip(f['name'], NAME_WIDTH):<{NAME_WIDTH}} {f['type']:<12} {f['method']:<14}"
        f" {score:>10}"
        f" {f['threshold'] if f['threshold'] is not None else '-':>7} {psi:>7}"
    )


def export_mlflow_text(d: dict[str, Any]) -> str:
    """``workbench export mlflow`` for a person: what went where."""
    where = f"{d['tracking_uri']} experiment {d['experiment']!r} (id {d['experiment_id']})"
    if not d["exported"] and not d["updated"]:
        out = [f"nothing new: {plural(d['unchanged'], 'version')} already in {where}"]
    else:
        out = [f"exported to {where}"]
        if d["exported"]:
            resumed = f" (finished: {', '.join(d['resumed'])})" if d["resumed"] else ""
            out.append(f"  new runs: {', '.join(d['exported'])}{resumed}")
        if d["updated"]:
            out.append(f"  updated: {', '.join(d['updated'])}")
        out.append(f"  unchanged: {d['unchanged']}")
    if d["champion"]:
        moved = " (moved)" if d["alias_moved"] else ""
        out.append(
            f"  {d['registered_model']}@champion -> version {d['champion_model_version']}"
            f" = {d['champion']}{moved}"
        )
    return "\n".join(out)


def validate_text(report: dict[str, Any]) -> list[tuple[str, str]]:
    """``workbench validate``: one (status, line) per check, every check listed, then a total.

    The status is returned apart so the CLI can colour it; a failure's hint follows it.
    """
    checks = report["checks"]
    width = max((len(c["name"]) for c in checks), default=0)
    out: list[tuple[str, str]] = []
    for c in checks:
        out.append((c["status"], f" {c['name']:<{width}}  {c['message']}"))
        if c["status"] == "fail" and c.get("hint"):
            out.append(("", f"      {'':<{width}}  hint: {c['hint']}"))
    total = (
        f"{plural(report['failures'], 'failure')}, {plural(report['warnings'], 'warning')},"
        f" {report['passed']:,} passed"
    )
    out.append(("", total))
    return out


def monitor_text(d: dict[str, Any]) -> str:
    """``workbench monitor``: the reference, then one line per chunk (newest last)."""
    metric = d["metric"]
    ref = d["reference"]
    kpi = metric[4:] if metric.startswith("kpi:") else None  # gate.metric = "kpi:NAME"
    base = ref.get("kpis", {}).get(kpi) if kpi else ref["metrics"].get(metric)
    out = [
        f"{d['version']} monitored on {metric}: reference {_dash(base)}"
        f" +- {_dash(ref['se'].get(metric))} (SE) on {ref['rows']} holdout rows"
    ]
    if not d["chunks"]:
        out.append("  no chunk yet: new labelled data files or delayed labels are monitored")
        return "\n".join(out)
    out.append(
        f"  {'chunk':<34} {'rows':>7} {'labelled':>8} {'realized':>9} {'estimated':>9}"
        f" {'band':>17}  alerts"
    )
    for c in d["chunks"]:
        real = (c["realized"] or {}).get(metric)
        est = c["estimated"].get(metric)
        if kpi and kpi in c["kpis"]:
            real, est = c["kpis"][kpi]["realized"], c["kpis"][kpi]["estimated"]
        lo, hi = c["bands"].get(metric, [None, None])
        band = f"[{_dash(lo)}, {_dash(hi)}]"
        alerts = ", ".join(c["alerts"]) or "-"
        out.append(
            f"  {clip(c['key'], 34):<34} {c['rows']:>7} {c['labelled']:>8} {_dash(real):>9}"
            f" {_dash(est):>9} {band:>17}  {alerts}"
        )
        for name, k in c["kpis"].items():
            out.append(
                f"    kpi {clip(name, 28):<28} realized {_dash(k['realized'])}"
                f"  estimated {_dash(k['estimated'])}"
            )
    return "\n".join(out)


def _dash(value: Any) -> str:
    return "-" if value is None else _num(value)


def monitor_status_line(m: dict[str, Any]) -> str:
    """``status``'s monitor line: the newest chunk's value of the gate metric, open alerts."""
    c, metric = m["latest"], m["metric"]
    real, est = (c["realized"] or {}).get(metric), c["estimated"].get(metric)
    if metric.startswith("kpi:") and metric[4:] in c["kpis"]:
        real, est = c["kpis"][metric[4:]]["realized"], c["kpis"][metric[4:]]["estimated"]
    shown = (
        f"{metric} {_dash(real)} realized"
        if real is not None
        else f"{metric} {_dash(est)} estimated"
    )
    alerts = ", ".join(f"{a['metric']} on {a['chunk']}" for a in m["alerts"])
    return f"{m['version']} on {c['key']}: {shown}" + (f"; ALERT {alerts}" if alerts else "")
