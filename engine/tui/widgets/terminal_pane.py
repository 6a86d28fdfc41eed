"""A terminal next to the instructions, running the learner's shell with the lab's environment.

It is drawn by textual-tty (an optional extra: `pip install 'driftlab[terminal]'`); without it the pane is not
offered and the shell key suspends the app into the same shell instead. textual-tty takes no environment or
working folder, so the command goes through `sh -c 'cd …; exec env …'`; it forces a locale that many systems
lack, so ours (or C.UTF-8) is passed explicitly.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget

DEFAULT_LOCALE = "C.UTF-8"


def terminal_available() -> bool:
    """Whether textual-tty is installed and loads, so the pane can be shown."""
    if importlib.util.find_spec("textual_tty") is None:
        return False
    try:
        importlib.import_module("textual_tty")
    except Exception:
        return False
    return True


def pane_command(args: Sequence[str], env: Mapping[str, str], cwd: Path) -> list[str]:
    """The argv that starts `args` in `cwd` with `env` added to the environment."""
    locale = os.environ.get("LC_ALL") or os.environ.get("LANG") or DEFAULT_LOCALE
    settings = [f"{key}={value}" for key, value in {"LC_ALL": locale, **env}.items()]
    return ["sh", "-c", 'cd "$0" && exec env "$@"', str(cwd), *settings, *args]


class TerminalPane(Vertical):
    """The terminal widget and a title; `send(text)` pastes text at the prompt (the learner presses Enter)."""

    DEFAULT_CSS = """
    TerminalPane {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
    }
    TerminalPane:focus-within { border: round $accent; }
    """

    def __init__(self, command: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.command = list(command)
        self.border_title = "Terminal"

    def compose(self) -> ComposeResult:
        from textual_tty import Terminal

        yield Terminal(command=self.command, id="terminal")

    @property
    def terminal(self) -> Widget:
        return self.query_one("#terminal")

    def send(self, text: str) -> None:
        board = getattr(self.terminal, "board", None)
        if board is not None:
            board.input_paste(text.rstrip("\n"))
