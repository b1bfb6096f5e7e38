"""The gate: promote a candidate only if it beats the champion on the same rows.

Both models score the candidate's holdout rows that the champion never trained or validated on
(``split.seen_by`` of the champion's split record: under the row-hash split that is every
holdout row, by construction; a champion with another seed, fraction or an old split loses the
rows it saw). The champion scores from the candidate's encoded holdout matrix when its feature
spec encodes the same way, else from the holdout rows; the candidate is rescored on the same
rows whenever some were left out. The decision records how many rows it compared on. The
is promoted when it is better by more than ``[gate] min_delta`` in the metric's direction
(``cand > champ + min_delta`` for AUC-like metrics, ``cand < champ - min_delta`` for losses);
a tie keeps the champion. The first model that trains is promoted. A champion that cannot
score the new data (a feature column it needs is gone) cannot defend its place: the candidate
is promoted and the reason says why.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import DataError
from workbench.model import metrics, split
from workbench.model.loading import LoadedModel

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from workbench.model.features import FeatureSpec
    from workbench.model.train import Trained


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    metric: str
    candidate: float
    champion: float | None
    champion_version: str | None
    rows: int | None = None  # holdout rows both models were scored on
    excluded: int = 0  # holdout rows left out because the champion had seen them

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": "promoted" if self.promote else "rejected",
            "reason": self.reason,
            "metric": self.metric,
            "candidate": self.candidate,
            "champion": self.champion,
            "champion_version": self.champion_version,
            "rows": self.rows,
            "excluded": self.excluded,
        }


@dataclass(frozen=True)
class Shared:
    """Both models' metric on the holdout rows the champion never saw."""

    candidate: float
    champion: float | None  # None: the champion cannot score these rows
    rows: int
    excluded: int


# A gate metric the model layer does not compute (``kpi:NAME``): (rows, y, scores) -> value
Score = Callable[["pl.DataFrame", "np.ndarray", "np.ndarray"], float]


def shared_scores(
    trained: Trained,
    champion: LoadedModel,
    metric: str,
    legacy_frame: split.LegacyFrame | None = None,
    score: Score | None = None,
) -> Shared:
    """Candidate and champion ``metric`` on the candidate's holdout minus the champion's rows.

    ``legacy_frame`` gives the champion's labelled snapshot rows when its split predates the
    row-hash rule (see ``split.seen_by``); it is only called then. ``score`` computes a metric
    this layer does not know (a KPI, passed by the pipeline) from the shared rows.
    """
    import numpy as np
    import polars as pl

    spec = trained.model.spec
    known = ~np.isnan(trained.y_holdout)
    record = champion.meta.get("split", {})
    if split.same_sides(record, trained.meta["split"]):  # by construction: none seen
        seen = np.zeros(len(trained.y_holdout), dtype=bool)
    else:
        seen = split.seen_by(trained.holdout, record, legacy_frame)
    use = known & ~seen
    excluded = int((known & seen).sum())
    y = trained.y_holdout[use]
    shared_rows = np.flatnonzero(use[known])  # positions in x_holdout
    x = np.take(trained.x_holdout, shared_rows, axis=0)
    rows = trained.holdout.filter(pl.Series(use)) if score is not None else None

    def measure(pred: np.ndarray) -> float:
        if score is not None and rows is not None:
            return score(rows, y, pred)
        return metrics.compute(spec.task, y, pred)[metric]

    if excluded or metric not in trained.metrics:
        kept = trained.pred_holdout  # training's own scores of x_holdout, when it kept them
        own = trained.model.predict_matrix(x) if kept is None else np.take(kept, shared_rows, 0)
        candidate = measure(own)
    else:
        candidate = trained.metrics[metric]
    shared = Shared(candidate, None, int(use.sum()), excluded)
    if champion.spec.task != spec.task or champion.spec.classes != spec.classes or not len(y):
        return shared
    if same_encoding(champion.spec, spec):  # the candidate's holdout matrix is the champion's
        pred = champion.predict_matrix(x)
    else:
        try:
            pred = champion.predict(trained.holdout.filter(pl.Series(use)))
        except DataError:
            return shared
    return Shared(candidate, measure(pred), shared.rows, excluded)


def same_encoding(a: FeatureSpec, b: FeatureSpec) -> bool:
    """True when ``features.encode`` gives the same matrix for both specs (same columns, kinds,
    order and category lists)."""
    return a.features == b.features and a.kinds == b.kinds and a.categories == b.categories


def decide(
    metric: str,
    candidate: float,
    champion: float | None,
    champion_version: str | None,
    min_delta: float,
    shared: Shared | None = None,
    higher: bool | None = None,
) -> Decision:
    rows, excluded = (shared.rows, shared.excluded) if shared else (None, 0)

    def made(promote: bool, reason: str) -> Decision:
        return Decision(
            promote, reason, metric, candidate, champion, champion_version, rows, excluded
        )

    if champion_version is None:
        return made(True, f"gate: first model ({metric} {candidate:.4f})")
    if shared is not None and shared.rows == 0:
        return made(
            False,
            f"gate: every holdout row was in {champion_version}'s training data;"
            " nothing to compare on (keep [train] seed and holdout_fraction between versions)",
        )
    if champion is None or math.isnan(champion):
        return made(True, f"gate: champion {champion_version} cannot score the new data")
    if math.isnan(candidate):
        return made(False, f"gate: candidate {metric} is undefined on the holdout")
    if metrics.higher_is_better(metric) if higher is None else higher:
        better = candidate > champion + min_delta
        sign = ">" if better else "<="
        rule = f"{candidate:.4f} {sign} {champion:.4f} + {min_delta}"
    else:
        better = candidate < champion - min_delta
        sign = "<" if better else ">="
        rule = f"{candidate:.4f} {sign} {champion:.4f} - {min_delta}"
    on = f", {rows} rows" if rows is not None else ""
    return made(better, f"gate: {metric} {rule} ({champion_version}{on})")
