"""A program in a tmux window, for tests and the bench: start it, type into it, and read its screen with
`capture-pane`, re-read only when the pane printed something (its output is piped into a FIFO that is waited
on), so nothing polls on a timer."""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class Tmux:
    """One tmux server of its own, one window of `width` × `height` running a command."""

    def __init__(self, folder: Path, width: int = 120, height: int = 40) -> None:
        self.socket = f"driftlab-smoke-{secrets.token_hex(4)}"
        self.width = width
        self.height = height
        self.fifo = folder / "pane.fifo"
        self.socket_path: Path | None = None
        self._fd: int | None = None

    def tmux(self, *args: str) -> str:
        command = ["tmux", "-f", "/dev/null", "-L", self.socket, *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"tmux {' '.join(args)}: {result.stderr}"
        return result.stdout

    def start(self, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
        line = shlex.join(["env", "-i", *(f"{key}={value}" for key, value in env.items()), *command])
        size = ["-x", str(self.width), "-y", str(self.height)]
        # With no client attached, tmux would otherwise shrink the window to its default 80×24 at some point.
        keep = ["set-option", "-g", "window-size", "manual", ";", "set-option", "-g", "default-size"]
        self.tmux(
            "new-session", "-d", *size, "-s", "smoke", "-c", str(cwd), line, ";", *keep, f"{self.width}x{self.height}"
        )
        self.socket_path = Path(self.tmux("display-message", "-p", "#{socket_path}").strip())
        os.mkfifo(self.fifo)
        self._fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.tmux("pipe-pane", "-t", "smoke", "-o", f"cat > {shlex.quote(str(self.fifo))}")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "smoke")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "smoke", *keys)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        """The screen once `predicate` holds; re-read each time the pane prints."""
        assert self._fd is not None
        deadline = time.monotonic() + timeout
        text = self.screen()
        while not predicate(text):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"waited {timeout:g}s for {what}; the screen shows:\n{text}")
            readable, _, _ = select.select([self._fd], [], [], left)
            if readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._fd, 1 << 16)
            text = self.screen()
        return text

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)
        if self._fd is not None:
            os.close(self._fd)


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
