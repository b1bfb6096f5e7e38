"""A trained model as it is stored and served: LightGBM's native text model plus JSON metadata.

No pickle: the model is ``Booster.model_to_string()`` text and the metadata (feature spec with
category mappings, params, metrics, importance, learning curve, library versions) is JSON.
Everything that scores rows — the holdout evaluation, the gate, ``predict`` — goes through
``LoadedModel.predict`` on a booster loaded *from that text*, so what is evaluated is exactly
what is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.caches import LRU
from workbench.errors import StoreError
from workbench.model.features import FeatureSpec, encode

if TYPE_CHECKING:
    import lightgbm as lgb
    import numpy as np
    import polars as pl

    from workbench.store.objects import ObjectStore
    from workbench.store.registry import VersionRecord


@dataclass(frozen=True)
class LoadedModel:
    booster: lgb.Booster
    spec: FeatureSpec
    meta: dict[str, Any]

    @classmethod
    def from_text(cls, text: str, meta: dict[str, Any]) -> LoadedModel:
        import lightgbm as lgb

        booster = lgb.Booster(model_str=text)
        return cls(booster, FeatureSpec.from_json(meta["spec"]), meta)

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """P(class 1) for binary, class probabilities (n x k) for multiclass, values otherwise."""
        return self.predict_matrix(encode(frame, self.spec))

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        """``predict`` of rows already encoded with this model's spec (``features.encode``)."""
        return self.booster.predict(x, num_threads=0)  # type: ignore[return-value]


_LOADED = LRU(8)  # models by (model hash, meta hash): content addressed, so never stale


def load_version(objects: ObjectStore, version: VersionRecord) -> LoadedModel:
    """The version's model; parsed once per process (a watcher's drift and gate reuse it)."""
    if not version.model_hash or not version.meta_hash:
        raise StoreError(
            f"{version.name} has no model (status {version.status})",
            "pick a version that trained successfully: workbench history",
        )
    key = f"{version.model_hash}:{version.meta_hash}"
    loaded = _LOADED.get(key)
    if loaded is None or not objects.exists(version.model_hash):
        text = objects.read(version.model_hash).decode("utf-8")
        meta = objects.read_json(version.meta_hash)
        loaded = LoadedModel.from_text(text, meta)
        _LOADED.put(key, loaded)
    return loaded
