"""Catalogue templates: `{pod}`, `{env.NAME}`, `{config.KEY}` and alternatives `{a|b|'fallback'}`."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Placeholders a catalogue may use. Values that do not apply where a template is rendered are empty.
PLACEHOLDERS: Mapping[str, str] = {
    "pod": "the pod's name",
    "hostname": "the container's hostname (the pod's name)",
    "namespace": "the pod's namespace",
    "node": "the node the pod runs on",
    "container": "the container's name",
    "pod_ip": "the pod's IP address",
    "image": "the image as written in the pod spec",
    "version": "the image version (the tag unless the catalogue says otherwise)",
    "tag": "the tag that was pulled",
    "n": "in periodic log lines: 1 for the first line, 2 for the second, ...",
    "exit_code": "in crash log lines: the exit code",
    "path": "in HTTP answers: the request path",
    "method": "in HTTP answers: the request method",
    "status": "in access-log lines: the answer's status code",
    "bytes": "in access-log lines: the answer's size",
    "client": "in access-log lines: the client address",
    "user_agent": "in access-log lines: the client's User-Agent",
    "time": "the current time, RFC 3339 with milliseconds (2024-05-01T10:00:00.000Z)",
    "time.clf": "the current time as web servers log it (01/May/2024:10:00:00 +0000)",
    "time.log": "the current time as nginx and Go's log package write it (2024/05/01 10:00:00)",
    "time.date": "the current time as `date` prints it (Wed May  1 10:00:00 UTC 2024)",
    "env.NAME": "the container's environment variable NAME",
    "config.KEY": "the ConfigMap/Secret key KEY the container reads (env valueFrom/envFrom, a mounted file)",
}
_REFERENCE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class _Placeholder:
    alternatives: tuple[str | Template, ...]


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and placeholders; the first non-empty alternative wins."""

    parts: tuple[str | _Placeholder, ...]

    def render(self, values: Callable[[str], str | None]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            for alternative in part.alternatives:
                value = alternative.render(values) if isinstance(alternative, Template) else values(alternative)
                if value:
                    out.append(value)
                    break
        return "".join(out)


@functools.lru_cache(maxsize=4096)
def parse_template(text: str) -> Template:
    """Parse a template; raise ValueError naming the problem. `{{` is a literal brace, and a brace not
    followed by a letter, `_` or `'` is literal text (so JSON in log lines needs no escaping)."""
    parts: list[str | _Placeholder] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "{" and text.startswith("{{", index):
            literal.append("{")
            index += 2
            continue
        following = text[index + 1 : index + 2]
        if char == "{" and following and (following.isalpha() or following in "_'"):
            placeholder, index = _parse_placeholder(text, index + 1)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(placeholder)
            continue
        literal.append(char)
        index += 1
    if literal:
        parts.append("".join(literal))
    return Template(tuple(parts))


def _parse_placeholder(text: str, index: int) -> tuple[_Placeholder, int]:
    alternatives: list[str | Template] = []
    while True:
        while index < len(text) and text[index] == " ":
            index += 1
        if index < len(text) and text[index] == "'":
            end = text.find("'", index + 1)
            if end < 0:
                raise ValueError(f"unterminated quoted text in placeholder at {text[index:]!r}")
            alternatives.append(parse_template(text[index + 1 : end]))
            index = end + 1
        else:
            match = _REFERENCE_NAME.match(text, index)
            if match is None:
                raise ValueError(f"expected a placeholder name at {text[index:]!r}")
            _check_placeholder(match[0])
            alternatives.append(match[0])
            index = match.end()
        while index < len(text) and text[index] == " ":
            index += 1
        if index >= len(text):
            raise ValueError("unclosed placeholder: a '{' has no matching '}'")
        if text[index] == "}":
            return _Placeholder(tuple(alternatives)), index + 1
        if text[index] != "|":
            raise ValueError(f"unexpected {text[index]!r} in a placeholder")
        index += 1


def _check_placeholder(name: str) -> None:
    for prefix in ("env.", "config."):
        if name.startswith(prefix):
            if len(name) == len(prefix):
                raise ValueError(f"placeholder {{{name}}} needs a name after {prefix!r}")
            return
    if name not in PLACEHOLDERS:
        known = ", ".join(f"{{{key}}}" for key in PLACEHOLDERS)
        raise ValueError(f"unknown placeholder {{{name}}}; known placeholders: {known}")
