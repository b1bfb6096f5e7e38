"""Governance: model cards (``workbench card``) and the CI challenger report
(``workbench train --no-promote --report FILE.md``), both built only from the store's records.

Decisions later work depends on:

- A card is a pure function of the records (registry, snapshot, the model's meta object,
  champion history, validation events, drift results, cached intervals) and the notes file:
  no wall-clock time, everything sorted, so the same records give the same bytes. "Created
  at" is the version's recorded time.
- Confidence intervals are a seeded percentile bootstrap on the version's own holdout
  (``intervals``): computed once per model (it loads LightGBM and rescores the holdout) and
  cached in the store as ``cards/intervals-<model hash>.json``; a card afterwards reads the
  cache and imports neither LightGBM nor polars.
- Hand-written sections come from ``[governance] card_notes`` (``notes``), merged by heading
  and never written by workbench.
- The challenger run never records a version, never changes the champion or the serving
  export; it may record the snapshot of its inputs and a drift result (data versioning and a
  cache, not the champion).
"""
