"""Sync options, target placement and the status shapes the controller writes."""

from __future__ import annotations

from typing import Any

from engine.cluster.api import ApiResource
from engine.gitops.argo.compare import Resource
from engine.gitops.argo.health import Health
from engine.gitops.argo.options import SyncOptions, delete_disabled, object_options, prune_disabled
from engine.gitops.argo.status import (
    health_status,
    history_entry,
    merge_patch,
    resource_entries,
    set_conditions,
    summary,
    with_history,
)
from engine.gitops.argo.targets import prepare
from engine.gitops.argo.tracking import ResourceKey

JSON = dict[str, Any]
NAMESPACED = ApiResource("", "v1", "ConfigMap", "configmaps", True)
CLUSTER = ApiResource("", "v1", "Namespace", "namespaces", False)


def test_sync_options_from_the_app_and_the_operation() -> None:
    options = SyncOptions.of(["CreateNamespace=true", "Validate=false", "junk"], ["PruneLast=true"])
    assert options == SyncOptions(create_namespace=True, prune_last=True, validate=False)
    assert SyncOptions.of(["ServerSideApply=true"], ["ServerSideApply=false"]).server_side_apply is False
    assert SyncOptions.of(["PrunePropagationPolicy=background"]).prune_propagation == "Background"


def test_an_objects_own_sync_options() -> None:
    obj = {"metadata": {"annotations": {"argocd.argoproj.io/sync-options": "Prune=false, Delete=false"}}}
    assert object_options(obj) == {"Prune": "false", "Delete": "false"}
    assert prune_disabled(obj) and delete_disabled(obj)
    assert not prune_disabled({"metadata": {}}) and not delete_disabled(None)


def test_targets_take_the_destination_namespace_and_a_tracking_id() -> None:
    manifests = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "other"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "namespace": "ignored"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"twice": "yes"}},
    ]
    resolve = {"ConfigMap": NAMESPACED, "Namespace": CLUSTER}
    targets = prepare(manifests, "shop", "prod", lambda _g, kind, _v: resolve[kind])
    assert sorted(targets.objects) == [
        ResourceKey("", "ConfigMap", "other", "b"),
        ResourceKey("", "ConfigMap", "prod", "a"),
        ResourceKey("", "Namespace", "", "prod"),
    ]
    twice = targets.objects[ResourceKey("", "ConfigMap", "prod", "a")]
    assert twice["data"] == {"twice": "yes"}
    assert twice["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == "shop:/ConfigMap:prod/a"
    assert targets.warnings == ["Resource /ConfigMap/prod/a appeared 2 times among application resources."]


def test_unknown_kinds_count_as_namespaced() -> None:
    manifests = [{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}]
    targets = prepare(manifests, "shop", None, lambda *_: None)
    assert list(targets.objects) == [ResourceKey("example.com", "Widget", "default", "w")]


def test_resource_entries_are_sorted_and_shaped_like_argo_cds() -> None:
    web = Resource(ResourceKey("apps", "Deployment", "p", "web"), "v1", {}, {}, "Synced")
    old = Resource(ResourceKey("", "ConfigMap", "p", "old"), "v1", None, {}, "OutOfSync")
    entries = resource_entries([web, old], {web.key: Health("Progressing", "waiting"), old.key: None})
    assert entries == [
        {
            "version": "v1",
            "kind": "ConfigMap",
            "name": "old",
            "namespace": "p",
            "status": "OutOfSync",
            "requiresPruning": True,
        },
        {
            "version": "v1",
            "kind": "Deployment",
            "name": "web",
            "group": "apps",
            "namespace": "p",
            "status": "Synced",
            "health": {"status": "Progressing", "message": "waiting"},
        },
    ]


def test_health_keeps_its_transition_time_while_unchanged() -> None:
    old = {"status": "Healthy", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    assert health_status("Healthy", old) == old
    assert health_status("Degraded", old)["lastTransitionTime"] != old["lastTransitionTime"]


def test_conditions_of_a_type_are_replaced_and_unchanged_ones_keep_their_time() -> None:
    existing = [
        {"type": "SyncError", "message": "same", "lastTransitionTime": "T0"},
        {"type": "ComparisonError", "message": "gone", "lastTransitionTime": "T0"},
    ]
    updated = set_conditions(existing, [("SyncError", "same")], ["SyncError", "ComparisonError"])
    assert updated == [{"type": "SyncError", "message": "same", "lastTransitionTime": "T0"}]
    assert set_conditions(existing, [], ["SyncError"]) == [existing[1]]


def test_history_grows_by_one_entry_per_successful_sync_and_keeps_the_limit() -> None:
    state = {
        "startedAt": "S",
        "finishedAt": "F",
        "operation": {"initiatedBy": {"automated": True}},
        "syncResult": {"revision": "abc", "source": {"path": "apps"}},
    }
    entry = history_entry([{"id": 4}], state, {})
    assert entry == {
        "id": 5,
        "revision": "abc",
        "deployStartedAt": "S",
        "deployedAt": "F",
        "source": {"path": "apps"},
        "initiatedBy": {"automated": True},
    }
    history = with_history([{"id": n} for n in range(10)], entry, None)
    assert [h["id"] for h in history] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 5]
    assert [h["id"] for h in with_history([{"id": 0}], entry, 1)] == [5]


def test_the_summary_lists_the_images_of_workloads() -> None:
    deploy = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"image": "nginx:1.25"}]}}}}
    pod = {"kind": "Pod", "spec": {"initContainers": [{"image": "busybox"}], "containers": [{"image": "nginx:1.25"}]}}
    assert summary([deploy, pod, {"kind": "ConfigMap"}]) == {"images": ["busybox", "nginx:1.25"]}
    assert summary([{"kind": "ConfigMap"}]) == {}


def test_merge_patch_turns_the_old_document_into_the_new_one() -> None:
    old = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]}
    new = {"a": 1, "b": {"c": 5}, "e": [1], "f": "x"}
    assert merge_patch(old, new) == {"b": {"c": 5, "d": None}, "e": [1], "f": "x"}
    assert merge_patch(old, old) is None


def test_history_and_health_tolerate_a_hand_edited_status() -> None:
    assert history_entry([{"id": "seven"}, "junk"], {"syncResult": "x"}, {"path": "apps"})["id"] == 1
    assert health_status("Healthy", "junk")["status"] == "Healthy"
