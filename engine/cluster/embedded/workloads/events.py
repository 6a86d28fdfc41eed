"""The timeline of one container run, shared by app runs and the shell simulation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Event:
    """Something that happens `at` seconds after start: a log `line` (`text`); a `file` written (`exists`,
    `text` is `path\\0content`) or removed (`text` is the path); the `exit` with `code`; or `forever`, the
    process runs on by itself."""

    at: float
    kind: Literal["line", "file", "forever", "exit"]
    text: str = ""
    exists: bool = False
    code: int = 0
