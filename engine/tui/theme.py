"""Colours named by what they mean, as k9s names them, and driftlab's own Textual theme.

Widgets never name a colour: they ask for a meaning (`ok`, `pending`, `error`, `completed`, `killed`,
`neutral`, and `added`, `modified` for what just changed). Each meaning is a theme variable `status-<meaning>`,
so another theme can reskin all of them; CSS uses `$status-ok` and friends, Rich text `meaning_colour()`.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import App
from textual.theme import Theme

from ..checks.results import CheckResult
from ..lab.resources_view import Meaning

STATUS_COLOURS: Mapping[str, str] = {
    Meaning.OK: "#9acd32",  # yellowgreen: running and ready, passed
    Meaning.PENDING: "#ff8c00",  # darkorange: on its way (creating, rolling out, checking)
    Meaning.ERROR: "#ff4500",  # orangered: failed, crashing, a check that does not pass
    Meaning.COMPLETED: "#778899",  # lightslategray: done and gone (jobs, succeeded pods)
    Meaning.KILLED: "#9370db",  # mediumpurple: terminating, cancelled
    Meaning.NEUTRAL: "#b0c4de",  # lightsteelblue: nothing to say
    "added": "#1e90ff",  # dodgerblue
    "modified": "#adff2f",  # greenyellow
}

DRIFTLAB_THEME = Theme(
    name="driftlab",
    primary="#1e90ff",
    secondary="#5f87af",
    accent="#00d7d7",
    warning="#ff8c00",
    error="#ff4500",
    success="#9acd32",
    foreground="#d0d0d0",
    background="#101418",
    surface="#161b22",
    panel="#1f2630",
    dark=True,
)


def variable_defaults() -> dict[str, str]:
    """The `status-<meaning>` variables every theme gets unless it sets its own."""
    return {f"status-{meaning}": colour for meaning, colour in STATUS_COLOURS.items()}


def meaning_colour(app: App[object], meaning: str) -> str:
    """The colour of a meaning in the app's current theme."""
    variables = getattr(app, "theme_variables", {}) or {}
    return str(variables.get(f"status-{meaning}") or STATUS_COLOURS.get(meaning, STATUS_COLOURS[Meaning.NEUTRAL]))


def check_meaning(result: CheckResult) -> str:
    """✓ is ok, ✗ an error, … still pending."""
    if result.passed is None:
        return Meaning.PENDING
    return Meaning.OK if result.passed else Meaning.ERROR
