"""``workbench export``: hand the project's records over to other tools (front-end layer)."""
