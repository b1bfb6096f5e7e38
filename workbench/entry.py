"""The console-script entry point: ``workbench snapshot`` with nothing changed, answered early.

A no-change ``workbench snapshot`` (the check scripts and hooks run most often) only has to
list the inputs and compare them with the last snapshot (``inputs.LAST_SNAPSHOT``). Importing
the CLI toolkit, the validated config and the store costs more than that on a small machine,
so ``run`` answers this one case first, with only ``os``, ``json`` and ``xxhash`` loaded, and
hands every other command line — and this one whenever anything differs, or anything goes
wrong — to ``cli.run``, which then does the whole job (and prints any error). The answer is
the same bytes the full path prints; ``tests/test_fastpath.py`` compares the two.

Accepted here: ``workbench [--project DIR] snapshot [--json]``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def run() -> None:
    if not _unchanged_snapshot(sys.argv[1:]):
        from workbench.cli import run as cli_run

        cli_run()


def _unchanged_snapshot(argv: list[str]) -> bool:
    """Print the last snapshot and return True when no input moved since; else False."""
    project, args = _project_arg(argv)
    if args not in (["snapshot"], ["snapshot", "--json"]):
        return False
    try:
        from workbench import render
        from workbench.data import inputs
        from workbench.project import STORE_NAME, config_path, find_project

        if project is None:
            root = find_project()
        else:
            root = project.resolve()
            if not config_path(root).is_file():
                return False
        last = inputs.read_last(root / STORE_NAME)
        if last is None:
            return False
        found = inputs.list_inputs(root, last.data_path, config_path(root).name)
        if inputs.listing_digest(found) != last.listing:
            return False
    except Exception:
        return False
    data = {**last.summary, "id": last.id, "created": False}
    text = render.snapshot_json if args[-1] == "--json" else render.snapshot_text
    sys.stdout.write(text(data))
    return True


def _project_arg(argv: list[str]) -> tuple[Path | None, list[str]]:
    if argv and argv[0].startswith("--project="):
        return Path(argv[0].split("=", 1)[1]), argv[1:]
    if len(argv) >= 2 and argv[0] == "--project":
        return Path(argv[1]), argv[2:]
    return None, argv
