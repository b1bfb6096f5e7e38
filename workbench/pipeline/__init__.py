"""The pipeline: what runs the capabilities in order and records it.

``cycle`` (validate -> snapshot -> drift -> train -> gate -> promote/keep -> hooks, as events),
``train`` (the ``workbench train`` pipeline: validation, training, gate, promotion, export),
``on_drift`` (hooks and retraining on dataset drift), ``hooks``, ``status`` (the store's state
now, for ``status`` and the TUI), ``events`` (the cycle's event records).

May import: ``workbench.monitor``, ``workbench.model``, ``workbench.data`` and below; never a
front end (``workbench.watch``, ``workbench.cli``, ``workbench.tui``) nor textual or click.
"""
