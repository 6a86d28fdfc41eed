"""Endpoints and EndpointSlices follow the pods a Service selects, as kube-controller-manager keeps them."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.cluster.embedded import tables
from engine.cluster.embedded.bootstrap import ensure_system_objects
from engine.cluster.embedded.controllers.endpoints import (
    TRIGGER_TIME,
    EndpointsController,
    endpoint_subsets,
    find_port,
)
from engine.cluster.embedded.daemon import build_api
from engine.cluster.embedded.nodeports import NodePortProxy, Route, Target, node_ports, ready_targets
from engine.cluster.embedded.rest import Api, WriteOptions

OPTS = WriteOptions(field_manager="test")
Obj = dict[str, Any]


@pytest.fixture
def api(tmp_path: Path) -> Api:
    api = build_api(tmp_path)
    ensure_system_objects(api)
    return api


def rtype(api: Api, plural: str, group: str = "", version: str = "v1") -> Any:
    found = api.catalog.lookup(group, version, plural)
    assert found is not None
    return found


def make_pod(
    api: Api,
    name: str,
    labels: dict[str, str],
    ip: str = "",
    ready: bool = False,
    ports: list[Obj] | None = None,
    phase: str = "Running",
    at: str = "2026-01-01T00:00:10Z",
) -> Obj:
    body = {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "nodeName": "driftlab-control-plane",
            "containers": [{"name": "app", "image": "nginx:1.27", "ports": ports or []}],
        },
    }
    pod, _ = api.create(rtype(api, "pods"), "default", body, OPTS)
    if ip:
        pod["status"] = {
            "phase": phase,
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": str(ready), "lastTransitionTime": at}],
        }
        pod, _ = api.update(rtype(api, "pods"), "default", name, pod, OPTS, subresource="status")
    return pod


def make_service(api: Api, name: str = "web", selector: dict[str, str] | None = None, **spec: Any) -> Obj:
    ports = spec.pop("ports", [{"name": "http", "port": 80, "targetPort": 8080}])
    body = {"metadata": {"name": name, "labels": {"team": "a"}}, "spec": {"ports": ports, **spec}}
    if selector is not None:
        body["spec"]["selector"] = selector
    service, _ = api.create(rtype(api, "services"), "default", body, OPTS)
    return service


def endpoints(api: Api, name: str = "web") -> Obj | None:
    return api.find(rtype(api, "endpoints"), "default", name)


def slices(api: Api) -> list[Obj]:
    return api.list(rtype(api, "endpointslices", "discovery.k8s.io"), "default").items


def test_ready_pods_are_addresses_and_the_others_not_ready(api: Api) -> None:
    controller = EndpointsController(api)
    make_service(api, selector={"app": "web"})
    make_pod(api, "web-a", {"app": "web"}, ip="10.244.0.5", ready=True)
    make_pod(api, "web-b", {"app": "web"}, ip="10.244.0.6", ready=False)
    make_pod(api, "other", {"app": "db"}, ip="10.244.0.7", ready=True)
    make_pod(api, "web-c", {"app": "web"})  # no IP yet: not listed at all
    controller.reconcile(("default", "web"))
    result = endpoints(api)
    assert result is not None
    [subset] = result["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.244.0.5"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.244.0.6"]
    address = subset["addresses"][0]
    assert address["nodeName"] == "driftlab-control-plane"
    assert address["targetRef"]["kind"] == "Pod" and address["targetRef"]["name"] == "web-a"
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    labels = result["metadata"]["labels"]
    assert labels == {"team": "a", "endpoints.kubernetes.io/managed-by": "endpoint-controller"}


def test_endpoints_follow_readiness_changes(api: Api) -> None:
    controller = EndpointsController(api)
    service = make_service(api, selector={"app": "web"})
    pod = make_pod(api, "web-a", {"app": "web"}, ip="10.244.0.5", ready=False)
    controller.reconcile(("default", "web"))
    assert "addresses" not in endpoints(api)["subsets"][0]
    ready = {**pod, "status": {**pod["status"], "conditions": [{"type": "Ready", "status": "True"}]}}
    updated, _ = api.update(rtype(api, "pods"), "default", "web-a", ready, OPTS, subresource="status")
    assert controller.keys_for("/pods", "MODIFIED", updated, pod) == [("default", "web")]
    controller.reconcile(("default", "web"))
    assert [a["ip"] for a in endpoints(api)["subsets"][0]["addresses"]] == ["10.244.0.5"]
    relabelled = {**updated, "metadata": {**updated["metadata"], "labels": {"app": "other"}}}
    assert controller.keys_for("/pods", "MODIFIED", relabelled, updated) == [("default", "web")]
    assert service["metadata"]["name"] == "web"


def test_named_target_ports_resolve_per_pod(api: Api) -> None:
    controller = EndpointsController(api)
    make_service(api, selector={"app": "web"}, ports=[{"name": "http", "port": 80, "targetPort": "web"}])
    make_pod(api, "web-a", {"app": "web"}, "10.244.0.5", True, [{"name": "web", "containerPort": 8080}])
    make_pod(api, "web-b", {"app": "web"}, "10.244.0.6", True, [{"name": "web", "containerPort": 9090}])
    make_pod(api, "web-c", {"app": "web"}, "10.244.0.7", True, [{"name": "admin", "containerPort": 7070}])
    controller.reconcile(("default", "web"))
    subsets = endpoints(api)["subsets"]
    found = {(s["addresses"][0]["ip"], s["ports"][0]["port"]) for s in subsets}
    assert found == {("10.244.0.5", 8080), ("10.244.0.6", 9090)}
    by_port = {
        tuple(p["port"] for p in s.get("ports") or []): [e["addresses"] for e in s["endpoints"]] for s in slices(api)
    }
    # As on a real cluster, a pod whose named port is missing still gets a slice, one without ports.
    assert by_port == {(8080,): [["10.244.0.5"]], (9090,): [["10.244.0.6"]], (): [["10.244.0.7"]]}


def test_find_port() -> None:
    pod = {"spec": {"containers": [{"ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"}]}]}}
    assert find_port(pod, {"port": 80, "targetPort": 8080}) == 8080
    assert find_port(pod, {"port": 80}) == 80
    assert find_port(pod, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) == 53
    assert find_port(pod, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) is None


def test_addresses_sharing_ports_are_repacked_into_one_subset() -> None:
    service = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80, "targetPort": 80}]}}

    def pod(name: str, ip: str, ready: bool) -> Obj:
        return {
            "metadata": {"name": name, "uid": name},
            "spec": {},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": str(ready)}]},
        }

    subsets = endpoint_subsets(service, [pod("b", "10.244.0.10", True), pod("a", "10.244.0.9", True)])
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.244.0.9", "10.244.0.10"]
    assert len(subsets) == 1


def test_terminating_pods_leave_endpoints_but_stay_in_slices(api: Api) -> None:
    controller = EndpointsController(api)
    make_service(api, selector={"app": "web"})
    pod = make_pod(api, "web-a", {"app": "web"}, ip="10.244.0.5", ready=True)
    pod["metadata"]["finalizers"] = ["example.com/hold"]
    api.update(rtype(api, "pods"), "default", "web-a", pod, OPTS)
    api.delete(rtype(api, "pods"), "default", "web-a", None)
    controller.reconcile(("default", "web"))
    assert "subsets" not in endpoints(api)
    [item] = slices(api)
    [endpoint] = item["endpoints"]
    assert endpoint["conditions"] == {"ready": False, "serving": True, "terminating": True}


def test_finished_pods_are_not_endpoints(api: Api) -> None:
    controller = EndpointsController(api)
    make_service(api, selector={"app": "web"})
    make_pod(api, "web-a", {"app": "web"}, ip="10.244.0.5", ready=False, phase="Succeeded")
    controller.reconcile(("default", "web"))
    assert "subsets" not in endpoints(api)


def test_endpoint_slice_shape(api: Api) -> None:
    controller = EndpointsController(api)
    service = make_service(api, selector={"app": "web"})
    make_pod(api, "web-a", {"app": "web"}, ip="10.244.0.5", ready=True)
    make_pod(api, "web-b", {"app": "web"}, ip="10.244.0.6", ready=False)
    controller.reconcile(("default", "web"))
    [item] = slices(api)
    meta = item["metadata"]
    assert meta["name"].startswith("web-")
    assert meta["labels"] == {
        "team": "a",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert meta["ownerReferences"][0]["uid"] == service["metadata"]["uid"]
    assert meta["ownerReferences"][0]["controller"] is True
    assert item["addressType"] == "IPv4"
    assert item["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    conditions = {e["targetRef"]["name"]: e["conditions"] for e in item["endpoints"]}
    assert conditions == {
        "web-a": {"ready": True, "serving": True, "terminating": False},
        "web-b": {"ready": False, "serving": False, "terminating": False},
    }
    assert item["endpoints"][0]["nodeName"] == "driftlab-control-plane"


def test_a_service_without_pods_keeps_a_placeholder_slice(api: Api) -> None:
    controller = EndpointsController(api)
    make_service(api, selector={"app": "web"})
    controller.reconcile(("default", "web"))
    [placeholder] = slices(api)
    assert not placeholder.get("endpoints") and not placeholder.get("ports")
    make_pod(api, "web-a", {"app": "web"}, ip="10.244.0.5", ready=True)
    controller.reconcile(("default", "web"))
    [item] = slices(api)
    assert item["metadata"]["name"] == placeholder["metadata"]["name"]
    assert [e["addresses"] for e in item["endpoints"]] == [["10.244.0.5"]]


def test_last_change_trigger_time_is_the_earliest_unreflected_change(api: Api) -> None:
    controller = EndpointsController(api)
    service = make_service(api, selector={"app": "web"})
    controller.reconcile(("default", "web"))
    created = service["metadata"]["creationTimestamp"]
    assert endpoints(api)["metadata"]["annotations"][TRIGGER_TIME] == created
    make_pod(api, "web-a", {"app": "web"}, ip="10.244.0.5", ready=True, at="2099-01-01T00:00:05Z")
    controller.reconcile(("default", "web"))
    assert endpoints(api)["metadata"]["annotations"][TRIGGER_TIME] == "2099-01-01T00:00:05Z"
    [item] = slices(api)
    assert item["metadata"]["annotations"][TRIGGER_TIME] == "2099-01-01T00:00:05Z"


def test_services_without_selector_keep_their_own_endpoints(api: Api) -> None:
    controller = EndpointsController(api)
    make_service(api, "external")
    manual = {"metadata": {"name": "external"}, "subsets": [{"addresses": [{"ip": "192.168.1.10"}]}]}
    api.create(rtype(api, "endpoints"), "default", manual, OPTS)
    controller.reconcile(("default", "external"))
    assert endpoints(api, "external")["subsets"] == [{"addresses": [{"ip": "192.168.1.10"}]}]
    assert slices(api) == []


def test_deleting_the_service_deletes_its_endpoints(api: Api) -> None:
    controller = EndpointsController(api)
    make_service(api, selector={"app": "web"})
    controller.reconcile(("default", "web"))
    assert endpoints(api) is not None
    api.delete(rtype(api, "services"), "default", "web", None)
    controller.reconcile(("default", "web"))
    assert endpoints(api) is None


def test_headless_services_are_labelled(api: Api) -> None:
    controller = EndpointsController(api)
    make_service(api, selector={"app": "web"}, clusterIP="None")
    controller.reconcile(("default", "web"))
    assert endpoints(api)["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert slices(api)[0]["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


def test_pod_changes_that_do_not_matter_wake_nothing(api: Api) -> None:
    controller = EndpointsController(api)
    make_service(api, selector={"app": "web"})
    pod = make_pod(api, "web-a", {"app": "web"}, ip="10.244.0.5", ready=True)
    annotated = {**pod, "metadata": {**pod["metadata"], "annotations": {"note": "x"}}}
    assert controller.keys_for("/pods", "MODIFIED", annotated, pod) == []


def test_endpoint_slice_columns(api: Api) -> None:
    item = {
        "metadata": {"name": "web-abcde", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}, {"name": "admin"}],
        "endpoints": [{"addresses": [f"10.244.0.{n}"]} for n in range(1, 6)],
    }
    now = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    result = tables.table(rtype(api, "endpointslices", "discovery.k8s.io"), [item, {"metadata": {}}], now=now)
    assert [c["name"] for c in result["columnDefinitions"]] == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    assert result["rows"][0]["cells"] == [
        "web-abcde",
        "IPv4",
        "8080,admin",
        "10.244.0.1,10.244.0.2,10.244.0.3 + 2 more...",
        "5m",
    ]
    assert result["rows"][1]["cells"][2:4] == ["<unset>", "<unset>"]


# NodePorts -----------------------------------------------------------------------------------------------------


def free_node_port() -> int:
    for port in range(32767, 30000, -1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in the NodePort range")


def node_port_service(api: Api, port: int) -> Obj:
    return make_service(
        api, selector={"app": "web"}, type="NodePort", ports=[{"port": 80, "targetPort": 9898, "nodePort": port}]
    )


async def fetch(port: int) -> tuple[int, Obj]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_node_port_routes_and_ready_targets() -> None:
    service = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "NodePort",
            "ports": [
                {"name": "http", "port": 80, "nodePort": 30080},
                {"port": 53, "nodePort": 30053, "protocol": "UDP"},
            ],
        },
    }
    assert node_ports(service) == [Route("default", "web", "http", 30080)]
    assert node_ports({**service, "spec": {**service["spec"], "type": "ClusterIP"}}) == []
    endpoints = {
        "subsets": [
            {
                "addresses": [{"ip": "10.244.0.6", "targetRef": {"kind": "Pod", "name": "b"}}],
                "notReadyAddresses": [{"ip": "10.244.0.7", "targetRef": {"kind": "Pod", "name": "c"}}],
                "ports": [{"name": "http", "port": 9898}],
            }
        ]
    }
    assert ready_targets(endpoints, "http") == [Target("b", "10.244.0.6", 9898)]
    assert ready_targets(endpoints, "metrics") == []
    assert ready_targets(None, "http") == []


def test_node_port_serves_ready_pods_in_turn_and_refuses_without_them(api: Api) -> None:
    async def scenario() -> None:
        port = free_node_port()
        endpoints_controller, proxy = EndpointsController(api), NodePortProxy(api)
        node_port_service(api, port)
        image = "ghcr.io/driftlab/podinfo:1.0.0"
        for name, ip in (("web-a", "10.244.0.5"), ("web-b", "10.244.0.6")):
            pod = make_pod(api, name, {"app": "web"}, ip=ip, ready=False)
            pod["spec"]["containers"][0]["image"] = image
            api.update(rtype(api, "pods"), "default", name, pod, OPTS)
        endpoints_controller.reconcile(("default", "web"))
        proxy.reconcile(("default", "web"))
        with pytest.raises(ConnectionRefusedError):
            await fetch(port)
        for name in ("web-a", "web-b"):
            live = api.get(rtype(api, "pods"), "default", name)
            live["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
            api.update(rtype(api, "pods"), "default", name, live, OPTS, subresource="status")
        endpoints_controller.reconcile(("default", "web"))
        proxy.reconcile(("default", "web"))
        answers = [await fetch(port) for _ in range(3)]
        assert [body["hostname"] for _, body in answers] == ["web-a", "web-b", "web-a"]
        assert answers[0] == (
            200,
            {"hostname": "web-a", "version": "1.0.0", "message": "greetings from podinfo v1.0.0"},
        )
        other = free_node_port()
        service = api.get(rtype(api, "services"), "default", "web")
        service["spec"]["ports"][0]["nodePort"] = other
        api.update(rtype(api, "services"), "default", "web", service, OPTS)
        proxy.reconcile(("default", "web"))
        assert list(proxy.serving) == [other]
        with pytest.raises(ConnectionRefusedError):
            await fetch(port)
        assert (await fetch(other))[0] == 200
        api.delete(rtype(api, "services"), "default", "web", None)
        proxy.reconcile(("default", "web"))
        assert proxy.serving == {}
        with pytest.raises(ConnectionRefusedError):
            await fetch(other)

    asyncio.run(scenario())


def test_a_port_that_cannot_be_bound_is_a_warning_event(api: Api) -> None:
    async def scenario() -> None:
        port = free_node_port()
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            endpoints_controller, proxy = EndpointsController(api), NodePortProxy(api)
            node_port_service(api, port)
            make_pod(api, "web-a", {"app": "web"}, ip="10.244.0.5", ready=True)
            endpoints_controller.reconcile(("default", "web"))
            proxy.reconcile(("default", "web"))
            assert proxy.serving == {}
            [event] = [e for e in api.list(rtype(api, "events"), "default").items if e["type"] == "Warning"]
            assert event["reason"] == "FailedToOpenNodePort"
            assert event["involvedObject"]["kind"] == "Service" and event["involvedObject"]["name"] == "web"
            assert f"cannot serve NodePort {port} on 127.0.0.1" in event["message"]
        proxy.reconcile(("default", "web"))  # the retry finds the port free
        assert list(proxy.serving) == [port]
        proxy.close()

    asyncio.run(scenario())
