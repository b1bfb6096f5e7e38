"""End to end: the real ``workbench`` TUI in a real terminal, driven by keys.

A pseudo-terminal read into a pyte screen (runs on any Linux CI machine), the same in tmux when
it is installed, the small 80x24 layout, and ``workbench`` without a terminal printing help.
What is checked is real behaviour: the screen text, the store (``workbench status --json``),
exit codes and the terminal modes after quitting.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import termios
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import configure, cut_sample, store_of, train
from tests.tui_terminal_helpers import ALT_SCREEN_OFF, ALT_SCREEN_ON, PtyTerminal, TmuxTerminal

EXIT_S = 10.0  # quitting must be quick; a generous bound for a loaded CI machine


def trained(root: Path, versions: int) -> Path:
    """A small trained project: v1 promoted, then ``versions - 1`` forced retrains of the same
    inputs, which the gate rejects (the same auc does not beat the champion by min_delta 0)."""
    cut_sample(root, 2000)
    configure(root, rounds=30)
    train(root)
    for _ in range(versions - 1):
        train(root, force=True)
    with store_of(root).read() as s:
        assert s.champion_number() == 1
    return root


def status(root: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "status", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def history_row(version: str, *, champion: bool) -> Callable[[str], bool]:
    """Matches a screen line holding the history row of ``version``: the star in the first
    column marks the champion, then the version, its status and its metric."""
    star = "★" if champion else "│"
    pattern = re.compile(rf"{star}\s+{version}\s+\w+\s+\d\.\d{{4}}")
    return lambda line: pattern.search(line) is not None


def test_tui_in_a_pty_help_rollback_and_quit(project: Path) -> None:
    root = trained(project, versions=3)  # v3 rejected, v2 rejected, v1 champion (newest first)
    with PtyTerminal(root, cols=120, rows=36) as term:
        term.wait_for("History", "Events", "champion v1 auc ")
        assert "champion v1" in term.lines()[0], term.dump()  # the status bar
        for v, champ in (("v3", False), ("v2", False), ("v1", True)):
            term.wait_line(history_row(v, champion=champ), f"the history row of {v}")
        # the footer shows the main keys (it may be painted a frame after the history)
        keys = ("Train", "Snapshot", "Rollback", "Diff", "Help", "Quit")
        term.wait_line(lambda line: all(k in line for k in keys), "the footer with the main keys")
        # the TUI has the terminal in raw mode (so restoring it below is a real check)
        assert not termios.tcgetattr(term.slave)[3] & termios.ICANON
        # the newest version is selected at start and its details are shown
        term.wait_for("v3  rejected  snapshot")

        term.press("?")
        term.wait_for("workbench keys", "roll back to the selected version (asks why)")
        term.press("escape")
        term.wait_gone("workbench keys")

        term.press("down")
        term.wait_for("v2  rejected  snapshot")  # the details follow the selection

        term.press("r")
        term.wait_for("Roll back the champion", "champion now", "→ v2")
        term.press("enter")  # no reason: refused, the dialog stays
        term.wait_for("a rollback needs a reason", "Roll back the champion")
        term.type("e2e: v2 is the one")
        term.wait_for("e2e: v2 is the one")
        term.press("enter")

        term.wait_gone("Roll back the champion")
        term.wait_line(lambda line: "champion v2" in line, "the status bar to show champion v2")
        assert "champion v2" in term.lines()[0], term.dump()
        term.wait_line(history_row("v2", champion=True), "the star on the v2 row of the history")
        assert not any(map(history_row("v1", champion=True), term.lines())), term.dump()
        term.wait_for("v2  champion  snapshot")  # the details pane repainted too
        term.wait_for("rolled back to v2 (was v1)")  # the event in the events pane

        st = status(root)
        assert st["champion"] == "v2"
        changes = st["champion_history"]
        assert isinstance(changes, list)
        assert changes[0]["version"] == "v2"
        assert changes[0]["kind"] == "rollback"
        assert changes[0]["reason"] == "rollback: e2e: v2 is the one"

        term.press("q")
        assert term.wait_exit(EXIT_S) == 0, term.dump()
        # the terminal is given back: alternate screen left after it was entered, modes restored
        raw = term.raw
        assert ALT_SCREEN_ON in raw
        assert raw.rfind(ALT_SCREEN_OFF) > raw.rfind(ALT_SCREEN_ON)
        assert termios.tcgetattr(term.slave) == term.initial_modes
    assert status(root)["champion"] == "v2"  # and it stays so after quitting


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tui_in_tmux_opens_and_quits(project: Path, tmp_path: Path) -> None:
    root = trained(project, versions=2)
    tmux = shutil.which("tmux")
    assert tmux is not None
    with TmuxTerminal(tmux, root, tmp_path / "rc", cols=120, rows=36) as term:
        screen = term.wait_for("History", "champion v1 auc ", "Quit", "first")  # v1's row
        assert any(map(history_row("v1", champion=True), screen.splitlines())), term.dump()
        screen = term.wait_for("v2", "rejected")
        assert any(map(history_row("v2", champion=False), screen.splitlines())), term.dump()
        term.send("q")
        assert term.wait_exit(EXIT_S) == 0


def test_tui_at_80x24_shows_history_and_footer_keys(project: Path) -> None:
    root = trained(project, versions=2)
    with PtyTerminal(root, cols=80, rows=24) as term:
        term.wait_for("History", "champion v1")
        term.wait_line(history_row("v1", champion=True), "the champion row of the history")
        term.wait_line(history_row("v2", champion=False), "the v2 row of the history")
        keys = ("Train", "Rollback", "Help", "Quit")
        term.wait_line(lambda line: all(k in line for k in keys), "the footer with the main keys")
        # the details pane gives way at this size; Enter shows the selected version's details
        term.press("enter")
        term.wait_for("importance (gain, top 10)")
        term.press("escape")
        term.wait_gone("importance (gain, top 10)")
        term.press("q")
        assert term.wait_exit(EXIT_S) == 0, term.dump()


def test_no_subcommand_without_a_terminal_prints_help(project: Path) -> None:
    # stdout a pipe, stdin a pipe (a script)
    piped = subprocess.run(
        [sys.executable, "-m", "workbench.cli"],
        cwd=project,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    # stdout a pipe while stdin is a terminal (`workbench | less`)
    master, slave = os.openpty()
    try:
        on_tty = subprocess.run(
            [sys.executable, "-m", "workbench.cli"],
            cwd=project,
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(slave)
        os.close(master)
    for proc in (piped, on_tty):
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("Usage:"), proc.stdout
        for command in ("rollback", "history", "watch"):
            assert command in proc.stdout
        assert "The terminal UI needs a terminal" in proc.stdout
        assert "\x1b[" not in proc.stdout  # no TUI escape sequences
    assert not (project / ".workbench").exists()  # printing help touches no store


def test_help_says_plain_workbench_opens_the_tui_and_cuts_no_summary(project: Path) -> None:
    import click

    from workbench.cli import main

    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--help"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "Run plain `workbench` (no command) in a terminal to open the TUI" in text
    commands = proc.stdout.split("Commands:")[1].splitlines()
    assert len([c for c in commands if c.strip()]) >= 10
    assert not [c for c in commands if c.rstrip().endswith("...")]  # whole summaries

    def helpless(cmd: click.Command, path: str) -> list[str]:
        """The options of ``cmd`` and its subcommands that have no help text."""
        out = [
            f"{path} {p.opts[-1]}"
            for p in cmd.params
            if isinstance(p, click.Option) and not (p.help or "").strip()
        ]
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                out += helpless(sub, f"{path} {name}")
        return out

    assert helpless(main, "workbench") == []
