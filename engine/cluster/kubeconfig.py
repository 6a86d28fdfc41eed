"""Kubeconfig documents for driftlab clusters: context `driftlab-<name>`, as `kind get kubeconfig` would print."""

from __future__ import annotations

import yaml


def context_name(cluster: str) -> str:
    return f"driftlab-{cluster}"


def render(cluster: str, server: str, namespace: str = "default") -> str:
    context = context_name(cluster)
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": server}}],
        "users": [{"name": context, "user": {}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
        "current-context": context,
    }
    return yaml.safe_dump(doc, sort_keys=False)
