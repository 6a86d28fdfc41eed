"""The simulated kubelet's pod lifecycle, step by step: scheduling, pulling, starting, status and conditions."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cluster.embedded.controllers.nodes import NODE_IP, NODE_NAME

from .test_kubelet_support import Cluster, container


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    started = Cluster(tmp_path)
    yield started
    started.close()


def test_a_pod_waits_for_the_scheduler_then_is_bound_with_a_Scheduled_event(cluster: Cluster) -> None:
    cluster.create_pod("web")
    assert cluster.status("web") == {"phase": "Pending", "qosClass": "BestEffort"}
    assert not cluster.pod("web")["spec"].get("nodeName")
    cluster.advance(1)
    pod = cluster.pod("web")
    assert pod["spec"]["nodeName"] == NODE_NAME
    assert cluster.condition("web", "PodScheduled")["status"] == "True"
    assert cluster.events("web")[0] == (
        "Normal",
        "Scheduled",
        f"Successfully assigned default/web to {NODE_NAME}",
    )


def test_the_pod_goes_through_ContainerCreating_to_Running(cluster: Cluster) -> None:
    cluster.create_pod("web")
    cluster.advance(1)
    status = cluster.status("web")
    assert status["phase"] == "Pending"
    assert cluster.state("web") == ("waiting", "ContainerCreating")
    assert status["hostIP"] == NODE_IP and status["startTime"] == "2024-05-01T10:00:01Z"
    assert cluster.reasons("web") == ["Scheduled", "Pulling"]
    cluster.advance(2)
    assert cluster.reasons("web") == ["Scheduled", "Pulling", "Pulled"]
    assert cluster.state("web") == ("waiting", "ContainerCreating")
    cluster.advance(1)
    assert cluster.reasons("web")[-1] == "Created"
    cluster.advance(1)
    assert cluster.reasons("web") == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    assert cluster.status("web")["phase"] == "Running"
    assert cluster.state("web") == ("running", "")


def test_a_running_pod_reports_complete_container_statuses(cluster: Cluster) -> None:
    cluster.create_pod("web", container("nginx", "nginx:1.25", ports=[{"containerPort": 80}]))
    cluster.advance(5)
    status = cluster.status("web")
    entry = status["containerStatuses"][0]
    assert entry["name"] == "nginx"
    assert entry["ready"] is True and entry["started"] is True and entry["restartCount"] == 0
    assert entry["state"] == {"running": {"startedAt": "2024-05-01T10:00:05Z"}}
    assert entry["lastState"] == {}
    assert entry["image"] == "docker.io/library/nginx:1.25"
    assert re.fullmatch(r"docker\.io/library/nginx@sha256:[0-9a-f]{64}", entry["imageID"])
    assert re.fullmatch(r"containerd://[0-9a-f]{64}", entry["containerID"])
    assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network("10.244.0.0/16")
    assert status["podIPs"] == [{"ip": status["podIP"]}]
    assert status["hostIPs"] == [{"ip": NODE_IP}]
    assert status["qosClass"] == "BestEffort"
    assert status["observedGeneration"] == 1


def test_conditions_come_in_order_with_their_transition_times(cluster: Cluster) -> None:
    cluster.create_pod("web")
    cluster.advance(1)
    conditions = cluster.status("web")["conditions"]
    assert [(c["type"], c["status"]) for c in conditions] == [
        ("PodReadyToStartContainers", "True"),
        ("Initialized", "True"),
        ("Ready", "False"),
        ("ContainersReady", "False"),
        ("PodScheduled", "True"),
    ]
    ready = cluster.condition("web", "Ready")
    assert ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [app]"
    cluster.advance(4)
    assert all(c["status"] == "True" for c in cluster.status("web")["conditions"])
    assert cluster.condition("web", "Ready")["lastTransitionTime"] == "2024-05-01T10:00:05Z"
    assert cluster.condition("web", "Initialized")["lastTransitionTime"] == "2024-05-01T10:00:01Z"


def test_an_image_is_pulled_once_per_node(cluster: Cluster) -> None:
    cluster.create_pod("first")
    cluster.advance(5)
    cluster.create_pod("second")
    cluster.advance(1)
    assert ("Normal", "Pulled", 'Container image "nginx:1.25" already present on machine') in cluster.events("second")
    assert "Pulling" not in cluster.reasons("second")
    cluster.advance(2)
    assert cluster.state("second") == ("running", "")


def test_image_pull_policy_Always_pulls_every_time(cluster: Cluster) -> None:
    cluster.create_pod("first")
    cluster.advance(5)
    cluster.create_pod("again", container(imagePullPolicy="Always"))
    cluster.advance(3)
    assert cluster.reasons("again")[:3] == ["Scheduled", "Pulling", "Pulled"]
    assert cluster.events("again")[2][2].startswith('Successfully pulled image "nginx:1.25" in 2s (2s including')


def test_pulled_images_are_listed_in_the_node_status(cluster: Cluster) -> None:
    cluster.create_pod("web")
    cluster.advance(5)
    node = cluster.api.get(cluster.api.catalog.lookup("", "v1", "nodes"), "", NODE_NAME)
    names = [name for image in node["status"]["images"] for name in image["names"]]
    assert "docker.io/library/nginx:1.25" in names


def test_pod_ips_are_unique_and_not_reused_at_once(cluster: Cluster) -> None:
    for name in ("a", "b", "c"):
        cluster.create_pod(name)
    cluster.advance(5)
    ips = [cluster.status(name)["podIP"] for name in ("a", "b", "c")]
    assert len(set(ips)) == 3
    cluster.delete("a", {"gracePeriodSeconds": 0})
    cluster.create_pod("d")
    cluster.advance(5)
    assert cluster.status("d")["podIP"] not in ips


def test_init_containers_run_first_in_order(cluster: Cluster) -> None:
    one = container("one", "busybox:1.36", command=["sh", "-c", "echo one"])
    two = container("two", "busybox:1.36", command=["sh", "-c", "sleep 5"])
    cluster.create_pod("init", container("main"), initContainers=[one, two])
    cluster.advance(4)
    assert cluster.state("init") == ("waiting", "PodInitializing")
    assert cluster.condition("init", "Initialized")["message"] == "containers with incomplete status: [one two]"
    cluster.advance(3)
    first = cluster.container_status("init", 0, "initContainerStatuses")
    assert first["state"]["terminated"]["reason"] == "Completed"
    second = cluster.container_status("init", 1, "initContainerStatuses")
    assert "running" in second["state"]
    assert cluster.condition("init", "Initialized")["message"] == "containers with incomplete status: [two]"
    cluster.advance(5)
    assert cluster.condition("init", "Initialized")["status"] == "True"
    cluster.advance(4)
    assert cluster.state("init") == ("running", "")
    started = [m for _, r, m in cluster.events("init") if r == "Started"]
    assert started == ["Started container one", "Started container two", "Started container main"]


def test_a_pod_created_on_the_node_skips_the_scheduler(cluster: Cluster) -> None:
    cluster.create_pod("pinned", nodeName=NODE_NAME)
    cluster.advance(4)
    assert cluster.state("pinned") == ("running", "")
    assert "Scheduled" not in cluster.reasons("pinned")
    assert cluster.condition("pinned", "PodScheduled")["status"] == "True"


def test_the_container_sees_its_environment_and_the_services(cluster: Cluster) -> None:
    env = [{"name": "GREETING", "value": "hi"}]
    cluster.create_pod("web", container("web", "nginx:1.25", env=env))
    cluster.advance(5)
    (instance,) = cluster.node.instances_of(cluster.pod("web")["metadata"]["uid"])
    assert instance.env["GREETING"] == "hi"
    assert instance.env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert instance.env["KUBERNETES_PORT_443_TCP"] == "tcp://10.96.0.1:443"
    assert instance.pod_ip == cluster.status("web")["podIP"]
    assert cluster.node.instance_at(instance.pod_ip, 80) is instance
    assert cluster.node.instance_at(instance.pod_ip, 8080) is None
