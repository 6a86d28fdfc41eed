"""The node object and the scheduler: where pods may go, and what a pod that fits nowhere shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cluster.embedded.controllers.nodes import NODE_NAME
from engine.cluster.embedded.workloads import NODE_ALLOCATABLE

from .test_kubelet_support import OPTS, Cluster, container


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    started = Cluster(tmp_path)
    yield started
    started.close()


def node(cluster: Cluster) -> dict:
    return cluster.api.get(cluster.api.catalog.lookup("", "v1", "nodes"), "", NODE_NAME)


def test_the_node_is_registered_ready_like_kinds(cluster: Cluster) -> None:
    registered = node(cluster)
    labels = registered["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == NODE_NAME
    assert labels["kubernetes.io/os"] == "linux"
    assert "node-role.kubernetes.io/control-plane" in labels
    status = registered["status"]
    assert {k: status["allocatable"][k] for k in NODE_ALLOCATABLE} == dict(NODE_ALLOCATABLE)
    assert status["capacity"] == status["allocatable"] and status["allocatable"]["pods"] == "250"
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("MemoryPressure", "False"),
        ("DiskPressure", "False"),
        ("PIDPressure", "False"),
        ("Ready", "True"),
    ]
    assert status["nodeInfo"]["kubeletVersion"] == "v1.37.0"
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://2.1.")
    assert {"address": "172.18.0.2", "type": "InternalIP"} in status["addresses"]


def test_a_deleted_node_registers_again(cluster: Cluster) -> None:
    nodes = cluster.api.catalog.lookup("", "v1", "nodes")
    cluster._run(lambda: cluster.api.delete(nodes, "", NODE_NAME, {}))
    cluster.settle()
    assert node(cluster)["status"]["conditions"][-1]["type"] == "Ready"


def test_a_pod_whose_selector_matches_no_node_is_Unschedulable(cluster: Cluster) -> None:
    cluster.create_pod("picky", nodeSelector={"disktype": "ssd"})
    cluster.advance(2)
    scheduled = cluster.condition("picky", "PodScheduled")
    message = (
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
    assert (scheduled["status"], scheduled["reason"], scheduled["message"]) == ("False", "Unschedulable", message)
    assert cluster.events("picky") == [("Warning", "FailedScheduling", message)]
    labelled = node(cluster)
    labelled["metadata"]["labels"]["disktype"] = "ssd"
    nodes = cluster.api.catalog.lookup("", "v1", "nodes")
    cluster._run(lambda: cluster.api.update(nodes, "", NODE_NAME, labelled, OPTS))
    cluster.settle()
    assert cluster.pod("picky")["spec"]["nodeName"] == NODE_NAME
    assert cluster.condition("picky", "PodScheduled")["status"] == "True"


def test_requests_beyond_the_node_wait_for_room(cluster: Cluster) -> None:
    big = container(resources={"requests": {"cpu": "6"}})
    cluster.create_pod("first", big)
    cluster.create_pod("second", big)
    cluster.advance(2)
    assert cluster.pod("first")["spec"]["nodeName"] == NODE_NAME
    assert "Insufficient cpu" in cluster.condition("second", "PodScheduled")["message"]
    cluster.delete("first", {"gracePeriodSeconds": 0})
    assert cluster.pod("second")["spec"]["nodeName"] == NODE_NAME


def test_node_affinity_on_the_node_name_is_honoured(cluster: Cluster) -> None:
    def affinity(name: str) -> dict:
        term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [name]}]}
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}

    cluster.create_pod("here", affinity=affinity(NODE_NAME))
    cluster.create_pod("there", affinity=affinity("other-node"))
    cluster.advance(2)
    assert cluster.pod("here")["spec"]["nodeName"] == NODE_NAME
    assert not cluster.pod("there")["spec"].get("nodeName")


def test_a_taint_keeps_pods_off_unless_tolerated(cluster: Cluster) -> None:
    tainted = node(cluster)
    tainted["spec"]["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    nodes = cluster.api.catalog.lookup("", "v1", "nodes")
    cluster._run(lambda: cluster.api.update(nodes, "", NODE_NAME, tainted, OPTS))
    toleration = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    cluster.create_pod("plain")
    cluster.create_pod("tolerant", tolerations=[toleration])
    cluster.advance(2)
    assert "untolerated taint {dedicated: gpu}" in cluster.condition("plain", "PodScheduled")["message"]
    assert cluster.pod("tolerant")["spec"]["nodeName"] == NODE_NAME


def test_a_terminating_pod_on_a_missing_node_is_collected(cluster: Cluster) -> None:
    cluster.create_pod("lost", nodeName="gone-node")
    marked = cluster.delete("lost")
    assert marked["metadata"]["deletionTimestamp"]
    assert cluster.pod("lost") is None
