"""What one pod sync works with: the node, the catalogue, the pod as stored, the time; and what it produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..rest import Api
from ..settings import PodTimings
from ..workloads import Catalogue
from .environment import ApiLookup
from .runtime import NodeRuntime

Obj = dict[str, Any]


@dataclass
class SyncContext:
    """Everything one pod sync needs, and the events it produces (in order)."""

    api: Api
    node: NodeRuntime
    catalogue: Catalogue
    lookup: ApiLookup
    timings: PodTimings
    pod: Obj
    now: datetime
    pod_ip: str = ""
    config_changed: bool = False
    events: list[tuple[str, str, str, str]] = field(default_factory=list)

    def event(self, event_type: str, reason: str, message: str, field_path: str = "") -> None:
        self.events.append((event_type, reason, message, field_path))

    @property
    def pod_label(self) -> str:
        """The pod as the kubelet names it in messages: name_namespace(uid)."""
        meta = self.pod["metadata"]
        return f"{meta['name']}_{meta.get('namespace', 'default')}({meta.get('uid', '')})"

    @property
    def restart_policy(self) -> str:
        return str((self.pod.get("spec") or {}).get("restartPolicy") or "Always")

    @property
    def grace(self) -> float:
        seconds = (self.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return float(seconds) if isinstance(seconds, int) and not isinstance(seconds, bool) else 30.0
