"""Run the real ``workbench`` TUI in a terminal for the end-to-end tests: a pseudo-terminal read
by a thread into a ``pyte`` screen (any Linux machine), or a tmux pane (where tmux exists).

Every wait polls the screen for text with a deadline and fails with the whole screen printed,
so a failure says what the terminal showed instead of only "timed out".
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import pyte

WAIT_S = 30.0  # generous for a loaded 2-core CI machine; every wait is bounded by it

# xterm key sequences as a terminal sends them
KEYS = {
    "up": b"\x1b[A",
    "down": b"\x1b[B",
    "home": b"\x1b[H",
    "end": b"\x1b[F",
    "escape": b"\x1b",
    "enter": b"\r",
    "tab": b"\t",
}

# The child becomes the session leader (start_new_session) and takes the pty as its controlling
# terminal, as a shell in a terminal window would: SIGWINCH and SIGHUP then reach it as usual.
_LAUNCH = (
    "import fcntl, os, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'workbench.cli', *sys.argv[1:]])\n"
)

ALT_SCREEN_ON = b"\x1b[?1049h"
ALT_SCREEN_OFF = b"\x1b[?1049l"


def terminal_env(term: str = "xterm-256color") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    for var in ("COLUMNS", "LINES", "NO_COLOR", "TMUX", "TMUX_PANE"):
        env.pop(var, None)
    env["TERM"] = term
    return env


def wait_until(
    check: Callable[[], bool], describe: Callable[[], str], what: str, timeout: float = WAIT_S
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{describe()}")
        time.sleep(0.05)


class _Terminal:
    """What both terminals share: a screen read as text, bounded waits on it, ``with`` use."""

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def dump(self) -> str:
        raise NotImplementedError

    def wait_for(self, *needles: str, timeout: float = WAIT_S) -> str:
        """Wait until every needle is on the screen; return the screen text."""
        wait_until(
            lambda: all(n in self.text() for n in needles),
            self.dump,
            f"{needles!r} on the screen",
            timeout,
        )
        return self.text()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PtyTerminal(_Terminal):
    """``python -m workbench.cli ARGS`` in a COLSxROWS pseudo-terminal, emulated by pyte."""

    def __init__(self, cwd: Path, cols: int = 120, rows: int = 36, args: Sequence[str] = ()):
        self.cwd, self.cols, self.rows, self.args = cwd, cols, rows, list(args)
        self.screen = pyte.Screen(cols, rows)
        self._stream = pyte.ByteStream(self.screen)
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.initial_modes = termios.tcgetattr(self.slave)
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)

    # ------------------------------------------------------------------ process

    def start(self) -> Self:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, *self.args],
            cwd=self.cwd,
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            env=terminal_env(),
            start_new_session=True,
            close_fds=True,
        )
        self._reader.start()
        return self

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(self.master, 65536)
            except (OSError, ValueError):
                return
            if not data:
                return
            with self._lock:
                self._raw.extend(data)
                self._stream.feed(data)

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the TUI did not exit within {timeout:.0f}s\n{self.dump()}"
            ) from None

    def close(self) -> None:
        """Kill the process group if still running, stop the reader, close the pty."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._stop.set()
        if self._reader.is_alive():
            self._reader.join(5)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    # ------------------------------------------------------------------ screen

    @property
    def raw(self) -> bytes:
        with self._lock:
            return bytes(self._raw)

    def lines(self) -> list[str]:
        with self._lock:
            return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.lines())

    def dump(self) -> str:
        code = self.proc.poll() if self.proc is not None else None
        border = "-" * self.cols
        return (
            f"screen {self.cols}x{self.rows} (process exit code: {code}):\n"
            f"{border}\n{self.text()}\n{border}"
        )

    def wait_gone(self, *needles: str, timeout: float = WAIT_S) -> str:
        """Wait until none of the needles is on the screen."""
        wait_until(
            lambda: not any(n in self.text() for n in needles),
            self.dump,
            f"{needles!r} to leave the screen",
            timeout,
        )
        return self.text()

    def wait_line(self, match: Callable[[str], bool], what: str, timeout: float = WAIT_S) -> str:
        """Wait until one screen line satisfies ``match``; return that line."""
        found: list[str] = []

        def check() -> bool:
            found[:] = [line for line in self.lines() if match(line)]
            return bool(found)

        wait_until(check, self.dump, what, timeout)
        return found[0]

    # ------------------------------------------------------------------ keys

    def press(self, *keys: str) -> None:
        for key in keys:
            os.write(self.master, KEYS.get(key, key.encode()))

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())


class TmuxTerminal(_Terminal):
    """``python -m workbench.cli`` in a detached tmux session on a private server (its socket in
    a short-named temporary folder of its own, removed on close; no user config is read)."""

    def __init__(self, tmux: str, cwd: Path, rc_file: Path, cols: int = 120, rows: int = 36):
        self.tmux, self.cwd, self.rc_file = tmux, cwd, rc_file
        self.cols, self.rows = cols, rows
        self.socket_dir = Path(tempfile.mkdtemp(prefix="wb-tmux-"))
        self.socket = str(self.socket_dir / "sock")
        self.env = terminal_env()

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.tmux, "-S", self.socket, "-f", os.devnull, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {proc.stderr}")
        return proc

    def start(self) -> Self:
        python = shlex.quote(sys.executable)
        rc = shlex.quote(str(self.rc_file))
        # the shell records the TUI's exit code, then the session ends with it
        command = f"{python} -m workbench.cli; echo $? > {rc}"
        self.run(
            "new-session", "-d", "-s", "wb",
            "-x", str(self.cols), "-y", str(self.rows),
            "-c", str(self.cwd), command,
        )  # fmt: skip
        return self

    def text(self) -> str:
        proc = self.run("capture-pane", "-p", "-t", "wb", check=False)
        return proc.stdout if proc.returncode == 0 else f"(no pane: {proc.stderr.strip()})"

    def dump(self) -> str:
        return f"tmux pane {self.cols}x{self.rows}:\n{self.text()}"

    def send(self, *keys: str) -> None:
        self.run("send-keys", "-t", "wb", *keys)

    def wait_exit(self, timeout: float) -> int:
        wait_until(
            lambda: self.rc_file.is_file() and self.rc_file.read_text().strip() != "",
            self.dump,
            "the TUI to exit (its exit code in the rc file)",
            timeout,
        )
        return int(self.rc_file.read_text().strip())

    def close(self) -> None:
        self.run("kill-server", check=False)
        shutil.rmtree(self.socket_dir, ignore_errors=True)
