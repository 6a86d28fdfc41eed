"""Parsing what a client sent: the resource path, the query options, and the body in any of its encodings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from ...yamlguard import expansion
from .catalog import Catalog
from .resources import ResourceType
from .status import ApiError, bad_request, path_not_found

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
MAX_DEPTH = 100
"""Deepest nesting of a request body: far beyond any Kubernetes object, well within what the handlers can walk."""
MAX_ALIAS_EXPANSION = 100_000
"""Most nodes a YAML body may expand to through its aliases."""


@dataclass(frozen=True)
class ResourcePath:
    rtype: ResourceType
    namespace: str | None  # None: across all namespaces (or cluster-scoped)
    name: str = ""
    subresource: str = ""


def parse_resource_path(catalog: Catalog, path: str) -> ResourcePath | None:
    """`/api/v1/namespaces/ns/pods/web/log` → (pods, ns, web, log); None when the path names no resource."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        candidate = catalog.lookup(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace, rest = rest[1], rest[2:]
    rtype = catalog.lookup(group, version, rest[0])
    if rtype is None or len(rest) > 3:
        raise path_not_found()
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) == 3 else ""
    if subresource and subresource not in rtype.subresources:
        raise path_not_found()
    if rtype.namespaced and name and namespace is None:
        raise path_not_found()
    return ResourcePath(rtype, namespace, name, subresource)


def media_type(content_type: str | None) -> str:
    return (content_type or JSON).split(";", 1)[0].strip().lower() or JSON


def decode_body(raw: bytes, content_type: str | None) -> Any:
    """The request body as Python data; errors name the problem and where it is."""
    kind = media_type(content_type)
    if kind == PROTOBUF:
        from . import protobuf  # its descriptor tables are large, and only kubectl's generator verbs need them

        try:
            return protobuf.decode(raw)
        except protobuf.ProtobufError as err:
            raise bad_request(f"the protobuf body could not be decoded: {err}") from err
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        raise bad_request("the request body is empty")
    if kind in (YAML, "application/apply-patch+yaml", "application/x-yaml", "text/yaml"):
        return _checked_depth(_load_yaml(text))
    try:
        return _checked_depth(json.loads(text))
    except json.JSONDecodeError as err:
        raise bad_request(
            f"the request body is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from err
    except RecursionError:
        raise _too_deep() from None


def _load_yaml(text: str) -> Any:
    """One YAML document as data, refusing alias bombs before they expand (as the real server's YAML reader
    does) and nesting too deep to walk."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None
        if expansion(node).values > MAX_ALIAS_EXPANSION:
            raise bad_request("error converting YAML to JSON: yaml: document contains excessive aliasing")
        return yaml.SafeLoader("").construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or " ".join(str(err).split())
        raise bad_request(f"error converting YAML to JSON: yaml: {problem}{where}") from err
    except RecursionError:
        raise _too_deep() from None


def _checked_depth(data: Any) -> Any:
    """The data, unless lists and objects nest deeper than MAX_DEPTH (the handlers walk bodies recursively)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return data


def _too_deep() -> ApiError:
    return bad_request(f"the request body nests objects and lists more than {MAX_DEPTH} levels deep")


def bool_param(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def int_param(name: str, value: str | None) -> int:
    if value is None or value == "":
        return 0
    try:
        number = int(value)
    except ValueError as err:
        raise bad_request(f"invalid value for {name}: {value!r} is not an integer") from err
    if number < 0:
        raise bad_request(f"invalid value for {name}: {value!r} must not be negative")
    return number


def field_validation(value: str | None) -> str:
    if value in (None, ""):
        return "Warn"
    if value not in ("Ignore", "Warn", "Strict"):
        raise ApiError(
            400,
            "BadRequest",
            f'fieldValidation must be one of "Ignore", "Warn" or "Strict", got "{value}"',
        )
    return value
