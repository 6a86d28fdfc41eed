"""The cluster's one node as kind's control-plane kubelet registers it: identity, capacity and status.

Kept free of the workload simulation so the daemon can register the node before its API answers (a real
cluster has its node when `kind create cluster` returns); controllers/nodes.py keeps it up to date.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import clock
from .resources import ResourceType

if TYPE_CHECKING:
    from .rest import Api

Obj = dict[str, Any]

NODE_NAME = "driftlab-control-plane"
NODE_IP = "172.18.0.2"
NODE_POD_CIDR = "10.244.0.0/24"
KUBELET_VERSION = "v1.37.0"
CONTAINER_RUNTIME = "containerd://2.1.3"
OS_IMAGE = "Debian GNU/Linux 12 (bookworm)"
KERNEL_VERSION = "6.8.0-60-generic"
# kind's kubelet allows 110 pods; the embedded node takes more, so that a lab of many small Deployments fits.
MAX_PODS = 250
MAX_IMAGES = 50  # the kubelet reports at most this many images (nodeStatusMaxImages)
KUBELET = "kubelet"
# What the node offers to pods (kind's nodes take the host's figures; these are a laptop's).
NODE_ALLOCATABLE: Mapping[str, str] = {"cpu": "8", "memory": "16Gi", "ephemeral-storage": "100Gi"}

_PRESSURE = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)


def node_type(api: Api) -> ResourceType:
    rtype = api.catalog.lookup("", "v1", "nodes")
    assert rtype is not None
    return rtype


def capacity() -> dict[str, str]:
    """What the node offers; allocatable is the same, as on kind (no system reservations)."""
    return {**NODE_ALLOCATABLE, "hugepages-1Gi": "0", "hugepages-2Mi": "0", "pods": str(MAX_PODS)}


def node_manifest() -> Obj:
    """The Node object the kubelet registers."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": "",
                "node.kubernetes.io/exclude-from-external-load-balancers": "",
            },
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": NODE_POD_CIDR,
            "podCIDRs": [NODE_POD_CIDR],
            "providerID": f"kind://docker/driftlab/{NODE_NAME}",
        },
        "status": node_status(None),
    }


def node_status(previous: Obj | None) -> Obj:
    """A fresh status report: conditions keep their transition times, heartbeats are now, images are kept."""
    previous = previous or {}
    now = clock.stamp()
    old_conditions = {c.get("type"): c for c in previous.get("conditions") or [] if isinstance(c, dict)}
    conditions = [
        _condition(kind, "False", reason, message, now, old_conditions) for kind, reason, message in _PRESSURE
    ]
    conditions.append(
        _condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", now, old_conditions)
    )
    status: Obj = {
        "addresses": [{"address": NODE_IP, "type": "InternalIP"}, {"address": NODE_NAME, "type": "Hostname"}],
        "allocatable": capacity(),
        "capacity": capacity(),
        "conditions": conditions,
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "features": {"supplementalGroupsPolicy": True},
        "nodeInfo": _node_info(previous.get("nodeInfo") or {}),
        "runtimeHandlers": [
            {"features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}, "name": ""},
            {"features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}, "name": "runc"},
        ],
    }
    if previous.get("images"):
        status["images"] = copy.deepcopy(previous["images"])
    return status


def _condition(kind: str, status: str, reason: str, message: str, now: str, old: dict[Any, Obj]) -> Obj:
    before = old.get(kind) or {}
    since = before.get("lastTransitionTime") if before.get("status") == status else None
    return {
        "type": kind,
        "status": status,
        "lastHeartbeatTime": now,
        "lastTransitionTime": since or now,
        "reason": reason,
        "message": message,
    }


def _node_info(previous: Obj) -> Obj:
    """Versions of what runs on the node; the machine's identity survives restarts."""
    return {
        "architecture": "amd64",
        "bootID": previous.get("bootID") or str(uuid.uuid4()),
        "containerRuntimeVersion": CONTAINER_RUNTIME,
        "kernelVersion": KERNEL_VERSION,
        "kubeProxyVersion": "",
        "kubeletVersion": KUBELET_VERSION,
        "machineID": previous.get("machineID") or uuid.uuid4().hex,
        "operatingSystem": "linux",
        "osImage": OS_IMAGE,
        "swap": {},
        "systemUUID": previous.get("systemUUID") or str(uuid.uuid4()),
    }


def node_images(api: Api) -> set[str]:
    """Every name (tag and digest references) of the images present on the node."""
    node = api.find(node_type(api), "", NODE_NAME)
    names: set[str] = set()
    for image in ((node or {}).get("status") or {}).get("images") or []:
        if isinstance(image, dict):
            names.update(name for name in image.get("names") or [] if isinstance(name, str))
    return names


def record_image(api: Api, names: list[str], size: int) -> None:
    """Add a pulled image to the node's status (largest first, at most MAX_IMAGES, as the kubelet reports)."""
    rtype = node_type(api)
    node = api.find(rtype, "", NODE_NAME)
    if node is None:
        return
    status = node.setdefault("status", {})
    images = [i for i in status.get("images") or [] if isinstance(i, dict)]
    for image in images:
        if set(image.get("names") or []) & set(names):
            image["names"] = sorted(set(image.get("names") or []) | set(names))
            break
    else:
        images.append({"names": sorted(names), "sizeBytes": size})
    images.sort(key=lambda image: -int(image.get("sizeBytes") or 0))
    status["images"] = images[:MAX_IMAGES]
    from .rest import WriteOptions

    api.update(rtype, "", NODE_NAME, node, WriteOptions(field_manager=KUBELET), subresource="status")
