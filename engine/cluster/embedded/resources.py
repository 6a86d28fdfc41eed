"""What the embedded API server serves: one ResourceType per REST resource, built-in or from a CRD."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # Built-in kinds: the OpenAPI definition name. Custom resources: the CRD's openAPIV3Schema instead.
    definition: str | None = None
    crd_schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    scale_paths: dict[str, str] | None = field(default=None, compare=False, hash=False)
    # Set for an API group a real cluster serves through an add-on the embedded cluster lacks: every request
    # is answered 503 with this message, so kubectl says why instead of "the server doesn't have a resource".
    unavailable: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def is_custom(self) -> bool:
        return self.definition is None

    @property
    def qualified(self) -> str:
        """`deployments.apps`, as the real server names a resource in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _builtin(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    all_category: bool = False,
    subresources: tuple[str, ...] = (),
    definition: str = "",
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short,
        categories=("all",) if all_category else (),
        subresources=subresources,
        definition=definition,
    )


_CORE = "io.k8s.api.core.v1"
_APPS = "io.k8s.api.apps.v1"
_BATCH = "io.k8s.api.batch.v1"
_RBAC = "io.k8s.api.rbac.v1"

BUILTIN: tuple[ResourceType, ...] = (
    _builtin(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        subresources=("status", "finalize"),
        definition=f"{_CORE}.Namespace",
    ),
    _builtin(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        ("po",),
        True,
        ("status", "log", "exec", "attach", "portforward", "binding", "eviction", "ephemeralcontainers"),
        f"{_CORE}.Pod",
    ),
    _builtin("", "v1", "Service", "services", True, ("svc",), True, ("status", "proxy"), f"{_CORE}.Service"),
    _builtin("", "v1", "Endpoints", "endpoints", True, ("ep",), definition=f"{_CORE}.Endpoints"),
    _builtin("", "v1", "ConfigMap", "configmaps", True, ("cm",), definition=f"{_CORE}.ConfigMap"),
    _builtin("", "v1", "Secret", "secrets", True, definition=f"{_CORE}.Secret"),
    _builtin("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), definition=f"{_CORE}.ServiceAccount"),
    _builtin("", "v1", "Event", "events", True, ("ev",), definition=f"{_CORE}.Event"),
    _builtin(
        "",
        "v1",
        "Node",
        "nodes",
        False,
        ("no",),
        subresources=("status", "proxy"),
        definition=f"{_CORE}.Node",
    ),
    _builtin(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        ("deploy",),
        True,
        ("status", "scale"),
        f"{_APPS}.Deployment",
    ),
    _builtin(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        True,
        ("rs",),
        True,
        ("status", "scale"),
        f"{_APPS}.ReplicaSet",
    ),
    _builtin(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        True,
        ("sts",),
        True,
        ("status", "scale"),
        f"{_APPS}.StatefulSet",
    ),
    _builtin("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), True, ("status",), f"{_APPS}.DaemonSet"),
    _builtin("batch", "v1", "Job", "jobs", True, (), True, ("status",), f"{_BATCH}.Job"),
    _builtin("batch", "v1", "CronJob", "cronjobs", True, ("cj",), True, ("status",), f"{_BATCH}.CronJob"),
    _builtin(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        True,
        ("ing",),
        subresources=("status",),
        definition="io.k8s.api.networking.v1.Ingress",
    ),
    _builtin(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        definition="io.k8s.api.discovery.v1.EndpointSlice",
    ),
    _builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", definition=f"{_RBAC}.Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", definition=f"{_RBAC}.RoleBinding"),
    _builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        False,
        definition=f"{_RBAC}.ClusterRole",
    ),
    _builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        False,
        definition=f"{_RBAC}.ClusterRoleBinding",
    ),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        subresources=("status",),
        definition="io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    ),
)


_NO_METRICS = (
    "the embedded cluster has no metrics server, so there are no CPU or memory figures to show; "
    "a cluster started with the kind backend (--backend kind) can run metrics-server"
)

UNAVAILABLE: tuple[ResourceType, ...] = (
    ResourceType(
        "metrics.k8s.io", "v1beta1", "PodMetrics", "pods", "pods", True, verbs=("get", "list"), unavailable=_NO_METRICS
    ),
    ResourceType(
        "metrics.k8s.io",
        "v1beta1",
        "NodeMetrics",
        "nodes",
        "nodes",
        False,
        verbs=("get", "list"),
        unavailable=_NO_METRICS,
    ),
)


def from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource types a CustomResourceDefinition serves: one per served version."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    types = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        sub = version.get("subresources") or {}
        subresources = tuple(name for name in ("status", "scale") if name in sub)
        scale = sub.get("scale")
        types.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version["name"],
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                singular=names.get("singular") or names.get("kind", "").lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=subresources,
                crd_schema=(version.get("schema") or {}).get("openAPIV3Schema") or {},
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                scale_paths=scale,
            )
        )
    return types
