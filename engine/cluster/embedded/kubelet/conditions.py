"""A pod's phase and conditions, computed from its containers the way the kubelet's status manager does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

TERMINAL = ("Succeeded", "Failed")
# The order in which a real pod status lists the kubelet's conditions.
_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


@dataclass(frozen=True)
class Containers:
    """What the phase and the conditions depend on, per container, in spec order."""

    # Per main container: running; waiting without an earlier run; terminated with exit code 0 (as its state).
    main: tuple[tuple[bool, bool, bool], ...]
    ready: tuple[str, ...]  # main containers (and started sidecars) that are ready
    unready: tuple[str, ...]
    init_incomplete: tuple[str, ...]  # init containers that have not completed (sidecars: not started)
    init_failed: bool  # an init container exited non-zero


def phase(containers: Containers, restart_policy: str) -> str:
    """Pending, Running, Succeeded or Failed, by the kubelet's rules."""
    if containers.init_failed and restart_policy == "Never":
        return "Failed"
    if containers.init_incomplete:
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for is_running, is_waiting, completed in containers.main:
        if is_running:
            running += 1
        elif is_waiting:
            waiting += 1
        else:
            stopped += 1
            succeeded += 1 if completed else 0
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if restart_policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    return "Failed" if restart_policy == "Never" else "Running"


def conditions(
    existing: list[Obj],
    containers: Containers,
    *,
    sandbox: bool,
    pod_phase: str,
    readiness_gates: list[str],
    now: str,
    generation: int | None,
) -> list[Obj]:
    """The pod's conditions: the kubelet's own, first and in their usual order, then any others kept as they
    were. A condition's lastTransitionTime changes only when its status does."""
    done = pod_phase in TERMINAL
    computed: dict[str, tuple[str, str, str]] = {
        "PodReadyToStartContainers": ("True" if sandbox and not done else "False", "", ""),
        "Initialized": _initialized(containers),
        "ContainersReady": _ready(containers, done, "ContainersNotReady"),
    }
    ready = _ready(containers, done, "ContainersNotReady")
    if ready[0] == "True":
        ready = _gates(existing, readiness_gates) or ready
    computed["Ready"] = ready
    computed["PodScheduled"] = ("True", "", "")
    old = {c.get("type"): c for c in existing if isinstance(c, dict)}
    result = []
    for kind in _ORDER:
        if kind == "PodScheduled" and kind in old:
            result.append(old[kind])
            continue
        status, reason, message = computed[kind]
        result.append(_condition(kind, status, reason, message, old.get(kind), now, generation))
    result.extend(c for c in existing if isinstance(c, dict) and c.get("type") not in _ORDER)
    return result


def _initialized(containers: Containers) -> tuple[str, str, str]:
    if not containers.init_incomplete:
        return ("True", "", "")
    names = " ".join(containers.init_incomplete)
    return ("False", "ContainersNotInitialized", f"containers with incomplete status: [{names}]")


def _ready(containers: Containers, done: bool, reason: str) -> tuple[str, str, str]:
    if done:
        return ("False", "PodCompleted", "")
    if containers.unready:
        return ("False", reason, f"containers with unready status: [{' '.join(containers.unready)}]")
    return ("True", "", "")


def _gates(existing: list[Obj], gates: list[str]) -> tuple[str, str, str] | None:
    """Readiness gates: the pod is Ready only once every gate's condition is True."""
    statuses = {c.get("type"): c.get("status") for c in existing if isinstance(c, dict)}
    for gate in gates:
        if gate not in statuses:
            return (
                "False",
                "ReadinessGatesNotReady",
                f'corresponding condition of pod readiness gate "{gate}" does not exist.',
            )
        if statuses[gate] != "True":
            return (
                "False",
                "ReadinessGatesNotReady",
                f'the status of pod readiness gate "{gate}" is not "True", but {statuses[gate]}',
            )
    return None


def _condition(
    kind: str, status: str, reason: str, message: str, old: Obj | None, now: str, generation: int | None
) -> Obj:
    since = old.get("lastTransitionTime") if old and old.get("status") == status else None
    condition: Obj = {"type": kind, "status": status}
    if generation is not None:
        condition["observedGeneration"] = generation
    condition["lastTransitionTime"] = since or now
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition
