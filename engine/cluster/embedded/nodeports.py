"""NodePort Services served for real on 127.0.0.1:<nodePort>, the embedded cluster's kube-proxy.

Each HTTP request goes to one ready endpoint of the Service, round-robin, and is answered with what that pod's
container answers according to the image catalogue, so `curl localhost:30080` shows the live version and
changes as pods are replaced. Only the loopback interface is used: a lab never exposes anything to the network.

Like kube-proxy (iptables and nftables modes), a Service port without ready endpoints rejects connections: the
port is not listened on, so clients get `connection refused`. A request that reaches a pod which no longer
answers on that port (it was deleted meanwhile, or its image serves nothing there) has its connection reset,
as a backend that refuses the forwarded connection does. A port that cannot be bound (another program holds
it) is reported as a Warning event on the Service and tried again later; it never stops the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .controllers.base import Controller
from .events import EventRecorder
from .kubelet.environment import ApiLookup
from .kubelet.runtime import node_runtime
from .rest import Api
from .settings import ClusterSettings
from .workloads import Catalogue, CatalogueError, ImageBehaviour, NotListening, load_catalogue

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]  # namespace, service name
HOST = "127.0.0.1"
SERVICES = "/services"
ENDPOINTS = "/endpoints"
RETRY_FIRST = 1.0
RETRY_MAX = 60.0


@dataclass(frozen=True)
class Route:
    """Where one node port leads: a port of a Service."""

    namespace: str
    service: str
    port_name: str
    port: int


@dataclass(frozen=True)
class Target:
    """One ready endpoint: the pod (by name, or by IP when the Endpoints carries no targetRef) and its port."""

    pod_name: str
    ip: str
    port: int


@dataclass(frozen=True)
class _Backend:
    """What answers a request: an image's behaviour with the environment its container sees."""

    behaviour: ImageBehaviour
    env: Mapping[str, str]
    config: Mapping[str, str]
    files: Mapping[str, str]
    pod_ip: str
    container_id: str = ""


@dataclass
class _Listener:
    sock: socket.socket
    server: asyncio.AbstractServer | None = None
    task: asyncio.Task[None] | None = None


@dataclass
class _Failure:
    attempts: int = 0
    message: str = ""


def node_ports(service: Obj) -> list[Route]:
    """The TCP node ports a Service asks for (NodePort and LoadBalancer Services)."""
    meta, spec = service["metadata"], service.get("spec") or {}
    if spec.get("type") not in ("NodePort", "LoadBalancer"):
        return []
    routes = []
    for port in spec.get("ports") or []:
        node_port = port.get("nodePort")
        if isinstance(node_port, int) and node_port > 0 and (port.get("protocol") or "TCP") == "TCP":
            routes.append(Route(meta["namespace"], meta["name"], str(port.get("name") or ""), node_port))
    return routes


def ready_targets(endpoints: Obj | None, port_name: str) -> list[Target]:
    """The ready addresses of an Endpoints object for the Service port named `port_name`, in a stable order."""
    targets = []
    for subset in (endpoints or {}).get("subsets") or []:
        port = next((p for p in subset.get("ports") or [] if str(p.get("name") or "") == port_name), None)
        if port is None or not isinstance(port.get("port"), int):
            continue
        for address in subset.get("addresses") or []:
            ref = address.get("targetRef") or {}
            name = ref.get("name", "") if ref.get("kind", "Pod") == "Pod" else ""
            targets.append(Target(name, str(address.get("ip", "")), port["port"]))
    return sorted(targets, key=lambda t: (t.pod_name, t.ip, t.port))


def serving_container(pod: Obj, port: int, catalogue: Catalogue) -> tuple[Obj, ImageBehaviour] | None:
    """The container that answers on `port`: the one declaring it, else one whose image listens there."""
    containers = (pod.get("spec") or {}).get("containers") or []
    names = _declaring_containers(pod, port)
    declared = [c for c in containers if c.get("name") in names]
    for container in declared + [c for c in containers if c not in declared]:
        behaviour = catalogue.resolve(str(container.get("image", "")))
        if isinstance(behaviour, ImageBehaviour) and (container in declared or behaviour.listens_on(port)):
            return container, behaviour
    return None


class NodePortProxy(Controller):
    """Opens and closes the node-port listeners as Services and their Endpoints change."""

    name = "kube-proxy"

    def __init__(
        self,
        api: Api,
        settings: ClusterSettings | None = None,
        host: str = HOST,
    ) -> None:
        super().__init__(api, settings)
        self.host = host
        self._runtime = node_runtime(api)
        self._services = api.catalog.lookup("", "v1", "services")
        self._endpoints = api.catalog.lookup("", "v1", "endpoints")
        self._pods = api.catalog.lookup("", "v1", "pods")
        self._catalogue = _catalogue(self.settings)
        self._lookup = ApiLookup(api)
        self._events = EventRecorder(api, "kube-proxy")
        self._routes: dict[int, Route] = {}
        self._listeners: dict[int, _Listener] = {}
        self._failures: dict[int, _Failure] = {}
        self._turns: dict[int, int] = {}

    @property
    def serving(self) -> dict[int, Route]:
        """The node ports listened on right now."""
        return {port: self._routes[port] for port in self._listeners if port in self._routes}

    def start(self) -> None:
        assert self._services is not None
        for service in self.api.list(self._services, None).items:
            if node_ports(service):
                self.enqueue((service["metadata"]["namespace"], service["metadata"]["name"]))

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource not in (SERVICES, ENDPOINTS):
            return []
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if resource == SERVICES or key in self._route_keys():
            return [key]
        return []

    def _route_keys(self) -> set[Key]:
        return {(route.namespace, route.service) for route in self._routes.values()}

    def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple) and self._services is not None and self._endpoints is not None
        namespace, name = key
        service = self.api.find(self._services, namespace, name)
        wanted = {route.port: route for route in node_ports(service)} if service else {}
        for port, route in list(self._routes.items()):
            if (route.namespace, route.service) == key and wanted.get(port) != route:
                self._close(port)
                del self._routes[port]
                self._failures.pop(port, None)
        endpoints = self.api.find(self._endpoints, namespace, name) if wanted else None
        for port, route in wanted.items():
            self._routes[port] = route
            if ready_targets(endpoints, route.port_name):
                self._open(port, service or {}, key)
            else:
                self._close(port)

    # Listening ------------------------------------------------------------------------------------------

    def _open(self, port: int, service: Obj, key: Key) -> None:
        if port in self._listeners:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as err:
            sock.close()
            self._report_bind_failure(port, service, key, err)
            return
        self._failures.pop(port, None)
        listener = _Listener(sock)
        listener.task = asyncio.get_running_loop().create_task(self._serve(port, listener))
        self._listeners[port] = listener

    def _report_bind_failure(self, port: int, service: Obj, key: Key, err: OSError) -> None:
        failure = self._failures.setdefault(port, _Failure())
        failure.attempts += 1
        reason = err.strerror or str(err)
        message = (
            f"cannot serve NodePort {port} on {self.host}: {reason}; "
            f"the Service is unreachable on localhost:{port} until the port is free"
        )
        if message != failure.message:
            failure.message = message
            self._events.record(service, "Warning", "FailedToOpenNodePort", message)
        self.enqueue_after(key, min(RETRY_MAX, RETRY_FIRST * 2 ** (failure.attempts - 1)))

    async def _serve(self, port: int, listener: _Listener) -> None:
        server = web.Server(self._handler(port), access_log=None)
        listener.server = await asyncio.get_running_loop().create_server(server, sock=listener.sock)

    def _close(self, port: int) -> None:
        listener = self._listeners.pop(port, None)
        if listener is None:
            return
        if listener.server is not None:
            listener.server.close()
        elif listener.task is not None:
            listener.task.cancel()
        with contextlib.suppress(OSError):
            listener.sock.close()

    def close(self) -> None:
        """Stop listening on every node port (daemon shutdown)."""
        for port in list(self._listeners):
            self._close(port)

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            self.close()

    # Answering ------------------------------------------------------------------------------------------

    def _handler(self, port: int) -> Callable[[web.BaseRequest], Any]:
        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            response = self.answer(port, request.method, request.path_qs, request.headers.get("User-Agent", ""))
            if response is None:
                _reset(request)
                return web.Response(status=502)  # never sent: the connection is already gone
            return response

        return handle

    def answer(self, port: int, method: str, path: str, user_agent: str = "") -> web.Response | None:
        """The response of the next ready endpoint behind `port`, or None when the connection must be reset."""
        route = self._routes.get(port)
        if route is None or self._endpoints is None:
            return None
        targets = ready_targets(self.api.find(self._endpoints, route.namespace, route.service), route.port_name)
        if not targets:
            return None
        turn = self._turns.get(port, 0)
        self._turns[port] = turn + 1
        target = targets[turn % len(targets)]
        pod = self._pod_for(route.namespace, target)
        if pod is None:
            return None
        return self._pod_answer(pod, target, method, path, user_agent)

    def _pod_for(self, namespace: str, target: Target) -> Obj | None:
        assert self._pods is not None
        if target.pod_name:
            return self.api.find(self._pods, namespace, target.pod_name)
        for pod in self.api.list(self._pods, namespace).items:
            if (pod.get("status") or {}).get("podIP") == target.ip:
                return pod
        return None

    def _pod_answer(self, pod: Obj, target: Target, method: str, path: str, user_agent: str) -> web.Response | None:
        backend = self._backend(pod, target.port)
        if backend is None:
            return None
        meta = pod["metadata"]
        request = backend.behaviour.http_request(
            meta["name"],
            backend.env,
            backend.config,
            path=path,
            namespace=meta.get("namespace", "default"),
            files=backend.files,
            pod_ip=backend.pod_ip,
            method=method,
        )
        try:
            answer = backend.behaviour.http_answer(request, port=target.port)
        except NotListening:
            return None
        line = backend.behaviour.access_log_line(request, answer, user_agent=user_agent or "-")
        if line is not None and backend.container_id:
            self._runtime.logs.append(backend.container_id, line)
        return web.Response(status=answer.status, body=answer.body.encode(), headers=dict(answer.headers))

    def _backend(self, pod: Obj, port: int) -> _Backend | None:
        """The container behind a pod's port: the kubelet's running instance (with the environment it started
        with), or, for a pod the kubelet does not run, one built from the pod spec and the catalogue."""
        instances = self._runtime.instances_of(str(pod["metadata"].get("uid", "")))
        if instances:
            declared = _declaring_containers(pod, port)
            for instance in sorted(instances, key=lambda i: i.container not in declared):
                if instance.container in declared or instance.behaviour.listens_on(port):
                    return _Backend(
                        instance.behaviour,
                        instance.env,
                        instance.config,
                        instance.files,
                        instance.pod_ip,
                        instance.container_id,
                    )
            return None
        found = serving_container(pod, port, self._catalogue)
        if found is None:
            return None
        container, behaviour = found
        ip = str((pod.get("status") or {}).get("podIP") or "")
        env = behaviour.environment(container, pod, self._lookup, pod_ip=ip)
        return _Backend(
            behaviour,
            env,
            behaviour.config_values(container, pod, self._lookup),
            behaviour.files(container, pod, self._lookup, env=env),
            ip,
        )


def _declaring_containers(pod: Obj, port: int) -> set[str]:
    containers = (pod.get("spec") or {}).get("containers") or []
    return {
        str(c.get("name", "")) for c in containers if any(p.get("containerPort") == port for p in c.get("ports") or [])
    }


def _catalogue(settings: ClusterSettings) -> Catalogue:
    try:
        return load_catalogue(settings.image_catalogue)
    except CatalogueError as err:
        log.error("the lab's image catalogue is invalid, NodePorts answer from the built-in one: %s", err)
        return load_catalogue(None)


def _reset(request: web.BaseRequest) -> None:
    """Close the client's connection with a TCP reset rather than an orderly shutdown."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
