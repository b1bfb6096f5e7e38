"""One error family for everything a user can be told.

Every error carries a message (what happened, where: file, line, key) and a hint (what to do
next). Third-party exceptions are wrapped where they enter the package
(``raise DataError(...) from e``) so the CLI and the TUI only ever deal with this family.
The CLI maps each class to one documented exit code (``ExitCode``); the mapping lives here so
the README table and the code cannot drift apart.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of every ``workbench`` command (documented in the README)."""

    OK = 0
    INTERNAL = 1  # a bug: please report it
    USAGE = 2  # bad command line: unknown option, missing argument, unknown version/snapshot
    CONFIG = 3  # workbench.toml missing, unreadable or invalid
    DATA = 4  # data files unreadable, malformed, changing while read; validation failed
    TRAINING = 5  # training or evaluation failed
    STORE = 6  # the .workbench store is unreadable, too new, or busy past the wait limit
    CONFLICT = 7  # refused to overwrite local changes (use --force)
    REJECTED = 8  # `train --no-promote --fail-on-reject`: the gate rejected the challenger


class WorkbenchError(Exception):
    """Base of every error a user sees. ``hint`` says what to do next."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(WorkbenchError):
    exit_code = ExitCode.USAGE


class ProjectNotFoundError(UsageError):
    """No workbench.toml (or [tool.workbench]) in the folder or any parent."""


class ConfigError(WorkbenchError):
    exit_code = ExitCode.CONFIG


class DataError(WorkbenchError):
    exit_code = ExitCode.DATA


class FileChangedError(DataError):
    """A file changed while it was being read; the snapshot was not recorded."""


class TrainingError(WorkbenchError):
    exit_code = ExitCode.TRAINING


class StoreError(WorkbenchError):
    exit_code = ExitCode.STORE


class StoreBusyError(StoreError):
    """Another workbench process held the store longer than the wait limit."""


class WatchStoppedError(WorkbenchError):
    """The watch loop cannot go on (file watching failed past its restarts): the process
    ends non-zero, so a service manager restarts it."""

    exit_code = ExitCode.INTERNAL


class ConflictError(WorkbenchError):
    exit_code = ExitCode.CONFLICT
