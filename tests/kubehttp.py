"""Raw HTTP to a cluster's API with what its kubeconfig grants: the server, its CA and a bearer token when present.

Tests and benchmarks that speak HTTP themselves (to see status codes, or to time the server without a client's
overhead) go through this, so they keep working whatever the kubeconfig requires.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import urllib3
import yaml


@dataclass
class KubeHTTP:
    server: str
    headers: dict[str, str] = field(default_factory=dict)
    pool: urllib3.PoolManager = field(default_factory=urllib3.PoolManager)

    @classmethod
    def from_kubeconfig(cls, text: str, maxsize: int = 10) -> KubeHTTP:
        """The current context's cluster and user, as kubectl would read them."""
        doc = yaml.safe_load(text)
        context_name = doc["current-context"]
        context = next(c["context"] for c in doc["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
        user = next((u.get("user") or {} for u in doc.get("users") or [] if u["name"] == context.get("user")), {})
        headers = {"Authorization": f"Bearer {user['token']}"} if user.get("token") else {}
        ca = cluster.get("certificate-authority-data")
        pool_args: dict[str, Any] = {"maxsize": maxsize}
        if ca:
            pool_args["ca_cert_data"] = base64.b64decode(ca).decode()
        return cls(cluster["server"], headers, urllib3.PoolManager(**pool_args))

    def url(self, path: str) -> str:
        return self.server + path

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None, **kw: Any
    ) -> urllib3.BaseHTTPResponse:
        data = body.encode() if isinstance(body, str) else body
        return self.pool.request(method, self.url(path), body=data, headers={**self.headers, **(headers or {})}, **kw)
