"""Data versioning: the project's inputs, snapshots of their bytes, profiles, git state.

Modules: ``inputs`` (which files are inputs, the stat cache), ``snapshot`` (``take``: the one
entry point), ``profile`` (reading data files and their per-column statistics), ``reader``
(a stored snapshot's config, files and rows), ``gitinfo``, ``checkout``, ``diff``, ``init``.

May import: ``workbench.store``, ``workbench.config``, ``workbench.project``,
``workbench.errors``. Knows nothing of models, drift or cycles (import-linter's layers
contract in ``pyproject.toml`` holds it).
"""
