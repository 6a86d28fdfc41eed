"""Kind-specific behaviour that the real API server performs inside a write.

Service IP and NodePort allocation, CRD status and serving, the start of namespace deletion, and the graceful
deletion of pods. Work that a real cluster does asynchronously in controllers lives in `controllers/` instead.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import clock
from .catalog import storage_key
from .resources import ResourceType
from .status import ApiError, bad_request

if TYPE_CHECKING:
    from .rest import Api

Obj = dict[str, Any]

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORTS = range(30000, 32768)


class Admission:
    def __init__(self, api: Api) -> None:
        self.api = api

    # Hooks called by Api ------------------------------------------------------------------------------

    def on_create(self, rtype: ResourceType, obj: Obj, dry_run: bool) -> None:
        if rtype.group == "" and rtype.kind == "Service":
            self._allocate_service(obj, None)
        elif rtype.kind == "CustomResourceDefinition" and rtype.group == "apiextensions.k8s.io":
            obj["status"] = _crd_status(obj)

    def on_update(self, rtype: ResourceType, new: Obj, live: Obj) -> None:
        if rtype.group == "" and rtype.kind == "Service":
            self._allocate_service(new, live)
        elif rtype.kind == "CustomResourceDefinition" and rtype.group == "apiextensions.k8s.io":
            new["status"] = _crd_status(new)

    def after_write(self, rtype: ResourceType, obj: Obj, old: Obj | None) -> None:
        if rtype.kind == "CustomResourceDefinition" and rtype.group == "apiextensions.k8s.io":
            self.api.catalog.set_crd(obj)

    def after_delete(self, rtype: ResourceType, obj: Obj) -> None:
        if rtype.kind == "CustomResourceDefinition" and rtype.group == "apiextensions.k8s.io":
            self._drop_custom_resources(obj)
            self.api.catalog.remove_crd(obj["metadata"]["name"])

    def begin_namespace_deletion(self, rtype: ResourceType, live: Obj) -> Obj:
        """Mark a namespace Terminating; the namespace controller empties it and then removes it."""
        if live["metadata"].get("deletionTimestamp"):
            return live
        updated = copy.deepcopy(live)
        updated["metadata"]["deletionTimestamp"] = clock.stamp()
        updated["metadata"]["deletionGracePeriodSeconds"] = 0
        updated.setdefault("status", {})["phase"] = "Terminating"
        stored = self.api.store.put(storage_key(rtype), updated, "MODIFIED")
        self.api.hub.publish(storage_key(rtype), "MODIFIED", stored, live)
        return stored

    # Pods -------------------------------------------------------------------------------------------------

    def graceful_deletion(self, rtype: ResourceType, live: Obj, options: Obj, finalizers: list[str]) -> Obj | None:
        """Delete a pod the way the real pod strategy does: mark it with a deletionTimestamp `grace` seconds
        ahead and let the kubelet stop its containers and finish the deletion. None: delete as usual."""
        if rtype.group != "" or rtype.kind != "Pod":
            return None
        meta = live["metadata"]
        current = meta.get("deletionGracePeriodSeconds")
        requested = _requested_grace(options)
        if meta.get("deletionTimestamp"):
            if not current:
                return None
            # Only a shorter grace period may replace a pending one.
            grace = current if requested is None else min(current, max(requested, 0))
            if grace == current and finalizers == list(meta.get("finalizers") or []):
                return live
        else:
            grace = _pod_grace(live, requested)
            if grace == 0:
                return None
        if grace == 0 and not finalizers:
            return self.api.finish_deletion(rtype, live)
        return self._mark_deleting(rtype, live, grace, finalizers)

    def _mark_deleting(self, rtype: ResourceType, live: Obj, grace: int, finalizers: list[str]) -> Obj:
        updated = copy.deepcopy(live)
        meta = updated["metadata"]
        current = meta.get("deletionGracePeriodSeconds")
        started = clock.now()
        if meta.get("deletionTimestamp") and current:
            with contextlib.suppress(ValueError):
                started = clock.parse(meta["deletionTimestamp"]) - timedelta(seconds=current)
        elif isinstance(meta.get("generation"), int):
            meta["generation"] += 1
        meta["deletionTimestamp"] = clock.stamp(started + timedelta(seconds=grace))
        meta["deletionGracePeriodSeconds"] = grace
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
        stored = self.api.store.put(storage_key(rtype), updated, "MODIFIED")
        self.api.hub.publish(storage_key(rtype), "MODIFIED", stored, live)
        self.after_write(rtype, stored, live)
        return stored

    # Services -----------------------------------------------------------------------------------------

    def _allocate_service(self, obj: Obj, live: Obj | None) -> None:
        spec = obj.setdefault("spec", {})
        live_spec = (live or {}).get("spec", {})
        service_type = spec.get("type", "ClusterIP")
        if service_type == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        elif not spec.get("clusterIP"):
            spec["clusterIP"] = live_spec.get("clusterIP") or self._free_cluster_ip()
        if (spec.get("clusterIP") and spec["clusterIP"] != "None") or spec.get("clusterIP") == "None":
            spec["clusterIPs"] = [spec["clusterIP"]]
        if service_type in ("NodePort", "LoadBalancer"):
            live_ports = {(p.get("port"), p.get("protocol", "TCP")): p for p in live_spec.get("ports") or []}
            used = self._used_node_ports(obj)
            for port in spec.get("ports") or []:
                if port.get("nodePort"):
                    continue
                previous = live_ports.get((port.get("port"), port.get("protocol", "TCP")), {}).get("nodePort")
                port["nodePort"] = previous or self._free_node_port(used)
                used.add(port["nodePort"])
            spec.setdefault("externalTrafficPolicy", "Cluster")
        else:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)

    def _services(self) -> list[Obj]:
        rtype = self.api.catalog.lookup("", "v1", "services")
        assert rtype is not None
        return self.api.list(rtype, None).items

    def _free_cluster_ip(self) -> str:
        used = {s.get("spec", {}).get("clusterIP") for s in self._services()}
        first = int(SERVICE_CIDR.network_address)
        # Skip .0 (network) and .1 (the `kubernetes` service), like the real allocator's reserved range.
        for offset in range(10, SERVICE_CIDR.num_addresses - 1):
            candidate = str(ipaddress.ip_address(first + offset))
            if candidate not in used:
                return candidate
        raise ApiError(500, "InternalError", "failed to allocate a serviceIP: range is full")

    def _used_node_ports(self, obj: Obj) -> set[int]:
        used: set[int] = set()
        for service in self._services():
            if service["metadata"].get("uid") == obj["metadata"].get("uid"):
                continue
            for port in service.get("spec", {}).get("ports") or []:
                if port.get("nodePort"):
                    used.add(int(port["nodePort"]))
        return used

    @staticmethod
    def _free_node_port(used: set[int]) -> int:
        free = [p for p in NODE_PORTS if p not in used]
        if not free:
            raise ApiError(500, "InternalError", "failed to allocate a nodePort: range is full")
        return random.choice(free)

    # CRDs ---------------------------------------------------------------------------------------------

    def _drop_custom_resources(self, crd: Obj) -> None:
        for rtype in self.api.catalog.types:
            if rtype.is_custom and f"{rtype.plural}.{rtype.group}" == crd["metadata"]["name"]:
                for obj in self.api.list(rtype, None).items:
                    self.api.finish_deletion(rtype, obj)
                return


def _crd_status(crd: Obj) -> Obj:
    spec = crd.get("spec", {})
    stamp = clock.stamp()
    names = dict(spec.get("names", {}))
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    stored = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": stamp,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": stamp,
            },
        ],
        "storedVersions": stored,
    }


def _requested_grace(options: Obj) -> int | None:
    value = options.get("gracePeriodSeconds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"gracePeriodSeconds must be an integer, not {value!r}")
    return value


def _pod_grace(pod: Obj, requested: int | None) -> int:
    """The grace period of a new pod deletion: the request's, else the pod's terminationGracePeriodSeconds;
    none for a pod that never reached a node or has already finished."""
    spec = pod.get("spec") or {}
    if requested is not None:
        grace = requested
    else:
        configured = spec.get("terminationGracePeriodSeconds")
        grace = configured if isinstance(configured, int) and not isinstance(configured, bool) else 30
    if not spec.get("nodeName") or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return 0
    return 1 if grace < 0 else grace
