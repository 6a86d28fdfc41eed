"""The Kubernetes OpenAPI definitions, as shipped by the `kubernetes-validate` package.

They drive validation, strategic-merge-patch keys, the OpenAPI documents kubectl reads, and `kubectl explain`.
Loaded once, lazily, because the file is large and most requests never need it.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

KUBERNETES_VERSION = "1.37.0"
_SCHEMA_DIR = f"v{KUBERNETES_VERSION}-local"

Definition = dict[str, Any]


@functools.cache
def definitions() -> dict[str, Definition]:
    """All definitions keyed by their full name, e.g. `io.k8s.api.apps.v1.Deployment`."""
    # find_spec locates the package without importing it (importing pulls in jsonschema for nothing).
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kubernetes-validate package is not installed")
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema" / _SCHEMA_DIR
    with (root / "_definitions.json").open("rb") as handle:
        return json.load(handle)["$defs"]


@functools.cache
def _by_gvk() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, definition in definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


def name_for_gvk(group: str, version: str, kind: str) -> str | None:
    """The definition name for a group/version/kind, or None when Kubernetes has no such kind."""
    return _by_gvk().get((group, version, kind))


def ref_name(ref: str) -> str:
    """`#/$defs/io.k8s.api.core.v1.Pod` → `io.k8s.api.core.v1.Pod`."""
    return ref.rsplit("/", 1)[-1]


def resolve(schema: Definition) -> Definition:
    """Follow a `$ref` (possibly inside allOf) to the definition it names; other schemas come back as they are."""
    while True:
        if "$ref" in schema:
            schema = definitions()[ref_name(schema["$ref"])]
        elif len(schema.get("allOf", [])) == 1:
            schema = schema["allOf"][0]
        else:
            return schema


def child(schema: Definition | None, key: str | None) -> Definition | None:
    """The raw schema of field `key` (or of a list's items when `key` is None), or None when unknown.

    Raw, not resolved: the `x-kubernetes-patch-*` extensions sit on the field, not on the type it refers to.
    """
    if schema is None:
        return None
    schema = resolve(schema)
    if key is None:
        items = schema.get("items")
        return items if isinstance(items, dict) else None
    props = schema.get("properties")
    if props is not None and key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None
