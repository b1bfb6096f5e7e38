"""Where a project is: its folder, its config file, and what counts as inside it.

Kept apart from ``config`` (whose validated dataclasses take tens of milliseconds to import)
because the no-change path of ``workbench snapshot`` (``entry``) needs only these.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import ProjectNotFoundError

CONFIG_NAME = "workbench.toml"
PYPROJECT_NAME = "pyproject.toml"
STORE_NAME = ".workbench"


def find_project(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding workbench.toml or [tool.workbench]."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
        pyproject = folder / PYPROJECT_NAME
        if pyproject.is_file() and "[tool.workbench" in pyproject.read_text(errors="replace"):
            return folder
    raise ProjectNotFoundError(
        f"no {CONFIG_NAME} found in {here} or any folder above it",
        "run `workbench init` to create one, or pass --project DIR",
    )


def config_path(root: Path) -> Path:
    """The file that holds the config of the project at ``root``."""
    toml = root / CONFIG_NAME
    return toml if toml.is_file() else root / PYPROJECT_NAME


def inside(root: Path, path: Path) -> bool:
    """True when ``path`` (after resolving .. and symlinks) stays inside ``root``."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
