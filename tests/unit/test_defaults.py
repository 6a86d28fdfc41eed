"""Server-side defaults: what `kubectl get -o yaml` shows after a create, for built-in kinds and CRDs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cluster.embedded.defaults import apply_defaults, image_pull_policy
from engine.cluster.embedded.resources import BUILTIN, ResourceType, from_crd

TYPES = {rtype.kind: rtype for rtype in BUILTIN}

CONTAINER_DEFAULTS = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},
}
POD_SPEC_DEFAULTS = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
    "schedulerName": "default-scheduler",
}


def defaults(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return apply_defaults(obj, TYPES[kind])


def template(image: str = "nginx:1.25", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels or {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": image}]},
    }


def defaulted_template(image: str = "nginx:1.25", policy: str = "IfNotPresent") -> dict[str, Any]:
    container = {"name": "web", "image": image, "imagePullPolicy": policy, **CONTAINER_DEFAULTS}
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container], **POD_SPEC_DEFAULTS}}


def test_deployment_gets_every_default_the_real_server_sets() -> None:
    obj = {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}}
    assert defaults("Deployment", obj)["spec"] == {
        "selector": {"matchLabels": {"app": "web"}},
        "template": defaulted_template(),
        "replicas": 1,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }


def test_defaults_never_overwrite_given_values_and_never_touch_the_input() -> None:
    spec = {
        "replicas": 0,
        "revisionHistoryLimit": 2,
        "strategy": {"type": "Recreate"},
        "template": {
            "spec": {
                "restartPolicy": "Always",
                "dnsPolicy": "Default",
                "containers": [{"name": "c", "image": "i", "imagePullPolicy": "Never"}],
            }
        },
    }
    obj = {"metadata": {"name": "web"}, "spec": spec}
    before = copy.deepcopy(obj)
    out = defaults("Deployment", obj)
    assert obj == before
    assert out["spec"]["replicas"] == 0 and out["spec"]["revisionHistoryLimit"] == 2
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert out["spec"]["template"]["spec"]["dnsPolicy"] == "Default"
    assert out["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_null_counts_as_absent() -> None:
    out = defaults("Deployment", {"spec": {"replicas": None, "template": {"spec": {"containers": []}}}})
    assert out["spec"]["replicas"] == 1


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("registry.local:5000/team/app", "Always"),
        ("registry.local:5000/team/app:v2", "IfNotPresent"),
        ("nginx@sha256:0123456789abcdef", "IfNotPresent"),
        ("nginx:latest@sha256:0123456789abcdef", "Always"),
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy
    out = defaults("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": image}]}})
    assert out["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_pod_gets_spec_defaults_admission_values_and_pending_status() -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx:1.25",
                    "ports": [{"containerPort": 80}],
                    "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                }
            ]
        },
    }
    out = defaults("Pod", pod)
    spec = out["spec"]
    assert {key: spec[key] for key in POD_SPEC_DEFAULTS} == POD_SPEC_DEFAULTS
    container = spec["containers"][0]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "128Mi"}
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert spec["enableServiceLinks"] is True and spec["priority"] == 0
    assert spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert [t["key"] for t in spec["tolerations"]] == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
    assert all(t["tolerationSeconds"] == 300 and t["effect"] == "NoExecute" for t in spec["tolerations"])
    assert out["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}


def test_pod_qos_class_and_existing_tolerations() -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "100m"}}}],
            "tolerations": [{"operator": "Exists"}],
        },
    }
    out = defaults("Pod", pod)
    assert out["status"]["qosClass"] == "Burstable"
    assert out["spec"]["tolerations"] == [{"operator": "Exists"}]
    best_effort = defaults("Pod", {"spec": {"containers": [{"name": "c", "image": "i"}]}})
    assert best_effort["status"]["qosClass"] == "BestEffort"


def test_probes_volumes_and_env_defaults() -> None:
    container = {
        "name": "c",
        "image": "i",
        "livenessProbe": {"httpGet": {"port": 8080}},
        "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
    }
    spec = {
        "containers": [container],
        "volumes": [
            {"name": "scratch"},
            {"name": "cfg", "configMap": {"name": "cfg"}},
            {"name": "keys", "secret": {"secretName": "keys"}},
        ],
    }
    out = defaults("Pod", {"spec": spec})["spec"]
    probe = out["containers"][0]["livenessProbe"]
    assert probe == {
        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert out["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert out["volumes"] == [
        {"name": "scratch", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}},
        {"name": "keys", "secret": {"secretName": "keys", "defaultMode": 420}},
    ]


def test_replica_set_stateful_set_and_daemon_set() -> None:
    rs = defaults("ReplicaSet", {"spec": {"template": template()}})
    assert rs["spec"]["replicas"] == 1 and rs["spec"]["template"] == defaulted_template()
    sts = defaults("StatefulSet", {"spec": {"template": template(), "volumeClaimTemplates": [{"spec": {}}]}})
    assert {key: value for key, value in sts["spec"].items() if key not in ("template", "volumeClaimTemplates")} == {
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "replicas": 1,
        "revisionHistoryLimit": 10,
    }
    assert sts["spec"]["volumeClaimTemplates"] == [{"spec": {"volumeMode": "Filesystem"}}]
    ds = defaults("DaemonSet", {"spec": {"template": template()}})
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert ds["spec"]["revisionHistoryLimit"] == 10
    on_delete = defaults("DaemonSet", {"spec": {"updateStrategy": {"type": "OnDelete"}}})
    assert on_delete["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_job_defaults_and_generated_selector() -> None:
    job = {
        "metadata": {"name": "pi", "uid": "1234"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "pi"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5.34"}]},
            }
        },
    }
    out = defaults("Job", job)
    spec = out["spec"]
    assert {
        key: spec[key]
        for key in ("completions", "parallelism", "backoffLimit", "completionMode", "suspend", "podReplacementPolicy")
    } == {
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed",
    }
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}}
    labels = {
        "app": "pi",
        "job-name": "pi",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "1234",
        "batch.kubernetes.io/controller-uid": "1234",
    }
    assert spec["template"]["metadata"]["labels"] == labels
    assert out["metadata"]["labels"] == labels
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_job_parallelism_alone_leaves_completions_unset_and_manual_selector_is_kept() -> None:
    job = {
        "metadata": {"name": "w", "uid": "1"},
        "spec": {"parallelism": 3, "manualSelector": True, "selector": {"matchLabels": {"a": "b"}}},
    }
    spec = defaults("Job", job)["spec"]
    assert "completions" not in spec and spec["parallelism"] == 3
    assert spec["selector"] == {"matchLabels": {"a": "b"}}


def test_cron_job_defaults_only_pod_fields_inside_the_job_template() -> None:
    cron = {
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}
                    }
                }
            },
        }
    }
    spec = defaults("CronJob", cron)["spec"]
    assert {
        key: spec[key]
        for key in ("concurrencyPolicy", "suspend", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")
    } == {"concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    job_spec = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec
    assert job_spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_cluster_ip_service_defaults() -> None:
    svc = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]},
    }
    out = defaults("Service", svc)
    assert out["spec"] == {
        "selector": {"app": "web"},
        "ports": [
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"port": 443, "targetPort": "https", "protocol": "TCP"},
        ],
        "sessionAffinity": "None",
        "type": "ClusterIP",
        "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
    }
    assert "clusterIP" not in out["spec"]
    assert out["status"] == {"loadBalancer": {}}


def test_node_port_load_balancer_external_name_and_client_ip_services() -> None:
    node_port = defaults("Service", {"spec": {"type": "NodePort", "ports": [{"port": 80}]}})["spec"]
    assert node_port["externalTrafficPolicy"] == "Cluster"
    balancer = defaults("Service", {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})["spec"]
    assert balancer["allocateLoadBalancerNodePorts"] is True
    external = defaults("Service", {"spec": {"type": "ExternalName", "externalName": "db.example.com"}})["spec"]
    assert external == {"type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None"}
    sticky = defaults("Service", {"spec": {"sessionAffinity": "ClientIP", "ports": [{"port": 80}]}})["spec"]
    assert sticky["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    given_ip = defaults("Service", {"spec": {"clusterIP": "10.96.0.20", "ports": [{"port": 80}]}})["spec"]
    assert given_ip["clusterIPs"] == ["10.96.0.20"]


def test_secret_namespace_and_role_binding() -> None:
    assert defaults("Secret", {"metadata": {"name": "s"}})["type"] == "Opaque"
    assert defaults("Secret", {"type": "kubernetes.io/tls"})["type"] == "kubernetes.io/tls"
    namespace = defaults(
        "Namespace", {"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "other"}}}
    )
    assert namespace == {
        "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    binding = defaults(
        "RoleBinding", {"subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "default"}]}
    )
    assert binding["subjects"] == [
        {"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"},
        {"kind": "ServiceAccount", "name": "default"},
    ]


def test_crd_names_and_conversion() -> None:
    crd = defaults("CustomResourceDefinition", {"spec": {"names": {"kind": "Widget", "plural": "widgets"}}})
    assert crd["spec"]["names"] == {
        "kind": "Widget",
        "plural": "widgets",
        "singular": "widget",
        "listKind": "WidgetList",
    }
    assert crd["spec"]["conversion"] == {"strategy": "None"}


def widget_type(schema: dict[str, Any]) -> ResourceType:
    crd = {
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        }
    }
    return from_crd(crd)[0]


WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "default": 1},
                "color": {"type": "string", "default": "red"},
                "limits": {"type": "object", "default": {"cpu": "1"}, "properties": {"cpu": {"type": "string"}}},
                "probe": {"type": "object", "properties": {"period": {"type": "integer", "default": 10}}},
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"protocol": {"type": "string", "default": "TCP"}, "port": {"type": "integer"}},
                    },
                },
            },
        }
    },
}


def test_custom_resources_get_schema_defaults_only_inside_existing_objects() -> None:
    widget = widget_type(WIDGET_SCHEMA)
    out = apply_defaults({"metadata": {"name": "w"}, "spec": {"color": "blue", "ports": [{"port": 80}]}}, widget)
    assert out["spec"] == {
        "color": "blue",
        "ports": [{"port": 80, "protocol": "TCP"}],
        "size": 1,
        "limits": {"cpu": "1"},
    }
    assert "probe" not in out["spec"]
    assert apply_defaults({"metadata": {"name": "w"}}, widget) == {"metadata": {"name": "w"}}
    assert apply_defaults({"spec": {"size": None}}, widget)["spec"]["size"] == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "spec",
                    "metadata",
                    "template",
                    "containers",
                    "ports",
                    "strategy",
                    "selector",
                    "type",
                    "name",
                    "image",
                    "jobTemplate",
                    "updateStrategy",
                    "subjects",
                    "status",
                    "labels",
                    "volumes",
                    "rollingUpdate",
                    "resources",
                    "limits",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=25,
)


@pytest.mark.parametrize("kind", sorted(TYPES))
@settings(max_examples=60, deadline=None)
@given(obj=json_values)
def test_malformed_objects_never_break_defaulting(kind: str, obj: Any) -> None:
    before = copy.deepcopy(obj)
    apply_defaults(obj, TYPES[kind])
    assert obj == before
