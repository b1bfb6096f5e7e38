"""`python -m workbench` runs the CLI (through the same entry point as the console script)."""

from workbench.entry import run

run()
