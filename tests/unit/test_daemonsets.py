"""DaemonSet pods: one per eligible node, node affinity and tolerations, rolling updates, status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.cluster.embedded.bootstrap import ensure_system_objects
from engine.cluster.embedded.controllers.daemonsets import DaemonSetController, should_run, target_node
from engine.cluster.embedded.daemon import build_api
from engine.cluster.embedded.rest import Api, WriteOptions

OPTS = WriteOptions(field_manager="test")
Obj = dict[str, Any]
KEY = ("default", "agent")
NODE = "driftlab-control-plane"


@pytest.fixture
def api(tmp_path: Path) -> Api:
    api = build_api(tmp_path)
    ensure_system_objects(api)
    # These tests add their own nodes (with labels and taints), so start from none.
    api.delete(rtype(api, "nodes"), "", NODE, None)
    return api


def rtype(api: Api, plural: str, group: str = "") -> Any:
    found = api.catalog.lookup(group, "v1", plural)
    assert found is not None
    return found


def make_node(
    api: Api, name: str = NODE, labels: dict[str, str] | None = None, taints: list[Obj] | None = None
) -> None:
    body: Obj = {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}}}
    if taints:
        body["spec"] = {"taints": taints}
    api.create(rtype(api, "nodes"), "", body, OPTS)


def make_ds(api: Api, **pod_spec: Any) -> Obj:
    body = {
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "agent", "image": "busybox:1.37"}], **pod_spec},
            },
        },
    }
    ds, _ = api.create(rtype(api, "daemonsets", "apps"), "default", body, OPTS)
    return ds


def pods(api: Api) -> list[Obj]:
    return api.list(rtype(api, "pods"), "default").items


def ds_status(api: Api) -> Obj:
    return api.get(rtype(api, "daemonsets", "apps"), "default", "agent").get("status", {})


def make_ready(api: Api, pod: Obj) -> None:
    name = pod["metadata"]["name"]
    live = api.get(rtype(api, "pods"), "default", name)
    live["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    api.update(rtype(api, "pods"), "default", name, live, OPTS, subresource="status")


def test_one_pod_on_the_node(api: Api) -> None:
    controller = DaemonSetController(api)
    make_node(api)
    ds = make_ds(api)
    controller.reconcile(KEY)
    controller.reconcile(KEY)
    [pod] = pods(api)
    assert pod["metadata"]["name"].startswith("agent-")
    assert target_node(pod) == NODE
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchFields"] == [
        {"key": "metadata.name", "operator": "In", "values": [NODE]}
    ]
    keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/not-ready", "NoExecute") in keys
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in keys
    labels = pod["metadata"]["labels"]
    assert labels["app"] == "agent" and labels["pod-template-generation"] == "1" and labels["controller-revision-hash"]
    assert pod["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
    status = ds_status(api)
    assert status["desiredNumberScheduled"] == 1 and status["currentNumberScheduled"] == 1
    assert status["numberReady"] == 0 and status["updatedNumberScheduled"] == 1
    assert status["numberUnavailable"] == 1 and status["observedGeneration"] == 1


def test_status_counts_ready_pods(api: Api) -> None:
    controller = DaemonSetController(api)
    make_node(api)
    make_ds(api)
    controller.reconcile(KEY)
    make_ready(api, pods(api)[0])
    controller.reconcile(KEY)
    status = ds_status(api)
    assert status["numberReady"] == 1 and status["numberAvailable"] == 1
    assert "numberUnavailable" not in status


def test_no_node_no_pod_until_one_appears(api: Api) -> None:
    controller = DaemonSetController(api)
    make_ds(api)
    controller.reconcile(KEY)
    assert pods(api) == []
    assert ds_status(api)["desiredNumberScheduled"] == 0
    make_node(api)
    node = api.get(rtype(api, "nodes"), "", NODE)
    assert controller.keys_for("/nodes", "ADDED", node, None) == [KEY]
    controller.reconcile(KEY)
    assert len(pods(api)) == 1


def test_node_selector_and_taints(api: Api) -> None:
    node = {"metadata": {"name": "n", "labels": {"disk": "ssd"}}, "spec": {}}
    assert should_run({"nodeSelector": {"disk": "ssd"}}, node)
    assert not should_run({"nodeSelector": {"disk": "hdd"}}, node)
    tainted = {**node, "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}
    assert not should_run({}, tainted)
    tolerated = {"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]}
    assert should_run(tolerated, tainted)
    unschedulable = {**node, "spec": {"taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]}}
    assert should_run({}, unschedulable)
    affinity = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}
                    ]
                }
            }
        }
    }
    assert not should_run(affinity, node)


def test_pods_leave_nodes_they_no_longer_fit(api: Api) -> None:
    controller = DaemonSetController(api)
    make_node(api)
    make_ds(api, nodeSelector={"role": "edge"})
    controller.reconcile(KEY)
    assert pods(api) == []
    node = api.get(rtype(api, "nodes"), "", NODE)
    node["metadata"]["labels"]["role"] = "edge"
    api.update(rtype(api, "nodes"), "", NODE, node, OPTS)
    controller.reconcile(KEY)
    assert len(pods(api)) == 1
    del node["metadata"]["labels"]["role"]
    node["metadata"].pop("resourceVersion")
    api.update(rtype(api, "nodes"), "", NODE, node, OPTS)
    controller.reconcile(KEY)
    assert pods(api) == []


def test_failed_daemon_pods_are_replaced(api: Api) -> None:
    controller = DaemonSetController(api)
    make_node(api)
    make_ds(api)
    controller.reconcile(KEY)
    [pod] = pods(api)
    pod["status"] = {"phase": "Failed"}
    api.update(rtype(api, "pods"), "default", pod["metadata"]["name"], pod, OPTS, subresource="status")
    controller.reconcile(KEY)
    controller.reconcile(KEY)
    [replacement] = pods(api)
    assert replacement["metadata"]["uid"] != pod["metadata"]["uid"]
    reasons = {e["reason"] for e in api.list(rtype(api, "events"), "default").items}
    assert "FailedDaemonPod" in reasons


def test_rolling_update_replaces_the_pod(api: Api) -> None:
    controller = DaemonSetController(api)
    make_node(api)
    make_ds(api)
    controller.reconcile(KEY)
    make_ready(api, pods(api)[0])
    controller.reconcile(KEY)
    ds = api.get(rtype(api, "daemonsets", "apps"), "default", "agent")
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.36"
    api.update(rtype(api, "daemonsets", "apps"), "default", "agent", ds, OPTS)
    controller.reconcile(KEY)  # the old pod goes (maxUnavailable 1)
    assert pods(api) == []
    assert "updatedNumberScheduled" not in ds_status(api)
    controller.reconcile(KEY)
    [pod] = pods(api)
    assert pod["spec"]["containers"][0]["image"] == "busybox:1.36"
    assert pod["metadata"]["labels"]["pod-template-generation"] == "2"
    make_ready(api, pod)
    controller.reconcile(KEY)
    status = ds_status(api)
    assert (
        status["updatedNumberScheduled"] == 1 and status["numberAvailable"] == 1 and status["observedGeneration"] == 2
    )


def test_surge_starts_the_new_pod_before_removing_the_old(api: Api) -> None:
    controller = DaemonSetController(api)
    make_node(api)
    ds = make_ds(api)
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    api.update(rtype(api, "daemonsets", "apps"), "default", "agent", ds, OPTS)
    controller.reconcile(KEY)
    make_ready(api, pods(api)[0])
    ds = api.get(rtype(api, "daemonsets", "apps"), "default", "agent")
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.36"
    api.update(rtype(api, "daemonsets", "apps"), "default", "agent", ds, OPTS)
    controller.reconcile(KEY)
    assert sorted(p["spec"]["containers"][0]["image"] for p in pods(api)) == ["busybox:1.36", "busybox:1.37"]
    new = next(p for p in pods(api) if p["spec"]["containers"][0]["image"] == "busybox:1.36")
    make_ready(api, new)
    controller.reconcile(KEY)
    assert [p["spec"]["containers"][0]["image"] for p in pods(api)] == ["busybox:1.36"]
