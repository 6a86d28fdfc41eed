"""Probes: what readiness, liveness and startup probes of a run report, with the kubelet's messages."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .access import as_list, as_map, as_text
from .context import Context, render
from .http import HttpAnswer, HttpRequest
from .model import ProbeOutcomeSpec
from .shell import Shell


@dataclass(frozen=True)
class ProbeTimeline:
    """A probe outcome over time: passing in [pass_after, fail_after)."""

    pass_after: float = 0.0
    fail_after: float | None = None
    status: int = 503
    message: str = ""

    def passing(self, at: float) -> bool:
        return at >= self.pass_after and (self.fail_after is None or at < self.fail_after)

    @property
    def changes(self) -> tuple[float, ...]:
        """Moments at which the outcome flips."""
        moments = [self.pass_after] if self.pass_after > 0 else []
        if self.fail_after is not None and self.fail_after > self.pass_after:
            moments.append(self.fail_after)
        return tuple(moments)


@dataclass(frozen=True)
class ProbeResult:
    """A probe's result; `message` is what the kubelet puts after `Readiness probe failed: `."""

    success: bool
    message: str = ""


class Server(Protocol):
    """The container's HTTP server as probes reach it (an `ImageBehaviour`)."""

    def listens_on(self, port: int | None) -> bool: ...

    def http_answer(self, request: HttpRequest, *, port: int | None = None) -> HttpAnswer: ...


def timeline(outcome: ProbeOutcomeSpec, context: Context) -> ProbeTimeline:
    """The timeline of a catalogue probe outcome, its failure message rendered for the container."""
    message = render(outcome.message, context) if outcome.message else ""
    return ProbeTimeline(outcome.pass_after, outcome.fail_after, outcome.status, message)


def probe_result(
    probe: Mapping[str, Any],
    outcome: ProbeTimeline,
    at: float,
    *,
    server: Server,
    context: Context,
    files: Callable[[], Mapping[str, str]],
    host: str,
    ports: Sequence[Mapping[str, Any]],
) -> ProbeResult:
    """The result at `at` seconds of one probe (the pod's probe object) whose outcome follows `outcome`.

    Exec probes run in the shell simulation over the container's `files()`; programs it does not know follow
    the outcome. Network probes first need the server to listen on the port (named ones looked up in `ports`)."""
    passing = outcome.passing(at)
    if "exec" in probe:
        argv = [as_text(a) for a in as_list(as_map(probe.get("exec")).get("command"))]
        return _exec_probe(argv, passing, outcome.message, context, files)
    for handler in ("httpGet", "tcpSocket", "grpc"):
        if handler not in probe:
            continue
        spec = as_map(probe.get(handler))
        port = _probe_port(spec.get("port"), ports)
        if port is None:
            return ProbeResult(False, f"couldn't find port: {spec.get('port')}")
        target_host = as_text(spec.get("host")) or host
        if handler == "httpGet":
            return _http_probe(spec, target_host, port, passing, outcome, server, context)
        if not server.listens_on(port):
            if handler == "tcpSocket":
                return ProbeResult(False, f"dial tcp {target_host}:{port}: connect: connection refused")
            return ProbeResult(False, f'timeout: failed to connect service "{target_host}:{port}" within 1s')
        if passing:
            return ProbeResult(True)
        if handler == "tcpSocket":
            return ProbeResult(False, outcome.message or f"dial tcp {target_host}:{port}: i/o timeout")
        return ProbeResult(False, outcome.message or 'service unhealthy (responded with "NOT_SERVING")')
    return ProbeResult(passing, "" if passing else outcome.message)


def _http_probe(
    spec: Mapping[str, Any],
    host: str,
    port: int,
    passing: bool,
    outcome: ProbeTimeline,
    server: Server,
    context: Context,
) -> ProbeResult:
    path = as_text(spec.get("path"), "/") or "/"
    scheme = as_text(spec.get("scheme"), "HTTP").lower()
    if not server.listens_on(port):
        url = f"{scheme}://{host}:{port}{path}"
        return ProbeResult(False, f'Get "{url}": dial tcp {host}:{port}: connect: connection refused')
    status = server.http_answer(HttpRequest(context, path=path)).status if passing else outcome.status
    if 200 <= status < 400:
        return ProbeResult(True)
    return ProbeResult(False, f"HTTP probe failed with statuscode: {status}")


def _exec_probe(
    argv: list[str], passing: bool, message: str, context: Context, files: Callable[[], Mapping[str, str]]
) -> ProbeResult:
    if not argv:
        return ProbeResult(False, "exec probe has no command")

    def fallback(_: list[str]) -> tuple[int, str]:
        return (0, "") if passing else (1, message)

    shell = Shell(context.env, files(), context.pod, fallback=fallback)
    code, output = shell.run_to_end(argv)
    return ProbeResult(code == 0, output.rstrip("\n"))


def _probe_port(port: Any, ports: Sequence[Mapping[str, Any]]) -> int | None:
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for entry in ports:
            entry = as_map(entry)
            if entry.get("name") == port and isinstance(entry.get("containerPort"), int):
                return int(entry["containerPort"])
    return None
