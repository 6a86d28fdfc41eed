"""The Textual app: the only package that imports textual. `run()` starts it, `web.serve()` serves it to a
browser; the engine does the work."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import paths

if TYPE_CHECKING:
    from ..lab.demo import DemoSettings

LOG_FILE = "tui.log"


def run(
    course: str | None = None, *, trusted: bool = False, demo: DemoSettings | None = None, workshop: bool = False
) -> list[str]:
    """Run the TUI (the picker, or `course` at once) until the learner quits; returns the courses opened.
    With `demo`, lessons run in demo mode as it says; with `workshop`, the learner's name comes first and
    their own folder is driftlab's home from then on (the log moves there too)."""
    _log_to_file()
    from .app import DriftlabApp

    app = DriftlabApp(course=course, trusted=trusted, demo=demo, workshop=workshop, on_learner=_log_to_file)
    app.run()
    return list(app.opened)


def _log_to_file(*_: object) -> None:
    """Warnings from watches and feeds go to tui.log in driftlab's home (the one in force now), never over
    the screen."""
    handler = logging.FileHandler(paths.private_file(paths.home() / LOG_FILE), encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for before in root.handlers:
        before.close()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
