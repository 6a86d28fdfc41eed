"""Run plans: what one run of a container does, as a function of the seconds since it started."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .access import as_map
from .clock import resolve_time_markers
from .context import Context
from .events import Event
from .probes import ProbeResult, ProbeTimeline, Server, probe_result

_MAX_LOG_LINES = 50_000


@dataclass(frozen=True)
class ExitPlan:
    """How a run ends: `code` at `after` seconds; `reason` is the terminated state's reason (Completed,
    Error, OOMKilled, StartError) and `message` its message, if any."""

    code: int
    after: float
    reason: str
    message: str = ""


@dataclass(frozen=True)
class LogLine:
    """One log line, `at` seconds after the container started (`time` is the wall clock)."""

    at: float
    time: datetime
    text: str


class RunPlan:
    """What one run of a container does, as a function of the seconds since it started.

    Restarting a container runs a fresh plan from zero; plans are deterministic. `events` replays the run's
    timeline from the start each time it is called."""

    def __init__(
        self,
        *,
        exit: ExitPlan | None,
        readiness: ProbeTimeline,
        liveness: ProbeTimeline,
        stops_on_sigterm: bool,
        events: Callable[[], Iterator[Event]],
        image: Server,
        context: Context,
    ) -> None:
        self.exit = exit
        self.readiness = readiness
        self.liveness = liveness
        self.stops_on_sigterm = stops_on_sigterm
        self._events = events
        self._image = image
        self._context = context

    @property
    def completes(self) -> bool:
        """True if the run ends by itself."""
        return self.exit is not None

    def logs(self, until: float, *, since: float = 0.0, started_at: datetime | None = None) -> list[LogLine]:
        """Lines written in [since, until] seconds after start, at most 50,000."""
        start = started_at or datetime.now(UTC)
        lines: list[LogLine] = []
        for event in self._events():
            if event.at > until or len(lines) >= _MAX_LOG_LINES:
                break
            if event.kind == "line" and event.at >= since:
                text = resolve_time_markers(event.text, start)
                lines.append(LogLine(event.at, start + timedelta(seconds=event.at), text))
        return lines

    def ready(self, at: float) -> bool:
        """The readiness outcome at `at` seconds (for a readinessProbe the pod defines)."""
        return self.readiness.passing(at) and (self.exit is None or at < self.exit.after)

    def next_change(self, after: float) -> float | None:
        """The first moment after `after` at which the exit or a probe outcome happens, if any."""
        moments = [*self.readiness.changes, *self.liveness.changes]
        if self.exit is not None:
            moments.append(self.exit.after)
        later = [moment for moment in moments if moment > after]
        return min(later) if later else None

    def probe(
        self,
        kind: Literal["readiness", "liveness", "startup"],
        probe: Mapping[str, Any],
        at: float,
        *,
        pod_ip: str = "",
        ports: Sequence[Mapping[str, Any]] | None = None,
    ) -> ProbeResult:
        """The result of one probe (the pod's `readinessProbe`/`livenessProbe`/`startupProbe` object) at `at`
        seconds. Startup probes follow the readiness outcome. Named probe ports are looked up in `ports`
        (default: the container's `ports`)."""
        return probe_result(
            as_map(probe),
            self.liveness if kind == "liveness" else self.readiness,
            at,
            server=self._image,
            context=self._context,
            files=lambda: self.files_at(at),
            host=pod_ip or self._context.pod_ip,
            ports=self._context.ports if ports is None else ports,
        )

    def files_at(self, at: float) -> dict[str, str]:
        """The container's files at `at` seconds: the image's, the mounted ones, and those the running
        command created or removed (for exec probes like `cat /tmp/healthy`)."""
        files = dict(self._context.files)
        for event in self._events():
            if event.at > at:
                break
            if event.kind == "file":
                path, _, content = event.text.partition("\x00")
                if event.exists:
                    files[path] = content
                else:
                    files.pop(path, None)
        return files
