"""Monitoring: validation of the data against config and the champion's schema, drift of new
data against the champion's training data (``drift``), its statistics (``stats``) and
histograms (``histograms``).

May import: ``workbench.model``, ``workbench.data`` and below. Acting on a result (hooks, a
retraining) is the pipeline's (``workbench.pipeline.on_drift``).
"""
