"""The file edits of a solution: a file's new content, or a unified diff applied to it.

A diff is applied to the one file the edit names (its `---`/`+++` headers are not needed for that), hunk by
hunk: each hunk's old lines must be found, at the line it says or elsewhere in the file, as `patch` would
look for them. Paths must stay inside the working folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..course.model import FileEdit
from ..errors import DriftlabError

_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class EditError(DriftlabError):
    """A solution's file edit cannot be made."""


@dataclass
class _Hunk:
    start: int  # old side, 1-based (0 with an empty old side: insert at the top)
    header: str
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    old_ends_without_newline: bool = False
    new_ends_without_newline: bool = False


def apply_edit(folder: Path, edit: FileEdit) -> Path:
    """Make one edit inside `folder`; returns the path of the file written."""
    target = (folder / edit.path).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise EditError(f"the file edit {edit.path!r} points outside the working folder")
    if edit.content is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(edit.content)
        return target
    original = target.read_text() if target.exists() else ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(apply_patch(original, edit.patch or ""))
    except EditError as err:
        raise EditError(f"the patch of {edit.path} does not apply: {err}") from None
    return target


def apply_patch(text: str, patch: str) -> str:
    """`text` with the unified diff `patch` applied."""
    hunks = _parse(patch)
    if not hunks:
        raise EditError("no hunks (lines starting with @@) in the patch")
    lines = text.split("\n")
    trailing_newline = text.endswith("\n") or text == ""
    if text.endswith("\n"):
        lines.pop()
    elif text == "":
        lines = []
    shift = 0
    for hunk in hunks:
        wanted = hunk.start - 1 + shift if hunk.old else hunk.start + shift
        at = _locate(lines, hunk, wanted)
        lines[at : at + len(hunk.old)] = hunk.new
        shift += (at - wanted) + len(hunk.new) - len(hunk.old)
        if hunk.new_ends_without_newline:
            trailing_newline = False
        elif hunk.old_ends_without_newline:
            trailing_newline = True
    body = "\n".join(lines)
    return body + "\n" if trailing_newline and lines else body


def _parse(patch: str) -> list[_Hunk]:
    hunks: list[_Hunk] = []
    last_side = ""
    for line in patch.splitlines():
        match = _HUNK_RE.match(line)
        if match:
            hunks.append(_Hunk(int(match[1]), line))
            continue
        if not hunks or (line.startswith(("--- ", "+++ ")) and _complete(hunks[-1], line)):
            continue
        hunk = hunks[-1]
        if line.startswith("\\"):
            if last_side in ("-", " "):
                hunk.old_ends_without_newline = True
            if last_side in ("+", " "):
                hunk.new_ends_without_newline = True
            continue
        side, content = (line[:1], line[1:]) if line else (" ", "")
        if side == " ":
            hunk.old.append(content)
            hunk.new.append(content)
        elif side == "-":
            hunk.old.append(content)
        elif side == "+":
            hunk.new.append(content)
        else:
            raise EditError(f"unexpected line in hunk {hunk.header!r}: {line!r}")
        last_side = side
    return hunks


def _complete(hunk: _Hunk, line: str) -> bool:
    """A `---`/`+++` line after a hunk starts the next file's headers, unless the hunk still expects lines."""
    match = _HUNK_RE.match(hunk.header)
    if match is None:
        return True
    old_count = int(match[2]) if match[2] is not None else 1
    new_count = int(match[4]) if match[4] is not None else 1
    return len(hunk.old) >= old_count and len(hunk.new) >= new_count


def _locate(lines: list[str], hunk: _Hunk, wanted: int) -> int:
    """Where the hunk's old lines are: at the line it names (moved by earlier hunks), else the nearest match."""
    size = len(hunk.old)
    if not size:
        return min(max(wanted, 0), len(lines))
    for at in sorted(range(len(lines) - size + 1), key=lambda at: abs(at - wanted)):
        if lines[at : at + size] == hunk.old:
            return at
    expected = "\n".join(f"  {line}" for line in hunk.old[:5])
    raise EditError(f"{hunk.header}: these lines are not in the file:\n{expected}")
