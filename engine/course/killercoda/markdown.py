"""Killercoda's Markdown extensions, turned into plain Markdown plus the commands a learner would click.

Killercoda marks code with `{{exec}}` (run it in the terminal when clicked; `{{exec interrupt}}` sends Ctrl-C
first), `{{copy}}` (copy it) or `{{}}` (neither), right after an inline code span or a fenced block's closing
fence. The markers are removed, the code stays code, and the exec'd code is collected in reading order.
`{{TRAFFIC_HOST1_<port>}}` links to a port of the scenario's machine; here ports are on 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_FENCE_CLOSE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?:\{\{(?P<marker>[^{}]*)\}\})?[ \t]*$")
_TICKS = re.compile(r"(?<!`)`+(?!`)")
_MARKER_AFTER = re.compile(r"\{\{(?P<marker>[^{}]*)\}\}")
_TRAFFIC_LINK = re.compile(r"\[(?P<label>[^\]]*)\]\(\s*\{\{\s*TRAFFIC_SELECTOR\s*\}\}\s*\)")
_TRAFFIC_HOST = re.compile(r"\{\{\s*TRAFFIC_HOST\d+_(?P<port>\d+)\s*\}\}")
_OTHER_MARKER = re.compile(r"\{\{\s*(?P<name>[A-Z][A-Z0-9_]+)\s*\}\}")
_LINK = re.compile(
    r"(?P<head>!?\[[^\]]*\]\(\s*<?)(?P<target>[^)\s>]+)|(?P<src><img\b[^>]*?\bsrc=[\"'])(?P<img>[^\"']+)"
)
EXEC_VERBS = ("exec", "execute")
QUIET_VERBS = ("copy", "")


@dataclass(frozen=True)
class ExecBlock:
    """Code the learner runs by clicking it: a fenced block or an inline code span."""

    code: str
    interrupt: bool = False


@dataclass
class Markdown:
    """Plain Markdown, the exec'd code in reading order, and what could not be carried over."""

    text: str
    blocks: list[ExecBlock] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def convert_markdown(text: str) -> Markdown:
    """Remove Killercoda's markers, keeping the code as code and collecting what `{{exec}}` would run."""
    result = Markdown("")
    text = _traffic(text, result.notes)
    out: list[str] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        found = _closing(lines, index, opening) if opening else None
        if opening is None or found is None:
            out.append(_inline(lines[index], result))
            index += 1
            continue
        end, close = found
        body = lines[index + 1 : end]
        out.extend(lines[index:end])
        out.append(f"{opening['indent']}{close['fence']}")
        _marker(close["marker"], _dedent(body, opening["indent"]), result)
        index = end + 1
    result.text = "\n".join(out) + ("\n" if text.endswith("\n") else "")
    result.notes.extend(_leftover_markers(result.text))
    return result


def _closing(lines: list[str], start: int, opening: re.Match[str]) -> tuple[int, re.Match[str]] | None:
    """The line closing the fence opened at `start`: the same character, at least as many of them."""
    fence = opening["fence"]
    for index in range(start + 1, len(lines)):
        close = _FENCE_CLOSE.match(lines[index])
        if close and close["fence"][0] == fence[0] and len(close["fence"]) >= len(fence):
            return index, close
    return None


def _dedent(body: list[str], indent: str) -> str:
    """A fenced block's code without the indentation of its fence (blocks nested in lists are indented)."""
    return "\n".join(line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in body)


def _inline(line: str, result: Markdown) -> str:
    """Code spans followed by a marker lose the marker; spans are matched as CommonMark does (same tick count)."""
    out: list[str] = []
    position = 0
    for ticks in _TICKS.finditer(line):
        if ticks.start() < position:
            continue
        closing = re.compile(rf"(?<!`){ticks[0]}(?!`)").search(line, ticks.end())
        if closing is None:
            continue
        code = line[ticks.end() : closing.start()]
        marker = _MARKER_AFTER.match(line, closing.end())
        end = marker.end() if marker else closing.end()
        out.append(line[position : ticks.start()] + line[ticks.start() : closing.end()])
        if marker:
            _marker(marker["marker"], code.strip(), result)
        position = end
    out.append(line[position:])
    return "".join(out)


def _marker(marker: str | None, code: str, result: Markdown) -> None:
    if marker is None:
        return
    words = marker.split()
    verb = words[0].lower() if words else ""
    if verb in EXEC_VERBS:
        interrupt = "interrupt" in (word.lower() for word in words[1:])
        terminals = [word for word in words[1:] if re.fullmatch(r"[Tt]\d+", word)]
        if terminals and terminals[0].upper() != "T1":
            result.notes.append(
                f"`{{{{{marker.strip()}}}}}` runs code in terminal {terminals[0][1:]}; driftlab has one terminal"
            )
        if code.strip():
            result.blocks.append(ExecBlock(code, interrupt))
    elif verb not in QUIET_VERBS:
        result.notes.append(
            f"`{{{{{marker.strip()}}}}}` has no equivalent in driftlab; the code is shown as plain code"
        )


def _traffic(text: str, notes: list[str]) -> str:
    """Port links point at 127.0.0.1 (where the lab serves NodePorts and port-forwards listen)."""
    ports = sorted({int(match["port"]) for match in _TRAFFIC_HOST.finditer(text)})
    if ports:
        shown = ", ".join(f"http://127.0.0.1:{port}" for port in ports)
        notes.append(f"links to the scenario machine's ports now point at {shown}")
    text = _TRAFFIC_HOST.sub(lambda match: f"http://127.0.0.1:{match['port']}", text)
    if _TRAFFIC_LINK.search(text) or "TRAFFIC_SELECTOR" in text:
        notes.append("the port selector tab (TRAFFIC_SELECTOR) has no equivalent in driftlab; its links were removed")
    return _TRAFFIC_LINK.sub(lambda match: match["label"], text)


def _leftover_markers(text: str) -> list[str]:
    names = sorted({match["name"] for match in _OTHER_MARKER.finditer(text)})
    return [f"the marker {{{{{name}}}}} has no equivalent in driftlab; left as is" for name in names]


def relink(text: str, change: Callable[[str], str | None]) -> str:
    """The Markdown with each link, image and <img src> target passed through `change` (None keeps it)."""

    def replace(match: re.Match[str]) -> str:
        if match["head"] is not None:
            new = change(match["target"])
            return match["head"] + (new if new is not None else match["target"])
        new = change(match["img"])
        return match["src"] + (new if new is not None else match["img"])

    return _LINK.sub(replace, text)
