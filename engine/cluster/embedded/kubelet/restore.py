"""After a daemon restart: rebuild the kubelet's view of a pod from the status it reported before.

A running container keeps its container ID, start time, readiness and restart count, and its plan is made
again (plans are deterministic), so its log and probes carry on; a container in back-off restarts when its
back-off ends; one that was still starting starts again. Finished runs get their logs back too.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from .. import clock
from ..workloads import ImageBehaviour
from .containers import ContainerRuntime, Stage
from .context import SyncContext
from .pods import PodRuntime

Obj = dict[str, Any]


def restore_pod(pod: Obj, ctx: SyncContext) -> PodRuntime:
    runtime = PodRuntime(pod)
    status = pod.get("status") or {}
    runtime.start_time = status.get("startTime") if isinstance(status.get("startTime"), str) else None
    ip = status.get("podIP")
    if isinstance(ip, str) and ip:
        ctx.node.network.adopt(runtime.uid, ip)
        runtime.ip = ctx.node.network.ip_of(runtime.uid) or ctx.node.network.allocate(runtime.uid)
        runtime.sandbox = True
    ctx.pod_ip = runtime.ip or ""
    for containers, key in ((runtime.init, "initContainerStatuses"), (runtime.main, "containerStatuses")):
        entries = {e.get("name"): e for e in status.get(key) or [] if isinstance(e, dict)}
        for container in containers:
            if container.name in entries and runtime.sandbox:
                restore_container(container, entries[container.name], ctx)
    initialized = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == "Initialized"]
    runtime.initialized = runtime.initialized or bool(initialized and initialized[0].get("status") == "True")
    if status.get("phase") in ("Succeeded", "Failed"):
        runtime.final_phase = str(status["phase"])
    return runtime


def restore_container(container: ContainerRuntime, entry: Obj, ctx: SyncContext) -> None:
    state = entry.get("state") or {}
    last = _record((entry.get("lastState") or {}).get("terminated"))
    restarts = entry.get("restartCount")
    container.restart_count = container.backoff_level = restarts if isinstance(restarts, int) else 0
    image = ctx.catalogue.resolve(str(container.spec.get("image") or ""))
    if isinstance(image, ImageBehaviour) and entry.get("imageID"):
        container.image = container.pulled = image
    running = state.get("running")
    terminated = _record(state.get("terminated"))
    waiting = state.get("waiting") if isinstance(state.get("waiting"), dict) else None
    if isinstance(running, dict) and isinstance(image, ImageBehaviour):
        _reopen_log(container, last, image, ctx)
        container.finished = last
        _resume(container, entry, running, image, ctx)
    elif terminated is not None:
        _reopen_log(container, last, image, ctx)
        _reopen_log(container, terminated, image, ctx)
        container.finished, container.previous = terminated, last
        container.container_id = str(terminated.get("containerID") or "")
        container.stage = Stage.EXITED
    elif last is not None:
        _reopen_log(container, last, image, ctx)
        container.finished = last
        container.container_id = str(last.get("containerID") or "")
        container.stage = Stage.EXITED
        container.waiting = ("", "")
    elif waiting is not None:
        container.waiting = (str(waiting.get("reason") or "ContainerCreating"), str(waiting.get("message") or ""))


def _resume(container: ContainerRuntime, entry: Obj, running: Obj, image: ImageBehaviour, ctx: SyncContext) -> None:
    started = _time(running.get("startedAt")) or ctx.now
    instance = container.new_instance(ctx, image, started)
    if entry.get("containerID"):
        instance.container_id = str(entry["containerID"])
    container.begin_run(ctx, instance, ready=entry.get("ready") is True, started=entry.get("started") is True)
    age = (ctx.now - started).total_seconds()
    for probe in container.probes.values():
        probe.runs = max(0, math.ceil((age - probe.delay) / probe.period))


def _reopen_log(container: ContainerRuntime, record: Obj | None, image: Any, ctx: SyncContext) -> None:
    """Give a finished run its log back, from its plan and its start and finish times."""
    if record is None or not record.get("containerID") or not isinstance(image, ImageBehaviour):
        return
    started, finished = _time(record.get("startedAt")), _time(record.get("finishedAt"))
    if started is None or finished is None:
        return
    plan = container.new_instance(ctx, image, started).plan if started.year > 1970 else None
    uid = str(ctx.pod["metadata"].get("uid", ""))
    ctx.node.logs.open(uid, container.name, str(record["containerID"]), plan, started)
    ctx.node.logs.close(str(record["containerID"]), finished)


def _record(value: Any) -> Obj | None:
    return dict(value) if isinstance(value, dict) and value else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return clock.parse(value)
    except ValueError:
        return None
