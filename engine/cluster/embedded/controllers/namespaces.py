"""Namespace lifecycle: a Terminating namespace is emptied, then removed; new namespaces get a `default` SA."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ..catalog import storage_key
from ..rest import WriteOptions
from ..status import ApiError
from .base import Controller

NAMESPACES = "/namespaces"


class NamespaceController(Controller):
    name = "namespace-controller"

    def keys_for(
        self, resource: str, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[Hashable]:
        meta = obj["metadata"]
        if resource == NAMESPACES and event_type != "DELETED":
            return [meta["name"]]
        if event_type == "DELETED" and meta.get("namespace"):
            return [meta["namespace"]]
        if resource == "/serviceaccounts" and event_type == "DELETED":
            return [meta.get("namespace", "")]
        return []

    def start(self) -> None:
        ns_type = self.api.catalog.lookup("", "v1", "namespaces")
        assert ns_type is not None
        for namespace in self.api.list(ns_type, None).items:
            self.enqueue(namespace["metadata"]["name"])

    def reconcile(self, key: Hashable) -> None:
        name = str(key)
        ns_type = self.api.catalog.lookup("", "v1", "namespaces")
        assert ns_type is not None
        namespace = self.api.find(ns_type, "", name)
        if namespace is None:
            return
        if namespace["metadata"].get("deletionTimestamp"):
            self._empty(name, namespace)
        else:
            self._ensure_default_service_account(name)

    def _ensure_default_service_account(self, namespace: str) -> None:
        sa_type = self.api.catalog.lookup("", "v1", "serviceaccounts")
        assert sa_type is not None
        if self.api.find(sa_type, namespace, "default") is None:
            body = {"metadata": {"name": "default", "namespace": namespace}}
            try:
                self.api.create(sa_type, namespace, body, WriteOptions(field_manager="kube-controller-manager"))
            except ApiError as err:
                if err.code not in (403, 409):
                    raise

    def _empty(self, name: str, namespace: dict[str, Any]) -> None:
        remaining = 0
        for rtype in self.api.catalog.buckets():
            if not rtype.namespaced:
                continue
            for obj in list(self.api.store.list(storage_key(rtype), name)):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self.api.delete(rtype, name, obj["metadata"]["name"], {"propagationPolicy": "Background"})
        if remaining or self.api.store.namespaced_resources_in(name):
            return
        spec_finalizers = [f for f in namespace.get("spec", {}).get("finalizers", []) if f != "kubernetes"]
        if spec_finalizers or namespace["metadata"].get("finalizers"):
            return
        ns_type = self.api.catalog.lookup("", "v1", "namespaces")
        assert ns_type is not None
        self.api.finish_deletion(ns_type, namespace)
