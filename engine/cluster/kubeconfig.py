"""Kubeconfig documents for driftlab clusters: context `driftlab-<name>`, as `kind get kubeconfig` would print."""

from __future__ import annotations

import base64

import yaml


def context_name(cluster: str) -> str:
    return f"driftlab-{cluster}"


def render(
    cluster: str, server: str, namespace: str = "default", *, ca_pem: bytes | None = None, token: str | None = None
) -> str:
    """A kubeconfig whose one context reaches `server`, trusting `ca_pem` (PEM) and sending `token` when given."""
    context = context_name(cluster)
    entry: dict[str, str] = {"server": server}
    if ca_pem:
        entry["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    user: dict[str, str] = {"token": token} if token else {}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": entry}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
        "current-context": context,
    }
    return yaml.safe_dump(doc, sort_keys=False)
