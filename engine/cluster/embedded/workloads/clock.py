"""Wall-clock text in log lines and answers.

Log lines are planned before the container's start time is known, so they carry markers (a strftime format and
the seconds after start) that `resolve_time_markers` turns into text once it is."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

# strftime formats of the `{time...}` placeholders; %L is milliseconds and %e the space-padded day.
TIME_FORMATS: Mapping[str, str] = {
    "time": "%Y-%m-%dT%H:%M:%S.%LZ",
    "time.clf": "%d/%b/%Y:%H:%M:%S +0000",
    "time.log": "%Y/%m/%d %H:%M:%S",
    "time.date": "%a %b %e %H:%M:%S UTC %Y",
}
_MARKER = re.compile("\x00([^\x00\x01]*)\x01([-+0-9.e]+)\x00")


def time_marker(fmt: str, at: float) -> str:
    """A placeholder for the time `at` seconds after start, formatted with `fmt` once the start is known."""
    return f"\x00{fmt}\x01{at!r}\x00"


def format_time(fmt: str, moment: datetime) -> str:
    fmt = fmt.replace("%L", f"{moment.microsecond // 1000:03d}").replace("%e", f"{moment.day:2d}")
    return moment.strftime(fmt)


def resolve_time_markers(text: str, started_at: datetime) -> str:
    """`text` with every time marker replaced by the time it stands for."""
    if "\x00" not in text:
        return text
    return _MARKER.sub(lambda m: format_time(m[1], started_at + timedelta(seconds=float(m[2]))), text)
