"""Reading cluster state for checks: kinds resolved as kubectl resolves them, objects fetched, changes watched.

`Reader` is what the evaluator and the watcher need; `KubeReader` implements it with the official `kubernetes`
client against any kubeconfig (so checks behave the same on every backend), and `engine.checks.memory` keeps
objects in memory for tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from engine.cluster.api import ApiResource, resolve_in
from engine.cluster.errors import ClusterError, Expired, UnknownKind, Unreachable

JSON = dict[str, Any]

# Checks say "read" where the cluster layer says "cluster": the same errors under the names checks use.
ReadError = ClusterError

__all__ = [
    "JSON",
    "ApiResource",
    "Expired",
    "Read",
    "ReadError",
    "Reader",
    "UnknownKind",
    "Unreachable",
    "WatchEvent",
    "WatchStream",
    "resolve_in",
]


@dataclass(frozen=True)
class Read:
    """One request for state: an object by name, or the objects matching selectors, in a namespace or all."""

    resource: ApiResource
    namespace: str | None
    name: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None

    def describe(self) -> str:
        """`Deployment shop/web`, `Pods in shop matching app=web`, `Nodes`."""
        kind = self.resource.kind
        if self.name:
            where = f"{self.namespace}/" if self.namespace else ""
            return f"{kind} {where}{self.name}"
        text = _plural(self.resource)
        if self.resource.namespaced:
            text += f" in {self.namespace}" if self.namespace else " in every namespace"
        selectors = [s for s in (self.label_selector, self.field_selector) if s]
        if selectors:
            text += f" matching {','.join(selectors)}"
        return text

    def selector_for_list(self) -> str | None:
        """The field selector to send when listing or watching (a name becomes `metadata.name=`)."""
        parts = [f"metadata.name={self.name}"] if self.name else []
        if self.field_selector:
            parts.append(self.field_selector)
        return ",".join(parts) or None


def _plural(resource: ApiResource) -> str:
    """The kind in the plural, spelled as the kind is (ConfigMaps, Ingresses, Endpoints, Policies)."""
    kind, plural = resource.kind, resource.plural
    lower = kind.lower()
    for ending in ("", "s", "es"):
        if plural == lower + ending:
            return kind + ending
    if lower.endswith("y") and plural == lower[:-1] + "ies":
        return kind[:-1] + "ies"
    return plural


@dataclass(frozen=True)
class WatchEvent:
    type: str
    resource_version: str | None


class WatchStream(Protocol):
    """Events of one watch request; `close()` may be called from another thread and ends the iteration."""

    def __iter__(self) -> Iterator[WatchEvent]: ...

    def close(self) -> None: ...


class Reader(Protocol):
    """What checks need from a cluster. Every method raises ReadError (never anything else) on failure."""

    @property
    def server(self) -> str: ...

    def resolve(self, kind: str, api_version: str | None = None) -> ApiResource: ...

    def fetch(self, read: Read) -> list[JSON]: ...

    def list_version(self, read: Read) -> str: ...

    def watch(self, read: Read, resource_version: str) -> WatchStream: ...
