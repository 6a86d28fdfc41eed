"""A Kustomization's spec with Flux's defaults applied, read once per reconcile.

Defaults as kustomize-controller computes them: `retryInterval` is `interval`; `timeout` is `interval − 30s`
and never below 30s; `deletionPolicy` is `MirrorPrune`; the source namespace is the Kustomization's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..controller import parse_duration
from ..objects import ObjectRef
from .errors import FluxError

JSON = dict[str, Any]

MIN_TIMEOUT = 30.0
DELETION_POLICIES = ("MirrorPrune", "Delete", "WaitForTermination", "Orphan")
GENERATOR_FIELDS = ("namePrefix", "nameSuffix", "patches", "images", "components")


@dataclass(frozen=True)
class SourceRef:
    kind: str
    name: str
    namespace: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Dependency:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class KustomizationSpec:
    source: SourceRef
    interval: float
    prune: bool
    path: str = "./"
    retry_interval: float | None = None
    timeout: float = MIN_TIMEOUT
    deletion_policy: str = "MirrorPrune"
    wait: bool = False
    health_checks: tuple[ObjectRef, ...] = ()
    target_namespace: str | None = None
    suspend: bool = False
    force: bool = False
    depends_on: tuple[Dependency, ...] = ()
    generator: JSON = field(default_factory=dict)  # namePrefix, patches, images... written into the kustomization
    common_metadata: JSON = field(default_factory=dict)

    @property
    def retry(self) -> float:
        return self.retry_interval if self.retry_interval is not None else self.interval

    def deletes_on_removal(self) -> bool:
        """Whether deleting the Kustomization deletes what it applied (suspension is checked by the caller)."""
        if self.deletion_policy == "MirrorPrune":
            return self.prune
        return self.deletion_policy in ("Delete", "WaitForTermination")


def parse(obj: JSON) -> KustomizationSpec:
    """The spec of Kustomization `obj`; FluxError when a field Flux needs is missing or malformed."""
    spec = obj.get("spec")
    namespace = str((obj.get("metadata") or {}).get("namespace") or "default")
    if not isinstance(spec, dict):
        raise FluxError("spec is required")
    interval = _duration(spec, "interval", None)
    timeout = _duration(spec, "timeout", max(interval - 30.0, MIN_TIMEOUT))
    policy = str(spec.get("deletionPolicy") or "MirrorPrune")
    if policy not in DELETION_POLICIES:
        raise FluxError(f"spec.deletionPolicy must be one of {', '.join(DELETION_POLICIES)}")
    return KustomizationSpec(
        source=_source(spec.get("sourceRef"), namespace),
        interval=interval,
        prune=spec.get("prune") is True,
        path=str(spec.get("path") or "./"),
        retry_interval=_duration(spec, "retryInterval", None) if spec.get("retryInterval") else None,
        timeout=max(timeout, MIN_TIMEOUT),
        deletion_policy=policy,
        wait=spec.get("wait") is True,
        health_checks=tuple(_health_check(item, namespace) for item in _list(spec, "healthChecks")),
        target_namespace=str(spec["targetNamespace"]) if spec.get("targetNamespace") else None,
        suspend=spec.get("suspend") is True,
        force=spec.get("force") is True,
        depends_on=tuple(_dependency(item, namespace) for item in _list(spec, "dependsOn")),
        generator={key: spec[key] for key in GENERATOR_FIELDS if key in spec},
        common_metadata=spec.get("commonMetadata") if isinstance(spec.get("commonMetadata"), dict) else {},
    )


def _duration(spec: JSON, key: str, default: float | None) -> float:
    try:
        return parse_duration(spec.get(key), default)
    except ValueError as err:
        raise FluxError(f"spec.{key}: {err}") from None


def _list(spec: JSON, key: str) -> list[Any]:
    value = spec.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise FluxError(f"spec.{key} must be a list")
    return value


def _source(value: Any, namespace: str) -> SourceRef:
    if not isinstance(value, dict) or not value.get("name") or not value.get("kind"):
        raise FluxError("spec.sourceRef needs a kind and a name")
    return SourceRef(str(value["kind"]), str(value["name"]), str(value.get("namespace") or namespace))


def _dependency(value: Any, namespace: str) -> Dependency:
    if not isinstance(value, dict) or not value.get("name"):
        raise FluxError("every spec.dependsOn entry needs a name")
    return Dependency(str(value.get("namespace") or namespace), str(value["name"]))


def _health_check(value: Any, namespace: str) -> ObjectRef:
    if not isinstance(value, dict) or not value.get("kind") or not value.get("name"):
        raise FluxError("every spec.healthChecks entry needs a kind and a name")
    api_version = str(value.get("apiVersion") or "")  # absent: found by kind alone
    group, _, version = api_version.rpartition("/")
    return ObjectRef(str(value.get("namespace") or namespace), str(value["name"]), group, str(value["kind"]), version)
