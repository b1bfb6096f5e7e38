"""``workbench card VERSION``: a model card from the project's own records.

``card_json`` is the card as data, under the Model Card Toolkit's field names
(``model_details``, ``model_parameters``, ``quantitative_analysis``, ``considerations``) plus
``lineage``, ``validation``, ``drift_at_promotion``, ``monitoring``, ``champion_history`` and
``integrity``. ``card_markdown`` renders the same data as Markdown with a YAML front matter in
the Hugging Face model-card conventions (``library_name``, ``tags``, ``metrics``,
``model-index``); the front matter carries the metric values exactly as recorded (``repr`` of
the float), the tables round them to 4 decimals.

Every value comes from a record (``records.gather``), the cached intervals
(``intervals.intervals``) or the notes file: the same records give the same bytes. The
integrity footer holds the SHA-256 of the card's text above it, so an edited card is seen.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from typing import Any

from workbench.config import Settings
from workbench.governance import intervals, notes
from workbench.governance.records import CardRecords, gather
from workbench.store import Store

FORMAT = "workbench-model-card/1"
TASK_TYPES = {
    "binary": "tabular-classification",
    "multiclass": "tabular-classification",
    "regression": "tabular-regression",
}


@dataclass(frozen=True)
class Card:
    data: dict[str, Any]  # the ``--json`` shape
    markdown: str

    def to_json(self) -> dict[str, Any]:
        return self.data


def build_card(settings: Settings, store: Store, ref: str) -> Card:
    """The card of version ``ref`` (``v3`` or ``champion``)."""
    rec = gather(store, ref)
    ci = intervals.intervals(store, rec.version) if rec.meta is not None else None
    written = notes.read_notes(settings.root, settings.governance.card_notes)
    data = card_json(rec, ci, written)
    return Card(data, card_markdown(data, written))


# ------------------------------------------------------------------ the card as data


def card_json(rec: CardRecords, ci: dict[str, Any] | None, written: notes.Notes) -> dict[str, Any]:
    v, snap, meta = rec.version, rec.snapshot, rec.meta or {}
    config = _config(rec.config_text)
    body: dict[str, Any] = {
        "format": FORMAT,
        "model_details": {
            "name": str(config.get("project", {}).get("name") or "model"),
            "version": v.name,
            "status": v.status,
            "task": v.task or meta.get("task") or None,
            "engine": v.engine,
            "snapshot": snap.id,
            "git_commit": v.git_commit,
            "git_branch": snap.git_branch,
            "git_dirty": v.git_dirty,
            "created_at": v.created_at,
            "created_by": v.created_by,
            "model_sha256": rec.model_sha256,
            "error": v.error,
            "libraries": dict(sorted((meta.get("libraries") or {}).items())),
        },
        "model_parameters": _parameters(meta),
        "lineage": {
            "snapshot": snap.id,
            "snapshot_created_at": snap.created_at,
            "git_commit": snap.git_commit,
            "git_branch": snap.git_branch,
            "git_dirty": snap.git_dirty,
            "in_git": snap.in_git,
            "files": sorted((f.to_json() for f in snap.data_files), key=lambda f: f["path"]),
            "config": {"path": snap.config_path, "hash": snap.config_hash},
            "config_text": rec.config_text,
            "model_hash": v.model_hash,
            "meta_hash": v.meta_hash,
        },
        "training_data": _profile(snap.profile),
        "quantitative_analysis": {
            "performance_metrics": _metrics(v.metrics, ci),
            "holdout": {
                "rows": (ci or {}).get("rows"),
                "split": meta.get("split"),
                "interval_method": (ci or {}).get("method"),
                "interval_unavailable": (ci or {}).get("unavailable"),
            },
            "gate": v.gate,
            "feature_importance": [
                {"feature": k, "importance": x}
                for k, x in sorted(
                    (meta.get("importance") or {}).items(), key=lambda kv: (-kv[1], kv[0])
                )
            ],
        },
        "considerations": {
            "source": written.source,
            **{h.lower().replace(" ", "_"): written.get(h) for h in notes.WRITTEN},
            "other": {
                h: b
                for h, b in written.sections
                if h.lower() not in {w.lower() for w in notes.WRITTEN}
            },
        },
        "validation": [
            {
                "ts": e.ts,
                "kind": e.kind,
                "message": e.message,
                "passed": e.data.get("passed"),
                "warnings": e.data.get("warnings"),
                "failures": e.data.get("failures"),
                "checks": [
                    {k: c.get(k) for k in ("name", "status", "message", "file", "column")}
                    for c in e.data.get("checks") or []
                    if c.get("status") != "pass"
                ],
            }
            for e in rec.validation
        ],
        "drift_at_promotion": _drift(rec),
        "monitoring": rec.monitoring,
        "champion_history": [
            c.to_json() | {"event": "became champion" if c.number == v.number else "replaced"}
            for c in rec.history
        ],
    }
    records = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    body["integrity"] = {
        "model_sha256": rec.model_sha256,
        "meta_hash": v.meta_hash,
        "snapshot": snap.id,
        "config_hash": snap.config_hash,
        "records_sha256": records,
    }
    return body


def _config(text: str | None) -> dict[str, Any]:
    try:
        return tomllib.loads(text) if text else {}
    except tomllib.TOMLDecodeError:
        return {}


def _parameters(meta: dict[str, Any]) -> dict[str, Any]:
    if not meta:
        return {}
    spec = meta.get("spec") or {}
    return {
        "model_architecture": "LightGBM gradient-boosted decision trees (native text model)",
        "target": spec.get("target"),
        "classes": spec.get("classes"),
        "features": [
            {"name": n, "kind": k}
            for n, k in zip(spec.get("features") or [], spec.get("kinds") or [], strict=False)
        ],
        "params": dict(sorted((meta.get("params") or {}).items())),
        "num_boost_round": meta.get("num_boost_round"),
        "best_iteration": meta.get("best_iteration"),
    }


def _profile(profile: dict[str, Any]) -> dict[str, Any]:
    columns = []
    for c in profile.get("columns") or []:
        item = {k: c.get(k) for k in ("name", "dtype", "kind", "nulls", "unique")}
        if c.get("kind") == "numeric":
            item |= {k: c.get(k) for k in ("min", "max", "mean", "std")}
        elif c.get("top"):
            item["top"] = c["top"][0]
        columns.append(item)
    return {"rows": profile.get("rows"), "columns": sorted(columns, key=lambda c: str(c["name"]))}


def _metrics(values: dict[str, float], ci: dict[str, Any] | None) -> list[dict[str, Any]]:
    bounds = (ci or {}).get("metrics") or {}
    out = []
    for name, value in sorted(values.items()):
        low_high = bounds.get(name)
        interval = (
            {
                "lower_bound": low_high[0],
                "upper_bound": low_high[1],
                "level": ci.get("level") if ci else None,
                "method": ci.get("method") if ci else None,
            }
            if low_high
            else None
        )
        out.append(
            {"type": name, "value": value, "slice": "holdout", "confidence_interval": interval}
        )
    return out


def _drift(rec: CardRecords) -> dict[str, Any] | None:
    d = rec.drift
    if d is None:
        return None
    return {
        "reference_version": d.reference_version,
        "reference": d.reference,
        "current": d.current,
        "dataset_drift": d.dataset_drift,
        "drift_share": d.drift_share,
        "drifted_features": sorted(d.drifted),
        "features": len(d.features),
        "computed_at": d.computed_at,
        "note": d.note,
    }


# ------------------------------------------------------------------ Markdown


def card_markdown(data: dict[str, Any], written: notes.Notes) -> str:
    d = data["model_details"]
    title = f"# Model card: {d['name']} {d['version']}"
    lead = [title, ""]
    if written.preamble:
        lead += [written.preamble, ""]
    sections = notes.merge(_sections(data), written, written_after="Model details")
    text = "\n".join(lead) + "\n" + "\n".join(f"## {h}\n\n{b.strip()}\n" for h, b in sections)
    body = _front_matter(data) + text
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    footer = (
        "\n## Integrity\n\n"
        f"Generated by `workbench card` from the project's records only ({FORMAT}).\n\n"
        + _table(
            ("record", "value"),
            [
                ("model SHA-256", d["model_sha256"]),
                ("meta object", data["integrity"]["meta_hash"]),
                ("snapshot", data["integrity"]["snapshot"]),
                ("config hash", data["integrity"]["config_hash"]),
                ("records SHA-256", data["integrity"]["records_sha256"]),
                ("card SHA-256 (the text above this section)", digest),
            ],
        )
    )
    return body + footer


def _front_matter(data: dict[str, Any]) -> str:
    d = data["model_details"]
    task = TASK_TYPES.get(d["task"] or "", "tabular")
    perf = data["quantitative_analysis"]["performance_metrics"]
    lines = ["---", "library_name: lightgbm", "tags:"]
    lines += [f"- {t}" for t in ("lightgbm", "tabular", task, "workbench")]
    lines += ["metrics:" + ("" if perf else " []")] + [f"- {m['type']}" for m in perf]
    lines += [
        "model-index:",
        f"- name: {_q(d['name'] + '-' + d['version'])}",
        "  results:",
    ]
    if perf:
        lines += [
            "  - task:",
            f"      type: {task}",
            "    dataset:",
            f"      name: {_q('snapshot ' + d['snapshot'])}",
            "      type: tabular",
            "      split: holdout",
            "    metrics:",
        ]
        for m in perf:
            lines += [f"    - type: {m['type']}", f"      value: {_yaml_num(m['value'])}"]
    else:
        lines[-1] = "  results: []"
    lines += [f"workbench_version: {_q(d['version'])}", f"workbench_status: {_q(d['status'])}"]
    return "\n".join(lines) + "\n---\n\n"


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML string


def _yaml_num(x: float) -> str:
    if x != x:
        return ".nan"
    return repr(float(x))


def _sections(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("Model details", _details(data)),
        ("Lineage", _lineage(data)),
        ("Training data", _training_data(data)),
        ("Performance on the holdout", _performance(data)),
        ("Gate decision", _gate(data)),
        ("Validation", _validation(data)),
        ("Drift at promotion", _drift_md(data)),
        ("Performance since promotion (monitoring)", _monitoring(data)),
        ("Feature importance", _importance(data)),
        ("Champion history", _history(data)),
        ("How to use", _usage(data)),
    ]


def _details(data: dict[str, Any]) -> str:
    d = data["model_details"]
    rows = [
        ("version", d["version"]),
        ("status", d["status"]),
        ("task", d["task"]),
        ("trained by engine", d["engine"]),
        ("snapshot", d["snapshot"]),
        ("git commit", d["git_commit"] or "not in git"),
        ("created at", d["created_at"]),
        ("created by", d["created_by"]),
        ("model SHA-256", d["model_sha256"] or "no model"),
    ]
    text = _table(("field", "value"), rows)
    if d["status"] == "failed":
        text = f"**Training failed**: {d['error']}. This version has no model.\n\n" + text
    return text


def _lineage(data: dict[str, Any]) -> str:
    lin, p = data["lineage"], data["model_parameters"]
    git = (
        f"commit `{lin['git_commit']}` on branch `{lin['git_branch']}`"
        + (" (uncommitted changes)" if lin["git_dirty"] else "")
        if lin["in_git"]
        else "not in a git repository"
    )
    out = [
        f"Snapshot `{lin['snapshot']}` (taken {lin['snapshot_created_at']}); git: {git}.",
        "",
        _table(
            ("data file", "hash", "bytes", "rows"),
            [(f["path"], f["hash"], f["bytes"], f["rows"]) for f in lin["files"]],
        ),
        "",
        f"Config `{lin['config']['path']}` (hash `{lin['config']['hash']}`):",
        "",
        "```toml",
        (lin["config_text"] or "").rstrip(),
        "```",
    ]
    if p:
        out += [
            "",
            f"LightGBM parameters (best iteration {p['best_iteration']} of"
            f" {p['num_boost_round']}):",
            "",
            _table(("parameter", "value"), sorted((k, _cell(x)) for k, x in p["params"].items())),
        ]
    libs = data["model_details"]["libraries"]
    if libs:
        out += ["", "Libraries: " + ", ".join(f"{k} {x}" for k, x in libs.items()) + "."]
    return "\n".join(out)


def _training_data(data: dict[str, Any]) -> str:
    t = data["training_data"]
    rows = []
    for c in t["columns"]:
        if c["kind"] == "numeric":
            summary = f"min {_n(c.get('min'))}, mean {_n(c.get('mean'))}, max {_n(c.get('max'))}"
        elif c.get("top"):
            summary = f"most common {c['top'].get('value')!s} ({c['top'].get('count')})"
        else:
            summary = ""
        rows.append((c["name"], c["kind"], c["nulls"], c["unique"], summary))
    return f"{t['rows']} rows in the snapshot.\n\n" + _table(
        ("column", "kind", "nulls", "unique", "summary"), rows
    )


def _performance(data: dict[str, Any]) -> str:
    q = data["quantitative_analysis"]
    perf, hold = q["performance_metrics"], q["holdout"]
    if not perf:
        return "No metrics: this version did not train."
    rows = []
    for m in perf:
        ci = m["confidence_interval"]
        rows.append(
            (
                m["type"],
                _n(m["value"]),
                f"[{_n(ci['lower_bound'])}, {_n(ci['upper_bound'])}]" if ci else "n/a",
            )
        )
    note = (
        f"95% intervals: {hold['interval_method']} on the {hold['rows']} holdout rows."
        if not hold["interval_unavailable"]
        else f"No intervals: {hold['interval_unavailable']}."
    )
    return _table(("metric", "value", "95% interval"), rows) + "\n\n" + note


def _gate(data: dict[str, Any]) -> str:
    g = data["quantitative_analysis"]["gate"]
    if not g:
        return "No gate decision recorded (the version did not train)."
    rows = [(k, _cell(g.get(k))) for k in sorted(g)]
    return f"**{g.get('decision')}**: {g.get('reason')}\n\n" + _table(("field", "value"), rows)


def _validation(data: dict[str, Any]) -> str:
    events = data["validation"]
    if not events:
        return "No validation recorded for this snapshot."
    out = []
    for e in events:
        out.append(
            f"- {e['ts']} `{e['kind']}`: {e['message']} ({e['passed']} passed,"
            f" {e['warnings']} warnings, {e['failures']} failures)"
        )
        out += [f"  - {c['status']} {c['name']}: {c['message']}" for c in e["checks"]]
    return "\n".join(out)


def _drift_md(data: dict[str, Any]) -> str:
    d = data["drift_at_promotion"]
    if d is None:
        gate = data["quantitative_analysis"]["gate"] or {}
        if not gate.get("champion_version"):
            return "No champion to drift from: this was the first model (or it did not train)."
        return f"No drift result recorded for this snapshot against {gate['champion_version']}."
    if d["note"]:
        return f"Against {d['reference_version']} (snapshot `{d['reference']}`): {d['note']}."
    drifted = ", ".join(d["drifted_features"]) or "none"
    return (
        f"Against {d['reference_version']} (snapshot `{d['reference']}`), computed"
        f" {d['computed_at']}: dataset drift **{'yes' if d['dataset_drift'] else 'no'}**,"
        f" drift share {_n(d['drift_share'])} of {d['features']} features; drifted: {drifted}."
    )


def _monitoring(data: dict[str, Any]) -> str:
    chunks = data["monitoring"]
    if not chunks:
        return "No monitoring results recorded."
    rows = []
    for c in chunks:
        when = f"{c['start'] or ''} – {c['end'] or ''}" if c["start"] or c["end"] else ""
        for m in c["metrics"]:
            band = f"[{_n(m['lower'])}, {_n(m['upper'])}]"
            rows.append(
                (
                    c["key"],
                    when,
                    c["rows"],
                    c["labelled"],
                    m["name"],
                    _n(m["realized"]),
                    _n(m["estimated"]),
                    band,
                    "yes" if m["alert"] else "",
                )
            )
    head = ("chunk", "time", "rows", "labelled", "metric", "realized", "estimated", "band", "alert")
    return (
        "Outcome monitoring's records: realized (with labels) and estimated performance per"
        " chunk, oldest first.\n\n" + _table(head, rows)
    )


def _importance(data: dict[str, Any]) -> str:
    items = data["quantitative_analysis"]["feature_importance"]
    if not items:
        return "No model, no importance."
    total = sum(i["importance"] for i in items) or 1.0
    rows = [
        (i["feature"], _n(i["importance"]), f"{100 * i['importance'] / total:.1f}%") for i in items
    ]
    return "Gain importance, as LightGBM recorded it.\n\n" + _table(
        ("feature", "gain", "share"), rows
    )


def _history(data: dict[str, Any]) -> str:
    h = data["champion_history"]
    if not h:
        return "Never champion."
    rows = [
        (c["ts"], c["event"], c["version"], c["previous"], c["kind"], c["by"], c["reason"])
        for c in h
    ]
    return _table(("when", "event", "champion", "previous", "kind", "by", "why"), rows)


def _usage(data: dict[str, Any]) -> str:
    d = data["model_details"]
    if d["model_sha256"] is None:
        return "This version has no model to use."
    features = ", ".join(f["name"] for f in data["model_parameters"]["features"])
    return "\n".join(
        [
            "```sh",
            f"workbench predict INPUT.csv -o OUTPUT.csv --version {d['version']}",
            'workbench serve   # serves the champion; POST /predict {"rows": [...]}',
            "```",
            "",
            f"Input columns the model reads: {features}.",
        ]
    )


def _n(x: Any) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return "nan" if x != x else f"{x:.4f}"
    return str(x)


def _cell(x: Any) -> str:
    if x is None:
        return "n/a"
    return json.dumps(x, sort_keys=True) if isinstance(x, dict | list) else str(x)


def _table(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    def esc(x: Any) -> str:
        return str("" if x is None else x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
