"""Defensive readers for pod specs, which reach the kubelet as plain JSON of any shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def as_map(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def as_text(value: Any, default: str = "") -> str:
    """`value` if it is a string, else `default`."""
    return value if isinstance(value, str) else default


def pod_name(pod: Mapping[str, Any]) -> str:
    return as_text(as_map(pod.get("metadata")).get("name"))


def pod_namespace(pod: Mapping[str, Any]) -> str:
    """The pod's namespace; `default` when unset or empty."""
    return as_text(as_map(pod.get("metadata")).get("namespace"), "default") or "default"
