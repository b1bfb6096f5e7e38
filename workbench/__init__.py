"""workbench: a local-first MLOps workbench for one machine.

The package is layered so that headless use never pays for the UI:

- ``config``   workbench.toml -> frozen, validated settings
- ``store``    the only place that imports duckdb: metadata + content-addressed objects
- ``core``     snapshot, profile, gitinfo, diff, checkout, init (no UI, no CLI)
- ``cli``      thin: parse, call core, print, map errors to exit codes

Nothing under ``core``/``store``/``config`` imports textual.
"""

__version__ = "0.1.0"
