"""What the kubelet adds to a container's environment and reads on its behalf.

`service_env` gives the Docker-links style variables of the Services that exist when a container starts
(`WEB_SERVICE_HOST`, `WEB_PORT_80_TCP_ADDR`, ...), and `ApiLookup` reads ConfigMaps and Secrets for the image
catalogue's checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..rest import Api

Obj = dict[str, Any]


class ApiLookup:
    """The catalogue's `Lookup`, reading the stored objects."""

    def __init__(self, api: Api) -> None:
        self.api = api
        configmaps = api.catalog.lookup("", "v1", "configmaps")
        secrets = api.catalog.lookup("", "v1", "secrets")
        assert configmaps is not None and secrets is not None
        self._configmaps, self._secrets = configmaps, secrets

    def configmap(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.api.find(self._configmaps, namespace, name)

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.api.find(self._secrets, namespace, name)


def service_env(api: Api, pod: Obj) -> dict[str, str]:
    """Variables for the Services of the pod's namespace (unless enableServiceLinks is false) and for the
    `kubernetes` Service, which every container gets."""
    rtype = api.catalog.lookup("", "v1", "services")
    assert rtype is not None
    namespace = pod["metadata"].get("namespace", "default")
    services: dict[str, Obj] = {}
    if (pod.get("spec") or {}).get("enableServiceLinks", True) is not False:
        services.update((s["metadata"]["name"], s) for s in api.list(rtype, namespace).items)
    master = api.find(rtype, "default", "kubernetes")
    if master is not None:
        services["kubernetes"] = master
    env: dict[str, str] = {}
    for name in sorted(services):
        env.update(_variables(name, services[name].get("spec") or {}))
    return env


def _variables(name: str, spec: Obj) -> dict[str, str]:
    ip = spec.get("clusterIP")
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict) and isinstance(p.get("port"), int)]
    if not isinstance(ip, str) or ip in ("", "None") or not ports:
        return {}
    prefix = name.upper().replace("-", "_")
    first = ports[0]
    env = {
        f"{prefix}_SERVICE_HOST": ip,
        f"{prefix}_SERVICE_PORT": str(first["port"]),
        f"{prefix}_PORT": f"{str(first.get('protocol') or 'TCP').lower()}://{ip}:{first['port']}",
    }
    for port in ports:
        protocol = str(port.get("protocol") or "TCP")
        if port.get("name"):
            env[f"{prefix}_SERVICE_PORT_{str(port['name']).upper().replace('-', '_')}"] = str(port["port"])
        key = f"{prefix}_PORT_{port['port']}_{protocol.upper()}"
        env[key] = f"{protocol.lower()}://{ip}:{port['port']}"
        env[f"{key}_PROTO"] = protocol.lower()
        env[f"{key}_PORT"] = str(port["port"])
        env[f"{key}_ADDR"] = ip
    return env
