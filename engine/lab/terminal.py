"""A real interactive bash, driven through a pseudo-terminal, that types a solution's commands one by one.

Commands run in a terminal as they would for a learner (a tty on stdin and stdout, one shell whose state such
as `cd` and variables carries from one command to the next). The prompt carries a random marker and the
previous command's exit code, so each command's output and exit code are read back exactly.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pexpect

from ..errors import DriftlabError

COMMAND_TIMEOUT = 300.0
START_TIMEOUT = 10.0


class TerminalError(DriftlabError):
    """The shell could not be started or stopped answering."""


@dataclass(frozen=True)
class Typed:
    """What one typed command did. `exit_code` is None when it was interrupted after its timeout."""

    command: str
    exit_code: int | None
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


class TypedShell:
    """`bash` without rc files or line editing, in `cwd`, with `env` added to ours. Use as a context manager."""

    def __init__(self, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.env = dict(env or {})
        self._marker = f"driftlab-{secrets.token_hex(4)}"
        self._prompt = re.compile(re.escape(f"[{self._marker}:") + r"(\d+)\]\$ ")
        self._child: pexpect.spawn | None = None

    def start(self) -> TypedShell:
        bash = shutil.which("bash")
        if bash is None:
            raise TerminalError("bash is needed to run solutions and was not found on PATH")
        env = {**os.environ, "HISTFILE": "/dev/null", "TERM": "dumb", **self.env}
        try:
            child = pexpect.spawn(
                bash,
                ["--norc", "--noprofile", "--noediting"],
                cwd=str(self.cwd),
                env=env,
                echo=False,
                encoding="utf-8",
                codec_errors="replace",
                dimensions=(50, 200),
                timeout=START_TIMEOUT,
            )
        except (pexpect.ExceptionPexpect, OSError) as err:
            raise TerminalError(f"cannot start bash: {err}") from None
        child.delaybeforesend = None
        self._child = child
        # The marker is split in the typed line, so only the prompt itself can match it.
        half = len(self._marker) // 2
        marker = f"{self._marker[:half]}''{self._marker[half:]}"
        child.sendline(f"PS1='[{marker}:$?]$ '; PS2=''; PROMPT_COMMAND=''; unset HISTFILE")
        try:
            child.expect(self._prompt, timeout=START_TIMEOUT)
        except (pexpect.TIMEOUT, pexpect.EOF) as err:
            self.close()
            raise TerminalError(f"bash did not show its prompt: {type(err).__name__}") from None
        return self

    def type(self, command: str, timeout: float = COMMAND_TIMEOUT) -> Typed:
        """Type `command` and Enter, and wait for the prompt; after `timeout`, press Ctrl-C."""
        child = self._require()
        start = time.monotonic()
        child.sendline(command)
        try:
            child.expect(self._prompt, timeout=timeout)
        except pexpect.TIMEOUT:
            output = _clean(child.before)
            child.sendintr()
            try:
                child.expect(self._prompt, timeout=START_TIMEOUT)
            except (pexpect.TIMEOUT, pexpect.EOF):
                self.close()
            return Typed(command, None, output, time.monotonic() - start)
        except pexpect.EOF:
            output = _clean(child.before)
            child.close()
            self._child = None
            return Typed(command, child.exitstatus if child.exitstatus is not None else 1, output, 0.0)
        return Typed(command, int(child.match.group(1)), _clean(child.before), time.monotonic() - start)

    def _require(self) -> pexpect.spawn:
        if self._child is None or not self._child.isalive():
            raise TerminalError("the shell is not running (a command may have exited it)")
        return self._child

    def close(self) -> None:
        child, self._child = self._child, None
        if child is not None and child.isalive():
            child.sendline("exit")
            with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
                child.expect(pexpect.EOF, timeout=2)
            child.close(force=True)

    def __enter__(self) -> TypedShell:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _clean(text: object) -> str:
    return str(text or "").replace("\r\n", "\n").replace("\r", "\n").strip("\n")
