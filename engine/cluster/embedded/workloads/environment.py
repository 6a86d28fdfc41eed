"""Environment resolution, as the kubelet's makeEnvironmentVariables: envFrom, env with `$(VAR)` expansion,
fieldRef, resourceFieldRef and ConfigMap/Secret key refs."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

# Capacity the downward API reports for a resource limit the container does not set; the kubelet may pass
# the node's real allocatable instead.
from ..node import NODE_ALLOCATABLE
from .access import as_list, as_map, as_text, pod_namespace
from .errors import WorkloadError
from .failures import ConfigProblem, config_error
from .sources import Sources
from .units import parse_quantity

_LABEL_FIELD = re.compile(r"metadata\.(labels|annotations)\['(.*)'\]")
# Where a container reads ConfigMap/Secret keys: (envFrom field, env valueFrom field, kind, reader).
_KEY_SOURCES: tuple[tuple[str, str, str, Callable[[Sources, str], dict[str, str] | None]], ...] = (
    ("configMapRef", "configMapKeyRef", "ConfigMap", Sources.configmap_data),
    ("secretRef", "secretKeyRef", "Secret", Sources.secret_data),
)


def expand_references(text: str, *mappings: Mapping[str, str]) -> str:
    """Expand `$(NAME)` like the kubelet does in env values, command and args: unknown names stay as
    written, `$$` is a literal `$`."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "$" or index + 1 >= len(text):
            out.append(char)
            index += 1
            continue
        following = text[index + 1]
        if following == "$":
            out.append("$")
            index += 2
        elif following == "(":
            end = text.find(")", index + 2)
            if end < 0:
                out.append("$(")
                index += 2
                continue
            name = text[index + 2 : end]
            out.append(next((m[name] for m in mappings if name in m), f"$({name})"))
            index = end + 1
        else:
            out.append("$" + following)
            index += 2
    return "".join(out)


def field_value(pod: Mapping[str, Any], path: str, pod_ip: str | None, host_ip: str | None) -> str:
    """A downward API fieldRef; `pod_ip`/`host_ip` override the pod status when given."""
    meta = as_map(pod.get("metadata"))
    spec = as_map(pod.get("spec"))
    status = as_map(pod.get("status"))
    ip = pod_ip if pod_ip is not None else as_text(status.get("podIP"))
    host = host_ip if host_ip is not None else as_text(status.get("hostIP"))
    simple = {
        "metadata.name": as_text(meta.get("name")),
        "metadata.namespace": pod_namespace(pod),
        "metadata.uid": as_text(meta.get("uid")),
        "spec.nodeName": as_text(spec.get("nodeName")),
        "spec.serviceAccountName": as_text(spec.get("serviceAccountName")),
        "status.podIP": ip,
        "status.podIPs": ",".join(
            [as_text(as_map(item).get("ip")) for item in as_list(status.get("podIPs"))] if pod_ip is None else [ip]
        ),
        "status.hostIP": host,
        "status.hostIPs": host,
    }
    if path in simple:
        return simple[path]
    match = _LABEL_FIELD.fullmatch(path)
    if match:
        return as_text(as_map(meta.get(match[1])).get(match[2]))
    if path in ("metadata.labels", "metadata.annotations"):
        values = as_map(meta.get(path.split(".")[1]))
        return "\n".join(f"{key}={json.dumps(as_text(values[key]))}" for key in sorted(values))
    return ""


def resource_value(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    ref: Mapping[str, Any],
    allocatable: Mapping[str, str],
) -> str:
    """A downward API resourceFieldRef: the limit or request in units of `divisor`, rounded up."""
    target_name = as_text(ref.get("containerName"))
    if target_name:
        spec = as_map(pod.get("spec"))
        candidates = [as_map(c) for c in as_list(spec.get("containers")) + as_list(spec.get("initContainers"))]
        container = next((c for c in candidates if c.get("name") == target_name), container)
    kind, _, resource = as_text(ref.get("resource")).partition(".")
    resources = as_map(container.get("resources"))
    limits = as_map(resources.get("limits"))
    requests = as_map(resources.get("requests"))
    if kind == "limits":
        raw = as_text(limits.get(resource)) or allocatable.get(resource, "0")
    else:
        raw = as_text(requests.get(resource)) or as_text(limits.get(resource)) or "0"
    try:
        value = parse_quantity(raw)
        divisor = parse_quantity(as_text(ref.get("divisor"), "1") or "1")
    except WorkloadError:
        return "0"
    if divisor <= 0:
        return "0"
    return str(math.ceil(value / divisor))


def resolve_env(
    container: Mapping[str, Any],
    pod: Mapping[str, Any],
    sources: Sources,
    *,
    pod_ip: str | None = None,
    host_ip: str | None = None,
    service_env: Mapping[str, str] | None = None,
    allocatable: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], ConfigProblem | None]:
    """The variables the container declares (envFrom, then env in order) and the first problem, which the
    kubelet reports as CreateContainerConfigError."""
    services = dict(service_env or {})
    declared: dict[str, str] = {}
    for entry in as_list(container.get("envFrom")):
        entry = as_map(entry)
        found = _env_from(entry, sources)
        if found is None:
            continue
        kind, name, data, optional = found
        if data is None:
            if optional:
                continue
            return declared, config_error(f'{kind.lower()} "{name}" not found')
        prefix = as_text(entry.get("prefix"))
        for key, value in data.items():
            declared[prefix + key] = value
    for var in as_list(container.get("env")):
        var = as_map(var)
        name = as_text(var.get("name"))
        if not name:
            continue
        value = var.get("value")
        if isinstance(value, str) and value:
            declared[name] = expand_references(value, declared, services)
            continue
        source = as_map(var.get("valueFrom"))
        resolved, problem = _value_from(source, pod, container, sources, pod_ip, host_ip, allocatable)
        if problem is not None:
            return declared, problem
        if resolved is not None:
            declared[name] = resolved
    return declared, None


def _env_from(entry: Mapping[str, Any], sources: Sources) -> tuple[str, str, dict[str, str] | None, bool] | None:
    """(kind, name, data or None when missing, optional) of an envFrom entry; None for an unknown kind."""
    for ref_field, _, kind, reader in _KEY_SOURCES:
        if ref_field in entry:
            ref = as_map(entry.get(ref_field))
            name = as_text(ref.get("name"))
            return kind, name, reader(sources, name), ref.get("optional") is True
    return None


def _value_from(
    source: Mapping[str, Any],
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    sources: Sources,
    pod_ip: str | None,
    host_ip: str | None,
    allocatable: Mapping[str, str] | None,
) -> tuple[str | None, ConfigProblem | None]:
    """One env var's valueFrom: (value, None), (None, None) to skip an optional one, or (None, problem)."""
    if not source:
        return "", None
    if "fieldRef" in source:
        return field_value(pod, as_text(as_map(source.get("fieldRef")).get("fieldPath")), pod_ip, host_ip), None
    if "resourceFieldRef" in source:
        ref = as_map(source.get("resourceFieldRef"))
        return resource_value(pod, container, ref, allocatable or NODE_ALLOCATABLE), None
    for _, key_field, kind, reader in _KEY_SOURCES:
        if key_field not in source:
            continue
        ref = as_map(source.get(key_field))
        name, key, optional = as_text(ref.get("name")), as_text(ref.get("key")), ref.get("optional") is True
        data = reader(sources, name)
        if data is None:
            return None, None if optional else config_error(f'{kind.lower()} "{name}" not found')
        if key not in data:
            message = f"couldn't find key {key} in {kind} {sources.namespace}/{name}"
            return None, None if optional else config_error(message)
        return data[key], None
    return "", None


def env_keys(container: Mapping[str, Any], sources: Sources) -> dict[str, str]:
    """ConfigMap/Secret keys that reach the container through envFrom and env valueFrom key refs."""
    keys: dict[str, str] = {}
    for entry in as_list(container.get("envFrom")):
        found = _env_from(as_map(entry), sources)
        if found is not None:
            keys.update(found[2] or {})
    for var in as_list(container.get("env")):
        source = as_map(as_map(var).get("valueFrom"))
        for _, key_field, _, reader in _KEY_SOURCES:
            ref = as_map(source.get(key_field))
            if ref:
                data = reader(sources, as_text(ref.get("name"))) or {}
                key = as_text(ref.get("key"))
                if key in data:
                    keys[key] = data[key]
    return keys
