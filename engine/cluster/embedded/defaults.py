"""Server-side defaulting: the fields the real API server fills in, so stored objects read back as they would.

Built-in kinds follow the SetDefaults functions of the Kubernetes API groups, plus the few values that a real
server's create strategy or default admission plugins add (Namespace finalizers, Pod service account and
tolerations, Job selectors). Custom resources get the `default` values of their CRD's structural schema.

Every default is applied only where the field is absent (or null), with one exception the real server also
makes: the `kubernetes.io/metadata.name` label of a Namespace always carries the namespace's name.
Malformed input (a string where an object belongs) is left alone for validation to report.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .resources import ResourceType

Obj = dict[str, Any]

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_JOB_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
_MAX_INT32 = 2**31 - 1
_FILE_MODE = 0o644  # 420, the defaultMode of configMap, secret, projected and downwardAPI volumes


def apply_defaults(obj: Obj, rtype: ResourceType) -> Obj:
    """A defaulted copy of `obj`; the input is never modified."""
    out = copy.deepcopy(obj)
    if not isinstance(out, dict):
        return out
    if rtype.is_custom:
        if isinstance(rtype.crd_schema, dict):
            _schema_defaults(out, rtype.crd_schema)
        return out
    handler = _HANDLERS.get((rtype.group, rtype.kind))
    if handler is not None:
        handler(out)
    return out


# ---------------------------------------------------------------------------------------------------------
# Small helpers that tolerate malformed input


def _absent(d: Obj, key: str) -> bool:
    return d.get(key) is None


def _default(d: Obj, key: str, value: Any) -> Any:
    """Set `d[key]` to a copy of `value` when it is absent or null; return the resulting value."""
    if d.get(key) is None:
        d[key] = copy.deepcopy(value)
    return d[key]


def _dict(d: Any, key: str, create: bool = False) -> Obj | None:
    """`d[key]` when it is an object; created empty when absent and `create` is set; otherwise None."""
    if not isinstance(d, dict):
        return None
    value = d.get(key)
    if value is None and create:
        value = d[key] = {}
    return value if isinstance(value, dict) else None


def _dicts(d: Any, key: str) -> list[Obj]:
    """The object items of the list `d[key]`, skipping anything malformed."""
    if not isinstance(d, dict) or not isinstance(d.get(key), list):
        return []
    return [item for item in d[key] if isinstance(item, dict)]


# ---------------------------------------------------------------------------------------------------------
# Pods and pod templates


def image_pull_policy(image: Any) -> str:
    """`Always` for images tagged `latest` or untagged and undigested, else `IfNotPresent`."""
    if not isinstance(image, str):
        return "IfNotPresent"
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if not tag and not digest:
        tag = "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _probe(probe: Obj | None) -> None:
    if probe is None:
        return
    _default(probe, "timeoutSeconds", 1)
    _default(probe, "periodSeconds", 10)
    _default(probe, "successThreshold", 1)
    _default(probe, "failureThreshold", 3)
    _handler(probe)


def _handler(handler: Obj | None) -> None:
    http = _dict(handler, "httpGet")
    if http is not None:
        _default(http, "path", "/")
        _default(http, "scheme", "HTTP")


def _container(container: Obj) -> None:
    _default(container, "imagePullPolicy", image_pull_policy(container.get("image")))
    _default(container, "terminationMessagePath", "/dev/termination-log")
    _default(container, "terminationMessagePolicy", "File")
    _default(container, "resources", {})
    for port in _dicts(container, "ports"):
        _default(port, "protocol", "TCP")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(_dict(container, name))
    lifecycle = _dict(container, "lifecycle")
    for name in ("postStart", "preStop"):
        _handler(_dict(lifecycle, name))
    for env in _dicts(container, "env"):
        field_ref = _dict(_dict(env, "valueFrom"), "fieldRef")
        if field_ref is not None:
            _default(field_ref, "apiVersion", "v1")


def _volume(volume: Obj) -> None:
    sources = [key for key in volume if key != "name"]
    if not sources:
        volume["emptyDir"] = {}
    for kind in ("secret", "configMap", "projected", "downwardAPI"):
        source = _dict(volume, kind)
        if source is not None:
            _default(source, "defaultMode", _FILE_MODE)
    host_path = _dict(volume, "hostPath")
    if host_path is not None:
        _default(host_path, "type", "")


def _pod_spec(spec: Obj | None) -> None:
    if spec is None:
        return
    _default(spec, "dnsPolicy", "ClusterFirst")
    _default(spec, "restartPolicy", "Always")
    _default(spec, "securityContext", {})
    _default(spec, "terminationGracePeriodSeconds", 30)
    _default(spec, "schedulerName", "default-scheduler")
    for container in _dicts(spec, "containers") + _dicts(spec, "initContainers"):
        _container(container)
    for volume in _dicts(spec, "volumes"):
        _volume(volume)
    if spec.get("hostNetwork") is True:
        for container in _dicts(spec, "containers") + _dicts(spec, "initContainers"):
            for port in _dicts(container, "ports"):
                if _absent(port, "hostPort") and isinstance(port.get("containerPort"), int):
                    port["hostPort"] = port["containerPort"]


def _pod_template(template: Obj | None) -> None:
    _pod_spec(_dict(template, "spec"))


_DEFAULT_TOLERATIONS = (
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
)


def _tolerates(tolerations: list[Obj], key: str) -> bool:
    for toleration in tolerations:
        effect_ok = toleration.get("effect") in (None, "", "NoExecute")
        if effect_ok and (
            toleration.get("key") == key or (not toleration.get("key") and toleration.get("operator") == "Exists")
        ):
            return True
    return False


def _requests_from_limits(container: Obj) -> None:
    resources = _dict(container, "resources")
    limits = _dict(resources, "limits")
    if resources is None or not limits:
        return
    requests = _dict(resources, "requests", create=True)
    if requests is None:
        return
    for name, quantity in limits.items():
        requests.setdefault(name, quantity)


def _qos_class(spec: Obj) -> str:
    containers = _dicts(spec, "containers") + _dicts(spec, "initContainers")
    requests: list[Obj] = []
    limits: list[Obj] = []
    for container in containers:
        resources = _dict(container, "resources") or {}
        requests.append(_dict(resources, "requests") or {})
        limits.append(_dict(resources, "limits") or {})
    compute = ("cpu", "memory")
    if not any(name in r for r in requests + limits for name in compute):
        return "BestEffort"
    guaranteed = all(
        all(name in lim and str(req.get(name)) == str(lim[name]) for name in compute)
        for req, lim in zip(requests, limits, strict=True)
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _pod(pod: Obj) -> None:
    spec = _dict(pod, "spec")
    if spec is None:
        return
    for container in _dicts(spec, "containers") + _dicts(spec, "initContainers"):
        _requests_from_limits(container)
    _pod_spec(spec)
    _default(spec, "enableServiceLinks", True)
    _default(spec, "serviceAccountName", spec.get("serviceAccount") or "default")
    _default(spec, "serviceAccount", spec.get("serviceAccountName"))
    _default(spec, "priority", 0)
    _default(spec, "preemptionPolicy", "PreemptLowerPriority")
    tolerations = _default(spec, "tolerations", [])
    if isinstance(tolerations, list):
        valid = [t for t in tolerations if isinstance(t, dict)]
        for toleration in _DEFAULT_TOLERATIONS:
            if not _tolerates(valid, toleration["key"]):
                tolerations.append(dict(toleration))
    status = _dict(pod, "status", create=True)
    if status is not None and not status:
        status["phase"] = "Pending"
        status["qosClass"] = _qos_class(spec)


# ---------------------------------------------------------------------------------------------------------
# Workload controllers


def _deployment(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    _default(spec, "replicas", 1)
    strategy = _dict(spec, "strategy", create=True)
    if strategy is not None:
        _default(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = _dict(strategy, "rollingUpdate", create=True)
            if rolling is not None:
                _default(rolling, "maxUnavailable", "25%")
                _default(rolling, "maxSurge", "25%")
    _default(spec, "revisionHistoryLimit", 10)
    _default(spec, "progressDeadlineSeconds", 600)
    _pod_template(_dict(spec, "template"))


def _replica_set(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    _default(spec, "replicas", 1)
    _pod_template(_dict(spec, "template"))


def _stateful_set(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    _default(spec, "podManagementPolicy", "OrderedReady")
    strategy = _dict(spec, "updateStrategy", create=True)
    if strategy is not None:
        if _absent(strategy, "type"):
            strategy["type"] = "RollingUpdate"
            _default(strategy, "rollingUpdate", {})
        rolling = _dict(strategy, "rollingUpdate")
        if strategy["type"] == "RollingUpdate" and rolling is not None:
            _default(rolling, "partition", 0)
    retention = _dict(spec, "persistentVolumeClaimRetentionPolicy", create=True)
    if retention is not None:
        _default(retention, "whenDeleted", "Retain")
        _default(retention, "whenScaled", "Retain")
    _default(spec, "replicas", 1)
    _default(spec, "revisionHistoryLimit", 10)
    _pod_template(_dict(spec, "template"))
    for claim in _dicts(spec, "volumeClaimTemplates"):
        claim_spec = _dict(claim, "spec")
        if claim_spec is not None:
            _default(claim_spec, "volumeMode", "Filesystem")


def _daemon_set(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    strategy = _dict(spec, "updateStrategy", create=True)
    if strategy is not None:
        _default(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = _dict(strategy, "rollingUpdate", create=True)
            if rolling is not None:
                _default(rolling, "maxUnavailable", 1)
                _default(rolling, "maxSurge", 0)
    _default(spec, "revisionHistoryLimit", 10)
    _pod_template(_dict(spec, "template"))


def _job_selector(obj: Obj, spec: Obj) -> None:
    """The selector and pod labels the real server generates on create, keyed by the Job's uid."""
    meta = _dict(obj, "metadata") or {}
    uid, name = meta.get("uid"), meta.get("name")
    if spec.get("manualSelector") is True or not isinstance(uid, str) or not uid or not isinstance(name, str):
        return
    template = _dict(spec, "template", create=True)
    labels = _dict(_dict(template, "metadata", create=True), "labels", create=True)
    selector = _dict(spec, "selector", create=True)
    match_labels = _dict(selector, "matchLabels", create=True)
    if labels is None or match_labels is None:
        return
    for key, value in (
        (LEGACY_JOB_NAME_LABEL, name),
        (JOB_NAME_LABEL, name),
        (LEGACY_JOB_UID_LABEL, uid),
        (JOB_UID_LABEL, uid),
    ):
        labels.setdefault(key, value)
    match_labels.setdefault(JOB_UID_LABEL, uid)


def _job(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if _absent(spec, "completions") and _absent(spec, "parallelism"):
        spec["completions"] = 1
    _default(spec, "parallelism", 1)
    _default(spec, "backoffLimit", _MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6)
    _default(spec, "completionMode", "NonIndexed")
    _default(spec, "suspend", False)
    _default(spec, "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    template_labels = _dict(_dict(_dict(spec, "template"), "metadata"), "labels")
    meta = _dict(obj, "metadata")
    copy_labels = template_labels is not None and meta is not None and not meta.get("labels")
    _job_selector(obj, spec)
    if copy_labels and meta is not None:
        # The real server shares one label map between the Job and its template here.
        meta["labels"] = dict(_dict(_dict(_dict(spec, "template"), "metadata"), "labels") or {})
    _pod_template(_dict(spec, "template"))


def _cron_job(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    _default(spec, "concurrencyPolicy", "Allow")
    _default(spec, "suspend", False)
    _default(spec, "successfulJobsHistoryLimit", 3)
    _default(spec, "failedJobsHistoryLimit", 1)
    _pod_template(_dict(_dict(_dict(spec, "jobTemplate"), "spec"), "template"))


# ---------------------------------------------------------------------------------------------------------
# Core kinds


def _externally_accessible(spec: Obj) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def _service(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    affinity = _default(spec, "sessionAffinity", "None")
    if affinity == "None":
        spec.pop("sessionAffinityConfig", None)
    elif affinity == "ClientIP":
        config = _dict(_dict(spec, "sessionAffinityConfig"), "clientIP")
        if config is None or _absent(config, "timeoutSeconds"):
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    kind = _default(spec, "type", "ClusterIP")
    for port in _dicts(spec, "ports"):
        _default(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if _externally_accessible(spec):
        _default(spec, "externalTrafficPolicy", "Cluster")
    if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        _default(spec, "internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        _default(spec, "allocateLoadBalancerNodePorts", True)
    if kind != "ExternalName":
        _cluster_ips(spec)
        _default(spec, "ipFamilyPolicy", "SingleStack")
        _default(spec, "ipFamilies", ["IPv4"])
    _default(obj, "status", {"loadBalancer": {}})


def _cluster_ips(spec: Obj) -> None:
    """Keep `clusterIP` and `clusterIPs` in step when only one of them is given, as the server does."""
    cluster_ip, cluster_ips = spec.get("clusterIP"), spec.get("clusterIPs")
    if isinstance(cluster_ip, str) and cluster_ip and not cluster_ips:
        spec["clusterIPs"] = [cluster_ip]
    elif not cluster_ip and isinstance(cluster_ips, list) and cluster_ips and isinstance(cluster_ips[0], str):
        spec["clusterIP"] = cluster_ips[0]


def _endpoints(obj: Obj) -> None:
    for subset in _dicts(obj, "subsets"):
        for port in _dicts(subset, "ports"):
            _default(port, "protocol", "TCP")


def _secret(obj: Obj) -> None:
    _default(obj, "type", "Opaque")


def _namespace(obj: Obj) -> None:
    meta = _dict(obj, "metadata")
    name = meta.get("name") if meta is not None else None
    if isinstance(name, str) and name:
        labels = _dict(meta, "labels", create=True)
        if labels is not None:
            labels[NAMESPACE_NAME_LABEL] = name
    spec = _dict(obj, "spec", create=True)
    if spec is not None:
        _default(spec, "finalizers", ["kubernetes"])
    status = _dict(obj, "status", create=True)
    if status is not None:
        _default(status, "phase", "Active")


def _role_binding(obj: Obj) -> None:
    for subject in _dicts(obj, "subjects"):
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


def _crd(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    names = _dict(spec, "names")
    kind = names.get("kind") if names is not None else None
    if names is not None and isinstance(kind, str) and kind:
        _default(names, "singular", kind.lower())
        _default(names, "listKind", kind + "List")
    _default(spec, "conversion", {"strategy": "None"})


_HANDLERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "Endpoints"): _endpoints,
    ("", "Secret"): _secret,
    ("", "Namespace"): _namespace,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replica_set,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "DaemonSet"): _daemon_set,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cron_job,
    ("rbac.authorization.k8s.io", "RoleBinding"): _role_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _role_binding,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}


# ---------------------------------------------------------------------------------------------------------
# Custom resources: `default` values of the structural schema


def _schema_defaults(value: Any, schema: Obj) -> None:
    """Fill defaults into `value` in place, descending only into values that exist, as the server does."""
    if isinstance(value, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            for name, prop in props.items():
                if not isinstance(prop, dict):
                    continue
                if value.get(name) is None and "default" in prop and not (name in value and prop.get("nullable")):
                    value[name] = copy.deepcopy(prop["default"])
                if name in value:
                    _schema_defaults(value[name], prop)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                if not (isinstance(props, dict) and key in props):
                    _schema_defaults(item, extra)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in value:
                _schema_defaults(item, items)
