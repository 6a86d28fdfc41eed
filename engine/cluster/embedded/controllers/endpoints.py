"""Endpoints and EndpointSlices for Services with a selector, following the pods that match it.

As in kube-controller-manager, a pod is listed once it has an IP and until it finishes. Ready pods are
`addresses` of the Endpoints, the others `notReadyAddresses`; a pod being deleted leaves the Endpoints at once
but stays in the EndpointSlices with `terminating: true` until it is gone. Services without a selector and
ExternalName Services are left alone: their Endpoints belong to whoever wrote them.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..events import EventRecorder
from ..rest import Api, WriteOptions
from ..settings import ClusterSettings
from ..status import ApiError
from . import podutil
from .base import Controller

Obj = dict[str, Any]
Key = tuple[str, str]  # namespace, service name

MANAGER = "kube-controller-manager"
ENDPOINTS_MANAGED_BY = "endpoints.kubernetes.io/managed-by"
ENDPOINTS_CONTROLLER = "endpoint-controller"
SLICE_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
HEADLESS_LABEL = "service.kubernetes.io/headless"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
MAX_ENDPOINTS = 1000
MAX_PER_SLICE = 100

SERVICES = "/services"
PODS = "/pods"
ENDPOINTS = "/endpoints"
SLICES = "discovery.k8s.io/endpointslices"


# ---------------------------------------------------------------------------------------------------------
# What a Service's endpoints should be: pure functions of the Service and its pods
# ---------------------------------------------------------------------------------------------------------


def selector_of(service: Obj) -> dict[str, str] | None:
    """The Service's selector, or None when it has none (an empty selector selects nothing here either)."""
    selector = (service.get("spec") or {}).get("selector")
    if not isinstance(selector, dict) or not selector:
        return None
    return {str(k): str(v) for k, v in selector.items()}


def selects(selector: dict[str, str] | None, pod: Obj | None) -> bool:
    if not selector or pod is None:
        return False
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def pod_ip(pod: Obj) -> str:
    """The pod's IPv4 address ('' when it has none yet)."""
    status = pod.get("status") or {}
    candidates = [status.get("podIP")] + [entry.get("ip") for entry in status.get("podIPs") or [] if entry]
    for ip in candidates:
        if isinstance(ip, str) and ip and ":" not in ip:
            return ip
    return ""


def is_listed(pod: Obj, include_terminating: bool) -> bool:
    """Whether a pod belongs in a Service's endpoints at all: it has an IP and has not finished."""
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed") or not pod_ip(pod):
        return False
    return include_terminating or not podutil.is_terminating(pod)


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod port a Service port's targetPort means: a number as it is, a name looked up among the pod's
    container ports of the same protocol. None when a named port is not found."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                number = port.get("containerPort")
                return number if isinstance(number, int) else None
    return None


def _target_ref(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta["name"], "uid": meta.get("uid", "")}


def _hostname(pod: Obj, service: Obj) -> str:
    """A pod's own hostname is published when its subdomain names the Service (StatefulSet pods)."""
    spec = pod.get("spec") or {}
    hostname = spec.get("hostname")
    if hostname and spec.get("subdomain") == service["metadata"]["name"]:
        return str(hostname)
    return ""


def _endpoint_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port = {"name": service_port["name"], **port}
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _is_headless(service: Obj) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def _address(pod: Obj, service: Obj) -> Obj:
    address: Obj = {"ip": pod_ip(pod)}
    hostname = _hostname(pod, service)
    if hostname:
        address["hostname"] = hostname
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        address["nodeName"] = node
    address["targetRef"] = _target_ref(pod)
    return address


def endpoint_subsets(service: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """The Endpoints `subsets`: each address with the ports it offers, grouped as the real controller repacks
    them (addresses sharing a port set form one subset)."""
    tolerate = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    service_ports = (service.get("spec") or {}).get("ports") or []
    # (address key) -> (address, ready, ports)
    offers: dict[tuple[str, str], tuple[Obj, bool, list[Obj]]] = {}
    for pod in pods:
        if not is_listed(pod, tolerate):
            continue
        address = _address(pod, service)
        ready = tolerate or podutil.is_ready(pod)
        key = (address["ip"], address["targetRef"]["uid"])
        if not service_ports:
            if _is_headless(service):
                offers[key] = (address, ready, [])
            continue
        ports = []
        for service_port in service_ports:
            number = find_port(pod, service_port)
            if number is not None:
                ports.append(_endpoint_port(service_port, number))
        if ports:
            offers[key] = (address, ready, ports)
    return _repack(offers.values())


def _port_key(port: Obj) -> tuple[str, int, str]:
    return (str(port.get("name", "")), int(port.get("port", 0)), str(port.get("protocol", "")))


def _repack(offers: Iterable[tuple[Obj, bool, list[Obj]]]) -> list[Obj]:
    by_port: dict[tuple[str, int, str], tuple[Obj, list[tuple[Obj, bool]]]] = {}
    no_ports: list[tuple[Obj, bool]] = []
    for address, ready, ports in offers:
        if not ports:
            no_ports.append((address, ready))
        for port in ports:
            by_port.setdefault(_port_key(port), (port, []))[1].append((address, ready))
    groups: dict[tuple[tuple[str, str, bool], ...], list[Obj]] = {}
    members: dict[tuple[tuple[str, str, bool], ...], list[tuple[Obj, bool]]] = {}
    for port, addresses in by_port.values():
        key = tuple(sorted((a["ip"], a["targetRef"]["uid"], ready) for a, ready in addresses))
        groups.setdefault(key, []).append(port)
        members[key] = addresses
    subsets = [_subset(members[key], sorted(ports, key=_port_key)) for key, ports in groups.items()]
    if no_ports:
        subsets.append(_subset(no_ports, []))
    return sorted(subsets, key=_subset_order)


def _subset(addresses: list[tuple[Obj, bool]], ports: list[Obj]) -> Obj:
    def order(address: Obj) -> tuple[tuple[int, ...], str]:
        return tuple(int(part) for part in address["ip"].split(".") if part.isdigit()), address["targetRef"]["uid"]

    subset: Obj = {}
    ready = sorted((a for a, ok in addresses if ok), key=order)
    not_ready = sorted((a for a, ok in addresses if not ok), key=order)
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    if ports:
        subset["ports"] = ports
    return subset


def _subset_order(subset: Obj) -> tuple[list[tuple[str, int, str]], str]:
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{"ip": ""}])[0]["ip"]
    return [_port_key(port) for port in subset.get("ports") or []], first


def truncate(subsets: list[Obj]) -> bool:
    """Keep at most MAX_ENDPOINTS addresses, ready ones first, spread over the subsets in proportion; True when
    something was cut (the Endpoints then carries the over-capacity annotation)."""
    ready = sum(len(s.get("addresses") or []) for s in subsets)
    not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if ready + not_ready <= MAX_ENDPOINTS:
        return False
    cut_ready = ready > MAX_ENDPOINTS
    budget = MAX_ENDPOINTS if cut_ready else MAX_ENDPOINTS - ready
    total = ready if cut_ready else not_ready
    left = budget
    for subset in subsets:
        field_name = "addresses" if cut_ready else "notReadyAddresses"
        items = subset.get(field_name) or []
        share = min(left, -(-len(items) * budget // total)) if total else 0
        subset[field_name] = items[:share]
        if cut_ready:
            subset.pop("notReadyAddresses", None)
        left -= len(subset[field_name])
        if not subset[field_name]:
            del subset[field_name]
    return True


def slice_endpoint(pod: Obj, service: Obj) -> Obj:
    """One endpoint of an EndpointSlice, with the ready/serving/terminating conditions of the real
    controller (`ready` is never true for a terminating pod unless the Service publishes not-ready ones)."""
    serving = podutil.is_ready(pod)
    terminating = podutil.is_terminating(pod)
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    endpoint: Obj = {
        "addresses": [pod_ip(pod)],
        "conditions": {
            "ready": publish or (serving and not terminating),
            "serving": publish or serving,
            "terminating": terminating,
        },
    }
    hostname = _hostname(pod, service)
    if hostname:
        endpoint["hostname"] = hostname
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        endpoint["nodeName"] = node
    endpoint["targetRef"] = _target_ref(pod)
    return endpoint


def _slice_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {"name": service_port.get("name") or "", "port": number, "protocol": service_port.get("protocol")}
    if not port["protocol"]:
        port["protocol"] = "TCP"
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


@dataclass
class SliceContent:
    """What one EndpointSlice holds: a port set and the endpoints that offer exactly those ports."""

    ports: list[Obj]
    endpoints: list[Obj] = field(default_factory=list)

    @property
    def port_key(self) -> tuple[tuple[str, int, str], ...]:
        return tuple(sorted(_port_key(port) for port in self.ports))


def slice_contents(service: Obj, pods: Iterable[Obj]) -> list[SliceContent]:
    """The EndpointSlices a Service needs: one per distinct port set, at most MAX_PER_SLICE endpoints each.
    A Service without endpoints keeps one empty placeholder slice, as on a real cluster."""
    service_ports = (service.get("spec") or {}).get("ports") or []
    groups: dict[tuple[tuple[str, int, str], ...], SliceContent] = {}
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        if not is_listed(pod, include_terminating=True):
            continue
        ports = [
            _slice_port(service_port, number)
            for service_port in service_ports
            if (number := find_port(pod, service_port)) is not None
        ]
        content = SliceContent(ports)
        groups.setdefault(content.port_key, content).endpoints.append(slice_endpoint(pod, service))
    contents: list[SliceContent] = []
    for group in groups.values():
        for start in range(0, len(group.endpoints), MAX_PER_SLICE):
            contents.append(SliceContent(group.ports, group.endpoints[start : start + MAX_PER_SLICE]))
    return contents or [SliceContent([])]


class TriggerTimes:
    """`endpoints.kubernetes.io/last-change-trigger-time`: the earliest change not yet reflected in a
    Service's endpoints, taken from the Service's creation and the pods' Ready transitions."""

    def __init__(self) -> None:
        self._seen: dict[Key, tuple[str, dict[str, str]]] = {}

    def compute(self, key: Key, service: Obj, pods: list[Obj]) -> str:
        service_time = str(service["metadata"].get("creationTimestamp") or "")
        known = self._seen.get(key)
        changes: list[str] = []
        if known is None or known[0] != service_time:
            changes.append(service_time)
        last_pods = known[1] if known else {}
        current: dict[str, str] = {}
        for pod in pods:
            ready = podutil.condition(pod, "Ready") or {}
            moment = str(ready.get("lastTransitionTime") or "")
            if not moment:
                continue
            name = pod["metadata"]["name"]
            current[name] = moment
            if name not in last_pods or moment > last_pods[name]:
                changes.append(moment)
        self._seen[key] = (service_time, current)
        return min((moment for moment in changes if moment), default="")

    def forget(self, key: Key) -> None:
        self._seen.pop(key, None)


# ---------------------------------------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------------------------------------


def _service_labels(service: Obj) -> dict[str, str]:
    return dict(service["metadata"].get("labels") or {})


class EndpointsController(Controller):
    """The endpoint and endpointslice controllers of kube-controller-manager, run as one work queue keyed by
    Service: both views are computed from the same pods in the same pass."""

    name = "endpoint-controller"

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        super().__init__(api, settings)
        self._services = self._type("", "v1", "services")
        self._pods = self._type("", "v1", "pods")
        self._endpoints = self._type("", "v1", "endpoints")
        self._slices = self._type("discovery.k8s.io", "v1", "endpointslices")
        self._selectors: dict[Key, dict[str, str] | None] = {}
        self._triggers = TriggerTimes()
        self._events = EventRecorder(api, "endpoint-controller")
        self._opts = WriteOptions(field_manager=MANAGER)

    def _type(self, group: str, version: str, plural: str) -> Any:
        rtype = self.api.catalog.lookup(group, version, plural)
        assert rtype is not None, plural
        return rtype

    def start(self) -> None:
        for service in self.api.list(self._services, None).items:
            key = (service["metadata"]["namespace"], service["metadata"]["name"])
            self._selectors[key] = selector_of(service)
            self.enqueue(key)
        for endpoints in self.api.list(self._endpoints, None).items:
            meta = endpoints["metadata"]
            key = (meta["namespace"], meta["name"])
            managed = (meta.get("labels") or {}).get(ENDPOINTS_MANAGED_BY) == ENDPOINTS_CONTROLLER
            if managed and key not in self._selectors:
                self.enqueue(key)

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        if resource == SERVICES:
            key = (namespace, meta["name"])
            if event_type == "DELETED":
                self._selectors.pop(key, None)
            else:
                self._selectors[key] = selector_of(obj)
            return [key]
        if resource == PODS:
            if old is not None and event_type == "MODIFIED" and _pod_view(obj) == _pod_view(old):
                return []
            return [
                key
                for key, selector in self._selectors.items()
                if key[0] == namespace and (selects(selector, obj) or selects(selector, old))
            ]
        if event_type != "DELETED":
            return []
        labels = meta.get("labels") or {}
        if resource == ENDPOINTS and labels.get(ENDPOINTS_MANAGED_BY) == ENDPOINTS_CONTROLLER:
            return [(namespace, meta["name"])]
        if resource == SLICES and labels.get(SLICE_MANAGED_BY) == SLICE_CONTROLLER and labels.get(SERVICE_NAME_LABEL):
            return [(namespace, labels[SERVICE_NAME_LABEL])]
        return []

    def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        namespace, name = key
        service = self.api.find(self._services, namespace, name)
        if service is None:
            self._triggers.forget(key)
            self._delete_endpoints(namespace, name)
            return
        selector = selector_of(service)
        if (service.get("spec") or {}).get("type") == "ExternalName" or selector is None:
            return
        pods = [pod for pod in self.api.list(self._pods, namespace).items if selects(selector, pod)]
        trigger = self._triggers.compute(key, service, pods)
        self._sync_endpoints(service, pods, trigger)
        self._sync_slices(service, pods, trigger)

    # Endpoints ------------------------------------------------------------------------------------------

    def _delete_endpoints(self, namespace: str, name: str) -> None:
        live = self.api.find(self._endpoints, namespace, name)
        if live is None:
            return
        try:
            self.api.delete(self._endpoints, namespace, name, None)
        except ApiError as err:
            if err.code != 404:
                raise

    def _sync_endpoints(self, service: Obj, pods: list[Obj], trigger: str) -> None:
        meta = service["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        subsets = endpoint_subsets(service, pods)
        truncated = truncate(subsets)
        labels = _service_labels(service)
        labels[ENDPOINTS_MANAGED_BY] = ENDPOINTS_CONTROLLER
        if _is_headless(service):
            labels[HEADLESS_LABEL] = ""
        live = self.api.find(self._endpoints, namespace, name)
        if live is not None:
            annotations = live["metadata"].get("annotations") or {}
            if (
                (live.get("subsets") or []) == subsets
                and (live["metadata"].get("labels") or {}) == labels
                and (OVER_CAPACITY in annotations) == truncated
            ):
                return
        body = copy.deepcopy(live) if live is not None else {"metadata": {"name": name, "namespace": namespace}}
        body["metadata"]["labels"] = labels
        annotations = dict(body["metadata"].get("annotations") or {})
        if trigger:
            annotations[TRIGGER_TIME] = trigger
        else:
            annotations.pop(TRIGGER_TIME, None)
        if truncated:
            annotations[OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY, None)
        body["metadata"]["annotations"] = annotations
        body["subsets"] = subsets
        if not subsets:
            body.pop("subsets")
        self._write(self._endpoints, service, live, body)

    def _write(self, rtype: Any, service: Obj, live: Obj | None, body: Obj) -> None:
        """Create or update, reporting failures as the real controllers' Warning events on the Service."""
        meta = service["metadata"]
        try:
            if live is None:
                self.api.create(rtype, meta["namespace"], body, self._opts)
            else:
                self.api.update(rtype, meta["namespace"], live["metadata"]["name"], body, self._opts)
        except ApiError as err:
            if err.code == 403:
                return  # the namespace is being deleted
            target = f"{meta['namespace']}/{meta['name']}"
            if rtype is self._slices:
                reason, message = "FailedToUpdateEndpointSlices", f"Error updating Endpoint Slices for Service {target}"
            elif live is None:
                reason, message = "FailedToCreateEndpoint", f"Failed to create endpoint for service {target}"
            else:
                reason, message = "FailedToUpdateEndpoint", f"Failed to update endpoint {target}"
            self._events.record(service, "Warning", reason, f"{message}: {err.message}")
            raise

    # EndpointSlices -------------------------------------------------------------------------------------

    def _sync_slices(self, service: Obj, pods: list[Obj], trigger: str) -> None:
        meta = service["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        existing = [
            item
            for item in self.api.list(self._slices, namespace).items
            if (item["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == name
            and (item["metadata"].get("labels") or {}).get(SLICE_MANAGED_BY) == SLICE_CONTROLLER
        ]
        existing.sort(key=lambda item: item["metadata"]["name"])
        labels = self._slice_labels(service)
        unused = list(existing)
        for content in slice_contents(service, pods):
            match = next((item for item in unused if _slice_key(item) == content.port_key), None)
            if match is None and unused and len(existing) == 1 and not _slice_endpoints(unused[0]):
                match = unused[0]  # reuse the placeholder
            if match is not None:
                unused.remove(match)
            self._apply_slice(service, match, content, labels, trigger)
        for item in unused:
            try:
                self.api.delete(self._slices, namespace, item["metadata"]["name"], None)
            except ApiError as err:
                if err.code != 404:
                    raise

    def _slice_labels(self, service: Obj) -> dict[str, str]:
        labels = {k: v for k, v in _service_labels(service).items() if k not in (SERVICE_NAME_LABEL, SLICE_MANAGED_BY)}
        labels[SERVICE_NAME_LABEL] = service["metadata"]["name"]
        labels[SLICE_MANAGED_BY] = SLICE_CONTROLLER
        if _is_headless(service):
            labels[HEADLESS_LABEL] = ""
        return labels

    def _apply_slice(
        self, service: Obj, live: Obj | None, content: SliceContent, labels: dict[str, str], trigger: str
    ) -> None:
        ports = content.ports or None
        endpoints = content.endpoints or None
        if (
            live is not None
            and live.get("ports") == ports
            and live.get("endpoints") == endpoints
            and (live["metadata"].get("labels") or {}) == labels
        ):
            return
        meta = service["metadata"]
        if live is None:
            body: Obj = {
                "metadata": {
                    "generateName": f"{meta['name']}-",
                    "namespace": meta["namespace"],
                    "ownerReferences": [podutil.controller_ref(service)],
                },
                "addressType": "IPv4",
            }
        else:
            body = copy.deepcopy(live)
        body["metadata"]["labels"] = labels
        annotations = dict(body["metadata"].get("annotations") or {})
        if trigger:
            annotations[TRIGGER_TIME] = trigger
        else:
            annotations.pop(TRIGGER_TIME, None)
        body["metadata"]["annotations"] = annotations
        body["ports"] = ports
        body["endpoints"] = endpoints
        self._write(self._slices, service, live, body)


def _slice_key(item: Obj) -> tuple[tuple[str, int, str], ...]:
    return tuple(sorted(_port_key(port) for port in item.get("ports") or []))


def _slice_endpoints(item: Obj) -> list[Obj]:
    return list(item.get("endpoints") or [])


def _pod_view(pod: Obj) -> tuple[Any, ...]:
    """The parts of a pod that its endpoints depend on; other changes do not wake the controller."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    return (
        pod["metadata"].get("labels"),
        pod["metadata"].get("deletionTimestamp"),
        status.get("phase"),
        pod_ip(pod),
        podutil.is_ready(pod),
        (podutil.condition(pod, "Ready") or {}).get("lastTransitionTime"),
        spec.get("nodeName"),
        spec.get("hostname"),
        spec.get("subdomain"),
    )
