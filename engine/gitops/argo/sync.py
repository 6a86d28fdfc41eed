"""One pass of a sync operation: create the namespace, dry-run, prune and apply, in Argo CD's order.

The pass follows gitops-engine's sync context for apps without hooks: resources whose kind the cluster does not
serve (and whose CRD is not part of the sync) make the tasks invalid; with `CreateNamespace=true` the
destination namespace is created first; then every object is applied as a dry run, and any failure stops the
sync before anything changed. Pruning runs before the applies (after them with `PruneLast=true`); applies go in
Kubernetes' install order (Namespaces, ..., ConfigMaps, CRDs, ..., Services, Deployments, ..., Ingresses),
by sync wave first. A resource is pruned only when the operation says `prune`, and never when it carries
`argocd.argoproj.io/sync-options: Prune=false`.

Objects are applied server-side under the field manager `argocd-controller`. With `ServerSideApply=true` the
result reads `serverside-applied`; otherwise the apply imitates kubectl's client-side apply: the object also
carries the `kubectl.kubernetes.io/last-applied-configuration` annotation and results read `created`,
`configured` or `unchanged`. A pruned object that is still being deleted (foreground deletion waits for its
dependents) keeps the operation Running until it is gone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...cluster.api import ApiResource
from ...cluster.client import KubeClient
from ...cluster.errors import ApiError, ClusterError
from .compare import FIELD_MANAGER, LAST_APPLIED, SYNCED, Resource
from .live import LiveState
from .options import SyncOptions, object_options, prune_disabled
from .tracking import ResourceKey

JSON = dict[str, Any]

RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
ERROR = "Error"
SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"
CRD_WAIT = 5.0

KIND_ORDER = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)


@dataclass
class Plan:
    """What one sync pass works on."""

    resources: list[Resource]
    types: dict[ResourceKey, ApiResource | None]
    options: SyncOptions
    prune: bool
    namespace: str | None = None
    namespace_metadata: JSON | None = None
    only: list[JSON] | None = None  # the operation's `sync.resources`: a partial sync


@dataclass
class Outcome:
    phase: str
    message: str
    results: list[JSON] = field(default_factory=list)
    pending: list[ResourceKey] = field(default_factory=list)


@dataclass
class _Task:
    resource: Resource
    api: ApiResource | None

    @property
    def prune(self) -> bool:
        return self.resource.target is None

    @property
    def obj(self) -> JSON:
        return self.resource.target or self.resource.live or {}


def wave(obj: JSON) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(SYNC_WAVE_ANNOTATION)
    try:
        return int(str(value).strip()) if value is not None else 0
    except ValueError:
        return 0


def kind_order(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def apply_order(tasks: Iterable[_Task]) -> list[_Task]:
    return sorted(tasks, key=lambda t: (wave(t.obj), kind_order(t.resource.key.kind), t.resource.key.name))


def selected(resource: Resource, only: list[JSON] | None) -> bool:
    """Whether a partial sync's resource list names this resource."""
    if only is None:
        return True
    key = resource.key
    for entry in only:
        if not isinstance(entry, dict):
            continue
        same = (entry.get("group") or "", entry.get("kind"), entry.get("name")) == (key.group, key.kind, key.name)
        if same and entry.get("namespace") in (None, "", key.namespace):
            return True
    return False


def resource_name(key: ResourceKey) -> str:
    """kubectl's way of naming an object in its output: `deployment.apps/web`, `service/web`."""
    kind = key.kind.lower()
    return f"{kind}.{key.group}/{key.name}" if key.group else f"{kind}/{key.name}"


def waiting_message(keys: list[ResourceKey]) -> str:
    first = keys[0]
    message = f"waiting for deletion of {first.group}/{first.kind}/{first.name}"
    return f"{message} and {len(keys) - 1} more resources" if len(keys) > 1 else message


def result(key: ResourceKey, version: str, status: str, message: str, hook_phase: str, phase: str = "Sync") -> JSON:
    return {
        "group": key.group,
        "version": version,
        "kind": key.kind,
        "namespace": key.namespace,
        "name": key.name,
        "status": status,
        "message": message,
        "hookPhase": hook_phase,
        "syncPhase": phase,
    }


def with_last_applied(obj: JSON) -> JSON:
    """The object carrying kubectl's last-applied-configuration annotation (of itself without it)."""
    body = json.loads(json.dumps(obj))
    metadata = body.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    annotations.pop(LAST_APPLIED, None)
    metadata["annotations"] = annotations
    config = json.dumps(body, separators=(",", ":"), sort_keys=True)
    metadata["annotations"] = {**annotations, LAST_APPLIED: config + "\n"}
    return body


def _defined_kind(crd: JSON) -> tuple[str, str]:
    """The (group, kind) a CustomResourceDefinition defines."""
    spec = crd.get("spec") or {}
    return str(spec.get("group") or ""), str((spec.get("names") or {}).get("kind") or "")


def error_message(err: ClusterError) -> str:
    return err.message if isinstance(err, ApiError) else str(err)


class Syncer:
    """Runs sync passes against the cluster, keeping the live state cache current with what it wrote."""

    def __init__(self, client: KubeClient, live: LiveState) -> None:
        self.client = client
        self.live = live

    def run(self, plan: Plan) -> Outcome:
        tasks = [_Task(r, plan.types.get(r.key)) for r in plan.resources if selected(r, plan.only)]
        tasks = [
            t for t in tasks if t.prune or not (plan.options.apply_out_of_sync_only and t.resource.status == SYNCED)
        ]
        invalid = self._invalid(tasks)
        if invalid:
            return Outcome(FAILED, "one or more synchronization tasks are not valid", invalid)
        results: list[JSON] = []
        namespace = self._create_namespace(plan, tasks)
        if namespace is not None:
            results.append(namespace)
            if namespace["status"] != SYNCED:
                return Outcome(FAILED, "the namespace failed to apply", results)
        applies = apply_order(t for t in tasks if not t.prune)
        failed = self._dry_run(applies, plan)
        if failed:
            return Outcome(FAILED, "one or more objects failed to apply (dry run)", results + failed)
        prunes = sorted((t for t in tasks if t.prune), key=lambda t: t.resource.key)
        ordered = [*applies, *prunes] if plan.options.prune_last else [*prunes, *applies]
        pending: list[ResourceKey] = []
        for task in ordered:
            outcome = self._prune(task, plan, pending) if task.prune else self._apply(task, plan.options)
            results.append(outcome)
        return self._outcome(results, pending, bool(tasks) or namespace is not None)

    def _outcome(self, results: list[JSON], pending: list[ResourceKey], any_task: bool) -> Outcome:
        failures = [r["message"] for r in results if r["status"] == "SyncFailed"]
        if failures:
            return Outcome(FAILED, "one or more objects failed to apply, reason: " + ",".join(failures), results)
        if pending:
            return Outcome(RUNNING, waiting_message(pending), results, pending)
        if not any_task:
            return Outcome(SUCCEEDED, "successfully synced (no more tasks)", results)
        return Outcome(SUCCEEDED, "successfully synced (all tasks run)", results)

    def _invalid(self, tasks: list[_Task]) -> list[JSON]:
        """Tasks for kinds the cluster does not serve, unless a CRD in this sync defines them."""
        defined = {_defined_kind(t.obj) for t in tasks if t.resource.key.kind == "CustomResourceDefinition"}
        unknown = [t for t in tasks if not t.prune and t.api is None]
        message = "the server could not find the requested resource"
        return [
            result(t.resource.key, t.resource.version, "SyncFailed", message, FAILED)
            for t in unknown
            if (t.resource.key.group, t.resource.key.kind) not in defined
        ]

    def _create_namespace(self, plan: Plan, tasks: list[_Task]) -> JSON | None:
        """With CreateNamespace=true, the destination namespace when it is missing (or its managed metadata)."""
        name = plan.namespace
        if not plan.options.create_namespace or not name:
            return None
        if any(t.resource.key.kind == "Namespace" and t.resource.key.name == name and not t.prune for t in tasks):
            return None
        key = ResourceKey("", "Namespace", "", name)
        try:
            existing = self.client.get(self.client.resolve("Namespace", "v1"), name)
            if existing is not None and not plan.namespace_metadata:
                return None
            body: JSON = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            for part in ("labels", "annotations"):
                if isinstance((plan.namespace_metadata or {}).get(part), dict):
                    body["metadata"][part] = plan.namespace_metadata[part]
            self.client.apply(body, FIELD_MANAGER, force=True)
        except ClusterError as err:
            return result(
                key, "v1", "SyncFailed", f"namespace auto creation failed: {error_message(err)}", FAILED, "PreSync"
            )
        verb = "configured" if existing is not None else "created"
        return result(key, "v1", SYNCED, f"namespace/{name} {verb}", RUNNING, "PreSync")

    def _dry_run(self, tasks: list[_Task], plan: Plan) -> list[JSON]:
        """Failures of a dry-run apply of every task that can be checked before anything exists."""
        created = {t.resource.key.name for t in tasks if t.resource.key.kind == "Namespace"}
        failures = []
        for task in tasks:
            key = task.resource.key
            if task.api is None or (
                key.namespace in created and self.live.get(ResourceKey("", "Namespace", "", key.namespace)) is None
            ):
                continue
            try:
                self.client.apply(self._body(task.obj, plan.options), FIELD_MANAGER, force=True, dry_run=True)
            except ClusterError as err:
                failures.append(result(key, task.resource.version, "SyncFailed", error_message(err), FAILED))
        return failures

    def _body(self, obj: JSON, options: SyncOptions) -> JSON:
        return obj if self._server_side(obj, options) else with_last_applied(obj)

    def _server_side(self, obj: JSON, options: SyncOptions) -> bool:
        own = object_options(obj).get("ServerSideApply", "").lower()
        return own == "true" or (options.server_side_apply and own != "false")

    def _apply(self, task: _Task, options: SyncOptions) -> JSON:
        key, version = task.resource.key, task.resource.version
        try:
            applied = self.client.apply(self._body(task.obj, options), FIELD_MANAGER, force=True)
        except ClusterError as err:
            return result(key, version, "SyncFailed", error_message(err), FAILED)
        applied.setdefault("apiVersion", task.obj.get("apiVersion"))
        applied.setdefault("kind", key.kind)
        self.live.remember(applied)
        if key.kind == "CustomResourceDefinition":
            self._await_crd(applied)
        return result(key, version, SYNCED, f"{resource_name(key)} {self._verb(task, applied, options)}", RUNNING)

    def _verb(self, task: _Task, applied: JSON, options: SyncOptions) -> str:
        if self._server_side(task.obj, options):
            return "serverside-applied"
        live = task.resource.live
        if live is None:
            return "created"
        before = (live.get("metadata") or {}).get("resourceVersion")
        return "unchanged" if before == (applied.get("metadata") or {}).get("resourceVersion") else "configured"

    def _await_crd(self, crd: JSON) -> None:
        """Wait (briefly) until the API serves the kind a CRD just applied defines."""
        group, kind = _defined_kind(crd)
        deadline = time.monotonic() + CRD_WAIT
        while kind and time.monotonic() < deadline:
            try:
                self.client.resolve(kind, group)
                return
            except ClusterError:
                time.sleep(0.1)

    def _prune(self, task: _Task, plan: Plan, pending: list[ResourceKey]) -> JSON:
        key, version, live = task.resource.key, task.resource.version, task.resource.live or {}
        if not plan.prune:
            return result(key, version, "PruneSkipped", "ignored (requires pruning)", SUCCEEDED)
        if prune_disabled(live):
            return result(key, version, "PruneSkipped", "ignored (no prune)", SUCCEEDED)
        api = task.api or self.live.resource(key.group, key.kind, version)
        if api is None:
            return result(key, version, "SyncFailed", "the server could not find the requested resource", FAILED)
        namespace = key.namespace or None
        try:
            if not (live.get("metadata") or {}).get("deletionTimestamp"):
                self.client.delete(api, key.name, namespace, propagation=plan.options.prune_propagation)
            fresh = self.client.get(api, key.name, namespace)
        except ClusterError as err:
            return result(key, version, "SyncFailed", error_message(err), FAILED)
        if fresh is None:
            self.live.forget(key)
        else:
            fresh.setdefault("apiVersion", api.api_version)
            fresh.setdefault("kind", api.kind)
            self.live.remember(fresh)
            pending.append(key)
        return result(key, version, "Pruned", "pruned", SUCCEEDED)

    def still_pending(self, keys: Iterable[ResourceKey]) -> list[ResourceKey]:
        """Which of the pruned objects the cache still holds (their deletion has not finished)."""
        return [key for key in keys if self.live.get(key) is not None]
