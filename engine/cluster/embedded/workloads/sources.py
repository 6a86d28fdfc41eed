"""ConfigMaps and Secrets of the pod's namespace: the kubelet's `Lookup`, and reads of their keys."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from .access import as_map, as_text


class Lookup(Protocol):
    """Read access to the pod's namespace, supplied by the kubelet. Both return the stored object as the
    API returns it (with `data`; Secret data is base64) or None when it does not exist."""

    def configmap(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...


class StaticLookup:
    """A `Lookup` over a fixed set of ConfigMap and Secret objects (tests, tools)."""

    def __init__(self, objects: Iterable[Mapping[str, Any]] = ()) -> None:
        self._objects: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for obj in objects:
            meta = as_map(obj.get("metadata"))
            key = (as_text(obj.get("kind")), as_text(meta.get("namespace"), "default"), as_text(meta.get("name")))
            self._objects[key] = obj

    def configmap(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._objects.get(("ConfigMap", namespace, name))

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._objects.get(("Secret", namespace, name))


def _decode(value: Any) -> str:
    """A base64 value as text; a value that is not base64 is taken as it is."""
    if not isinstance(value, str):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except ValueError:
        return value


class Sources:
    """The keys of one namespace's ConfigMaps and Secrets, each object read once (as the kubelet caches).
    Every reader returns None when the object does not exist."""

    def __init__(self, lookup: Lookup, namespace: str) -> None:
        self.lookup = lookup
        self.namespace = namespace
        self._configmaps: dict[str, Mapping[str, Any] | None] = {}
        self._secrets: dict[str, Mapping[str, Any] | None] = {}

    def configmap(self, name: str) -> Mapping[str, Any] | None:
        if name not in self._configmaps:
            found = self.lookup.configmap(self.namespace, name)
            self._configmaps[name] = found if isinstance(found, Mapping) else None
        return self._configmaps[name]

    def secret(self, name: str) -> Mapping[str, Any] | None:
        if name not in self._secrets:
            found = self.lookup.secret(self.namespace, name)
            self._secrets[name] = found if isinstance(found, Mapping) else None
        return self._secrets[name]

    def configmap_data(self, name: str) -> dict[str, str] | None:
        """A ConfigMap's text `data`, as env vars see it."""
        found = self.configmap(name)
        if found is None:
            return None
        return {key: value for key, value in as_map(found.get("data")).items() if isinstance(value, str)}

    def configmap_files(self, name: str) -> dict[str, str] | None:
        """A ConfigMap's `data` and decoded `binaryData`, as a mounted volume holds them."""
        data = self.configmap_data(name)
        if data is None:
            return None
        found = as_map(self.configmap(name))
        binary = {key: _decode(value) for key, value in as_map(found.get("binaryData")).items()}
        return {**data, **binary}

    def secret_data(self, name: str) -> dict[str, str] | None:
        """A Secret's decoded `data` with its `stringData` over it."""
        found = self.secret(name)
        if found is None:
            return None
        data = {key: _decode(value) for key, value in as_map(found.get("data")).items()}
        plain = {key: value for key, value in as_map(found.get("stringData")).items() if isinstance(value, str)}
        return {**data, **plain}
