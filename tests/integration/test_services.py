"""Services through the real kubectl: Endpoints and EndpointSlices follow pod readiness, NodePorts answer for real."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from .conftest import Cluster

GATE = "example.com/in-rotation"


def pod_manifest(name: str, image: str = "ghcr.io/driftlab/podinfo:1.0.0", gated: bool = True) -> dict:
    spec: dict = {"containers": [{"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 9898}]}]}
    if gated:
        spec["readinessGates"] = [{"conditionType": GATE}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}}, "spec": spec}


def service_manifest(service_type: str = "ClusterIP") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"type": service_type, "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
    }


def apply(cluster: Cluster, ns: str, *objects: dict) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input="\n---\n".join(json.dumps(obj) for obj in objects))


def set_gate(cluster: Cluster, ns: str, pod: str, value: bool) -> None:
    """What a load balancer controller does: mark the pod in (or out of) rotation through its status."""
    patch = {"status": {"conditions": [{"type": GATE, "status": str(value)}]}}
    cluster.kubectl("patch", "pod", pod, "-n", ns, "--subresource=status", "--type=strategic", "-p", json.dumps(patch))


def wait(cluster: Cluster, ns: str, target: str, condition: str) -> None:
    cluster.kubectl("wait", "-n", ns, f"--for={condition}", target, "--timeout=30s")


def get(port: int, path: str = "/") -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"User-Agent": "curl/8.5.0"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_endpoints_follow_pod_readiness(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, pod_manifest("web-1"), pod_manifest("web-2"), service_manifest())
    wait(cluster, ns, "endpoints/web", "jsonpath={.subsets[0].notReadyAddresses[1].targetRef.name}=web-2")
    endpoints = cluster.get_json("endpoints", "web", "-n", ns)
    [subset] = endpoints["subsets"]
    assert "addresses" not in subset
    assert subset["ports"] == [{"port": 9898, "protocol": "TCP"}]
    assert {a["targetRef"]["name"] for a in subset["notReadyAddresses"]} == {"web-1", "web-2"}
    assert subset["notReadyAddresses"][0]["nodeName"] == "driftlab-control-plane"
    assert endpoints["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
    # As on a real cluster, not-ready addresses leave the ENDPOINTS column empty.
    assert len(cluster.kubectl("get", "endpoints", "web", "-n", ns).stdout.splitlines()[1].split()) == 2

    set_gate(cluster, ns, "web-1", True)
    wait(cluster, ns, "pod/web-1", "condition=Ready")
    wait(cluster, ns, "endpoints/web", "jsonpath={.subsets[0].addresses[0].targetRef.name}=web-1")
    ip = cluster.get_json("pod", "web-1", "-n", ns)["status"]["podIP"]
    rows = cluster.kubectl("get", "endpoints", "web", "-n", ns).stdout.splitlines()
    assert rows[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert rows[1].split()[:2] == ["web", f"{ip}:9898"]

    slices = cluster.get_json("endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=web")["items"]
    [item] = slices
    assert item["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    conditions = {e["targetRef"]["name"]: e["conditions"] for e in item["endpoints"]}
    assert conditions["web-1"] == {"ready": True, "serving": True, "terminating": False}
    assert conditions["web-2"] == {"ready": False, "serving": False, "terminating": False}
    table = cluster.kubectl("get", "endpointslices", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert table[1].split()[1:3] == ["IPv4", "9898"]

    set_gate(cluster, ns, "web-1", False)
    wait(cluster, ns, "endpoints/web", "jsonpath={.subsets[0].notReadyAddresses[1].targetRef.name}=web-2")
    assert "addresses" not in cluster.get_json("endpoints", "web", "-n", ns)["subsets"][0]


def test_deleting_the_service_removes_its_endpoints(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, pod_manifest("web-1", gated=False), service_manifest())
    wait(cluster, ns, "endpoints/web", "jsonpath={.subsets[0].addresses[0].targetRef.name}=web-1")
    cluster.kubectl("delete", "service", "web", "-n", ns)
    wait(cluster, ns, "endpoints/web", "delete")
    assert cluster.get_json("endpointslices", "-n", ns)["items"] == []


def test_services_without_selector_keep_manual_endpoints(cluster: Cluster, ns: str) -> None:
    service = service_manifest()
    del service["spec"]["selector"]
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web"},
        "subsets": [{"addresses": [{"ip": "192.168.10.5"}], "ports": [{"port": 5432}]}],
    }
    apply(cluster, ns, service, endpoints)
    assert cluster.kubectl("get", "endpoints", "web", "-n", ns).stdout.split()[4] == "192.168.10.5:5432"


def test_node_port_answers_with_the_live_pods(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, pod_manifest("web-1"), service_manifest("NodePort"))
    port = cluster.get_json("service", "web", "-n", ns)["spec"]["ports"][0]["nodePort"]
    wait(cluster, ns, "pod/web-1", "jsonpath={.status.phase}=Running")
    # No ready endpoint: the node port rejects connections, as kube-proxy does.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()

    set_gate(cluster, ns, "web-1", True)
    wait(cluster, ns, "endpoints/web", "jsonpath={.subsets[0].addresses[0].targetRef.name}=web-1")
    status, body = get(port)
    assert status == 200
    assert body == {"hostname": "web-1", "version": "1.0.0", "message": "greetings from podinfo v1.0.0"}
    assert get(port, "/version")[1] == {"version": "1.0.0"}
    logs = cluster.kubectl("logs", "web-1", "-n", ns).stdout
    assert '"uri":"/version"' in logs and '"user-agent":"curl/8.5.0"' in logs

    # A new version replaces the old pod: the same node port now shows it.
    apply(cluster, ns, pod_manifest("web-2", "ghcr.io/driftlab/podinfo:1.1.0", gated=False))
    cluster.kubectl("delete", "pod", "web-1", "-n", ns, "--wait=true")
    wait(cluster, ns, "endpoints/web", "jsonpath={.subsets[0].addresses[0].targetRef.name}=web-2")
    assert get(port) == (200, {"hostname": "web-2", "version": "1.1.0", "message": "greetings from podinfo v1.1.0"})


def test_node_port_round_robin(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, pod_manifest("web-1", gated=False), pod_manifest("web-2", gated=False))
    apply(cluster, ns, service_manifest("NodePort"))
    wait(cluster, ns, "endpoints/web", "jsonpath={.subsets[0].addresses[1].targetRef.name}=web-2")
    port = cluster.get_json("service", "web", "-n", ns)["spec"]["ports"][0]["nodePort"]
    hostnames = [get(port)[1]["hostname"] for _ in range(4)]
    assert sorted(hostnames) == ["web-1", "web-1", "web-2", "web-2"]
    assert hostnames[0] != hostnames[1]


def test_node_port_closes_with_its_service(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, pod_manifest("web-1", gated=False), service_manifest("NodePort"))
    wait(cluster, ns, "endpoints/web", "jsonpath={.subsets[0].addresses[0].targetRef.name}=web-1")
    port = cluster.get_json("service", "web", "-n", ns)["spec"]["ports"][0]["nodePort"]
    assert get(port)[0] == 200
    cluster.kubectl("delete", "service", "web", "-n", ns)
    wait(cluster, ns, "endpoints/web", "delete")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_node_port_shows_the_new_version_after_a_rollout(cluster: Cluster, ns: str) -> None:
    image = "ghcr.io/driftlab/podinfo"
    cluster.kubectl("create", "deployment", "web", "-n", ns, f"--image={image}:1.0.0", "--replicas=2", "--port=9898")
    cluster.kubectl("expose", "deployment", "web", "-n", ns, "--type=NodePort", "--port=80", "--target-port=9898")
    cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    port = cluster.get_json("service", "web", "-n", ns)["spec"]["ports"][0]["nodePort"]
    wait(cluster, ns, "endpoints/web", "jsonpath={.subsets[0].addresses[1].targetRef.kind}=Pod")
    assert {get(port)[1]["version"] for _ in range(2)} == {"1.0.0"}
    old_pods = [f"pod/{p['metadata']['name']}" for p in cluster.get_json("pods", "-n", ns, "-l", "app=web")["items"]]

    cluster.kubectl("set", "image", "deployment/web", "-n", ns, f"podinfo={image}:1.1.0")
    cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    cluster.kubectl("wait", "--for=delete", *old_pods, "-n", ns, "--timeout=30s")
    answers = [get(port)[1] for _ in range(2)]
    assert {answer["version"] for answer in answers} == {"1.1.0"}
    assert len({answer["hostname"] for answer in answers}) == 2
