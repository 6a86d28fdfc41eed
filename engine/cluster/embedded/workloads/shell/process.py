"""The simulated process the shell runs in: variables, arguments, files, output streams and a virtual clock.

Output written to the log becomes `line` events, and file changes become `file` events, so a run plan can
replay them; builtins act on this state and end the process with the exceptions below."""

from __future__ import annotations

import posixpath
import random
from collections.abc import Iterator, Mapping
from typing import Any

from ..events import Event

_BASE_DIRS = frozenset(
    {"/", "/bin", "/dev", "/etc", "/home", "/lib", "/proc", "/root", "/sys", "/tmp", "/usr", "/usr/bin", "/var"}
)

# Where output goes: ("log",), ("capture", list of texts), ("file", path) or ("null",).
Sink = tuple[Any, ...]


class ShellRuntime(Exception):
    """An expansion error; the shell reports it and exits with status 2."""


class ShellExit(Exception):
    """`exit` (or a fatal error) ends the script with `code`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class ShellForever(Exception):
    """The process will not end by itself (sleep infinity, tail -f, an endless loop)."""


class ShellBudget(Exception):
    """The simulation ran out of steps; the process is treated as running on."""


class Break(Exception):
    """`break` out of the innermost loop."""


class Continue(Exception):
    """`continue` with the next iteration of the innermost loop."""


class Process:
    """The state of one simulated process, with `hostname` as /etc/hostname and `env` exported."""

    def __init__(self, env: Mapping[str, str], files: Mapping[str, str], hostname: str) -> None:
        self.vars: dict[str, str] = dict(env)
        self.exported: set[str] = set(env)
        self.files: dict[str, str] = {"/etc/hostname": hostname + "\n", "/dev/null": "", **files}
        self.dirs: set[str] = set(_BASE_DIRS)
        self.hostname = hostname
        self.now = 0.0
        self.status = 0
        self.args: list[str] = []
        self.name = "sh"
        self.errexit = False
        self.stdin = ""
        self.pending = ""
        self.events: list[Event] = []
        self.stdout: list[Sink] = [("log",)]
        self.stderr: list[Sink] = [("log",)]
        self.random = random.Random(hostname)

    # -- output ------------------------------------------------------------------------------------------

    def write(self, text: str, *, err: bool = False) -> None:
        """Write to standard output (or error) wherever it currently goes."""
        sink = (self.stderr if err else self.stdout)[-1]
        if sink[0] == "log":
            self.pending += text
            while "\n" in self.pending:
                line, self.pending = self.pending.split("\n", 1)
                self.events.append(Event(self.now, "line", line))
        elif sink[0] == "capture":
            sink[1].append(text)
        elif sink[0] == "file":
            self.set_file(sink[1], self.files.get(sink[1], "") + text)

    def drain(self) -> Iterator[Event]:
        """The events recorded since the last drain."""
        events, self.events = self.events, []
        yield from events

    def finish(self) -> Iterator[Event]:
        """The remaining events, with an unterminated last log line."""
        if self.pending:
            self.events.append(Event(self.now, "line", self.pending))
            self.pending = ""
        yield from self.drain()

    # -- files ---------------------------------------------------------------------------------------------

    def path(self, name: str) -> str:
        """`name` as an absolute, normalised path (the working directory is `/`)."""
        return posixpath.normpath(posixpath.join("/", name))

    def set_file(self, path: str, content: str) -> None:
        self.files[path] = content
        self.events.append(Event(self.now, "file", f"{path}\x00{content}", exists=True))

    def remove_file(self, path: str) -> None:
        self.files.pop(path, None)
        self.events.append(Event(self.now, "file", path, exists=False))

    def is_dir(self, path: str) -> bool:
        prefix = _inside(path)
        return path in self.dirs or any(name.startswith(prefix) for name in self.files)

    def below(self, path: str) -> list[str]:
        """The files inside directory `path`, at any depth."""
        prefix = _inside(path)
        return [name for name in self.files if name.startswith(prefix)]

    def children(self, path: str) -> list[str]:
        """Names of the files and directories directly inside `path`, sorted."""
        prefix = _inside(path)
        names = {name[len(prefix) :].split("/", 1)[0] for name in [*self.files, *self.dirs] if name.startswith(prefix)}
        return sorted(name for name in names if name)


def _inside(directory: str) -> str:
    """The prefix of every path inside `directory`."""
    return directory.rstrip("/") + "/"
