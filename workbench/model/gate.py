"""The gate: promote a candidate only if it beats the champion on the same rows.

Both models score the candidate's holdout (the champion from the candidate's encoded holdout
matrix when its feature spec encodes the same way, else from the holdout rows). The candidate
is promoted when it is better by more than ``[gate] min_delta`` in the metric's direction
(``cand > champ + min_delta`` for AUC-like metrics, ``cand < champ - min_delta`` for losses);
a tie keeps the champion. The first model that trains is promoted. A champion that cannot
score the new data (a feature column it needs is gone) cannot defend its place: the candidate
is promoted and the reason says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import DataError
from workbench.model import metrics
from workbench.model.loading import LoadedModel

if TYPE_CHECKING:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": "promoted" if self.promote else "rejected",
            "reason": self.reason,
            "metric": self.metric,
            "candidate": self.candidate,
            "champion": self.champion,
            "champion_version": self.champion_version,
        }


def champion_score(trained: Trained, champion: LoadedModel, metric: str) -> float | None:
    """The champion's ``metric`` on the candidate's holdout, or None if it cannot score it."""
    import numpy as np
    import polars as pl

    spec = trained.model.spec
    if champion.spec.task != spec.task or champion.spec.classes != spec.classes:
        return None
    known = ~np.isnan(trained.y_holdout)
    if same_encoding(champion.spec, spec):  # the candidate's holdout matrix is the champion's
        pred = champion.predict_matrix(trained.x_holdout)
    else:
        try:
            pred = champion.predict(trained.holdout.filter(pl.Series(known)))
        except DataError:
            return None
    return metrics.compute(spec.task, trained.y_holdout[known], pred)[metric]


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
) -> Decision:
    def made(promote: bool, reason: str) -> Decision:
        return Decision(promote, reason, metric, candidate, champion, champion_version)

    if champion_version is None:
        return made(True, f"gate: first model ({metric} {candidate:.4f})")
    if champion is None or math.isnan(champion):
        return made(True, f"gate: champion {champion_version} cannot score the new data")
    if math.isnan(candidate):
        return made(False, f"gate: candidate {metric} is undefined on the holdout")
    if metrics.higher_is_better(metric):
        better = candidate > champion + min_delta
        sign = ">" if better else "<="
        rule = f"{candidate:.4f} {sign} {champion:.4f} + {min_delta}"
    else:
        better = candidate < champion - min_delta
        sign = "<" if better else ">="
        rule = f"{candidate:.4f} {sign} {champion:.4f} - {min_delta}"
    return made(better, f"gate: {metric} {rule} ({champion_version})")
