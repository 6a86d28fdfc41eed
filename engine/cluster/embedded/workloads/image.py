"""`ImageBehaviour`: a pullable image, and everything the simulated kubelet asks about its containers."""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import http
from .access import as_list, as_map, as_text, pod_name, pod_namespace
from .context import Context, render
from .environment import env_keys, resolve_env
from .failures import ConfigProblem, pulling_message
from .http import HttpAnswer, HttpRequest
from .model import Behaviour
from .plan import RunPlan
from .references import ImageReference
from .runs import run_plan
from .sources import Lookup, Sources
from .start import start_problem
from .units import go_duration
from .volumes import mounted_files, under


@dataclass(frozen=True)
class ImageBehaviour:
    """A pullable image and how its containers behave. `known` is False for images the catalogue does not
    list (they get the generic behaviour)."""

    requested: str
    reference: ImageReference
    behaviour: Behaviour
    digest: str
    tag: str | None = None
    known: bool = True

    # -- identity ------------------------------------------------------------------------------------------

    @property
    def version(self) -> str:
        if self.behaviour.version:
            return self.behaviour.version
        if self.tag:
            return self.tag
        if self.reference.tag:
            return self.reference.tag
        return self.digest.partition(":")[2][:12]

    @property
    def image(self) -> str:
        """The container status's `image` (what containerd reports, e.g. `docker.io/library/nginx:1.27`)."""
        return str(self.reference)

    @property
    def image_id(self) -> str:
        """The container status's `imageID`, e.g. `docker.io/library/nginx@sha256:...`."""
        return f"{self.reference.name}@{self.digest}"

    @property
    def size(self) -> int:
        if self.behaviour.size is not None:
            return self.behaviour.size
        return 5_000_000 + int(self.digest.partition(":")[2][:8] or "0", 16) % 75_000_000

    @property
    def pulling_message(self) -> str:
        return pulling_message(self.requested)

    def pulled_message(self, seconds: float, waited: float | None = None) -> str:
        """The Pulled event after a pull that took `seconds` (`waited`: including the wait in the queue)."""
        total = seconds if waited is None else waited
        return (
            f'Successfully pulled image "{self.requested}" in {go_duration(seconds)} '
            f"({go_duration(total)} including waiting). Image size: {self.size} bytes."
        )

    @property
    def present_message(self) -> str:
        """The Pulled event when the image is already on the node (imagePullPolicy IfNotPresent)."""
        return f'Container image "{self.requested}" already present on machine'

    # -- start -------------------------------------------------------------------------------------------

    def start_check(self, container: Mapping[str, Any], pod: Mapping[str, Any], lookup: Lookup) -> ConfigProblem | None:
        """Why the container cannot be created, or None. Checks, in the kubelet's order: the pod's volumes
        (FailedMount), the container's env (CreateContainerConfigError), runAsNonRoot against the image's
        user."""
        return start_problem(as_map(container), as_map(pod), lookup, self.behaviour.user)

    # -- what the container sees ---------------------------------------------------------------------------

    def environment(
        self,
        container: Mapping[str, Any],
        pod: Mapping[str, Any],
        lookup: Lookup,
        *,
        pod_ip: str | None = None,
        host_ip: str | None = None,
        service_env: Mapping[str, str] | None = None,
        allocatable: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The process environment: the image's ENV, HOSTNAME, the service variables, then the container's
        own variables (envFrom, env with `$(VAR)` expansion, fieldRef, resourceFieldRef, key refs).
        References that cannot be resolved are left out; `start_check` reports them."""
        container, pod = as_map(container), as_map(pod)
        declared, _ = resolve_env(
            container,
            pod,
            Sources(lookup, pod_namespace(pod)),
            pod_ip=pod_ip,
            host_ip=host_ip,
            service_env=service_env,
            allocatable=allocatable,
        )
        context = self._context()
        image_env = {name: render(text, context) for name, text in self.behaviour.env.items()}
        return {**image_env, "HOSTNAME": pod_name(pod), **dict(service_env or {}), **declared}

    def files(
        self,
        container: Mapping[str, Any],
        pod: Mapping[str, Any],
        lookup: Lookup,
        *,
        env: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The container's files (absolute path -> content): the image's own files, hidden where a volume is
        mounted over them, plus the files of mounted ConfigMap/Secret/projected/downwardAPI volumes."""
        container, pod = as_map(container), as_map(pod)
        sources = Sources(lookup, pod_namespace(pod))
        mounted, mount_points = mounted_files(container, pod, sources, env or {})
        own = self._own_files(pod_name(pod))
        visible = {path: text for path, text in own.items() if not any(under(path, p) for p in mount_points)}
        return {**visible, **mounted}

    def config_values(self, container: Mapping[str, Any], pod: Mapping[str, Any], lookup: Lookup) -> dict[str, str]:
        """ConfigMap/Secret keys the container reads (key -> value), for `{config.KEY}` and `requires.config`:
        files of mounted volumes by file name, then envFrom keys, then env valueFrom key refs."""
        container, pod = as_map(container), as_map(pod)
        sources = Sources(lookup, pod_namespace(pod))
        mounted, _ = mounted_files(container, pod, sources, {})
        values = {posixpath.basename(path): content for path, content in mounted.items()}
        values.update(env_keys(container, sources))
        return values

    def plan(
        self,
        container: Mapping[str, Any],
        pod: Mapping[str, Any],
        lookup: Lookup,
        *,
        pod_ip: str | None = None,
        host_ip: str | None = None,
        service_env: Mapping[str, str] | None = None,
        allocatable: Mapping[str, str] | None = None,
    ) -> RunPlan:
        """`environment`, `files`, `config_values` and `run_plan` in one call."""
        env = self.environment(
            container,
            pod,
            lookup,
            pod_ip=pod_ip,
            host_ip=host_ip,
            service_env=service_env,
            allocatable=allocatable,
        )
        files = self.files(container, pod, lookup, env=env)
        config = self.config_values(container, pod, lookup)
        ip = pod_ip if pod_ip is not None else as_text(as_map(as_map(pod).get("status")).get("podIP"))
        return self.run_plan(env, container=container, pod=pod, files=files, config=config, pod_ip=ip)

    # -- running ---------------------------------------------------------------------------------------------

    def run_plan(
        self,
        env: Mapping[str, str],
        *,
        container: Mapping[str, Any] | None = None,
        pod: Mapping[str, Any] | None = None,
        files: Mapping[str, str] | None = None,
        config: Mapping[str, str] | None = None,
        pod_ip: str = "",
    ) -> RunPlan:
        """What a run does given its environment, files and config values (see `plan` for computing them).

        A `runs: command` image, or any image whose container command starts with a shell or a common
        utility (`sh -c ...`, `sleep 3600`), runs that command through the shell simulation."""
        container, pod = as_map(container), as_map(pod)
        name = pod_name(pod)
        files = dict(files) if files is not None else self._own_files(name)
        context = self._context(
            pod=name,
            namespace=pod_namespace(pod),
            node=as_text(as_map(pod.get("spec")).get("nodeName")),
            container=as_text(container.get("name")),
            pod_ip=pod_ip,
            env=dict(env),
            config=dict(config) if config is not None else {posixpath.basename(p): c for p, c in files.items()},
            files=files,
            ports=tuple(as_map(port) for port in as_list(container.get("ports"))),
        )
        return run_plan(self.behaviour, container, context, self)

    # -- HTTP --------------------------------------------------------------------------------------------

    def listens_on(self, port: int | None) -> bool:
        """True if the app accepts connections on `port` (None: on its own port)."""
        return http.listens_on(self.behaviour.http, port)

    @property
    def http_port(self) -> int | None:
        server = self.behaviour.http
        return server.port if server is not None else None

    def http_response(
        self,
        pod_name: str,
        env: Mapping[str, str],
        config: Mapping[str, str],
        *,
        path: str = "/",
        namespace: str = "default",
        files: Mapping[str, str] | None = None,
        port: int | None = None,
        pod_ip: str = "",
        method: str = "GET",
    ) -> tuple[int, str]:
        """(status, body) the container answers for a request to `path`; raises NotListening when it has no
        HTTP server on `port` (the client sees connection refused)."""
        request = self.http_request(
            pod_name, env, config, path=path, namespace=namespace, files=files, pod_ip=pod_ip, method=method
        )
        answer = self.http_answer(request, port=port)
        return answer.status, answer.body

    def http_answer(self, request: HttpRequest, *, port: int | None = None) -> HttpAnswer:
        """The full answer (status, body, headers) for a request built by `http_request`."""
        return http.answer(self.behaviour.http, self._addressed(request), port=port, server=self.requested)

    def http_request(
        self,
        pod_name: str,
        env: Mapping[str, str],
        config: Mapping[str, str],
        *,
        path: str = "/",
        namespace: str = "default",
        files: Mapping[str, str] | None = None,
        pod_ip: str = "",
        method: str = "GET",
        now: datetime | None = None,
    ) -> HttpRequest:
        """A request to this image's container; `files` defaults to the image's own files and `now` (for
        `{time}` in answers and access logs) to the current time."""
        context = self._context(
            pod=pod_name,
            namespace=namespace,
            pod_ip=pod_ip,
            env=env,
            config=config,
            files=files if files is not None else self._own_files(pod_name),
        )
        return HttpRequest(context, path=path, method=method, now=now)

    def access_log_line(
        self,
        request: HttpRequest,
        answer: HttpAnswer,
        *,
        client: str = "10.244.0.1",
        user_agent: str = "curl/8.5.0",
    ) -> str | None:
        """The log line the app writes for a request, if its catalogue entry has an `access_log`."""
        request = self._addressed(request)
        return http.access_log_line(self.behaviour.http, request, answer, client=client, user_agent=user_agent)

    # -- helpers -------------------------------------------------------------------------------------------

    def _identity(self) -> dict[str, str]:
        """What templates see of the image: `{image}`, `{version}` and `{tag}`."""
        return {"image": self.requested, "version": self.version, "tag": self.tag or self.reference.tag or ""}

    def _context(self, **fields: Any) -> Context:
        """A context of one of this image's containers."""
        return Context(**self._identity(), **fields)

    def _addressed(self, request: HttpRequest) -> HttpRequest:
        """`request` as this image's server sees it, whichever image built it."""
        return dataclasses.replace(request, context=dataclasses.replace(request.context, **self._identity()))

    def _own_files(self, pod: str) -> dict[str, str]:
        """The files the image ships, rendered for a container of pod `pod`."""
        context = self._context(pod=pod)
        return {path: render(text, context) for path, text in self.behaviour.files.items()}
