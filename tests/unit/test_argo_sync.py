"""One sync pass against a recording stand-in for the cluster: order, options, results and messages."""

from __future__ import annotations

import copy
from typing import Any

from engine.cluster.api import ApiResource
from engine.cluster.errors import ApiError, UnknownKind
from engine.gitops.argo.compare import LAST_APPLIED, Resource
from engine.gitops.argo.options import SyncOptions
from engine.gitops.argo.sync import Plan, Syncer
from engine.gitops.argo.tracking import ResourceKey

JSON = dict[str, Any]
TYPES = {
    "Namespace": ApiResource("", "v1", "Namespace", "namespaces", False),
    "ConfigMap": ApiResource("", "v1", "ConfigMap", "configmaps", True),
    "Deployment": ApiResource("apps", "v1", "Deployment", "deployments", True),
}


class Cluster:
    """Records calls; objects named `bad` are rejected, deletions of `slow` objects linger."""

    def __init__(self, *existing: JSON) -> None:
        self.objects = {self.key(o): copy.deepcopy(o) for o in existing}
        for held in self.objects.values():
            held["metadata"]["resourceVersion"] = "100"
        self.calls: list[str] = []
        self.version = 100
        self.types = dict(TYPES)

    @staticmethod
    def key(obj: JSON) -> tuple[str, str, str]:
        metadata = obj.get("metadata") or {}
        return obj["kind"], metadata.get("namespace") or "", metadata["name"]

    def resolve(self, kind: str, api_version: str | None = None) -> ApiResource:
        if kind not in self.types:
            raise UnknownKind(f"no {kind}")
        return self.types[kind]

    def get(self, resource: ApiResource, name: str, namespace: str | None = None) -> JSON | None:
        found = self.objects.get((resource.kind, namespace or "", name))
        return copy.deepcopy(found) if found else None

    def apply(self, obj: JSON, manager: str, *, force: bool = True, dry_run: bool = False) -> JSON:
        if obj["metadata"]["name"] == "bad":
            raise ApiError(422, "Invalid", f'{obj["kind"]} "bad" is invalid: spec: Required value')
        self.calls.append(("dry-run " if dry_run else "apply ") + obj["metadata"]["name"])
        if dry_run:
            return obj
        if obj["kind"] == "CustomResourceDefinition":
            names = obj["spec"]["names"]
            self.types[names["kind"]] = ApiResource(obj["spec"]["group"], "v1", names["kind"], names["plural"], True)
        held = self.objects.get(self.key(obj))
        stored = copy.deepcopy(obj)
        if held is not None and held.get("spec") == obj.get("spec"):
            stored["metadata"]["resourceVersion"] = held["metadata"]["resourceVersion"]
        else:
            self.version += 1
            stored["metadata"]["resourceVersion"] = str(self.version)
        self.objects[self.key(obj)] = stored
        return copy.deepcopy(stored)

    def delete(
        self, resource: ApiResource, name: str, namespace: str | None = None, *, propagation: str = "Background"
    ) -> bool:
        self.calls.append(f"delete {name} {propagation}")
        key = (resource.kind, namespace or "", name)
        if name == "slow":
            self.objects[key]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        else:
            self.objects.pop(key, None)
        return True


class Live:
    def __init__(self) -> None:
        self.cache: dict[ResourceKey, JSON] = {}

    def get(self, key: ResourceKey) -> JSON | None:
        return self.cache.get(key)

    def remember(self, obj: JSON) -> None:
        self.cache[ResourceKey.of(obj)] = obj

    def forget(self, key: ResourceKey) -> None:
        self.cache.pop(key, None)

    def resource(self, group: str, kind: str, version: str | None = None) -> ApiResource | None:
        return TYPES.get(kind)


def obj(kind: str, name: str, namespace: str = "shop", **annotations: str) -> JSON:
    api = "apps/v1" if kind == "Deployment" else "v1"
    metadata: JSON = {"name": name, "annotations": annotations} if annotations else {"name": name}
    if kind != "Namespace":
        metadata["namespace"] = namespace
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": {"n": 1}}


def desired(o: JSON, live: JSON | None = None, status: str = "OutOfSync") -> Resource:
    return Resource(ResourceKey.of(o), "v1", o, live, status)


def extra(o: JSON) -> Resource:
    return Resource(ResourceKey.of(o), "v1", None, o, "OutOfSync")


def run(cluster: Cluster, resources: list[Resource], prune: bool = True, **options: Any) -> tuple[Any, Cluster]:
    types = {r.key: TYPES.get(r.key.kind) for r in resources}
    syncer = Syncer(cluster, Live())
    plan = Plan(resources, types, SyncOptions(**options.pop("sync", {})), prune, **options)
    return syncer.run(plan), cluster


def test_objects_are_dry_run_then_applied_in_install_order_after_pruning() -> None:
    old = obj("ConfigMap", "old")
    resources = [desired(obj("Deployment", "web")), desired(obj("ConfigMap", "cfg")), extra(old)]
    outcome, cluster = run(Cluster(old), resources)
    assert cluster.calls == ["dry-run cfg", "dry-run web", "delete old Foreground", "apply cfg", "apply web"]
    assert outcome.phase == "Succeeded" and outcome.message == "successfully synced (all tasks run)"
    assert [(r["name"], r["status"], r["message"], r["hookPhase"]) for r in outcome.results] == [
        ("old", "Pruned", "pruned", "Succeeded"),
        ("cfg", "Synced", "configmap/cfg created", "Running"),
        ("web", "Synced", "deployment.apps/web created", "Running"),
    ]


def test_prune_last_prunes_after_the_applies() -> None:
    old = obj("ConfigMap", "old")
    _, cluster = run(Cluster(old), [extra(old), desired(obj("ConfigMap", "cfg"))], sync={"prune_last": True})
    assert cluster.calls[-2:] == ["apply cfg", "delete old Foreground"]


def test_nothing_is_pruned_without_prune_or_with_prune_false() -> None:
    kept, guarded = (
        obj("ConfigMap", "kept"),
        obj("ConfigMap", "guarded", **{"argocd.argoproj.io/sync-options": "Prune=false"}),
    )
    outcome, cluster = run(Cluster(kept), [extra(kept)], prune=False)
    assert outcome.results[0]["message"] == "ignored (requires pruning)" and not cluster.calls
    outcome, cluster = run(Cluster(guarded), [extra(guarded)])
    assert outcome.results[0]["status"] == "PruneSkipped" and outcome.results[0]["message"] == "ignored (no prune)"
    assert not cluster.calls


def test_a_failed_dry_run_applies_nothing() -> None:
    outcome, cluster = run(Cluster(), [desired(obj("ConfigMap", "cfg")), desired(obj("ConfigMap", "bad"))])
    assert outcome.phase == "Failed" and outcome.message == "one or more objects failed to apply (dry run)"
    assert not any(call.startswith("apply") for call in cluster.calls)
    assert outcome.results[0]["message"] == 'ConfigMap "bad" is invalid: spec: Required value'


def test_unknown_kinds_make_the_tasks_invalid() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}}
    outcome, cluster = run(Cluster(), [desired(widget)])
    assert outcome.phase == "Failed" and outcome.message == "one or more synchronization tasks are not valid"
    assert outcome.results[0]["message"] == "the server could not find the requested resource"
    assert not cluster.calls


def test_a_custom_resource_is_valid_when_its_crd_is_part_of_the_sync() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}},
    }
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}}
    cluster = Cluster()
    crds = ApiResource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)
    types = {ResourceKey.of(widget): None, ResourceKey.of(crd): crds}
    plan = Plan([desired(widget), desired(crd)], types, SyncOptions(), True)
    outcome = Syncer(cluster, Live()).run(plan)
    assert outcome.phase == "Succeeded"
    assert cluster.calls == ["dry-run widgets.example.com", "apply widgets.example.com", "apply w"]


def test_results_read_like_kubectl_apply() -> None:
    same, changed = obj("ConfigMap", "same"), obj("ConfigMap", "changed")
    cluster = Cluster(same, {**changed, "spec": {"n": 0}})
    live_same, live_changed = (
        cluster.get(TYPES["ConfigMap"], "same", "shop"),
        cluster.get(TYPES["ConfigMap"], "changed", "shop"),
    )
    live_same["metadata"]["resourceVersion"] = "100"
    outcome, cluster = run(cluster, [desired(same, live_same), desired(changed, live_changed)])
    assert [r["message"] for r in outcome.results] == ["configmap/changed configured", "configmap/same unchanged"]
    assert LAST_APPLIED in cluster.objects[("ConfigMap", "shop", "same")]["metadata"]["annotations"]
    outcome, cluster = run(Cluster(), [desired(obj("ConfigMap", "ssa"))], sync={"server_side_apply": True})
    assert outcome.results[0]["message"] == "configmap/ssa serverside-applied"
    assert "annotations" not in cluster.objects[("ConfigMap", "shop", "ssa")]["metadata"]


def test_create_namespace_creates_a_missing_destination_first() -> None:
    outcome, cluster = run(
        Cluster(), [desired(obj("ConfigMap", "cfg", "new"))], namespace="new", sync={"create_namespace": True}
    )
    assert cluster.calls[0] == "apply new"
    assert outcome.results[0] == {
        "group": "",
        "version": "v1",
        "kind": "Namespace",
        "namespace": "",
        "name": "new",
        "status": "Synced",
        "message": "namespace/new created",
        "hookPhase": "Running",
        "syncPhase": "PreSync",
    }
    existing = Cluster(obj("Namespace", "new"))
    outcome, _ = run(
        existing, [desired(obj("ConfigMap", "cfg", "new"))], namespace="new", sync={"create_namespace": True}
    )
    assert [r["kind"] for r in outcome.results] == ["ConfigMap"]


def test_a_pruned_object_still_being_deleted_keeps_the_sync_running() -> None:
    slow = obj("Deployment", "slow")
    outcome, _ = run(Cluster(slow), [extra(slow)])
    assert outcome.phase == "Running" and outcome.message == "waiting for deletion of apps/Deployment/slow"
    assert outcome.pending == [ResourceKey("apps", "Deployment", "shop", "slow")]


def test_apply_out_of_sync_only_and_partial_syncs_skip_resources() -> None:
    synced, drifted = obj("ConfigMap", "synced"), obj("ConfigMap", "drifted")
    resources = [desired(synced, synced, "Synced"), desired(drifted, drifted)]
    outcome, _ = run(Cluster(synced, drifted), resources, sync={"apply_out_of_sync_only": True})
    assert [r["name"] for r in outcome.results] == ["drifted"]
    only = [{"group": "", "kind": "ConfigMap", "name": "synced"}]
    outcome, _ = run(Cluster(synced, drifted), resources, only=only)
    assert [r["name"] for r in outcome.results] == ["synced"]
    outcome, _ = run(Cluster(), [])
    assert outcome.message == "successfully synced (no more tasks)"
