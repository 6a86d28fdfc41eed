"""Server-side apply of a build, the way kustomize-controller's resource manager does it.

Objects are applied in stages: CRDs and Namespaces first, then everything else, each stage in Flux's kind order.
For every object: skip it if a control says so, dry-run the apply (an invalid object stops the whole apply
before anything of the stage is written), take back fields that `kubectl` edited (its managedFields entries
are handed to `kustomize-controller`, so the apply removes what it no longer sets), and apply only objects that
drifted. The result is one change-set entry per object: created, configured, unchanged or skipped.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...cluster.api import ApiResource
from ...cluster.client import KubeClient
from ...cluster.errors import ApiError, ClusterError, NotFound
from ..objects import ObjectRef
from . import controls, status
from .errors import FluxError

JSON = dict[str, Any]

FIELD_MANAGER = "kustomize-controller"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
RECREATE_TIMEOUT = 10.0

FIRST = (
    "CustomResourceDefinition",
    "Namespace",
    "ClusterClass",
    "RuntimeClass",
    "PriorityClass",
    "StorageClass",
    "VolumeSnapshotClass",
    "IngressClass",
    "GatewayClass",
    "ResourceQuota",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
)
LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
# Managers whose edits an Override apply takes back: kubectl in every form, and pre-SSA writers.
TAKEN_BACK = (("kubectl", "Apply"), ("kubectl", "Update"), ("before-first-apply", "Update"), (FIELD_MANAGER, "Update"))

CREATED = "created"
CONFIGURED = "configured"
UNCHANGED = "unchanged"
SKIPPED = "skipped"
DELETED = "deleted"


@dataclass(frozen=True)
class Change:
    """One object's outcome: `Deployment/shop/web configured`, as Flux's events print it."""

    ref: ObjectRef
    action: str

    def __str__(self) -> str:
        return f"{self.ref} {self.action}"

    @property
    def changed(self) -> bool:
        return self.action in (CREATED, CONFIGURED)


def kind_rank(kind: str) -> int:
    if kind in FIRST:
        return FIRST.index(kind) - len(FIRST)
    if kind in LAST:
        return 1 + LAST.index(kind)
    return 0


def sort_key(ref: ObjectRef) -> tuple[int, str, str, str, str]:
    return kind_rank(ref.kind), ref.group, ref.kind, ref.namespace, ref.name


def is_cluster_definition(obj: JSON) -> bool:
    return obj.get("kind") in ("CustomResourceDefinition", "Namespace")


def prepare(objects: list[JSON], name: str, namespace: str, common: JSON | None = None) -> list[JSON]:
    """Copies of the built objects with the ownership labels (and `commonMetadata`) set."""
    prepared = []
    for obj in objects:
        copied = copy.deepcopy(obj)
        metadata = copied.setdefault("metadata", {})
        for section in ("labels", "annotations"):
            extra = (common or {}).get(section)
            if isinstance(extra, dict) and extra:
                current = metadata.get(section) if isinstance(metadata.get(section), dict) else {}
                metadata[section] = {**current, **{str(k): str(v) for k, v in extra.items()}}
        prepared.append(controls.set_owner_labels(copied, name, namespace))
    return prepared


_VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")


def comparable(obj: JSON) -> JSON:
    """An object without what every write changes (resourceVersion, managedFields, ...) and without status."""
    result = {key: value for key, value in obj.items() if key != "status"}
    metadata = result.get("metadata")
    if isinstance(metadata, dict):
        result["metadata"] = {k: v for k, v in metadata.items() if k not in _VOLATILE_METADATA}
    return result


def has_drifted(live: JSON | None, dry_run: JSON) -> bool:
    """Whether applying would change the live object (always, when it does not exist yet)."""
    return live is None or comparable(live) != comparable(dry_run)


def cleanup_patch(live: JSON) -> list[JSON]:
    """JSON patch handing kubectl's managed fields to kustomize-controller and dropping kubectl's annotation."""
    operations: list[JSON] = []
    metadata = live.get("metadata") or {}
    entries = metadata.get("managedFields")
    if isinstance(entries, list):
        renamed, changed = [], False
        for entry in entries:
            if isinstance(entry, dict) and _taken_back(entry):
                entry = {**entry, "manager": FIELD_MANAGER, "operation": "Apply"}
                changed = True
            renamed.append(entry)
        if changed:
            operations.append({"op": "replace", "path": "/metadata/managedFields", "value": renamed})
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        operations.append({"op": "remove", "path": "/metadata/annotations/" + LAST_APPLIED.replace("/", "~1")})
    return operations


def _taken_back(entry: JSON) -> bool:
    if entry.get("subresource"):
        return False
    manager, operation = str(entry.get("manager") or ""), entry.get("operation")
    return any(manager.startswith(name) and operation == op for name, op in TAKEN_BACK)


def _is_immutable(err: ClusterError) -> bool:
    return isinstance(err, ApiError) and err.status == 422 and "immutable" in str(err)


class Applier:
    """Applies one Kustomization's objects with field manager `kustomize-controller`."""

    def __init__(self, client: KubeClient, force: bool = False, wait: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.force = force
        self.wait = wait

    def apply_staged(self, objects: list[JSON]) -> list[Change]:
        """Apply CRDs and Namespaces, then the rest; the change set in apply order. FluxError on failure."""
        first = [obj for obj in objects if is_cluster_definition(obj)]
        rest = [obj for obj in objects if not is_cluster_definition(obj)]
        return self.apply_all(first) + self.apply_all(rest)

    def apply_all(self, objects: list[JSON]) -> list[Change]:
        resolved = [(obj, self._resource(obj)) for obj in objects]
        ordered = sorted(resolved, key=lambda pair: sort_key(ObjectRef.of(pair[0])))
        changes: list[Change] = []
        pending: list[JSON] = []
        for obj, resource in ordered:
            change, needs_apply = self._plan(obj, resource)
            changes.append(change)
            if needs_apply:
                pending.append(obj)
        for obj in pending:
            self._write(obj, dry_run=False)
        return changes

    def _plan(self, obj: JSON, resource: ApiResource) -> tuple[Change, bool]:
        ref = ObjectRef.of(obj)
        live = self._live(resource, ref)
        if controls.skip_apply(obj, live):
            return Change(ref, SKIPPED), False
        dry_run = self._dry_run(obj, ref, live, resource)
        cleaned = live is not None and self._cleanup(obj, live, resource)
        if not cleaned and not has_drifted(live, dry_run):
            return Change(ref, UNCHANGED), False
        return Change(ref, CREATED if live is None else CONFIGURED), True

    def _resource(self, obj: JSON) -> ApiResource:
        """The object's resource type; a cluster-scoped object loses a namespace it should not have."""
        ref = ObjectRef.of(obj)
        try:
            resource = self.client.resolve(ref.kind, ref.api_version)
        except ClusterError:
            raise FluxError(
                f'{ref} dry-run failed: no matches for kind "{ref.kind}" in version "{ref.api_version}"',
                status.RECONCILIATION_FAILED,
            ) from None
        if resource.namespaced and not ref.namespace:
            raise FluxError(
                f"{ref} namespace not specified: the server could not find the requested resource",
                status.RECONCILIATION_FAILED,
            )
        if not resource.namespaced and ref.namespace:
            obj["metadata"].pop("namespace", None)
        return resource

    def _live(self, resource: ApiResource, ref: ObjectRef) -> JSON | None:
        return self.client.get(resource, ref.name, ref.namespace if resource.namespaced else None)

    def _dry_run(self, obj: JSON, ref: ObjectRef, live: JSON | None, resource: ApiResource) -> JSON:
        try:
            return self._write(obj, dry_run=True)
        except ApiError as err:
            if live is not None and _is_immutable(err) and controls.may_recreate(obj, live, self.force):
                self._recreate(resource, ref)
                return self._write(obj, dry_run=True)
            raise FluxError(_dry_run_message(ref, err), status.RECONCILIATION_FAILED) from None

    def _recreate(self, resource: ApiResource, ref: ObjectRef) -> None:
        namespace = ref.namespace if resource.namespaced else None
        self.client.delete(resource, ref.name, namespace, propagation="Background")
        deadline = time.monotonic() + RECREATE_TIMEOUT
        while self.client.get(resource, ref.name, namespace) is not None:
            if time.monotonic() > deadline:
                raise FluxError(f"{ref} immutable field detected, failed to wait for object to be deleted")
            self.wait(0.1)

    def _cleanup(self, obj: JSON, live: JSON, resource: ApiResource) -> bool:
        if controls.keeps_foreign_fields(obj, live):
            return False
        operations = cleanup_patch(live)
        if not operations:
            return False
        metadata = live.get("metadata") or {}
        namespace = metadata.get("namespace") if resource.namespaced else None
        try:
            self.client.patch(
                resource, metadata["name"], namespace, operations, patch_type="json", field_manager=FIELD_MANAGER
            )
        except ClusterError as err:
            raise FluxError(f"{ObjectRef.of(live)} metadata.managedFields cleanup failed: {err}") from None
        return True

    def _write(self, obj: JSON, *, dry_run: bool) -> JSON:
        try:
            return self.client.apply(obj, FIELD_MANAGER, force=True, dry_run=dry_run)
        except ApiError as err:
            if dry_run:
                raise
            raise FluxError(f"{ObjectRef.of(obj)} apply failed: {err.message}", status.RECONCILIATION_FAILED) from None
        except ClusterError as err:
            if dry_run:
                raise FluxError(f"{ObjectRef.of(obj)} dry-run failed: {err}", status.RECONCILIATION_FAILED) from None
            raise FluxError(f"{ObjectRef.of(obj)} apply failed: {err}", status.RECONCILIATION_FAILED) from None


def _dry_run_message(ref: ObjectRef, err: ApiError) -> str:
    if isinstance(err, NotFound):
        return f"{ref} not found: {err.message}"
    reason = f" ({err.reason})" if err.reason else ""
    return f"{ref} dry-run failed{reason}: {err.message}"
