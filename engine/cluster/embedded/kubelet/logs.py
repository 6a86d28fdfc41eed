"""Container logs: what each container instance has written, and `kubectl logs` over them.

A run's lines come from its RunPlan (timestamps are real: the plan's offsets from the moment the container
started) plus lines appended while it runs (an app's access log). The store keeps the current and the
previous instance of every container, as the kubelet keeps the previous container's log file, and wakes
followers (`kubectl logs -f`) when a line is due, a line is appended or the container stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..status import ApiError, bad_request
from ..workloads import RunPlan

Obj = dict[str, Any]
Line = tuple[datetime, str]
_KEPT_RUNS = 2
# How far ahead to look for a container's next line, in seconds after the last one.
_HORIZONS = (1.0, 10.0, 60.0, 600.0, 3600.0, 86400.0)


@dataclass
class LogRun:
    """The log of one container instance."""

    container_id: str
    plan: RunPlan | None
    started: datetime
    finished: datetime | None = None
    appended: list[Line] = field(default_factory=list)
    _changed: asyncio.Event | None = None

    def lines(self, now: datetime) -> list[Line]:
        """Every line written up to `now` (or until the container stopped), oldest first."""
        until = min(now, self.finished) if self.finished else now
        age = (until - self.started).total_seconds()
        planned = [] if self.plan is None or age < 0 else self.plan.logs(age, started_at=self.started)
        merged = [(line.time, line.text) for line in planned]
        if self.appended:
            merged.extend(line for line in self.appended if line[0] <= until)
            merged.sort(key=lambda line: line[0])
        return merged

    def next_line_at(self, after: datetime) -> datetime | None:
        """When the plan writes its next line after `after`, if it still runs then."""
        if self.plan is None:
            return None
        age = (after - self.started).total_seconds()
        for horizon in _HORIZONS:
            upcoming = [line for line in self.plan.logs(age + horizon, since=age, started_at=self.started)]
            later = [line.time for line in upcoming if line.at > age]
            if later:
                moment = min(later)
                return None if self.finished and moment > self.finished else moment
        return None

    def waiter(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None


class LogStore:
    """The logs of the node's containers, by container ID, keeping two instances per container."""

    def __init__(self) -> None:
        self._runs: dict[str, LogRun] = {}
        self._by_container: dict[tuple[str, str], list[str]] = {}

    def open(self, pod_uid: str, container: str, container_id: str, plan: RunPlan | None, started: datetime) -> LogRun:
        """Start the log of a new instance; the one before the previous is dropped."""
        run = LogRun(container_id, plan, started)
        self._runs[container_id] = run
        ids = self._by_container.setdefault((pod_uid, container), [])
        if container_id not in ids:
            ids.append(container_id)
        while len(ids) > _KEPT_RUNS:
            dropped = self._runs.pop(ids.pop(0), None)
            if dropped is not None:
                dropped.notify()
        return run

    def close(self, container_id: str, finished: datetime) -> None:
        """The instance stopped: its log ends here."""
        run = self._runs.get(container_id)
        if run is not None and run.finished is None:
            run.finished = finished
            run.notify()

    def append(self, container_id: str, text: str, at: datetime | None = None) -> None:
        """Add a line the container wrote outside its plan (an access log line, say)."""
        run = self._runs.get(container_id)
        if run is not None and run.finished is None:
            run.appended.append((at or clock.now(), text))
            run.notify()

    def run(self, container_id: str) -> LogRun | None:
        return self._runs.get(container_id)

    def forget_pod(self, pod_uid: str) -> None:
        for key in [key for key in self._by_container if key[0] == pod_uid]:
            for container_id in self._by_container.pop(key):
                run = self._runs.pop(container_id, None)
                if run is not None:
                    run.notify()


# -- the log request ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogQuery:
    """The PodLogOptions of a `pods/log` request."""

    container: str = ""
    previous: bool = False
    follow: bool = False
    timestamps: bool = False
    tail: int | None = None
    since: datetime | None = None
    limit_bytes: int | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str], now: datetime) -> LogQuery:
        """Decode and validate the query parameters as the API server does."""
        since_seconds = _int(query, "sinceSeconds")
        since_time = query.get("sinceTime")
        if since_seconds is not None and since_time:
            raise _invalid("at most one of `sinceTime` or `sinceSeconds` may be specified")
        since = None
        if since_seconds is not None:
            if since_seconds < 1:
                raise _invalid(f"sinceSeconds: Invalid value: {since_seconds}: must be greater than 0")
            since = now - timedelta(seconds=since_seconds)
        elif since_time:
            since = _parse_time(since_time)
        tail = _int(query, "tailLines")
        if tail is not None and tail < 0:
            raise _invalid(f"tailLines: Invalid value: {tail}: must be greater than or equal to 0")
        limit = _int(query, "limitBytes")
        if limit is not None and limit < 1:
            raise _invalid(f"limitBytes: Invalid value: {limit}: must be greater than 0")
        return cls(
            container=query.get("container", ""),
            previous=_bool(query, "previous"),
            follow=_bool(query, "follow"),
            timestamps=_bool(query, "timestamps"),
            tail=tail,
            since=since,
            limit_bytes=limit,
        )

    def select(self, lines: list[Line]) -> list[Line]:
        """The lines the first answer holds: from `since`, then the last `tail` of them."""
        if self.since is not None:
            lines = [line for line in lines if line[0] >= self.since]
        if self.tail is not None:
            lines = lines[len(lines) - self.tail :] if self.tail else []
        return lines

    def render(self, lines: list[Line]) -> str:
        if self.timestamps:
            return "".join(f"{rfc3339_nano(moment)} {text}\n" for moment, text in lines)
        return "".join(f"{text}\n" for _, text in lines)


def rfc3339_nano(moment: datetime) -> str:
    """Go's RFC3339Nano, as the container runtime stamps log lines: trailing zeros of the fraction dropped."""
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}000".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def _int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as err:
        raise bad_request(f"{name}: invalid integer {raw!r}") from err


def _bool(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name, "")
    if raw in ("", "false", "False", "0"):
        return False
    if raw in ("true", "True", "1"):
        return True
    raise bad_request(f"{name}: invalid boolean {raw!r}")


def _parse_time(raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as err:
        raise bad_request(f'sinceTime: parsing time "{raw}" as RFC3339: cannot parse') from err


def _invalid(message: str) -> ApiError:
    return ApiError(422, "Invalid", f"PodLogOptions is invalid: {message}")


# -- which container's log --------------------------------------------------------------------------------


def choose_container(pod: Obj, requested: str) -> str:
    """The container a request means, with the API server's errors for a missing or wrong name."""
    spec = pod.get("spec") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    containers = _names(spec.get("containers"))
    init = _names(spec.get("initContainers"))
    ephemeral = _names(spec.get("ephemeralContainers"))
    if not requested:
        if len(containers) == 1:
            return containers[0]
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        if ephemeral:
            message += f" or one of the ephemeral containers: [{' '.join(ephemeral)}]"
        raise bad_request(message)
    if requested not in containers + init + ephemeral:
        raise bad_request(f"container {requested} is not valid for pod {name}")
    return requested


def container_id_for(pod: Obj, container: str, previous: bool) -> str:
    """The instance whose log is asked for, judged from the pod's status as the kubelet does."""
    name = (pod.get("metadata") or {}).get("name", "")
    status = _status_of(pod, container)
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated") or {}
    terminated = state.get("terminated") or {}
    if previous:
        if not last.get("containerID"):
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return str(last["containerID"])
    if state.get("running") is not None:
        return str(status.get("containerID") or "")
    if state.get("terminated") is not None:
        found = terminated.get("containerID") or last.get("containerID")
        if not found:
            raise bad_request(f'container "{container}" in pod "{name}" is terminated')
        return str(found)
    if last:
        if not last.get("containerID"):
            raise bad_request(f'container "{container}" in pod "{name}" is terminated')
        return str(last["containerID"])
    reason = (state.get("waiting") or {}).get("reason")
    if reason == "ErrImagePull":
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: image can\'t be pulled')
    if reason == "ImagePullBackOff":
        raise bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: trying and failing to pull image'
        )
    if reason:
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')


def _names(containers: Any) -> list[str]:
    if not isinstance(containers, list):
        return []
    return [str(c.get("name")) for c in containers if isinstance(c, dict) and c.get("name")]


def _status_of(pod: Obj, container: str) -> Obj:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(key) or []:
            if isinstance(entry, dict) and entry.get("name") == container:
                return entry
    return {}


# -- answering ---------------------------------------------------------------------------------------------


def read(store: LogStore, container_id: str, query: LogQuery, now: datetime) -> str:
    """The whole answer of a request that does not follow."""
    run = store.run(container_id)
    if run is None:
        return ""
    return _limit(query.render(query.select(run.lines(now))), query.limit_bytes)


async def follow(
    store: LogStore,
    container_id: str,
    query: LogQuery,
    write: Callable[[str], Awaitable[None]],
    now: Callable[[], datetime] = clock.now,
) -> None:
    """Stream the log: what is there, then each line as the container writes it, until it stops."""
    run = store.run(container_id)
    if run is None:
        return
    lines = run.lines(now())
    budget = query.limit_bytes
    sent = len(lines)
    budget = await _send(write, query.render(query.select(lines)), budget)
    while budget != 0 and run.finished is None and store.run(container_id) is run:
        waiter = run.waiter()
        due = run.next_line_at(now())
        timeout = None if due is None else max((due - now()).total_seconds(), 0.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), timeout)
        lines = run.lines(now())
        budget = await _send(write, query.render(lines[sent:]), budget)
        sent = len(lines)
    if budget != 0:
        lines = run.lines(now())
        await _send(write, query.render(lines[sent:]), budget)


async def _send(write: Callable[[str], Awaitable[None]], text: str, budget: int | None) -> int | None:
    if not text:
        return budget
    text = _limit(text, budget)
    await write(text)
    return None if budget is None else budget - len(text.encode())


def _limit(text: str, limit: int | None) -> str:
    if limit is None:
        return text
    return text.encode()[:limit].decode(errors="ignore")
