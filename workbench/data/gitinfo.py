"""The git state a snapshot is tied to: HEAD sha, branch, dirty flag — or "not in git".

``state`` runs one ``git status --porcelain=v2 --branch`` and reads all three from it: the
header gives HEAD (``# branch.oid``) and the branch (``# branch.head``), any other line is a
change (staged, unstaged or untracked), which is what "dirty" means here — the same as
gitpython's ``is_dirty(untracked_files=True)``. That costs one git process (~5 ms plus the work
tree scan git does anyway) instead of importing gitpython (~0.15 s) and running three. It runs
with ``GIT_OPTIONAL_LOCKS=0`` so a snapshot never takes ``index.lock`` from under the user's own
git commands. gitpython is imported lazily, only when a diff lists commits.

A project outside any repository, a repository without commits, or a machine without the git
executable all work: the snapshot records what it could see, and a note says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT = 120.0  # seconds: git status on a huge untracked tree can take a while


@dataclass(frozen=True)
class GitState:
    in_git: bool
    commit: str | None = None
    branch: str | None = None
    dirty: bool = False
    note: str | None = None


def state(root: Path) -> GitState:
    import subprocess  # not at module level: the no-change snapshot path never needs it

    # core.fsmonitor names a command git would run: a repository must not run code on every
    # snapshot (git's own safe-directory handling disables it the same way)
    cmd = [
        "git",
        "-c",
        "core.fsmonitor=false",
        "status",
        "--porcelain=v2",
        "--branch",
        "--untracked-files=normal",
    ]
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        proc = subprocess.run(
            cmd, cwd=root, env=env, capture_output=True, timeout=GIT_TIMEOUT, check=False
        )
    except OSError as e:  # no git executable (FileNotFoundError) or not runnable
        return GitState(False, note=f"git is not available: {e}")
    except subprocess.TimeoutExpired:
        return GitState(False, note=f"git status did not answer within {GIT_TIMEOUT:.0f} s")
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        first = message[0] if message else f"git status exited {proc.returncode}"
        if "not a git repository" in first:
            return GitState(False, note="not inside a git repository")
        return GitState(False, note=f"git status failed: {first}")
    return parse_status(proc.stdout.decode(errors="replace"))


def parse_status(text: str) -> GitState:
    """The state from ``git status --porcelain=v2 --branch`` output."""
    commit: str | None = None
    branch: str | None = None
    dirty = False
    for line in text.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid ") :]
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line[len("# branch.head ") :]
            branch = None if head == "(detached)" else head
        elif line and not line.startswith("# "):
            dirty = True
    return GitState(True, commit, branch, dirty)


def commits_between(root: Path, old: str | None, new: str | None) -> list[dict[str, str]] | None:
    """Commits reachable from ``new`` but not ``old`` (newest first), or None if unknown."""
    if not old or not new or old == new:
        return [] if old and old == new else None
    try:
        import git
    except ImportError:
        return None
    try:
        with git.Repo(root, search_parent_directories=True) as repo:
            commits = list(repo.iter_commits(f"{old}..{new}", max_count=200))
            if not commits:
                commits = list(repo.iter_commits(f"{new}..{old}", max_count=200))
            return [
                {
                    "sha": c.hexsha,
                    "author": str(c.author),
                    "date": c.committed_datetime.isoformat(),
                    "summary": str(c.summary),
                }
                for c in commits
            ]
    except (git.GitError, ValueError):  # an unknown sha (rewritten history): we cannot say
        return None
