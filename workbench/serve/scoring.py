"""Scoring a request (or a batch of them) with one ``Served`` model, and the answer's JSON.

Every path ends in ``model.predict.score_frame`` — the columns ``workbench predict`` writes,
from the model's own encoder and booster — and ``_answers`` cuts the scored frame into each
request's answer and its prediction-log rows. A JSON request's columns were checked by
``bodies.json_columns`` before they got here; CSV and Parquet bodies are read here (by
``predict``'s reader), in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.model.predict import score_frame
from workbench.serve.batching import Item
from workbench.serve.bodies import frame_of, rows_of
from workbench.serve.champion import Served
from workbench.serve.metrics import Metrics
from workbench.store.predictions import LogPart, PredictionLog

if TYPE_CHECKING:
    import polars as pl


class Scorer:
    def __init__(
        self,
        *,
        tmp: Path,
        id_column: str | None,
        log: PredictionLog | None,
        metrics: Metrics,
        flush_due: Callable[[], None],
    ) -> None:
        self.tmp = tmp
        self.id_column = id_column
        self.log = log
        self.metrics = metrics
        self.flush_due = flush_due

    def body(self, body: bytes, kind: str, served: Served, request: str, ts: str) -> bytes:
        """One request's body (any format), scored on its own."""
        rows = rows_of(body, kind, served.model.spec, self.id_column, self.tmp)
        return self._answers(served, rows, [(rows.height, request, ts)])[0]

    def batch(self, served: Served, items: list[Item]) -> list[bytes]:
        """Checked JSON columns of several requests, scored as one frame (``batching``)."""
        names = list(items[0].columns)
        joined = {n: list(chain.from_iterable(i.columns[n] for i in items)) for n in names}
        rows = frame_of(joined, served.model.spec)
        return self._answers(served, rows, [(i.rows, i.request, i.ts) for i in items])

    def _answers(
        self, served: Served, rows: pl.DataFrame, parts: list[tuple[int, str, str]]
    ) -> list[bytes]:
        spec = served.model.spec
        scored = score_frame(rows, served.model)
        classify = spec.task != "regression"
        labels = scored["prediction_label"].to_list() if classify else None
        if spec.task == "multiclass":
            probas = scored.select([f"proba_{c}" for c in spec.classes]).to_numpy().tolist()
            values: list[Any] | None = labels
        else:
            probas, values = None, scored["prediction"].to_list()
        ids = None
        if self.log is not None and self.id_column and self.id_column in rows.columns:
            ids = rows[self.id_column].to_list()
        scores = values if spec.task != "multiclass" else None  # the log's ``prediction``
        out, start = [], 0
        for n, request, ts in parts:
            end = start + n
            mine = labels[start:end] if labels is not None else None
            probabilities = probas[start:end] if probas is not None else None
            answer = {
                "version": served.version,
                "rows": n,
                "predictions": values[start:end] if values is not None else None,
                "probabilities": probabilities,
                "labels": mine,
                "classes": spec.classes if classify else None,
            }
            out.append(json.dumps(answer, separators=(",", ":")).encode())
            if self.log is not None:
                part = LogPart(
                    n,
                    served.version,
                    ts,
                    request,
                    ids[start:end] if ids is not None else None,
                    scores[start:end] if scores is not None else None,
                    mine,
                    probabilities,
                )
                if self.log.add(part):
                    self.flush_due()
            start = end
        self.metrics.scored(served.version, scored.height)
        return out
