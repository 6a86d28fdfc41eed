"""The cluster's one node, registered and kept Ready the way the kubelet of kind's control-plane node does.

`kubectl get nodes` and `kubectl describe node` read like kind's: the same labels and annotations, conditions
with the kubelet's reasons and messages, capacity equal to allocatable, an InternalIP on the kind network, and
the list of images present on the node (which the simulated kubelet extends as it pulls).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ..events import EventRecorder
from ..node import (  # re-exported: the kubelet and the tests know them from here
    CONTAINER_RUNTIME,
    KUBELET,
    KUBELET_VERSION,
    MAX_PODS,
    NODE_IP,
    NODE_NAME,
    NODE_POD_CIDR,
    capacity,
    node_images,
    node_manifest,
    node_status,
    node_type,
    record_image,
)
from ..rest import Api, WriteOptions
from ..settings import ClusterSettings
from .base import Controller

Obj = dict[str, Any]
_OPTS = WriteOptions(field_manager=KUBELET)

__all__ = [
    "CONTAINER_RUNTIME",
    "KUBELET",
    "KUBELET_VERSION",
    "MAX_PODS",
    "NODE_IP",
    "NODE_NAME",
    "NODE_POD_CIDR",
    "NodeController",
    "capacity",
    "node_images",
    "node_manifest",
    "node_status",
    "node_type",
    "record_image",
]


class NodeController(Controller):
    """Registers the node (again, if someone deletes it) and reports its status at every daemon start."""

    name = "node"

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        super().__init__(api, settings)
        # Imported here: the kubelet package imports this module for the node's name and address.

        self.events: EventRecorder = EventRecorder(api, KUBELET, NODE_NAME)
        self.controller_events: EventRecorder = EventRecorder(api, "node-controller")
        self._reported = False

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource == "/nodes" and event_type == "DELETED" and obj["metadata"].get("name") == NODE_NAME:
            return [NODE_NAME]
        return []

    def start(self) -> None:
        self.enqueue(NODE_NAME)

    def reconcile(self, key: Hashable) -> None:
        rtype = node_type(self.api)
        node = self.api.find(rtype, "", NODE_NAME)
        if node is None:
            self.api.create(rtype, "", node_manifest(), _OPTS)
            self._announce(registered=True)
        elif not self._reported:
            node["status"] = node_status(node.get("status"))
            self.api.update(rtype, "", NODE_NAME, node, _OPTS, subresource="status")
            self._announce(registered=False)
        self._reported = True

    def _announce(self, registered: bool) -> None:
        """The events the kubelet (and the node controller, on registration) emit when the node comes up."""
        # The kubelet reports node events with the node's name as the uid; `kubectl describe node` relies on it.
        ref = {"kind": "Node", "metadata": {"name": NODE_NAME, "uid": NODE_NAME}}
        self.events.record(ref, "Normal", "Starting", "Starting kubelet.")
        for status in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"):
            self.events.record(ref, "Normal", status, f"Node {NODE_NAME} status is now: {status}")
        self.events.record(ref, "Normal", "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        if registered:
            self.events.record(ref, "Normal", "NodeReady", f"Node {NODE_NAME} status is now: NodeReady")
            message = f"Node {NODE_NAME} event: Registered Node {NODE_NAME} in Controller"
            self.controller_events.record(ref, "Normal", "RegisteredNode", message)
