"""Volumes: which ones cannot be set up (FailedMount), and the files a container's mounts hold."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from typing import Any

from .access import as_list, as_map, as_text, pod_namespace
from .environment import NODE_ALLOCATABLE, expand_references, field_value, resource_value
from .failures import ConfigProblem
from .sources import Lookup, Sources

_SERVICE_ACCOUNT_TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImRyaWZ0bGFiIn0.eyJpc3MiOiJkcmlmdGxhYiJ9.c2ltdWxhdGVk"
# A volume's files (path inside the volume -> content) and its SetUp error, if any.
Payload = tuple[dict[str, str], str | None]


def under(path: str, directory: str) -> bool:
    """Whether `path` is `directory` or inside it."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def volume_problem(pod: Mapping[str, Any], lookup: Lookup) -> ConfigProblem | None:
    """The first volume mounted by a container of the pod that cannot be set up (FailedMount), or None.

    Only volumes some container mounts are set up, as in the kubelet's volume manager."""
    sources = Sources(lookup, pod_namespace(pod))
    used = {
        as_text(as_map(mount).get("name"))
        for container in _all_containers(pod)
        for mount in as_list(container.get("volumeMounts"))
    }
    for name, volume in _pod_volumes(pod).items():
        if name not in used:
            continue
        _, error = _volume_payload(volume, pod, {}, sources)
        if error is not None:
            return ConfigProblem("FailedMount", error, volume=name)
    return None


def mounted_files(
    container: Mapping[str, Any], pod: Mapping[str, Any], sources: Sources, env: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Files from the container's volume mounts (absolute path -> content) and the mount points."""
    volumes = _pod_volumes(pod)
    files: dict[str, str] = {}
    mount_points: list[str] = []
    for mount in as_list(container.get("volumeMounts")):
        mount = as_map(mount)
        volume = volumes.get(as_text(mount.get("name")))
        mount_path = as_text(mount.get("mountPath"))
        if volume is None or not mount_path.startswith("/"):
            continue
        base = posixpath.normpath(mount_path)
        mount_points.append(base)
        payload, error = _volume_payload(volume, pod, container, sources)
        if error is not None:
            continue
        sub_path = as_text(mount.get("subPath")) or expand_references(as_text(mount.get("subPathExpr")), env)
        sub_path = sub_path.strip("/")
        for relative, content in payload.items():
            relative = posixpath.normpath(relative).lstrip("/")
            if not sub_path:
                files[posixpath.join(base, relative)] = content
            elif relative == sub_path:
                files[base] = content
            elif relative.startswith(sub_path + "/"):
                files[posixpath.join(base, relative[len(sub_path) + 1 :])] = content
    return files, mount_points


def _pod_volumes(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    volumes = as_list(as_map(pod.get("spec")).get("volumes"))
    return {as_text(as_map(volume).get("name")): as_map(volume) for volume in volumes}


def _all_containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = as_map(pod.get("spec"))
    kinds = ("initContainers", "containers", "ephemeralContainers")
    return [as_map(container) for kind in kinds for container in as_list(spec.get(kind))]


def _volume_payload(
    volume: Mapping[str, Any], pod: Mapping[str, Any], container: Mapping[str, Any], sources: Sources
) -> Payload:
    if "configMap" in volume:
        return _configmap_payload(as_map(volume.get("configMap")), sources)
    if "secret" in volume:
        return _secret_payload(as_map(volume.get("secret")), sources, "secretName")
    if "downwardAPI" in volume:
        return _downward_payload(as_map(volume.get("downwardAPI")), pod, container), None
    if "projected" in volume:
        return _projected_payload(as_map(volume.get("projected")), pod, container, sources)
    return {}, None


def _projected_payload(
    projected: Mapping[str, Any], pod: Mapping[str, Any], container: Mapping[str, Any], sources: Sources
) -> Payload:
    payload: dict[str, str] = {}
    errors: list[str] = []
    for source in as_list(projected.get("sources")):
        source = as_map(source)
        if "configMap" in source:
            part, error = _configmap_payload(as_map(source.get("configMap")), sources)
        elif "secret" in source:
            part, error = _secret_payload(as_map(source.get("secret")), sources, "name")
        elif "downwardAPI" in source:
            part, error = _downward_payload(as_map(source.get("downwardAPI")), pod, container), None
        elif "serviceAccountToken" in source:
            path = as_text(as_map(source.get("serviceAccountToken")).get("path"), "token")
            part, error = {path: _SERVICE_ACCOUNT_TOKEN}, None
        else:
            part, error = {}, None
        if error:
            errors.append(error)
        payload.update(part)
    if errors:
        return {}, errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return payload, None


def _configmap_payload(source: Mapping[str, Any], sources: Sources) -> Payload:
    name = as_text(source.get("name"))
    optional = source.get("optional") is True
    data = sources.configmap_files(name)
    if data is None and not optional:
        return {}, f'configmap "{name}" not found'
    return _keyed_payload(
        data,
        as_list(source.get("items")),
        optional,
        lambda key: f"configmap references non-existent config key: {key}",
    )


def _secret_payload(source: Mapping[str, Any], sources: Sources, name_field: str) -> Payload:
    name = as_text(source.get(name_field))
    optional = source.get("optional") is True
    data = sources.secret_data(name)
    if data is None and not optional:
        return {}, f'secret "{name}" not found'
    return _keyed_payload(
        data, as_list(source.get("items")), optional, lambda key: f"references non-existent secret key: {key}"
    )


def _keyed_payload(
    data: dict[str, str] | None, items: list[Any], optional: bool, missing_key: Callable[[str], str]
) -> Payload:
    """The files of a ConfigMap or Secret source: every key, or only the listed `items` at their paths."""
    if data is None:
        return {}, None
    if not items:
        return dict(data), None
    payload: dict[str, str] = {}
    for item in items:
        item = as_map(item)
        key = as_text(item.get("key"))
        if key not in data:
            if optional:
                continue
            return {}, missing_key(key)
        payload[as_text(item.get("path"), key) or key] = data[key]
    return payload, None


def _downward_payload(
    source: Mapping[str, Any], pod: Mapping[str, Any], container: Mapping[str, Any]
) -> dict[str, str]:
    payload: dict[str, str] = {}
    for item in as_list(source.get("items")):
        item = as_map(item)
        path = as_text(item.get("path"))
        if "fieldRef" in item:
            payload[path] = field_value(pod, as_text(as_map(item.get("fieldRef")).get("fieldPath")), None, None)
        elif "resourceFieldRef" in item:
            payload[path] = resource_value(pod, container, as_map(item.get("resourceFieldRef")), NODE_ALLOCATABLE)
    return payload
