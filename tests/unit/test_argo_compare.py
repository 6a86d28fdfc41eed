"""Desired against live: what makes a resource OutOfSync, and what the cluster may add without it."""

from __future__ import annotations

import json
from typing import Any

from engine.gitops.argo.compare import (
    LAST_APPLIED,
    applied_config,
    compare,
    contains,
    out_of_sync,
    removed_paths,
    same_value,
)
from engine.gitops.argo.tracking import ResourceKey

JSON = dict[str, Any]


def deployment(replicas: int = 2, image: str = "nginx:1.25", **metadata: Any) -> JSON:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", **metadata},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "web", "image": image}]}},
        },
    }


def live_of(target: JSON, **changes: Any) -> JSON:
    """The object as the server returns it: defaults, status and server metadata added."""
    live = json.loads(json.dumps(target))
    live["metadata"].update(uid="u1", resourceVersion="7", generation=1, creationTimestamp="2026-01-01T00:00:00Z")
    live["spec"]["strategy"] = {"type": "RollingUpdate"}
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    live["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    live["status"] = {"replicas": 2}
    live["spec"].update(changes)
    return live


def test_what_the_server_adds_does_not_make_a_resource_out_of_sync() -> None:
    target = deployment()
    assert not out_of_sync(target, live_of(target))


def test_a_changed_field_does() -> None:
    target = deployment()
    assert out_of_sync(target, live_of(target, replicas=5))
    assert out_of_sync(deployment(image="nginx:1.26"), live_of(target))


def test_an_added_field_only_does_not() -> None:
    target = deployment()
    assert not out_of_sync(target, live_of(target, minReadySeconds=5))


def test_a_field_removed_from_git_but_still_live_does_per_the_last_applied_configuration() -> None:
    before = deployment(labels={"team": "a"})
    live = live_of(before)
    live["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(before)}
    assert out_of_sync(deployment(), live)
    assert list(removed_paths(applied_config(live), deployment())) == [("metadata", "labels")]


def test_a_field_removed_from_git_is_found_in_the_server_side_apply_managed_fields() -> None:
    live = live_of(deployment(labels={"team": "a"}))
    owned = {"f:metadata": {"f:labels": {"f:team": {}}}, "f:spec": {"f:replicas": {}}}
    live["metadata"]["managedFields"] = [{"manager": "argocd-controller", "operation": "Apply", "fieldsV1": owned}]
    assert applied_config(live) == {"metadata": {"labels": {"team": {}}}, "spec": {"replicas": {}}}
    assert out_of_sync(deployment(), live)
    assert not out_of_sync(deployment(labels={"team": "a"}), live)


def test_values_compare_as_the_server_normalises_them() -> None:
    assert same_value("500m", 0.5)
    assert same_value("1Gi", "1024Mi")
    assert same_value("1", 1)
    assert not same_value("1", True)
    assert not same_value("100m", "1")
    assert contains({"a": 1}, {"b": {}}, ("",)), "an empty map in Git matches an absent one"
    assert not contains({"ports": [{"port": 80}, {"port": 81}]}, {"ports": [{"port": 80}]}, ("",))


def test_a_secrets_string_data_is_compared_with_its_data() -> None:
    target = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "aHVudGVyMg=="}}
    assert not out_of_sync(target, live)
    assert out_of_sync({**target, "stringData": {"password": "other"}}, live)


def test_compare_marks_missing_and_extra_resources() -> None:
    wanted = ResourceKey("apps", "Deployment", "shop", "web")
    extra = ResourceKey("", "ConfigMap", "shop", "old")
    target = deployment()
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": "shop"}}
    result = compare({wanted: target}, {extra: old})
    statuses = {(r.key.name, r.status, r.requires_pruning, r.version) for r in result.resources}
    assert statuses == {("web", "OutOfSync", False, "v1"), ("old", "OutOfSync", True, "v1")}
    assert result.status == "OutOfSync"
    assert compare({wanted: target}, {wanted: live_of(target)}).status == "Synced"
