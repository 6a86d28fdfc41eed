"""What one container is and sees (image, pod, env, config, files, ports), and templates rendered from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import TIME_FORMATS, format_time, time_marker
from .templates import parse_template


@dataclass(frozen=True)
class Context:
    """A container as templates, HTTP answers and probes see it; fields that do not apply stay empty."""

    image: str = ""
    version: str = ""
    tag: str = ""
    pod: str = ""
    namespace: str = "default"
    node: str = ""
    container: str = ""
    pod_ip: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[Mapping[str, Any], ...] = ()


def render(
    text: str,
    context: Context,
    *,
    at: float | None = None,
    now: datetime | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """Render the template `text`. `{time...}` is `now` if given, else a marker for `at` seconds after start;
    `extra` adds the placeholders only some templates have (`{n}`, `{path}`, ...)."""
    fixed = {
        "pod": context.pod,
        "hostname": context.pod,
        "namespace": context.namespace,
        "node": context.node,
        "container": context.container,
        "pod_ip": context.pod_ip,
        "image": context.image,
        "version": context.version,
        "tag": context.tag,
        **(extra or {}),
    }

    def value(name: str) -> str | None:
        if name.startswith("env."):
            return context.env.get(name[4:])
        if name.startswith("config."):
            return context.config.get(name[7:])
        if name in TIME_FORMATS:
            if now is not None:
                return format_time(TIME_FORMATS[name], now)
            return time_marker(TIME_FORMATS[name], at or 0.0)
        return fixed.get(name)

    return parse_template(text).render(value)
