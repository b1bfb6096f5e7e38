"""The git state a snapshot is tied to: HEAD sha, branch, dirty flag — or "not in git".

gitpython is imported lazily (it costs ~0.15 s) and only when a new snapshot is recorded or a
diff lists commits. A project outside any repository, a repository without commits, or a
machine without the git executable all work: the snapshot records what it could see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GitState:
    in_git: bool
    commit: str | None = None
    branch: str | None = None
    dirty: bool = False
    note: str | None = None


def state(root: Path) -> GitState:
    try:
        import git
    except ImportError as e:  # gitpython raises ImportError when the git executable is missing
        return GitState(False, note=f"git is not available: {e}")
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return GitState(False, note="not inside a git repository")
    with repo:
        try:
            commit: str | None = repo.head.commit.hexsha
        except ValueError:
            commit = None  # a repository without commits yet
        branch = None if repo.head.is_detached else repo.active_branch.name
        dirty = repo.is_dirty(untracked_files=True)
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
