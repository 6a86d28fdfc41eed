"""Kubernetes Events from the agents, so `kubectl describe` and `kubectl events` show what they did."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from ..cluster.client import JSON, KubeClient
from ..cluster.errors import ClusterError, Conflict

log = logging.getLogger(__name__)


def now() -> str:
    """An RFC 3339 timestamp in UTC with seconds, as the API server stores them."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Records events about the agent's objects under one controller name (`kustomize-controller`, ...)."""

    def __init__(self, client: KubeClient, component: str) -> None:
        self.client = client
        self.component = component

    def normal(self, obj: JSON, reason: str, message: str) -> None:
        self.record(obj, "Normal", reason, message)

    def warning(self, obj: JSON, reason: str, message: str) -> None:
        self.record(obj, "Warning", reason, message)

    def record(self, obj: JSON, kind: str, reason: str, message: str) -> None:
        """Create the Event; a failure is logged, never raised: events are a courtesy, not the reconcile."""
        metadata = obj.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "default")
        stamp = now()
        # One name per (object, type, reason, message): a repeat counts up, as the Kubernetes event correlator does.
        digest = hashlib.sha1(f"{metadata.get('uid')}{kind}{reason}{message}".encode()).hexdigest()[:10]
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{metadata.get('name')}.{digest}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": metadata.get("name"),
                "namespace": namespace,
                "uid": metadata.get("uid"),
                "resourceVersion": metadata.get("resourceVersion"),
            },
            "type": kind,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.component,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            self.client.create(event)
        except Conflict:
            self._count_up(event, stamp)
        except ClusterError as err:
            log.info("%s: cannot record event %s: %s", self.component, reason, err)

    def _count_up(self, event: JSON, stamp: str) -> None:
        metadata = event["metadata"]
        try:
            resource = self.client.resolve("Event", "v1")
            current = self.client.get(resource, metadata["name"], metadata["namespace"])
            count = int((current or {}).get("count") or 1) + 1
            patch = {"count": count, "lastTimestamp": stamp}
            self.client.patch(resource, metadata["name"], metadata["namespace"], patch)
        except (ClusterError, ValueError) as err:
            log.info("%s: cannot count event %s again: %s", self.component, event["reason"], err)
