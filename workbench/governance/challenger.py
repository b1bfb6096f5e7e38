"""The CI challenger run: ``workbench train --no-promote --report FILE.md [--fail-on-reject]``.

Train on the checkout's inputs, gate against the champion, and write a Markdown report fit
for a pull-request comment — never recording a version, never changing the champion, its
history or the serving export (``pipeline.train.run_train(no_promote=True)``). What the run
may record: the snapshot of the inputs (data versioning) and the drift result of that
snapshot against the champion (a cache ``workbench drift`` would compute the same).

Side by side: both models score the candidate's holdout rows the champion never trained or
validated on (the gate's rows, ``split.seen_by``), every metric of the task, deltas
``candidate - champion`` with a 95% paired-bootstrap interval (``bootstrap.intervals``:
seeded resamples, the same rows for both models). The report holds no wall-clock time: the
same inputs and store give the same report.

Exit: 0 whatever the gate decided; with ``--fail-on-reject`` a rejection exits
``ExitCode.REJECTED`` (8) — unless the inputs are the champion's own snapshot (``unchanged``: a
pull request that touches neither data nor config retrains the champion, and a tie is not a
failure). A run that cannot train (validation or training failed) writes a
report saying so, then exits with that error's code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from workbench.config import Settings
from workbench.errors import DataError, WorkbenchError
from workbench.model import bootstrap, metrics, split
from workbench.model.gate import same_encoding
from workbench.model.loading import load_version
from workbench.model.train import Progress, labelled_rows
from workbench.pipeline.train import Challenger, run_train
from workbench.store import Store

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class SideBySide:
    rows: int
    excluded: int
    candidate: dict[str, float]
    champion: dict[str, float] | None  # None: the champion cannot score these rows
    delta: dict[str, float]
    interval: dict[str, tuple[float, float]]  # metric -> 95% paired-bootstrap interval of delta
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "excluded": self.excluded,
            "candidate": self.candidate,
            "champion": self.champion,
            "delta": self.delta,
            "delta_interval": {k: list(v) for k, v in self.interval.items()},
            "note": self.note,
        }


@dataclass(frozen=True)
class ChallengerReport:
    run: Challenger | None  # None: the candidate could not be trained
    side: SideBySide | None
    drift: dict[str, Any] | None
    drift_note: str | None
    markdown: str
    error: WorkbenchError | None = None

    @property
    def promote(self) -> bool:
        return self.run is not None and self.run.decision.promote

    @property
    def unchanged(self) -> bool:
        """The inputs are the champion's own snapshot (a pull request that changes neither data
        nor config): the challenger is the champion retrained, so a tie is no rejection."""
        run = self.run
        return (
            run is not None
            and run.champion is not None
            and (run.champion.snapshot_id == run.snapshot.id)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": (None if self.run is None else ("promote" if self.promote else "reject")),
            "unchanged": self.unchanged,
            "challenger": self.run.to_json() if self.run else None,
            "side_by_side": self.side.to_json() if self.side else None,
            "drift": self.drift,
            "error": self.error.message if self.error else None,
        }


def run_challenger(
    settings: Settings, store: Store, *, progress: Progress | None = None
) -> ChallengerReport:
    """Train and gate without promoting; the report of what the gate would decide."""
    try:
        outcome = run_train(settings, store, progress=progress, no_promote=True)
    except WorkbenchError as e:
        return ChallengerReport(None, None, None, None, _failed_markdown(e), error=e)
    run = outcome.challenger
    assert run is not None
    side = side_by_side(store, run)
    drift, drift_note = _drift(settings, store, run, outcome.snapshot)
    return ChallengerReport(
        run, side, drift, drift_note, report_markdown(run, side, drift, drift_note)
    )


def side_by_side(store: Store, run: Challenger) -> SideBySide | None:
    """Candidate and champion on the candidate's holdout rows the champion never saw."""
    import numpy as np
    import polars as pl

    trained, champion = run.trained, run.champion
    if champion is None:
        return None
    loaded = load_version(store.objects, champion)
    spec = trained.model.spec
    known = ~np.isnan(trained.y_holdout)
    record = loaded.meta.get("split", {})
    if split.same_sides(record, trained.meta["split"]):
        seen = np.zeros(len(trained.y_holdout), dtype=bool)
    else:
        seen = split.seen_by(
            trained.holdout, record, lambda: labelled_rows(store, champion.snapshot_id, loaded)
        )
    use = known & ~seen
    excluded = int((known & seen).sum())
    y = trained.y_holdout[use]
    x = np.take(trained.x_holdout, np.flatnonzero(use[known]), axis=0)
    pa = trained.model.predict_matrix(x)
    ours = metrics.compute(spec.task, y, pa) if len(y) else {}
    empty = SideBySide(int(use.sum()), excluded, ours, None, {}, {})
    if not len(y):
        return SideBySide(0, excluded, {}, None, {}, {}, "no holdout row is unseen by the champion")
    if loaded.spec.task != spec.task or loaded.spec.classes != spec.classes:
        return replace(empty, note="the champion predicts another task or classes")
    try:
        if same_encoding(loaded.spec, spec):
            pb = loaded.predict_matrix(x)
        else:
            pb = loaded.predict(trained.holdout.filter(pl.Series(use)))
    except DataError as e:
        return replace(empty, note=f"the champion cannot score: {e.message}")
    theirs = metrics.compute(spec.task, y, pb)
    delta = {k: ours[k] - theirs[k] for k in sorted(ours)}
    return SideBySide(
        int(use.sum()), excluded, ours, theirs, delta, bootstrap.intervals(spec.task, y, pa, pb)
    )


def _drift(
    settings: Settings, store: Store, run: Challenger, taken: Any
) -> tuple[dict[str, Any] | None, str | None]:
    if run.champion is None:
        return None, "no champion: nothing to drift from"
    from workbench.monitor.drift import run_drift

    try:
        result = run_drift(settings, store, taken=taken).result
    except WorkbenchError as e:
        return None, f"drift not computed: {e.message}"
    return {
        "reference_version": result.reference_version,
        "dataset_drift": result.dataset_drift,
        "drift_share": result.drift_share,
        "drifted": sorted(result.drifted),
        "features": len(result.features),
        "note": result.note,
    }, None


# ------------------------------------------------------------------ Markdown


def report_markdown(
    run: Challenger,
    side: SideBySide | None,
    drift: dict[str, Any] | None,
    drift_note: str | None,
) -> str:
    d, snap, champion = run.decision, run.snapshot, run.champion
    verdict = "passes the gate: it would be promoted" if d.promote else "rejected by the gate"
    git = (
        f"commit `{snap.git_commit}` on `{snap.git_branch}`"
        + (" (uncommitted changes)" if snap.git_dirty else "")
        if snap.in_git
        else "not in git"
    )
    against = (
        f"champion **{champion.name}** (snapshot `{champion.snapshot_id}`, commit"
        f" `{champion.git_commit}`)"
        if champion
        else "no champion (the first model)"
    )
    if champion is not None and champion.snapshot_id == snap.id:
        verdict = f"inputs unchanged: the challenger is {champion.name} retrained"
    out = [
        f"## workbench challenger: {verdict}",
        "",
        f"**Decision: {'promote' if d.promote else 'reject'}** — {d.reason}",
        "",
        f"Candidate trained on snapshot `{snap.id}` ({git}, {snap.rows} rows), gated against"
        f" {against}. Nothing was changed: no version recorded, the champion and the serving"
        " export stay as they are.",
        "",
        "### Metrics on the same holdout rows",
        "",
    ]
    out += _metrics_md(run, side)
    out += ["", "### Validation", "", *_validation_md(run)]
    out += ["", "### Drift of the candidate's data against the champion's", ""]
    out.append(_drift_md(drift, drift_note))
    out += [
        "",
        "### Gate decision (recorded nowhere: nothing was promoted)",
        "",
        _table(("field", "value"), [(k, _cell(v)) for k, v in sorted(d.to_json().items())]),
    ]
    return "\n".join(out) + "\n"


def _metrics_md(run: Challenger, side: SideBySide | None) -> list[str]:
    if side is None or side.champion is None:
        own = [(k, _n(v)) for k, v in sorted(run.trained.metrics.items())]
        note = side.note if side and side.note else "no champion to compare with"
        return [_table(("metric", "candidate"), own), "", f"Candidate's own holdout ({note})."]
    name = run.champion.name if run.champion else "champion"
    rows: list[tuple[str, ...]] = []
    for k in sorted(side.candidate):
        lo, hi = side.interval.get(k, (math.nan, math.nan))
        better = "higher" if metrics.higher_is_better(k) else "lower"
        rows.append(
            (
                k + (" (gate)" if k == run.decision.metric else ""),
                _n(side.candidate[k]),
                _n(side.champion[k]),
                _signed(side.delta[k]),
                f"[{_signed(lo)}, {_signed(hi)}]",
                better,
            )
        )
    return [
        _table(
            ("metric", "candidate", name, "delta", "95% interval of delta", "better when"), rows
        ),
        "",
        f"{side.rows} holdout rows neither model trained on ({side.excluded} left out because"
        f" {name} had seen them); intervals: paired percentile bootstrap,"
        f" {bootstrap.RESAMPLES} resamples, seed {bootstrap.SEED}.",
    ]


def _validation_md(run: Challenger) -> list[str]:
    r = run.validation
    head = (
        f"{'passed' if r.ok else 'failed'}: {sum(c.status == 'pass' for c in r.checks)} checks"
        f" passed, {len(r.warnings)} warnings, {len(r.failures)} failures."
    )
    return [head] + [f"- {c.status} {c.name}: {c.message}" for c in r.checks if c.status != "pass"]


def _drift_md(drift: dict[str, Any] | None, note: str | None) -> str:
    if drift is None:
        return note or "not computed"
    if drift["note"]:
        return f"Against {drift['reference_version']}'s training data: {drift['note']}."
    drifted = ", ".join(drift["drifted"]) or "none"
    return (
        f"Against {drift['reference_version']}'s training data: dataset drift"
        f" **{'yes' if drift['dataset_drift'] else 'no'}**, drift share {_n(drift['drift_share'])}"
        f" of {drift['features']} features; drifted: {drifted}."
    )


def _failed_markdown(e: WorkbenchError) -> str:
    lines = [
        "## workbench challenger: could not train",
        "",
        f"**Decision: none** — {e.message}",
        "",
    ]
    if e.hint:
        lines += [f"Hint: {e.hint}", ""]
    lines.append("Nothing was changed: the champion and the serving export stay as they are.")
    return "\n".join(lines) + "\n"


def _n(x: float | None) -> str:
    if x is None:
        return "n/a"
    return "nan" if x != x else f"{x:.4f}"


def _signed(x: float) -> str:
    return "nan" if x != x else f"{x:+.4f}"


def _cell(x: Any) -> str:
    return "n/a" if x is None else str(x)


def _table(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)
