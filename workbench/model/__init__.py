"""Models: features and their encoding, training on one snapshot, metrics, the gate's
decision, loading a stored model, batch prediction, the serving export and rollback.

May import: ``workbench.data`` and everything below it. Knows nothing of drift, cycles or
front ends.
"""
