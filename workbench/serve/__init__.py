"""``workbench serve``: a scoring server that follows the champion (front-end layer)."""
