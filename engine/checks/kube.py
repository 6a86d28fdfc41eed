"""`Reader` over the official `kubernetes` client (DynamicClient), from a kubeconfig path.

Discovery is cached in memory and refreshed when a kind is not found (a CRD may have been added since);
misses within `DISCOVERY_REFRESH` seconds of a refresh share it. After a connection failure the kubeconfig is
read again on the next call, so a cluster that came back on another port is found.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .reader import JSON, ApiResource, Expired, Read, ReadError, Unreachable, WatchEvent, resolve_in

if TYPE_CHECKING:
    from kubernetes.dynamic import DynamicClient

DISCOVERY_REFRESH = 0.05
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 15.0
WATCH_SECONDS = 240


class KubeReader:
    """Reads a cluster named by a kubeconfig file (and optionally one of its contexts)."""

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
            except ReadError:
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
            raise ReadError(f"cannot use kubeconfig {self.kubeconfig}: {err}") from None
        configuration.retries = 1
        configuration.connection_pool_maxsize = 32
        self._server = configuration.host
        return DynamicClient(client.ApiClient(configuration), discoverer=_NoDiscovery)

    def _forget(self) -> None:
        with self._lock:
            self._client = None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.client.close()
            self._client = None

    def _request(self, method: str, path: str, **params: Any) -> Any:
        """One API call, with every failure turned into a ReadError that says what happened."""
        from kubernetes.dynamic.exceptions import DynamicApiError

        dynamic = self._dynamic()
        params.setdefault("_request_timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        try:
            return dynamic.request(method, path, **params)
        except DynamicApiError as err:
            raise _api_error(err) from None
        except ReadError:
            raise
        except Exception as err:
            self._forget()
            raise Unreachable(f"cannot reach the cluster API at {self._server} ({_reason(err)})") from None

    # Discovery --------------------------------------------------------------------------------------------

    def resolve(self, kind: str, api_version: str | None = None) -> ApiResource:
        resources = self._discovery(refresh=False)
        try:
            return resolve_in(resources, kind, api_version)
        except ReadError:
            if time.monotonic() - self._discovered_at < DISCOVERY_REFRESH:
                raise
        return resolve_in(self._discovery(refresh=True), kind, api_version)

    def resources(self) -> list[ApiResource]:
        return list(self._discovery(refresh=False))

    def _discovery(self, refresh: bool) -> list[ApiResource]:
        if self._resources is not None and not refresh:
            return self._resources
        found = self._discover()
        self._resources, self._discovered_at = found, time.monotonic()
        return found

    def _discover(self) -> list[ApiResource]:
        found = [r for version in self._json("/api").get("versions", []) for r in self._group_version("", version)]
        for group in self._json("/apis").get("groups", []):
            name = group.get("name", "")
            preferred = (group.get("preferredVersion") or {}).get("version")
            versions = [v.get("version", "") for v in group.get("versions", [])]
            for version in sorted(versions, key=lambda v: v != preferred):
                found.extend(self._group_version(name, version))
        return found

    def _group_version(self, group: str, version: str) -> list[ApiResource]:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        listing = self._json(path).get("resources", [])
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

    def _json(self, path: str, **params: Any) -> JSON:
        response = self._request("get", path, serialize=False, **params)
        try:
            body = json.loads(response.data)
        except ValueError:
            raise ReadError(f"the API answered {path} with something that is not JSON") from None
        return body if isinstance(body, dict) else {}

    # Objects ----------------------------------------------------------------------------------------------

    def fetch(self, read: Read) -> list[JSON]:
        by_name = read.name and not read.label_selector and not read.field_selector
        if by_name and (read.namespace is not None or not read.resource.namespaced):
            try:
                return [self._json(_path(read, with_name=True))]
            except _NotFound:
                return []
        items = self._list(read).get("items") or []
        return [item for item in items if isinstance(item, dict)]

    def _list(self, read: Read) -> JSON:
        try:
            return self._json(_path(read), **_selectors(read))
        except _NotFound:
            return {"items": []}

    def list_version(self, read: Read) -> str:
        metadata = self._list(read).get("metadata") or {}
        return str(metadata.get("resourceVersion") or "")

    def watch(self, read: Read, resource_version: str) -> _Stream:
        params = {
            "watch": True,
            "allow_watch_bookmarks": True,
            "timeout_seconds": WATCH_SECONDS,
            "_request_timeout": (CONNECT_TIMEOUT, WATCH_SECONDS + 30),
            **_selectors(read),
        }
        if resource_version:
            params["resource_version"] = resource_version
        response = self._request("get", _path(read), serialize=False, **params)
        return _Stream(response, self)


class _NotFound(ReadError):
    pass


class _NoDiscovery:
    """DynamicClient builds a discoverer; ours lives in KubeReader (in memory), so this one does nothing."""

    def __init__(self, client: Any, cache_file: Any) -> None:
        self.client = client

    @property
    def version(self) -> dict[str, Any]:
        return {}


def _path(read: Read, with_name: bool = False) -> str:
    resource = read.resource
    base = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
    if resource.namespaced and read.namespace:
        base += f"/namespaces/{read.namespace}"
    base += f"/{resource.plural}"
    return f"{base}/{read.name}" if with_name and read.name else base


def _selectors(read: Read) -> dict[str, str]:
    params = {}
    if read.label_selector:
        params["label_selector"] = read.label_selector
    fields = read.selector_for_list()
    if fields:
        params["field_selector"] = fields
    return params


def _api_error(err: Any) -> ReadError:
    message = _status_message(err)
    if err.status == 404:
        return _NotFound(message)
    if err.status == 410:
        return Expired(message)
    if err.status in (401, 403):
        return ReadError(f"the cluster refused to show this ({err.status}): {message}")
    return ReadError(f"the cluster API answered {err.status}: {message}")


def _status_message(err: Any) -> str:
    try:
        body = json.loads(err.body)
        return str(body.get("message") or err.reason)
    except (TypeError, ValueError, AttributeError):
        return str(getattr(err, "reason", "") or "no message")


def _reason(err: Exception) -> str:
    reason = getattr(err, "reason", None)
    text = str(reason or err)
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text.splitlines()[0][:200] if text else type(err).__name__


class _Stream:
    """A watch response read line by line; `close()` shuts the socket down so a blocked read returns."""

    def __init__(self, response: Any, reader: KubeReader) -> None:
        self._response = response
        self._reader = reader
        self._closed = False

    def __iter__(self) -> Iterator[WatchEvent]:
        from kubernetes.watch.watch import iter_resp_lines

        try:
            for line in iter_resp_lines(self._response):
                if self._closed:
                    return
                event = _event(line)
                if event is not None:
                    yield event
        except ReadError:
            raise
        except Exception as err:
            if self._closed:
                return
            self._reader._forget()
            raise Unreachable(f"the watch on the cluster API was cut ({_reason(err)})") from None
        finally:
            self._release()

    def close(self) -> None:
        self._closed = True
        import socket

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


def _event(line: str) -> WatchEvent | None:
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
        raise Expired(message) if code == 410 else ReadError(f"the watch failed: {message}")
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return WatchEvent(str(data.get("type", "")), str(version) if version else None)
