"""StatefulSet pods: ordinal names, ordered start and scale-down, rolling updates from the top, status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.cluster.embedded.bootstrap import ensure_system_objects
from engine.cluster.embedded.controllers.statefulsets import StatefulSetController, template_hash
from engine.cluster.embedded.daemon import build_api
from engine.cluster.embedded.rest import Api, WriteOptions

OPTS = WriteOptions(field_manager="test")
Obj = dict[str, Any]
KEY = ("default", "web")


@pytest.fixture
def api(tmp_path: Path) -> Api:
    api = build_api(tmp_path)
    ensure_system_objects(api)
    return api


def rtype(api: Api, plural: str, group: str = "") -> Any:
    found = api.catalog.lookup(group, "v1", plural)
    assert found is not None
    return found


def make_sts(api: Api, replicas: int = 3, **spec: Any) -> Obj:
    body = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
            **spec,
        },
    }
    sts, _ = api.create(rtype(api, "statefulsets", "apps"), "default", body, OPTS)
    return sts


def sts_of(api: Api) -> Obj:
    return api.get(rtype(api, "statefulsets", "apps"), "default", "web")


def pod_names(api: Api) -> list[str]:
    return sorted(p["metadata"]["name"] for p in api.list(rtype(api, "pods"), "default").items)


def pod(api: Api, name: str) -> Obj:
    return api.get(rtype(api, "pods"), "default", name)


def make_ready(api: Api, name: str) -> None:
    live = pod(api, name)
    live["status"] = {"phase": "Running", "podIP": "10.244.0.9", "conditions": [{"type": "Ready", "status": "True"}]}
    api.update(rtype(api, "pods"), "default", name, live, OPTS, subresource="status")


def remove(api: Api, name: str) -> None:
    api.delete(rtype(api, "pods"), "default", name, None)


def test_ordered_ready_creates_one_pod_at_a_time(api: Api) -> None:
    controller = StatefulSetController(api)
    make_sts(api)
    controller.reconcile(KEY)
    controller.reconcile(KEY)
    assert pod_names(api) == ["web-0"]
    make_ready(api, "web-0")
    controller.reconcile(KEY)
    assert pod_names(api) == ["web-0", "web-1"]
    make_ready(api, "web-1")
    controller.reconcile(KEY)
    make_ready(api, "web-2")
    controller.reconcile(KEY)
    assert pod_names(api) == ["web-0", "web-1", "web-2"]
    status = sts_of(api)["status"]
    assert status["replicas"] == 3 and status["readyReplicas"] == 3 and status["availableReplicas"] == 3
    assert status["currentRevision"] == status["updateRevision"]
    assert status["observedGeneration"] == 1


def test_pod_identity(api: Api) -> None:
    controller = StatefulSetController(api)
    sts = make_sts(api, volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {}}])
    controller.reconcile(KEY)
    first = pod(api, "web-0")
    labels = first["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-0"
    assert labels["apps.kubernetes.io/pod-index"] == "0"
    assert labels["controller-revision-hash"] == f"web-{template_hash(sts['spec']['template'])}"
    assert labels["app"] == "web"
    assert first["spec"]["hostname"] == "web-0" and first["spec"]["subdomain"] == "web"
    assert first["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]
    claim = {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}}
    assert claim in first["spec"]["volumes"]


def test_parallel_creates_all_at_once(api: Api) -> None:
    controller = StatefulSetController(api)
    make_sts(api, podManagementPolicy="Parallel")
    controller.reconcile(KEY)
    assert pod_names(api) == ["web-0", "web-1", "web-2"]


def test_scale_down_removes_the_highest_ordinal_first(api: Api) -> None:
    controller = StatefulSetController(api)
    sts = make_sts(api, podManagementPolicy="Parallel")
    controller.reconcile(KEY)
    for name in pod_names(api):
        make_ready(api, name)
    sts = sts_of(api)
    sts["spec"]["replicas"] = 1
    sts["spec"]["podManagementPolicy"] = "Parallel"
    api.update(rtype(api, "statefulsets", "apps"), "default", "web", sts, OPTS)
    controller.reconcile(KEY)
    assert pod_names(api) == ["web-0"]


def test_ordered_scale_down_waits_for_each_pod(api: Api) -> None:
    controller = StatefulSetController(api)
    make_sts(api, replicas=3, podManagementPolicy="OrderedReady")
    for name in ("web-0", "web-1", "web-2"):
        controller.reconcile(KEY)
        make_ready(api, name)
    sts = sts_of(api)
    sts["spec"]["replicas"] = 1
    api.update(rtype(api, "statefulsets", "apps"), "default", "web", sts, OPTS)
    controller.reconcile(KEY)
    assert pod_names(api) == ["web-0", "web-1"]
    controller.reconcile(KEY)
    assert pod_names(api) == ["web-0"]


def test_a_pod_that_is_not_ready_blocks_the_next_ordinal(api: Api) -> None:
    controller = StatefulSetController(api)
    make_sts(api)
    controller.reconcile(KEY)
    make_ready(api, "web-0")
    controller.reconcile(KEY)
    controller.reconcile(KEY)
    assert pod_names(api) == ["web-0", "web-1"]
    remove(api, "web-0")
    controller.reconcile(KEY)
    assert pod_names(api) == ["web-0", "web-1"]  # web-0 is back, not ready yet: web-2 waits
    assert "podIP" not in pod(api, "web-0").get("status", {})


def test_rolling_update_replaces_pods_from_the_highest_ordinal(api: Api) -> None:
    controller = StatefulSetController(api)
    make_sts(api)
    for name in ("web-0", "web-1", "web-2"):
        controller.reconcile(KEY)
        make_ready(api, name)
    controller.reconcile(KEY)
    old_revision = sts_of(api)["status"]["currentRevision"]
    sts = sts_of(api)
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    api.update(rtype(api, "statefulsets", "apps"), "default", "web", sts, OPTS)
    controller.reconcile(KEY)
    status = sts_of(api)["status"]
    assert status["currentRevision"] == old_revision != status["updateRevision"]
    assert pod_names(api) == ["web-0", "web-1"]  # web-2 went first
    order = []
    for _ in range(3):
        controller.reconcile(KEY)  # recreate the missing pod at the new revision
        replaced = next(
            n
            for n in pod_names(api)
            if pod(api, n)["spec"]["containers"][0]["image"] == "nginx:1.26" and n not in order
        )
        order.append(replaced)
        make_ready(api, replaced)
        controller.reconcile(KEY)  # delete the next old one
    assert order == ["web-2", "web-1", "web-0"]
    status = sts_of(api)["status"]
    assert status["currentRevision"] == status["updateRevision"]
    assert status["updatedReplicas"] == 3 and status["currentReplicas"] == 3


def test_partition_keeps_lower_ordinals(api: Api) -> None:
    controller = StatefulSetController(api)
    make_sts(
        api, podManagementPolicy="Parallel", updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    )
    controller.reconcile(KEY)
    for name in pod_names(api):
        make_ready(api, name)
    sts = sts_of(api)
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    api.update(rtype(api, "statefulsets", "apps"), "default", "web", sts, OPTS)
    for _ in range(4):
        controller.reconcile(KEY)
        for name in pod_names(api):
            make_ready(api, name)
    images = {n: pod(api, n)["spec"]["containers"][0]["image"] for n in pod_names(api)}
    assert images == {"web-0": "nginx:1.27", "web-1": "nginx:1.27", "web-2": "nginx:1.26"}
    status = sts_of(api)["status"]
    assert status["updatedReplicas"] == 1 and status["currentRevision"] != status["updateRevision"]


def test_failed_pods_are_recreated(api: Api) -> None:
    controller = StatefulSetController(api)
    make_sts(api, replicas=1)
    controller.reconcile(KEY)
    uid = pod(api, "web-0")["metadata"]["uid"]
    live = pod(api, "web-0")
    live["status"] = {"phase": "Failed"}
    api.update(rtype(api, "pods"), "default", "web-0", live, OPTS, subresource="status")
    controller.reconcile(KEY)
    controller.reconcile(KEY)
    assert pod(api, "web-0")["metadata"]["uid"] != uid


def test_events_name_the_pods(api: Api) -> None:
    controller = StatefulSetController(api)
    make_sts(api, replicas=1)
    controller.reconcile(KEY)
    messages = [e["message"] for e in api.list(rtype(api, "events"), "default").items]
    assert "create Pod web-0 in StatefulSet web successful" in messages


def test_pod_events_map_to_their_statefulset(api: Api) -> None:
    controller = StatefulSetController(api)
    make_sts(api, replicas=1)
    controller.reconcile(KEY)
    assert controller.keys_for("/pods", "MODIFIED", pod(api, "web-0"), None) == [KEY]
