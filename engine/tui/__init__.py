"""The Textual app: the only package that imports textual. `run()` starts it, `web.serve()` serves it to a
browser; the engine does the work."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import paths

if TYPE_CHECKING:
    from ..lab.demo import DemoSettings

LOG_FILE = "tui.log"


def run(course: str | None = None, *, trusted: bool = False, demo: DemoSettings | None = None) -> list[str]:
    """Run the TUI (the picker, or `course` at once) until the learner quits; returns the courses opened.
    With `demo`, lessons run in demo mode as it says."""
    _log_to_file()
    from .app import DriftlabApp

    app = DriftlabApp(course=course, trusted=trusted, demo=demo)
    app.run()
    return list(app.opened)


def _log_to_file() -> None:
    """Warnings from watches and feeds go to tui.log in driftlab's home, never over the screen."""
    handler = logging.FileHandler(paths.home() / LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
