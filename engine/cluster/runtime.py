"""Which container runtime kind will use (docker, nerdctl, podman), whether its daemon answers, and the kind
network's gateway address (where in-cluster agents reach services on the host, such as the lab's Git server).

Detection follows kind's own: KIND_EXPERIMENTAL_PROVIDER forces one (docker, nerdctl, podman, or nerdctl under
the names finch and nerdctl.lima); otherwise the first of docker, nerdctl, podman whose `-v` says it is that
tool (a `docker` that is podman's shim does not count as docker), falling back to docker when none is found.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .. import proc
from .kind import KindError

PROVIDER_ENV = "KIND_EXPERIMENTAL_PROVIDER"
PROVIDERS = ("docker", "nerdctl", "podman")  # kind's order of detection
FORCEABLE = (*PROVIDERS, "finch", "nerdctl.lima")  # nerdctl under other names, when asked for by name
PROBE_TIMEOUT = 5.0
INFO_TIMEOUT = 10.0
_SIGNATURES = {"docker": "Docker", "nerdctl": "nerdctl version", "podman": "podman version"}


@dataclass(frozen=True)
class Runtime:
    """The container runtime kind would use: its name, its executable (None when not installed), whether its
    daemon answered, and a line that says what was found (its version, or why it does not answer)."""

    name: str
    binary: str | None
    answers: bool
    detail: str


def detect_runtime(env: Mapping[str, str] | None = None) -> Runtime:
    """The runtime kind would pick, and whether it answers; `env` entries are added to ours (PATH, the provider)."""
    environment = {**os.environ, **(env or {})}
    path = environment.get("PATH")
    forced = environment.get(PROVIDER_ENV, "")
    if forced in FORCEABLE:
        binary = shutil.which(forced, path=path)
        if binary is None:
            return Runtime(forced, None, False, f"{forced} is not installed ({PROVIDER_ENV}={forced} asks for it)")
        return _probe(forced, binary, environment, f" (chosen by {PROVIDER_ENV})")
    for name in PROVIDERS:
        binary = shutil.which(name, path=path)
        if binary is not None and _is_available(name, binary, environment):
            return _probe(name, binary, environment)
    ignored = f"; {PROVIDER_ENV}={forced!r} is not docker, nerdctl or podman, so kind ignores it" if forced else ""
    return Runtime("docker", None, False, f"no container runtime found (docker, nerdctl or podman){ignored}")


def default_backend(runtime: Runtime, kind_binary: str | None) -> tuple[str, str]:
    """The backend `lab up` uses when nothing asks for one, and why: kind where a runtime answers and kind is
    installed, the embedded cluster otherwise."""
    if not runtime.answers:
        why = f"{runtime.name}'s daemon does not answer" if runtime.binary else "no container runtime is installed"
        return "embedded", why
    if kind_binary is None:
        return "embedded", f"{runtime.name} answers, but kind is not installed"
    return "kind", f"{runtime.name} answers and kind is installed"


def network_gateway(runtime: Runtime, network: str = "kind") -> str:
    """The IPv4 gateway of the runtime's `network` (kind's is `kind`): the host's address as pods see it."""
    if runtime.binary is None:
        raise KindError(f"cannot look up the {network!r} network: {runtime.detail}")
    command = [runtime.binary, "network", "inspect", network]
    try:
        result = proc.run(command, timeout=INFO_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise KindError(f"`{runtime.name} network inspect {network}` did not answer within {INFO_TIMEOUT:g}s") from None
    if not result.ok:
        raise _inspect_failure(runtime, network, f"{result.stderr}\n{result.stdout}")
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise KindError(f"`{runtime.name} network inspect {network}` printed something that is not JSON") from None
    if not data:
        raise _missing_network(runtime, network)
    gateway = _ipv4_gateway(data)
    if gateway is None:
        raise KindError(f"the {runtime.name} network {network!r} has no IPv4 subnet, so pods cannot reach the host")
    return gateway


# Detection ---------------------------------------------------------------------------------------------------


def _is_available(name: str, binary: str, environment: Mapping[str, str]) -> bool:
    """kind's test: `<tool> -v` says it is that tool."""
    try:
        result = proc.run([binary, "-v"], env=environment, timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    out = result.stdout.strip()
    return result.ok and (out.startswith(_SIGNATURES[name]) if name == "docker" else _SIGNATURES[name] in out)


def _probe(name: str, binary: str, environment: Mapping[str, str], chosen: str = "") -> Runtime:
    """Ask the runtime's daemon for its info: whether it answers, and its version."""
    fmt = "json" if name == "podman" else "{{json .}}"
    try:
        result = proc.run([binary, "info", "--format", fmt], env=environment, timeout=INFO_TIMEOUT)
    except subprocess.TimeoutExpired:
        return Runtime(name, binary, False, f"{name}'s daemon did not answer within {INFO_TIMEOUT:g}s{chosen}")
    except OSError as err:
        return Runtime(name, binary, False, f"{binary} cannot run: {err.strerror or err}{chosen}")
    info = _json(result.stdout)
    errors = info.get("ServerErrors") if isinstance(info.get("ServerErrors"), list) else None
    if not result.ok or errors:
        return Runtime(name, binary, False, _complaint(result.stderr, errors) + chosen)
    return Runtime(name, binary, True, f"{name} {_version(name, info)} answers{_rootless(name, info)}{chosen}")


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _complaint(stderr: str, errors: list[Any] | None) -> str:
    """What the runtime said about why it does not answer."""
    lines = [str(error) for error in errors or []] + [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[0] if lines else "its daemon does not answer"


def _version(name: str, info: dict[str, Any]) -> str:
    if name == "podman":
        version = info.get("version")
        return str(version.get("Version", "?")) if isinstance(version, dict) else "?"
    return str(info.get("ServerVersion") or "?")


def _rootless(name: str, info: dict[str, Any]) -> str:
    if name == "podman":
        host = info.get("host")
        security = host.get("security") if isinstance(host, dict) else None
        return " (rootless)" if isinstance(security, dict) and security.get("rootless") else ""
    options = info.get("SecurityOptions")
    return " (rootless)" if isinstance(options, list) and any("rootless" in str(o) for o in options) else ""


# The kind network ------------------------------------------------------------------------------------------


def _inspect_failure(runtime: Runtime, network: str, output: str) -> KindError:
    lowered = output.lower()
    if "no such network" in lowered or "not found" in lowered:
        return _missing_network(runtime, network)
    said = next((line.strip() for line in output.splitlines() if line.strip() and line.strip() != "[]"), "")
    return KindError(
        f"`{runtime.name} network inspect {network}` failed ({said or 'no reason given'}): is {runtime.name} "
        "running? (driftlab doctor checks it)"
    )


def _missing_network(runtime: Runtime, network: str) -> KindError:
    return KindError(
        f"the {runtime.name} network {network!r} does not exist yet: kind creates it with the first cluster, "
        "so create the cluster first"
    )


def _ipv4_gateway(data: Any) -> str | None:
    """The first IPv4 gateway in docker's, nerdctl's or podman's (netavark or CNI) network description; when a
    subnet names no gateway, its first address (where docker and podman put it)."""
    fallback = None
    for subnet, gateway in _subnets(data):
        try:
            net = ipaddress.ip_network(subnet, strict=False)
        except ValueError:
            continue
        if net.version != 4:
            continue
        if _is_ipv4(gateway):
            return gateway
        fallback = fallback or str(next(net.hosts()))
    return fallback


def _is_ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


def _subnets(data: Any) -> Iterator[tuple[str, str]]:
    """Every (subnet, gateway) pair found anywhere in the description."""
    if isinstance(data, list):
        for item in data:
            yield from _subnets(item)
    elif isinstance(data, dict):
        subnet = data.get("Subnet", data.get("subnet"))
        if isinstance(subnet, str):
            gateway = data.get("Gateway", data.get("gateway"))
            yield subnet, gateway if isinstance(gateway, str) else ""
        for value in data.values():
            if isinstance(value, (dict, list)):
                yield from _subnets(value)
