"""Garbage collection by ownerReferences, with background, foreground and orphan propagation.

An index from owner uid to dependents is built from the store at start-up and kept current from the hub,
so a dependent left behind by a crash is still collected after a restart.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable
from typing import Any

from ..catalog import storage_key
from ..resources import ResourceType
from ..rest import Api, WriteOptions
from ..settings import ClusterSettings
from .base import Controller

Key = tuple[str, str, str]  # storage key, namespace, name


class GarbageCollector(Controller):
    name = "garbage-collector"

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        super().__init__(api, settings)
        self._dependents: dict[str, set[Key]] = {}
        self._owners_of: dict[Key, set[str]] = {}
        self._live_uids: set[str] = set()
        self._key_of_uid: dict[str, Key] = {}
        for rtype in api.catalog.buckets():
            for obj in api.store.list(storage_key(rtype)):
                self._index(storage_key(rtype), obj)
        for owner_uid in list(self._dependents):
            if owner_uid not in self._live_uids:
                self.enqueue(("owner-gone", owner_uid))

    def _index(self, resource: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = (resource, meta.get("namespace", ""), meta["name"])
        self._live_uids.add(meta["uid"])
        self._key_of_uid[meta["uid"]] = key
        for owner_uid in self._owners_of.pop(key, set()):
            self._dependents.get(owner_uid, set()).discard(key)
        owners = {ref["uid"] for ref in meta.get("ownerReferences") or [] if ref.get("uid")}
        if owners:
            self._owners_of[key] = owners
            for owner_uid in owners:
                self._dependents.setdefault(owner_uid, set()).add(key)

    def _unindex(self, resource: str, obj: dict[str, Any]) -> list[Hashable]:
        """Forget a deleted object; returns the owners that may have been waiting for it (foreground)."""
        meta = obj["metadata"]
        key = (resource, meta.get("namespace", ""), meta["name"])
        self._live_uids.discard(meta.get("uid", ""))
        self._key_of_uid.pop(meta.get("uid", ""), None)
        owners = self._owners_of.pop(key, set())
        for owner_uid in owners:
            self._dependents.get(owner_uid, set()).discard(key)
        return [("finalize", *self._key_of_uid[uid]) for uid in owners if uid in self._key_of_uid]

    def has_dependents(self, uid: str) -> bool:
        return bool(self._dependents.get(uid))

    def keys_for(
        self, resource: str, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[Hashable]:
        meta = obj["metadata"]
        if event_type == "DELETED":
            waiting = self._unindex(resource, obj)
            gone: list[Hashable] = [("owner-gone", meta["uid"])] if meta["uid"] in self._dependents else []
            return gone + waiting
        self._index(resource, obj)
        keys: list[Hashable] = []
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp") and ("foregroundDeletion" in finalizers or "orphan" in finalizers):
            keys.append(("finalize", resource, meta.get("namespace", ""), meta["name"]))
        missing = [ref for ref in meta.get("ownerReferences") or [] if ref.get("uid") not in self._live_uids]
        if missing:
            keys.append(("dependent", resource, meta.get("namespace", ""), meta["name"]))
        return keys

    def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        if key[0] == "owner-gone":
            self._collect_dependents_of(key[1])
        elif key[0] == "finalize":
            self._finalize_owner(key[1], key[2], key[3])
        elif key[0] == "dependent":
            self._check_dependent(key[1], key[2], key[3])

    def _collect_dependents_of(self, owner_uid: str) -> None:
        if owner_uid in self._live_uids:
            return
        for resource, namespace, name in sorted(self._dependents.get(owner_uid, set())):
            self._check_dependent(resource, namespace, name)

    def _check_dependent(self, resource: str, namespace: str, name: str) -> None:
        """Delete a dependent whose owners are all gone; drop references to owners that are gone."""
        rtype = self.api.catalog.by_storage_key(resource)
        if rtype is None:
            return
        obj = self.api.find(rtype, namespace, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        refs = obj["metadata"].get("ownerReferences") or []
        alive = [ref for ref in refs if ref.get("uid") in self._live_uids]
        if len(alive) == len(refs):
            return
        if alive:
            updated = copy.deepcopy(obj)
            updated["metadata"]["ownerReferences"] = alive
            self.api.update(rtype, namespace, name, updated, WriteOptions(field_manager="garbage-collector"))
        else:
            self.api.delete(rtype, namespace, name, {"propagationPolicy": "Background"})

    def _finalize_owner(self, resource: str, namespace: str, name: str) -> None:
        rtype = self.api.catalog.by_storage_key(resource)
        if rtype is None:
            return
        owner = self.api.find(rtype, namespace, name)
        if owner is None:
            return
        meta = owner["metadata"]
        if not meta.get("deletionTimestamp"):
            return
        finalizers = list(meta.get("finalizers") or [])
        dependents = [self._find(key) for key in sorted(self._dependents.get(meta["uid"], set()))]
        dependents = [(rt, obj) for rt, obj in dependents if obj is not None]
        if "orphan" in finalizers:
            for dep_type, dep in dependents:
                updated = copy.deepcopy(dep)
                updated["metadata"]["ownerReferences"] = [
                    ref for ref in dep["metadata"].get("ownerReferences") or [] if ref.get("uid") != meta["uid"]
                ]
                dep_meta = dep["metadata"]
                self.api.update(
                    dep_type,
                    dep_meta.get("namespace", ""),
                    dep_meta["name"],
                    updated,
                    WriteOptions(field_manager="garbage-collector"),
                )
            finalizers.remove("orphan")
        elif "foregroundDeletion" in finalizers:
            if dependents:
                for dep_type, dep in dependents:
                    dep_meta = dep["metadata"]
                    if not dep_meta.get("deletionTimestamp"):
                        self.api.delete(
                            dep_type,
                            dep_meta.get("namespace", ""),
                            dep_meta["name"],
                            {"propagationPolicy": "Foreground"},
                        )
                return
            finalizers.remove("foregroundDeletion")
        updated = copy.deepcopy(owner)
        updated["metadata"]["finalizers"] = finalizers
        self.api.update(rtype, namespace, name, updated, WriteOptions(field_manager="garbage-collector"))

    def _find(self, key: Key) -> tuple[ResourceType, dict[str, Any] | None]:
        resource, namespace, name = key
        rtype = self.api.catalog.by_storage_key(resource)
        if rtype is None:
            return (self.api.catalog.types[0], None)
        return rtype, self.api.find(rtype, namespace, name)
