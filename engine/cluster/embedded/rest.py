"""The generic REST semantics of the API server: create, read, update, patch and delete any resource.

This is where metadata is managed (uid, resourceVersion, generation, timestamps, managedFields), where
optimistic concurrency and finalizers are enforced, and where every change reaches the watch hub. The HTTP
layer only parses requests and renders answers; controllers write through here too.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import clock, fieldmanager, patching, validation
from .admission import Admission
from .catalog import Catalog, storage_key
from .resources import ResourceType
from .selectors import FieldRequirement, Requirement, fields_match, labels_match
from .status import ApiError, already_exists, bad_request, forbidden, not_found, stale, unsupported_media_type
from .store import Store
from .watch import Hub

Obj = dict[str, Any]

# Kinds whose metadata.generation tracks changes to their spec, as on a real cluster.
_GENERATION_KINDS = {
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Ingress",
    "Pod",
    "CustomResourceDefinition",
}
_UNTOUCHABLE_META = (
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)

PATCH_JSON = "application/json-patch+json"
PATCH_MERGE = "application/merge-patch+json"
PATCH_STRATEGIC = "application/strategic-merge-patch+json"
PATCH_APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (PATCH_JSON, PATCH_MERGE, PATCH_APPLY, PATCH_STRATEGIC)


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Warn"
    force: bool = False


@dataclass
class ListResult:
    items: list[Obj]
    resource_version: str
    continue_token: str = ""
    remaining: int | None = None


class Api:
    """All object reads and writes. Single-threaded by design: the server calls it from one event loop."""

    def __init__(self, store: Store, catalog: Catalog, hub: Hub) -> None:
        self.store = store
        self.catalog = catalog
        self.hub = hub
        self.admission = Admission(self)
        self.log_reader: Callable[[Obj, str, dict[str, str]], str] | None = None

    # Reads --------------------------------------------------------------------------------------------

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.store.get(storage_key(rtype), namespace if rtype.namespaced else "", name)
        if obj is None:
            raise not_found(rtype, name)
        return self._as_version(rtype, obj)

    def find(self, rtype: ResourceType, namespace: str, name: str) -> Obj | None:
        obj = self.store.get(storage_key(rtype), namespace if rtype.namespaced else "", name)
        return None if obj is None else self._as_version(rtype, obj)

    def list(
        self,
        rtype: ResourceType,
        namespace: str | None,
        labels: list[Requirement] | None = None,
        fields: list[FieldRequirement] | None = None,
        limit: int = 0,
        continue_token: str = "",
    ) -> ListResult:
        after = _decode_continue(continue_token) if continue_token else None
        items: list[Obj] = []
        more = False
        last_key: tuple[str, str] | None = None
        for obj in self.store.list(storage_key(rtype), namespace if rtype.namespaced else None, after):
            if not (labels_match(labels or [], obj) and fields_match(fields or [], obj)):
                continue
            if limit and len(items) >= limit:
                more = True
                break
            items.append(self._as_version(rtype, obj))
            meta = obj["metadata"]
            last_key = (meta.get("namespace", ""), meta["name"])
        token = _encode_continue(last_key) if more and last_key else ""
        return ListResult(items, str(self.store.revision), token)

    def _as_version(self, rtype: ResourceType, obj: Obj) -> Obj:
        if rtype.is_custom and obj.get("apiVersion") != rtype.api_version:
            obj["apiVersion"] = rtype.api_version
        return obj

    # Writes -------------------------------------------------------------------------------------------

    def create(
        self,
        rtype: ResourceType,
        namespace: str,
        body: Obj,
        opts: WriteOptions,
        managed_fields: list[Obj] | None = None,
    ) -> tuple[Obj, list[str]]:
        """Create an object; `managed_fields` comes from server-side apply, else the writer owns everything."""
        obj = self._typed(rtype, body)
        meta = obj["metadata"]
        self._place(rtype, namespace, meta)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise ApiError(
                    422,
                    "Invalid",
                    f'{rtype.kind}{_group_suffix(rtype)} "" is invalid: metadata.name: '
                    "Required value: name or generateName is required",
                    {
                        "kind": rtype.kind,
                        "group": rtype.group,
                        "causes": [
                            {
                                "reason": "FieldValueRequired",
                                "message": "Required value: name or generateName is required",
                                "field": "metadata.name",
                            }
                        ],
                    },
                )
        if rtype.namespaced:
            self._check_namespace_open(rtype, meta["namespace"], meta["name"])
        if self.find(rtype, meta.get("namespace", ""), meta["name"]) is not None:
            raise already_exists(rtype, meta["name"])
        if "status" in rtype.subresources and rtype.kind not in ("Node", "Namespace"):
            obj.pop("status", None)
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        # The uid comes first: a Job's generated selector and labels are derived from it before validation.
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = clock.stamp()
        obj, warnings = _validate(obj, rtype, None, opts.field_validation)
        meta = obj["metadata"]
        if rtype.kind in _GENERATION_KINDS or rtype.is_custom:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        self.admission.on_create(rtype, obj, opts.dry_run)
        if managed_fields is None:
            self._manage_fields(rtype, None, obj, opts.field_manager or "unknown")
        else:
            meta["managedFields"] = managed_fields
        if opts.dry_run:
            return obj, warnings
        stored = self.store.put(storage_key(rtype), obj, "ADDED")
        self.hub.publish(storage_key(rtype), "ADDED", stored, None)
        self.admission.after_write(rtype, stored, None)
        return stored, warnings

    def update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: Obj,
        opts: WriteOptions,
        subresource: str = "",
    ) -> tuple[Obj, list[str]]:
        live = self.get(rtype, namespace, name)
        new = self._typed(rtype, body)
        self._check_identity(rtype, namespace, name, new)
        return self._update(rtype, live, new, opts, subresource, "Update")

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        raw: Any,
        opts: WriteOptions,
        subresource: str = "",
    ) -> tuple[Obj, list[str], bool]:
        """Returns (object, warnings, created); only server-side apply can create."""
        live = self.find(rtype, namespace, name)
        if content_type == PATCH_APPLY:
            return self._apply(rtype, namespace, name, live, raw, opts, subresource)
        if live is None:
            raise not_found(rtype, name)
        base = copy.deepcopy(live)
        try:
            if content_type == PATCH_JSON:
                new = patching.json_patch(base, raw)
            elif content_type == PATCH_MERGE:
                new = patching.merge_patch(base, raw)
            elif content_type == PATCH_STRATEGIC:
                if rtype.definition is None:
                    raise unsupported_media_type([PATCH_JSON, PATCH_MERGE, PATCH_APPLY])
                new = patching.strategic_merge(base, raw, rtype.definition)
            else:
                raise unsupported_media_type(list(PATCH_TYPES))
        except patching.PatchError as err:
            raise patch_error(err) from err
        if not isinstance(new, dict):
            raise bad_request("the patch did not produce an object")
        new = self._typed(rtype, new)
        self._check_identity(rtype, namespace, name, new)
        obj, warnings = self._update(rtype, live, new, opts, subresource, "Update")
        return obj, warnings, False

    def _apply(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        live: Obj | None,
        config: Any,
        opts: WriteOptions,
        subresource: str,
    ) -> tuple[Obj, list[str], bool]:
        if not isinstance(config, dict):
            raise bad_request("the apply configuration must be an object")
        if not opts.field_manager:
            raise bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        config = self._typed(rtype, config)
        self._check_identity(rtype, namespace, name, config)
        try:
            applied = fieldmanager.apply(
                copy.deepcopy(live) if live else None,
                config,
                manager=opts.field_manager,
                force=opts.force,
                api_version=rtype.api_version,
                now=clock.stamp(),
                definition=rtype.definition,
                crd_schema=rtype.crd_schema,
                subresource=subresource or None,
                status_subresource="status" in rtype.subresources,
            )
        except fieldmanager.ApplyConflict as err:
            raise ApiError(409, "Conflict", err.message, {"causes": err.causes}) from err
        except patching.PatchError as err:
            raise patch_error(err) from err
        if live is None:
            managed = applied["metadata"].get("managedFields") or []
            obj, warnings = self.create(rtype, namespace, applied, opts, managed_fields=managed)
            return obj, warnings, True
        obj, warnings = self._update(rtype, live, applied, opts, subresource, "Apply")
        return obj, warnings, False

    def _update(
        self,
        rtype: ResourceType,
        live: Obj,
        new: Obj,
        opts: WriteOptions,
        subresource: str,
        operation: str,
    ) -> tuple[Obj, list[str]]:
        live_meta = live["metadata"]
        new_meta = new.setdefault("metadata", {})
        if new_meta.get("resourceVersion") and new_meta["resourceVersion"] != live_meta["resourceVersion"]:
            raise stale(rtype, live_meta["name"])
        for key in _UNTOUCHABLE_META:
            if key in live_meta:
                new_meta[key] = live_meta[key]
            else:
                new_meta.pop(key, None)
        if subresource == "status":
            new = {**copy.deepcopy(live), "status": new.get("status", {})}
            new_meta = new["metadata"]
        elif "status" in rtype.subresources and rtype.kind != "Namespace":
            if "status" in live:
                new["status"] = copy.deepcopy(live["status"])
            else:
                new.pop("status", None)
        new, warnings = _validate(new, rtype, live, opts.field_validation)
        new_meta = new["metadata"]
        if "generation" in live_meta and _spec_of(new) != _spec_of(live):
            new_meta["generation"] = int(live_meta["generation"]) + 1
        self.admission.on_update(rtype, new, live)
        if operation == "Update":
            self._manage_fields(rtype, live, new, opts.field_manager or "unknown", subresource)
        new_meta["resourceVersion"] = live_meta["resourceVersion"]
        if _same(new, live):
            return live, warnings
        if opts.dry_run:
            return new, warnings
        # As on the real server: the last finalizer gone removes the object, unless a grace period is running.
        if (
            new_meta.get("deletionTimestamp")
            and not new_meta.get("finalizers")
            and not new_meta.get("deletionGracePeriodSeconds")
        ):
            return self._remove(rtype, new), warnings
        stored = self.store.put(storage_key(rtype), new, "MODIFIED")
        self.hub.publish(storage_key(rtype), "MODIFIED", stored, live)
        self.admission.after_write(rtype, stored, live)
        return stored, warnings

    def delete(self, rtype: ResourceType, namespace: str, name: str, options: Obj | None, dry_run: bool = False) -> Obj:
        live = self.get(rtype, namespace, name)
        options = options or {}
        meta = live["metadata"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise ApiError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
            raise stale(rtype, name)
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is True:
            policy = "Orphan"
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise bad_request(f"unsupported propagation policy: {policy!r}")
        if dry_run:
            return live
        finalizers = list(meta.get("finalizers") or [])
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        if rtype.kind == "Namespace":
            return self.admission.begin_namespace_deletion(rtype, live)
        graceful = self.admission.graceful_deletion(rtype, live, options, finalizers)
        if graceful is not None:
            return graceful
        if not finalizers:
            return self._remove(rtype, live)
        if meta.get("deletionTimestamp") and finalizers == meta.get("finalizers"):
            return live
        updated = copy.deepcopy(live)
        updated["metadata"]["finalizers"] = finalizers
        updated["metadata"].setdefault("deletionTimestamp", clock.stamp())
        updated["metadata"].setdefault("deletionGracePeriodSeconds", 0)
        stored = self.store.put(storage_key(rtype), updated, "MODIFIED")
        self.hub.publish(storage_key(rtype), "MODIFIED", stored, live)
        self.admission.after_write(rtype, stored, live)
        return stored

    def delete_collection(
        self,
        rtype: ResourceType,
        namespace: str | None,
        labels: list[Requirement],
        fields: list[FieldRequirement],
        options: Obj | None,
        dry_run: bool = False,
    ) -> list[Obj]:
        result = self.list(rtype, namespace, labels, fields)
        deleted = []
        for obj in result.items:
            meta = obj["metadata"]
            try:
                deleted.append(self.delete(rtype, meta.get("namespace", ""), meta["name"], options, dry_run))
            except ApiError as err:
                if err.code != 404:
                    raise
        return deleted

    def finish_deletion(self, rtype: ResourceType, obj: Obj) -> Obj:
        """Remove an object now (controllers call this once its finalizers are done)."""
        return self._remove(rtype, obj)

    def _remove(self, rtype: ResourceType, obj: Obj) -> Obj:
        before = copy.deepcopy(obj)
        removed = self.store.delete(storage_key(rtype), obj)
        self.hub.publish(storage_key(rtype), "DELETED", removed, before)
        self.admission.after_delete(rtype, removed)
        return removed

    # Helpers ------------------------------------------------------------------------------------------

    def _typed(self, rtype: ResourceType, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise bad_request(f"the body of the request must be a {rtype.kind} object")
        obj = copy.deepcopy(body)
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if api_version and api_version != rtype.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rtype.api_version})"
            )
        if kind and kind != rtype.kind:
            raise bad_request(
                f'{kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
                f"the kind in the body ({kind}) does not match the resource ({rtype.kind})"
            )
        obj["kind"] = rtype.kind
        obj["apiVersion"] = rtype.api_version
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise bad_request(
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
                "metadata must be an object"
            )
        return obj

    def _place(self, rtype: ResourceType, namespace: str, meta: Obj) -> None:
        if not rtype.namespaced:
            meta.pop("namespace", None)
            return
        body_ns = meta.get("namespace")
        if body_ns and namespace and body_ns != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = namespace or body_ns or "default"

    def _check_identity(self, rtype: ResourceType, namespace: str, name: str, obj: Obj) -> None:
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        meta["name"] = name
        self._place(rtype, namespace, meta)

    def _check_namespace_open(self, rtype: ResourceType, namespace: str, name: str) -> None:
        ns_type = self.catalog.lookup("", "v1", "namespaces")
        assert ns_type is not None
        ns = self.find(ns_type, "", namespace)
        if ns is None:
            raise not_found(ns_type, namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise forbidden(
                rtype,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    def _manage_fields(
        self, rtype: ResourceType, old: Obj | None, new: Obj, manager: str, subresource: str = ""
    ) -> None:
        new["metadata"]["managedFields"] = fieldmanager.record_update(
            old,
            new,
            manager=manager,
            api_version=rtype.api_version,
            now=clock.stamp(),
            definition=rtype.definition,
            crd_schema=rtype.crd_schema,
            subresource=subresource or None,
            status_subresource="status" in rtype.subresources,
        )


def _validate(obj: Obj, rtype: ResourceType, old: Obj | None, field_validation: str) -> tuple[Obj, list[str]]:
    """Decode, default and validate as the real server does; returns the object to store and any warnings."""
    try:
        return validation.validate(obj, rtype, old=old, field_validation=field_validation)
    except validation.Invalid as err:
        status = err.status()
        raise ApiError(422, "Invalid", err.message, status.get("details")) from err
    except validation.BadRequest as err:
        raise bad_request(err.message) from err


def patch_error(err: patching.PatchError) -> ApiError:
    """A patch that cannot apply, reported with the real server's code, reason and (when known) its cause."""
    details = {"causes": [{"message": err.detail}]} if getattr(err, "detail", None) else None
    return ApiError(err.code, err.reason, err.message, details)


def _group_suffix(rtype: ResourceType) -> str:
    return f".{rtype.group}" if rtype.group else ""


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def _same(a: Obj, b: Obj) -> bool:
    """Equal apart from managedFields timestamps: a no-op write must not bump the resourceVersion."""

    def strip(obj: Obj) -> Obj:
        clone = dict(obj)
        meta = dict(clone.get("metadata", {}))
        meta["managedFields"] = [
            {k: v for k, v in entry.items() if k != "time"} for entry in meta.get("managedFields") or []
        ]
        clone["metadata"] = meta
        return clone

    return strip(a) == strip(b)


def _encode_continue(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(namespace), str(name)
    except (ValueError, TypeError) as err:
        raise bad_request(f"continue key is not valid: {err}") from err
