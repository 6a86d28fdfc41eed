"""`KubeClient`: the one client of a cluster's API, over the official `kubernetes` client, from a kubeconfig.

Checks read through it and the embedded GitOps agents write through it, so every backend is reached the same
way. Discovery is cached in memory and refreshed when a kind is not found (a CRD may have been added since);
misses within `DISCOVERY_REFRESH` seconds of a refresh share it. After a connection failure the kubeconfig is
read again on the next call, so a cluster that came back on another port is found. Every failure is a
`ClusterError` (see errors.py) whose message says what happened.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .api import ApiResource, resolve_in
from .errors import ApiError, ClusterError, Conflict, Expired, NotFound, Unreachable

if TYPE_CHECKING:
    from kubernetes.dynamic import DynamicClient

JSON = dict[str, Any]
DISCOVERY_REFRESH = 0.05
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 15.0
WATCH_SECONDS = 240

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


class KubeClient:
    """A cluster named by a kubeconfig file (and optionally one of its contexts). Safe to share between threads."""

    def __init__(self, kubeconfig: str | Path, context: str | None = None) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.context = context
        self._lock = threading.Lock()
        self._client: DynamicClient | None = None
        self._server = ""
        self._resources: list[ApiResource] | None = None
        self._discovered_at = 0.0

    # Connection -------------------------------------------------------------------------------------------

    @property
    def server(self) -> str:
        if not self._server:
            try:
                self._dynamic()
            except ClusterError:
                return str(self.kubeconfig)
        return self._server

    def namespace(self) -> str:
        """The kubeconfig context's namespace, as kubectl would use it, else `default`."""
        try:
            from kubernetes.config.kube_config import list_kube_config_contexts

            contexts, current = list_kube_config_contexts(config_file=str(self.kubeconfig))
            chosen = next((c for c in contexts if c.get("name") == self.context), None) if self.context else current
            return str(((chosen or {}).get("context") or {}).get("namespace") or "default")
        except Exception:
            return "default"

    def _dynamic(self) -> DynamicClient:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> DynamicClient:
        from kubernetes import client, config
        from kubernetes.dynamic import DynamicClient

        configuration = client.Configuration()
        try:
            config.load_kube_config(
                config_file=str(self.kubeconfig),
                context=self.context,
                client_configuration=configuration,
                persist_config=False,
            )
        except Exception as err:
            raise ClusterError(f"cannot use kubeconfig {self.kubeconfig}: {' '.join(str(err).split())}") from None
        configuration.retries = 1
        configuration.connection_pool_maxsize = 32
        self._server = configuration.host
        return DynamicClient(client.ApiClient(configuration), discoverer=_NoDiscovery)

    def forget(self) -> None:
        """Drop the connection: the next call reads the kubeconfig again."""
        with self._lock:
            self._client = None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.client.close()
            self._client = None

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """One API call (the raw response, unread), with every failure turned into a ClusterError."""
        from kubernetes.dynamic.exceptions import DynamicApiError

        dynamic = self._dynamic()
        params.setdefault("_request_timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        try:
            return dynamic.request(method, path, body=body, serialize=False, **params)
        except DynamicApiError as err:
            raise api_error(err) from None
        except ClusterError:
            raise
        except Exception as err:
            self.forget()
            raise Unreachable(f"cannot reach the cluster API at {self._server} ({reason(err)})") from None

    def json(self, method: str, path: str, body: Any = None, **params: Any) -> JSON:
        response = self.request(method, path, body, **params)
        try:
            data = json.loads(response.data)
        except ValueError:
            raise ClusterError(f"the API answered {path} with something that is not JSON") from None
        return data if isinstance(data, dict) else {}

    # Discovery --------------------------------------------------------------------------------------------

    def resolve(self, kind: str, api_version: str | None = None) -> ApiResource:
        """The resource type kubectl would pick for `kind` (optionally in `api_version`)."""
        try:
            return resolve_in(self._discovery(refresh=False), kind, api_version)
        except ClusterError:
            if time.monotonic() - self._discovered_at < DISCOVERY_REFRESH:
                raise
        return resolve_in(self._discovery(refresh=True), kind, api_version)

    def resource_of(self, obj: JSON) -> ApiResource:
        """The resource type of a manifest, by its apiVersion and kind."""
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api_version, str) or not kind or not api_version:
            raise ClusterError("an object without apiVersion and kind cannot be sent to the cluster")
        return self.resolve(kind, api_version)

    def resources(self) -> list[ApiResource]:
        return list(self._discovery(refresh=False))

    def _discovery(self, refresh: bool) -> list[ApiResource]:
        if self._resources is not None and not refresh:
            return self._resources
        found = self._discover()
        self._resources, self._discovered_at = found, time.monotonic()
        return found

    def _discover(self) -> list[ApiResource]:
        core = self.json("get", "/api").get("versions", [])
        found = [resource for version in core for resource in self._group_version("", version)]
        for group in self.json("get", "/apis").get("groups", []):
            name = group.get("name", "")
            preferred = (group.get("preferredVersion") or {}).get("version")
            versions = [v.get("version", "") for v in group.get("versions", [])]
            for version in sorted(versions, key=lambda v: v != preferred):
                found.extend(self._group_version(name, version))
        return found

    def _group_version(self, group: str, version: str) -> list[ApiResource]:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            listing = self.json("get", path).get("resources", [])
        except NotFound:
            return []
        return [
            ApiResource(
                group=group,
                version=version,
                kind=item.get("kind", ""),
                plural=item["name"],
                namespaced=bool(item.get("namespaced")),
                singular=item.get("singularName") or "",
                short_names=tuple(item.get("shortNames") or ()),
            )
            for item in listing
            if isinstance(item, dict) and "/" not in item.get("name", "/")
        ]

    # Objects ----------------------------------------------------------------------------------------------

    def get(self, resource: ApiResource, name: str, namespace: str | None = None) -> JSON | None:
        """One object, or None when it does not exist."""
        try:
            return self.json("get", object_path(resource, namespace, name))
        except NotFound:
            return None

    def list(
        self,
        resource: ApiResource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[JSON], str]:
        """The matching objects and the list's resourceVersion (to watch from)."""
        params = _selectors(label_selector, field_selector)
        try:
            body = self.json("get", object_path(resource, namespace), **params)
        except NotFound:
            return [], ""
        items = [item for item in body.get("items") or [] if isinstance(item, dict)]
        kind = resource.kind
        for item in items:  # lists leave apiVersion and kind out of their items
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", kind)
        return items, str((body.get("metadata") or {}).get("resourceVersion") or "")

    def apply(self, obj: JSON, field_manager: str, *, force: bool = True, dry_run: bool = False) -> JSON:
        """Server-side apply of a whole manifest, as `kubectl apply --server-side` does."""
        resource = self.resource_of(obj)
        metadata = obj.get("metadata") or {}
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise ClusterError(f"a {resource.kind} without metadata.name cannot be applied")
        params: dict[str, Any] = {"field_manager": field_manager, "force_conflicts": force}
        if dry_run:
            params["dry_run"] = "All"
        path = object_path(resource, metadata.get("namespace") if resource.namespaced else None, name)
        return self.json("patch", path, json.dumps(obj), content_type=PATCH_TYPES["apply"], **params)

    def patch(
        self,
        resource: ApiResource,
        name: str,
        namespace: str | None,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
        field_manager: str | None = None,
    ) -> JSON:
        path = object_path(resource, namespace, name) + (f"/{subresource}" if subresource else "")
        params: dict[str, Any] = {"field_manager": field_manager} if field_manager else {}
        # JSON bodies go as data: the kubernetes client serializes them (a string would be sent as a JSON string).
        return self.json("patch", path, patch, content_type=PATCH_TYPES[patch_type], **params)

    def create(self, obj: JSON, *, field_manager: str | None = None) -> JSON:
        resource = self.resource_of(obj)
        namespace = (obj.get("metadata") or {}).get("namespace") if resource.namespaced else None
        params: dict[str, Any] = {"field_manager": field_manager} if field_manager else {}
        return self.json("post", object_path(resource, namespace), obj, **params)

    def delete(
        self, resource: ApiResource, name: str, namespace: str | None = None, *, propagation: str = "Background"
    ) -> bool:
        """Delete one object; False when it was already gone."""
        try:
            self.json("delete", object_path(resource, namespace, name), propagation_policy=propagation)
        except NotFound:
            return False
        return True

    def watch(
        self,
        resource: ApiResource,
        namespace: str | None,
        resource_version: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> WatchStream:
        """Changes after `resource_version`, as (type, object) pairs; bookmarks included."""
        params: dict[str, Any] = {
            "watch": True,
            "allow_watch_bookmarks": True,
            "timeout_seconds": WATCH_SECONDS,
            "_request_timeout": (CONNECT_TIMEOUT, WATCH_SECONDS + 30),
            **_selectors(label_selector, field_selector),
        }
        if resource_version:
            params["resource_version"] = resource_version
        return WatchStream(self.request("get", object_path(resource, namespace), **params), self)


def object_path(resource: ApiResource, namespace: str | None, name: str | None = None) -> str:
    """The REST path of a collection (no name) or of one object."""
    base = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
    if resource.namespaced and namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{resource.plural}"
    return f"{base}/{name}" if name else base


def _selectors(label_selector: str | None, field_selector: str | None) -> dict[str, str]:
    params = {}
    if label_selector:
        params["label_selector"] = label_selector
    if field_selector:
        params["field_selector"] = field_selector
    return params


class _NoDiscovery:
    """DynamicClient builds a discoverer; ours lives in KubeClient (in memory), so this one does nothing."""

    def __init__(self, client: Any, cache_file: Any) -> None:
        self.client = client

    @property
    def version(self) -> dict[str, Any]:
        return {}


def api_error(err: Any) -> ClusterError:
    status, why, message = int(err.status or 0), str(getattr(err, "reason", "") or ""), status_message(err)
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        why = str(json.loads(err.body).get("reason") or why)
    if status == 404:
        return NotFound(status, why, message)
    if status == 409:
        return Conflict(status, why, message)
    if status == 410:
        return Expired(message)
    return ApiError(status, why, message)


def status_message(err: Any) -> str:
    try:
        body = json.loads(err.body)
        return str(body.get("message") or err.reason)
    except (TypeError, ValueError, AttributeError):
        return str(getattr(err, "reason", "") or "no message")


def reason(err: Exception) -> str:
    """A short reason for a failed connection: refused, timed out, or the first line of the error."""
    found = getattr(err, "reason", None)
    text = str(found or err)
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text.splitlines()[0][:200] if text else type(err).__name__


class WatchStream:
    """A watch response read line by line as (type, object); `close()` from another thread ends the iteration."""

    def __init__(self, response: Any, client: KubeClient) -> None:
        self._response = response
        self._client = client
        self._closed = False

    def __iter__(self) -> Iterator[tuple[str, JSON]]:
        from kubernetes.watch.watch import iter_resp_lines

        try:
            for line in iter_resp_lines(self._response):
                if self._closed:
                    return
                event = _event(line)
                if event is not None:
                    yield event
        except ClusterError:
            raise
        except Exception as err:
            if self._closed:
                return
            self._client.forget()
            raise Unreachable(f"the watch on the cluster API was cut ({reason(err)})") from None
        finally:
            self._release()

    def close(self) -> None:
        self._closed = True
        connection = getattr(self._response, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _release(self) -> None:
        try:
            self._response.close()
            self._response.release_conn()
        except Exception:
            pass


def _event(line: str) -> tuple[str, JSON] | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    obj = data.get("object") if isinstance(data.get("object"), dict) else {}
    if data.get("type") == "ERROR":
        code = obj.get("code")
        message = obj.get("message") or "watch error"
        raise Expired(message) if code == 410 else ClusterError(f"the watch failed: {message}")
    return str(data.get("type", "")), obj
