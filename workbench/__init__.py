"""workbench: a local-first MLOps workbench for one machine.

The package is layered so that headless use never pays for the UI:

- ``config``   workbench.toml -> frozen, validated settings
- ``store``    the only place that imports duckdb: metadata + content-addressed objects
- ``core``     snapshot, profile, gitinfo, diff, checkout, init (no UI, no CLI)
- ``cli``      thin: parse, call core, print, map errors to exit codes

Nothing under ``core``/``store``/``config`` imports textual.
"""

import os

__version__ = "0.1.0"

# LightGBM's OpenMP threads spin while they wait by default. Whenever another thread wants a
# core — drift computed beside training in a cycle, a TUI, a notebook on a 2-core machine —
# the spinning threads starve it and each other: training took 5-40x longer here. OpenMP reads
# this once, when LightGBM is first loaded, which in workbench is always after this package
# is imported (LightGBM is imported lazily). A policy the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
