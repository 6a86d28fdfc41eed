"""`Reader` over the cluster's API client (`engine.cluster.client.KubeClient`), from a kubeconfig path.

Checks need only reads: objects by name or selectors, and watch events that say "something changed" (the
watcher re-evaluates rather than patching objects), so the stream yields event types and resourceVersions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from engine.cluster.client import KubeClient, WatchStream

from .reader import JSON, ApiResource, Read, WatchEvent


class KubeReader:
    """Reads a cluster named by a kubeconfig file (and optionally one of its contexts)."""

    def __init__(self, kubeconfig: str | Path, context: str | None = None) -> None:
        self.client = KubeClient(kubeconfig, context)
        self.kubeconfig = self.client.kubeconfig
        self.context = context

    @property
    def server(self) -> str:
        return self.client.server

    def namespace(self) -> str:
        return self.client.namespace()

    def close(self) -> None:
        self.client.close()

    def resolve(self, kind: str, api_version: str | None = None) -> ApiResource:
        return self.client.resolve(kind, api_version)

    def resources(self) -> list[ApiResource]:
        return self.client.resources()

    def fetch(self, read: Read) -> list[JSON]:
        by_name = read.name and not read.label_selector and not read.field_selector
        if by_name and (read.namespace is not None or not read.resource.namespaced):
            found = self.client.get(read.resource, read.name or "", read.namespace)
            return [found] if found is not None else []
        items, _ = self._list(read)
        return items

    def _list(self, read: Read) -> tuple[list[JSON], str]:
        return self.client.list(
            read.resource, read.namespace, label_selector=read.label_selector, field_selector=read.selector_for_list()
        )

    def list_version(self, read: Read) -> str:
        return self._list(read)[1]

    def watch(self, read: Read, resource_version: str) -> _Stream:
        stream = self.client.watch(
            read.resource,
            read.namespace,
            resource_version,
            label_selector=read.label_selector,
            field_selector=read.selector_for_list(),
        )
        return _Stream(stream)


class _Stream:
    """The client's watch stream, reduced to what the watcher needs."""

    def __init__(self, stream: WatchStream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[WatchEvent]:
        for kind, obj in self._stream:
            version = (obj.get("metadata") or {}).get("resourceVersion")
            yield WatchEvent(kind, str(version) if version else None)

    def close(self) -> None:
        self._stream.close()
