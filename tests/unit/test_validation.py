"""Validation with the real API server's rules: status codes, causes and exact messages."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cluster.embedded.resources import BUILTIN, ResourceType, from_crd
from engine.cluster.embedded.validation import (
    BadRequest,
    Cause,
    Invalid,
    canonical_quantity,
    cron_schedule_error,
    decode_json,
    parse_quantity,
    validate,
)

TYPES = {rtype.kind: rtype for rtype in BUILTIN}

SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_RULE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def ok(kind: str | ResourceType, obj: Any, **kwargs: Any) -> tuple[dict[str, Any], list[str]]:
    rtype = TYPES[kind] if isinstance(kind, str) else kind
    return validate(obj, rtype, **kwargs)


def invalid(kind: str | ResourceType, obj: Any, **kwargs: Any) -> Invalid:
    with pytest.raises(Invalid) as caught:
        ok(kind, obj, **kwargs)
    return caught.value


def bad_request(kind: str | ResourceType, obj: Any, **kwargs: Any) -> str:
    with pytest.raises(BadRequest) as caught:
        ok(kind, obj, **kwargs)
    return caught.value.message


def deployment(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]},
        },
    }
    body.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": body,
    }


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": list(containers) or [{"name": "web", "image": "nginx"}], **spec},
    }


# -----------------------------------------------------------------------------------------------------------
# The shape of errors


def test_selector_mismatch_message_and_status() -> None:
    obj = deployment()
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    error = invalid("Deployment", obj)
    assert error.message == (
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        '{"app":"x"}: `selector` does not match template `labels`'
    )
    assert error.causes == [
        Cause(
            "FieldValueInvalid",
            'Invalid value: {"app":"x"}: `selector` does not match template `labels`',
            "spec.template.metadata.labels",
        )
    ]
    assert error.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": error.message,
        "reason": "Invalid",
        "code": 422,
        "details": {
            "name": "web",
            "group": "apps",
            "kind": "Deployment",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "field": "spec.template.metadata.labels",
                    "message": 'Invalid value: {"app":"x"}: `selector` does not match template `labels`',
                }
            ],
        },
    }


def test_several_causes_are_bracketed_in_order() -> None:
    obj = deployment()
    del obj["spec"]["selector"]
    del obj["spec"]["template"]["spec"]["containers"][0]["image"]
    error = invalid("Deployment", obj)
    assert error.message == (
        'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.template.metadata.labels: '
        'Invalid value: {"app":"web"}: `selector` does not match template `labels`, '
        "spec.template.spec.containers[0].image: Required value]"
    )
    assert [cause.reason for cause in error.causes] == ["FieldValueRequired", "FieldValueInvalid", "FieldValueRequired"]


def test_core_kinds_have_no_group_in_the_message() -> None:
    error = invalid("ConfigMap", {"metadata": {"name": "Not_A_Name"}})
    assert (
        error.message == f'ConfigMap "Not_A_Name" is invalid: metadata.name: Invalid value: "Not_A_Name": '
        f"{SUBDOMAIN_RULE}"
    )
    assert "group" not in error.status()["details"]


def test_bad_request_status() -> None:
    with pytest.raises(BadRequest) as caught:
        ok("Deployment", deployment(replicas="3"))
    assert caught.value.status()["code"] == 400 and caught.value.status()["reason"] == "BadRequest"


# -----------------------------------------------------------------------------------------------------------
# Names, labels and metadata


def test_name_rules_per_kind() -> None:
    assert invalid("Namespace", {"metadata": {"name": "team.a"}}).message == (
        'Namespace "team.a" is invalid: metadata.name: Invalid value: "team.a": must not contain dots'
    )
    assert invalid("Service", {"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}}).message == (
        f'Service "1svc" is invalid: metadata.name: Invalid value: "1svc": {DNS1035_RULE}'
    )
    assert invalid("Role", {"metadata": {"name": "a/b", "namespace": "default"}}).message == (
        'Role.rbac.authorization.k8s.io "a/b" is invalid: metadata.name: Invalid value: "a/b": may not contain \'/\''
    )
    ok("Deployment", deployment() | {"metadata": {"name": "web.v2", "namespace": "default"}})


def test_missing_name_and_long_names() -> None:
    assert invalid("ConfigMap", {"metadata": {}}).message == (
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    )
    ok("ConfigMap", {"metadata": {"generateName": "cfg-"}})
    long_label = "a" * 64
    assert invalid("Namespace", {"metadata": {"name": long_label}}).causes[0].message == (
        f'Invalid value: "{long_label}": must be no more than 63 characters'
    )


def test_label_keys_and_values() -> None:
    obj = {
        "metadata": {
            "name": "c",
            "labels": {"example.com/tier": "web", "bad key": "ok", "app": "web!", "a/b/c": "x", "/x": "y"},
        }
    }
    messages = [str(cause) for cause in invalid("ConfigMap", obj).causes]
    assert messages == [
        'metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
        "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        'metadata.labels: Invalid value: "web!": a valid label must be an empty string or consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        'metadata.labels: Invalid value: "a/b/c": a valid label key must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
        "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        'metadata.labels: Invalid value: "/x": prefix part must be non-empty',
    ]


def test_annotations_finalizers_and_owner_references() -> None:
    obj = {
        "metadata": {
            "name": "c",
            "annotations": {"Note!": "x"},
            "finalizers": ["bad finalizer"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"}],
        }
    }
    fields = [cause.field for cause in invalid("ConfigMap", obj).causes]
    assert fields == ["metadata.annotations", "metadata.ownerReferences.uid", "metadata.finalizers"]


def test_metadata_is_immutable_on_update() -> None:
    old, _ = ok("ConfigMap", {"metadata": {"name": "c", "namespace": "default", "uid": "u-1"}})
    changed = copy.deepcopy(old)
    changed["metadata"].update(name="d", uid="u-2")
    assert invalid("ConfigMap", changed, old=old).message == (
        'ConfigMap "d" is invalid: [metadata.name: Invalid value: "d": field is immutable, '
        'metadata.uid: Invalid value: "u-2": field is immutable]'
    )
    moved = copy.deepcopy(old)
    moved["metadata"]["namespace"] = "other"
    assert str(invalid("ConfigMap", moved, old=old).causes[0]) == (
        'metadata.namespace: Invalid value: "other": field is immutable'
    )
    without_uid = copy.deepcopy(old)
    del without_uid["metadata"]["uid"]
    assert ok("ConfigMap", without_uid, old=old)[0]["metadata"]["uid"] == "u-1"


def test_cluster_scoped_objects_lose_a_namespace() -> None:
    out, _ = ok("Namespace", {"metadata": {"name": "team-a", "namespace": "default"}})
    assert "namespace" not in out["metadata"]


# -----------------------------------------------------------------------------------------------------------
# Decoding: types, unknown and duplicate fields


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"replicas": "3"},
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            {"replicas": 1.5},
            "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            {"replicas": 2**40},
            "json: cannot unmarshal number 1099511627776 into Go struct field "
            "DeploymentSpec.spec.replicas of type int32",
        ),
        (
            {"paused": "yes"},
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool",
        ),
        (
            {"strategy": "Recreate"},
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec."
            "strategy of type v1.DeploymentStrategy",
        ),
        (
            {"template": {"spec": {"containers": {"name": "x"}}}},
            "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type "
            "[]v1.Container",
        ),
        (
            {"template": {"spec": {"containers": [{"name": "c", "image": 5}]}}},
            "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image of "
            "type string",
        ),
        (
            {"template": {"metadata": {"labels": {"app": True}}}},
            "json: cannot unmarshal bool into Go struct field ObjectMeta.spec.template.metadata.labels of type string",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": True}}},
            "json: cannot unmarshal bool into Go value of type int32",
        ),
        (
            {"template": {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "lots"}}}]}}},
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
    ],
)
def test_wrong_types_are_bad_requests(spec: dict[str, Any], message: str) -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}
    expected = 'Deployment in version "v1" cannot be handled as a Deployment: ' + message
    for mode in ("Strict", "Warn", "Ignore"):
        assert bad_request("Deployment", obj, field_validation=mode) == expected


def test_whole_body_of_the_wrong_type() -> None:
    assert bad_request("Deployment", [1]) == (
        'Deployment in version "v1" cannot be handled as a Deployment: '
        "json: cannot unmarshal array into Go value of type v1.Deployment"
    )
    assert bad_request("Deployment", {"spec": "x"}).endswith(
        "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec"
    )


def test_secret_data_must_be_base64() -> None:
    body = {"metadata": {"name": "s"}, "data": {"password": "c2VjcmV0!"}}
    assert bad_request("Secret", body) == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 8'
    )
    out, _ = ok("Secret", {"metadata": {"name": "s"}, "data": {"password": "c2VjcmV0"}})
    assert out["data"] == {"password": "c2VjcmV0"}


def test_unknown_fields_by_field_validation_mode() -> None:
    obj = deployment()
    obj["spec"] = {"replica": 3, **obj["spec"]}
    obj["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    strict = bad_request("Deployment", obj, field_validation="Strict")
    assert strict == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.replica", unknown field "spec.template.spec.containers[0].imagee"'
    )
    stored, warnings = ok("Deployment", obj, field_validation="Warn")
    assert warnings == ['unknown field "spec.replica"', 'unknown field "spec.template.spec.containers[0].imagee"']
    assert "replica" not in stored["spec"] and "imagee" not in stored["spec"]["template"]["spec"]["containers"][0]
    stored, warnings = ok("Deployment", obj, field_validation="Ignore")
    assert warnings == [] and "replica" not in stored["spec"]
    unset_means_warn = ok("Deployment", obj, field_validation=None)[1]
    assert unset_means_warn == [
        'unknown field "spec.replica"',
        'unknown field "spec.template.spec.containers[0].imagee"',
    ]


def test_duplicate_fields_from_the_raw_body() -> None:
    raw = b"""{"apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "web", "unknownMeta": 1, "name": "web"},
      "spec": {"unknown1": "v", "unknownDupe": "a", "unknownDupe": "b", "paused": true, "paused": false,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx",
          "image": "nginx", "unknownNested": 1, "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}}}"""
    body, duplicates = decode_json(raw)
    assert duplicates == (
        "metadata.name",
        "spec.unknownDupe",
        "spec.paused",
        "spec.template.spec.containers[0].imagePullPolicy",
    )
    assert body["spec"]["paused"] is False
    message = bad_request("Deployment", body, field_validation="Strict", duplicate_fields=duplicates)
    assert message.endswith(
        'strict decoding error: duplicate field "metadata.name", unknown field "metadata.unknownMeta", '
        'unknown field "spec.unknown1", unknown field "spec.unknownDupe", duplicate field "spec.paused", '
        'unknown field "spec.template.spec.containers[0].unknownNested", '
        'duplicate field "spec.template.spec.containers[0].imagePullPolicy"'
    )
    stored, _ = ok("Deployment", body, field_validation="Warn", duplicate_fields=duplicates)
    assert stored["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_decode_json_rejects_what_is_not_json() -> None:
    for raw in (b'{"metadata": {"name": ', b"NaN", b"\xff\xfe"):
        with pytest.raises(BadRequest) as caught:
            decode_json(raw)
        assert caught.value.message.startswith("the request body is not valid JSON")
    with pytest.raises(BadRequest, match="nested too deeply"):
        decode_json("[" * 100000)


def test_deeply_nested_free_form_fields_are_refused_not_crashed() -> None:
    deep: Any = 1
    for _ in range(3000):
        deep = {"f:x": deep}
    body = {"metadata": {"name": "c", "managedFields": [{"manager": "m", "operation": "Update", "fieldsV1": deep}]}}
    assert "nested too deeply" in bad_request("ConfigMap", body)


def test_quantities_are_stored_in_canonical_form() -> None:
    container = {
        "name": "c",
        "image": "i",
        "resources": {
            "limits": {"cpu": 1, "memory": "1024Mi", "ephemeral-storage": "1.5Gi"},
            "requests": {"cpu": 0.5, "memory": "100M"},
        },
    }
    out, _ = ok("Pod", pod(container))
    assert out["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1536Mi"},
        "requests": {"cpu": "500m", "memory": "100M", "ephemeral-storage": "1536Mi"},
    }


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1000m", "1"),
        ("0.1", "100m"),
        ("1500", "1500"),
        ("2000", "2k"),
        ("1e3", "1e3"),
        ("128974848", "128974848"),
        ("129e6", "129e6"),
        ("129M", "129M"),
        ("123Mi", "123Mi"),
        ("512Ki", "512Ki"),
        ("1.5Mi", "1536Ki"),
        ("0.5Ki", "512"),
        ("0", "0"),
        ("1n", "1n"),
        ("0.0000000001", "1n"),
    ],
)
def test_quantity_canonical_forms(text: str, canonical: str) -> None:
    assert canonical_quantity(*parse_quantity(text)) == canonical


# -----------------------------------------------------------------------------------------------------------
# Workloads


def test_valid_deployment_comes_back_defaulted() -> None:
    stored, warnings = ok("Deployment", deployment())
    assert warnings == []
    assert stored["spec"]["replicas"] == 1 and stored["spec"]["strategy"]["type"] == "RollingUpdate"
    assert stored["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_container_rules() -> None:
    containers = [
        {
            "name": "web",
            "image": "nginx",
            "ports": [{"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"}],
        },
        {"name": "web", "image": "nginx", "imagePullPolicy": "Sometimes"},
        {"name": "Side_Car", "image": ""},
    ]
    obj = deployment(replicas=-1)
    obj["spec"]["template"]["spec"]["containers"] = containers
    assert [str(cause) for cause in invalid("Deployment", obj).causes] == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and "
        "65535, inclusive",
        'spec.template.spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: '
        '"SCTP", "TCP", "UDP"',
        'spec.template.spec.containers[1].imagePullPolicy: Unsupported value: "Sometimes": supported values: '
        '"Always", "IfNotPresent", "Never"',
        'spec.template.spec.containers[1].name: Duplicate value: "web"',
        f'spec.template.spec.containers[2].name: Invalid value: "Side_Car": {LABEL_RULE}',
        "spec.template.spec.containers[2].image: Required value",
    ]


def test_pod_requires_containers_and_checks_mounts_env_and_resources() -> None:
    assert invalid("Pod", {"metadata": {"name": "p"}, "spec": {}}).message == (
        'Pod "p" is invalid: spec.containers: Required value'
    )
    container = {
        "name": "c",
        "image": "i",
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "env": [{"name": "A=B", "value": "x"}, {"name": "", "value": "y"}],
        "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2", "gpu": "1"}},
    }
    assert [str(cause) for cause in invalid("Pod", pod(container)).causes] == [
        'spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must '
        "consist only of printable ASCII characters other than '='",
        "spec.containers[0].env[1].name: Required value",
        'spec.containers[0].volumeMounts[0].name: Not found: "data"',
        'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers',
        'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
    ]


def test_pod_restart_and_dns_policies() -> None:
    error = invalid("Pod", pod(restartPolicy="Sometimes", dnsPolicy="Google"))
    assert [str(cause) for cause in error.causes] == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", '
        '"ClusterFirst", "Default", "None"',
    ]


def test_pod_updates_may_only_change_images() -> None:
    stored, _ = ok("Pod", pod())
    newer = copy.deepcopy(stored)
    newer["spec"]["containers"][0]["image"] = "nginx:1.27"
    assert ok("Pod", newer, old=stored)[0]["spec"]["containers"][0]["image"] == "nginx:1.27"
    renamed = copy.deepcopy(stored)
    renamed["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    error = invalid("Pod", renamed, old=stored)
    assert error.causes[0].field == "spec"
    assert error.causes[0].message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)\n"
    )
    added = copy.deepcopy(stored)
    added["spec"]["containers"].append({"name": "two", "image": "busybox"})
    assert str(invalid("Pod", added, old=stored).causes[-1]) == (
        "spec.containers: Forbidden: pod updates may not add or remove containers"
    )


def test_empty_and_unusable_selectors() -> None:
    assert str(invalid("Deployment", deployment(selector={})).causes[0]) == (
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
    )
    obj = deployment(selector={"matchExpressions": [{"key": "app", "operator": "Has"}]})
    assert [str(cause) for cause in invalid("Deployment", obj).causes] == [
        'spec.selector.matchExpressions[0].operator: Invalid value: "Has": not a valid selector operator',
        'spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"Has"}]}: invalid label selector',
    ]
    expressions = deployment(selector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]})
    ok("Deployment", expressions)
    assert str(invalid("ReplicaSet", deployment(selector={}) | {"kind": "ReplicaSet"}).causes[0]) == (
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
    )


def test_deployment_strategy_rules() -> None:
    error = invalid("Deployment", deployment(strategy={"type": "BlueGreen"}))
    assert str(error.causes[0]) == (
        'spec.strategy: Unsupported value: {"Type":"BlueGreen","RollingUpdate":null}: '
        'supported values: "Recreate", "RollingUpdate"'
    )
    zero = deployment(strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}})
    assert str(invalid("Deployment", zero).causes[0]) == (
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0'
    )
    recreate = deployment(strategy={"type": "Recreate", "rollingUpdate": {}})
    assert str(invalid("Deployment", recreate).causes[0]) == (
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
    )
    percent = deployment(strategy={"rollingUpdate": {"maxSurge": "half"}})
    assert str(invalid("Deployment", percent).causes[0]) == (
        'spec.strategy.rollingUpdate.maxSurge: Invalid value: "half": a valid percent string must be a numeric '
        "string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
    )


def test_deployment_selector_is_immutable() -> None:
    stored, _ = ok("Deployment", deployment())
    changed = copy.deepcopy(stored)
    changed["spec"]["selector"] = {"matchLabels": {"app": "web2"}}
    changed["spec"]["template"]["metadata"]["labels"] = {"app": "web2"}
    assert invalid("Deployment", changed, old=stored).message == (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: {"matchLabels":{"app":"web2"}}: '
        "field is immutable"
    )
    scaled = copy.deepcopy(stored)
    scaled["spec"]["replicas"] = 5
    assert ok("Deployment", scaled, old=stored)[0]["spec"]["replicas"] == 5


def test_replica_set_and_daemon_set_selectors_are_immutable() -> None:
    for kind in ("ReplicaSet", "DaemonSet"):
        stored, _ = ok(kind, deployment() | {"apiVersion": "apps/v1", "kind": kind})
        changed = copy.deepcopy(stored)
        changed["spec"]["selector"]["matchLabels"]["tier"] = "x"
        changed["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
        assert str(invalid(kind, changed, old=stored).causes[-1]) == (
            'spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"x"}}: field is immutable'
        )


def test_daemon_set_rules() -> None:
    obj = deployment() | {"kind": "DaemonSet"}
    del obj["spec"]["selector"]
    assert str(invalid("DaemonSet", obj).causes[0]) == (
        'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`'
    )
    both = deployment(updateStrategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}})
    assert str(invalid("DaemonSet", both).causes[0]) == (
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"
    )


def test_stateful_set_rules_and_forbidden_updates() -> None:
    obj = deployment(serviceName="db", podManagementPolicy="Random")
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert [str(cause) for cause in invalid("StatefulSet", obj).causes] == [
        "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]
    stored, _ = ok("StatefulSet", deployment(serviceName="db"))
    renamed = copy.deepcopy(stored)
    renamed["spec"]["serviceName"] = "db2"
    assert invalid("StatefulSet", renamed, old=stored).message == (
        'StatefulSet.apps "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other than '
        "'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    )
    scaled = copy.deepcopy(stored)
    scaled["spec"]["replicas"] = 3
    scaled["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    ok("StatefulSet", scaled, old=stored)
    assert invalid("StatefulSet", deployment() | {"metadata": {"name": "db.v1"}}).causes[0].message == (
        'Invalid value: "db.v1": must not contain dots'
    )


def job(**spec: Any) -> dict[str, Any]:
    body = {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "uid": "uid-1"}, "spec": body}


def test_job_rules() -> None:
    default_restart = job()
    del default_restart["spec"]["template"]["spec"]["restartPolicy"]
    assert invalid("Job", default_restart).message == (
        'Job.batch "pi" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported '
        'values: "OnFailure", "Never"'
    )
    stored, _ = ok("Job", job(backoffLimit=2))
    assert stored["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid-1"}}
    custom = job(selector={"matchLabels": {"app": "pi"}})
    custom["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    assert str(invalid("Job", custom).causes[0]) == (
        'spec.selector: Invalid value: {"matchLabels":{"app":"pi","batch.kubernetes.io/controller-uid":"uid-1"}}:'
        " `selector` not auto-generated"
    )
    manual = job(manualSelector=True, selector={"matchLabels": {"app": "pi"}})
    manual["spec"]["template"]["metadata"] = {"labels": {"app": "other"}}
    assert str(invalid("Job", manual).causes[0]) == (
        'spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector` does not match template `labels`'
    )
    assert str(invalid("Job", job(backoffLimit=-1)).causes[0]) == (
        "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"
    )


def test_job_template_and_selector_are_immutable() -> None:
    stored, _ = ok("Job", job())
    changed = copy.deepcopy(stored)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.40"
    error = invalid("Job", changed, old=stored)
    assert [cause.field for cause in error.causes] == ["spec.template"]
    assert error.causes[0].message.startswith('Invalid value: {"metadata":{"labels":')
    assert error.causes[0].message.endswith(": field is immutable")
    stored["spec"]["parallelism"] = 1
    ok("Job", copy.deepcopy(stored), old=stored)


def test_cron_job_rules() -> None:
    cron = {
        "metadata": {"name": "backup"},
        "spec": {
            "schedule": "61 * * * *",
            "concurrencyPolicy": "Sometimes",
            "jobTemplate": {"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": job()["spec"]["template"]}},
        },
    }
    assert [str(cause) for cause in invalid("CronJob", cron).causes] == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61',
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
        'spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: `selector` will be auto-generated',
    ]


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("*/5 * * * *", ""),
        ("@daily", ""),
        ("0 9 * * mon-fri", ""),
        ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("@often", "unrecognized descriptor: @often"),
    ],
)
def test_cron_schedules(schedule: str, problem: str) -> None:
    assert cron_schedule_error(schedule) == problem


# -----------------------------------------------------------------------------------------------------------
# Services


def service(**spec: Any) -> dict[str, Any]:
    body = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": body}


def test_service_ports_rules() -> None:
    assert invalid("Service", service(ports=[])).message == 'Service "web" is invalid: spec.ports: Required value'
    ok("Service", service(ports=[], clusterIP="None"))
    ok("Service", service(ports=[], type="ExternalName", externalName="db.example.com"))
    error = invalid(
        "Service", service(ports=[{"port": 80}, {"port": 80}, {"port": 0, "name": "x", "targetPort": "http--port"}])
    )
    assert [str(cause) for cause in error.causes] == [
        "spec.ports[0].name: Required value",
        "spec.ports[1].name: Required value",
        "spec.ports[2].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.ports[2].targetPort: Invalid value: "http--port": must not contain consecutive hyphens',
        'spec.ports[1]: Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,'
        '"TargetPort":0,"NodePort":0}',
    ]


def test_service_type_and_external_name() -> None:
    assert str(invalid("Service", service(type="Internal")).causes[0]) == (
        'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
        '"NodePort"'
    )
    assert str(invalid("Service", service(type="ExternalName", ports=[])).causes[0]) == (
        "spec.externalName: Required value"
    )
    assert (
        str(invalid("Service", service(nodePort=1) | {"spec": {"ports": [{"port": 80, "nodePort": 30080}]}}).causes[0])
        == "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
    )


def test_service_cluster_ip_is_immutable_and_kept_when_omitted() -> None:
    stored, _ = ok("Service", service(clusterIP="10.96.0.10"))
    assert stored["spec"]["clusterIPs"] == ["10.96.0.10"]
    changed = copy.deepcopy(stored)
    changed["spec"].update(clusterIP="10.96.0.11", clusterIPs=["10.96.0.11"])
    assert invalid("Service", changed, old=stored).message == (
        'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set'
    )
    reapplied, _ = ok("Service", service(ports=[{"port": 8080}]), old=stored)
    assert reapplied["spec"]["clusterIP"] == "10.96.0.10" and reapplied["spec"]["clusterIPs"] == ["10.96.0.10"]
    assert str(invalid("Service", service(clusterIP="10.96.0.300")).causes[0]) == (
        'spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)"
    )


# -----------------------------------------------------------------------------------------------------------
# ConfigMaps, Secrets, Namespaces, CRDs and the rest


def test_config_map_keys_and_immutability() -> None:
    error = invalid("ConfigMap", {"metadata": {"name": "c"}, "data": {"bad key": "x", "..": "y"}})
    assert [str(cause) for cause in error.causes] == [
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')",
        "data[..]: Invalid value: \"..\": must not be '..'",
    ]
    stored, _ = ok("ConfigMap", {"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": True})
    changed = copy.deepcopy(stored)
    changed["data"]["a"] = "2"
    assert invalid("ConfigMap", changed, old=stored).message == (
        'ConfigMap "c" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    )
    unlocked = copy.deepcopy(stored)
    unlocked["immutable"] = False
    assert str(invalid("ConfigMap", unlocked, old=stored).causes[0]) == (
        "immutable: Forbidden: field is immutable when `immutable` is set"
    )
    relabelled = copy.deepcopy(stored)
    relabelled["metadata"]["labels"] = {"team": "a"}
    ok("ConfigMap", relabelled, old=stored)


def test_secret_rules() -> None:
    stored, _ = ok(
        "Secret", {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}, "data": {"user": "YWRtaW4="}}
    )
    assert stored == {
        "metadata": {"name": "s"},
        "data": {"user": "YWRtaW4=", "password": "aHVudGVyMg=="},
        "type": "Opaque",
    }
    assert invalid("Secret", {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls"}).message == (
        'Secret "tls" is invalid: [data[tls.crt]: Required value, data[tls.key]: Required value]'
    )
    retyped = copy.deepcopy(stored)
    retyped["type"] = "kubernetes.io/basic-auth"
    assert str(invalid("Secret", retyped, old=stored).causes[0]) == (
        'type: Invalid value: "kubernetes.io/basic-auth": field is immutable'
    )
    locked = stored | {"immutable": True}
    changed = copy.deepcopy(locked)
    changed["data"]["user"] = "cm9vdA=="
    assert str(invalid("Secret", changed, old=locked).causes[0]) == (
        "data: Forbidden: field is immutable when `immutable` is set"
    )


def test_namespace_finalizers_and_update_keeps_spec() -> None:
    assert str(
        invalid("Namespace", {"metadata": {"name": "n"}, "spec": {"finalizers": ["bad/one/two"]}}).causes[0]
    ).startswith('spec.finalizers[0]: Invalid value: "bad/one/two": a valid label key')
    stored, _ = ok("Namespace", {"metadata": {"name": "n"}})
    edited = copy.deepcopy(stored)
    edited["spec"]["finalizers"] = []
    assert ok("Namespace", edited, old=stored)[0]["spec"] == {"finalizers": ["kubernetes"]}


def test_crd_rules() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widget.example.com"},
        "spec": {
            "group": "example",
            "scope": "Global",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    assert [str(cause) for cause in invalid("CustomResourceDefinition", crd).causes] == [
        'metadata.name: Invalid value: "widget.example.com": must be spec.names.plural+"."+spec.group',
        'spec.group: Invalid value: "example": should be a domain with at least one dot',
        'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required",
    ]


def test_other_kinds_use_the_schema_required_fields() -> None:
    assert invalid(
        "RoleBinding", {"metadata": {"name": "rb", "namespace": "default"}, "subjects": [{"kind": "User"}]}
    ).message == (
        'RoleBinding.rbac.authorization.k8s.io "rb" is invalid: [subjects[0].name: Required value, '
        "roleRef: Required value]"
    )
    ok("ServiceAccount", {"metadata": {"name": "builder", "namespace": "default"}})


def test_field_validation_must_be_a_known_mode() -> None:
    assert invalid("ConfigMap", {"metadata": {"name": "c"}}, field_validation="Loose").message == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose": supported values: '
        '"", "Ignore", "Strict", "Warn"'
    )


# -----------------------------------------------------------------------------------------------------------
# Custom resources


WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["port"],
                    "items": {"type": "object", "properties": {"port": {"type": "integer"}}},
                },
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def widget_type(schema: dict[str, Any] = WIDGET_SCHEMA) -> ResourceType:
    crd = {
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        }
    }
    return from_crd(crd)[0]


def widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": {"size": 3, **spec},
    }


def test_custom_resource_type_error_message() -> None:
    error = invalid(widget_type(), widget(size="string"))
    assert error.message == (
        'Widget.example.com "w1" is invalid: spec.size: Invalid value: "string": spec.size in '
        'body must be of type integer: "string"'
    )
    assert error.causes[0].reason == "FieldValueTypeInvalid"
    assert error.status()["details"]["group"] == "example.com"


def test_custom_resource_schema_rules() -> None:
    obj = widget(
        size=0, color="pink", name="Widget_Name", tags=["a", "a", "b"], port=True, ports=[{"port": 80}, {"port": 80}]
    )
    assert [str(cause) for cause in invalid(widget_type(), obj).causes] == [
        "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
        'spec.color: Unsupported value: "pink": supported values: "red", "blue"',
        "spec.name: Too long: may not be more than 8 bytes",
        "spec.name: Invalid value: \"Widget_Name\": spec.name in body should match '^[a-z]+$'",
        "spec.tags: Too many: 3: must have at most 2 items",
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
        'spec.tags[1]: Duplicate value: "a"',
        'spec.ports[1]: Duplicate value: {"port":80}',
    ]
    assert str(invalid(widget_type(), widget(size=11)).causes[0]) == (
        "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"
    )


def test_custom_resource_required_fields() -> None:
    assert invalid(widget_type(), widget() | {"spec": {}}).message == (
        'Widget.example.com "w1" is invalid: spec.size: Required value'
    )
    no_spec = widget()
    del no_spec["spec"]
    assert str(invalid(widget_type(), no_spec).causes[0]) == "spec: Required value"
    assert str(invalid(widget_type(), widget() | {"metadata": {"name": "W1"}}).causes[0]) == (
        f'metadata.name: Invalid value: "W1": {SUBDOMAIN_RULE}'
    )


def test_custom_resource_pruning_defaults_and_nulls() -> None:
    obj = widget(colour="red", note=None, port="http", extra={"anything": {"goes": [1]}})
    obj["metadata"]["labelz"] = {"a": "b"}
    obj["top"] = 1
    message = bad_request(widget_type(), obj, field_validation="Strict")
    assert message == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "metadata.labelz", unknown field "spec.colour", unknown field "top"'
    )
    stored, warnings = ok(widget_type(), obj, field_validation="Warn")
    assert warnings == ['unknown field "metadata.labelz"', 'unknown field "spec.colour"', 'unknown field "top"']
    assert stored == {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": {"size": 3, "note": None, "port": "http", "extra": {"anything": {"goes": [1]}}, "color": "red"},
    }
    stored, _ = ok(widget_type(), widget(color=None, size=2.0), field_validation="Ignore")
    assert stored["spec"] == {"size": 2.0, "color": "red"}


def test_custom_resource_duplicates_come_first() -> None:
    raw = (
        b'{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "name": "w1"},'
        b' "spec": {"size": 3, "size": 4, "unknownDupe": 1, "unknownDupe": 2}}'
    )
    body, duplicates = decode_json(raw)
    message = bad_request(widget_type(), body, field_validation="Strict", duplicate_fields=duplicates)
    assert message.endswith(
        'strict decoding error: duplicate field "metadata.name", duplicate field "spec.size", '
        'duplicate field "spec.unknownDupe", unknown field "spec.unknownDupe"'
    )


def test_custom_resource_without_a_schema_keeps_everything() -> None:
    stored, warnings = ok(widget_type({}), widget(anything={"goes": True}), field_validation="Strict")
    assert stored["spec"] == {"size": 3, "anything": {"goes": True}} and warnings == []


def test_custom_resource_updates_check_metadata() -> None:
    stored, _ = ok(widget_type(), widget())
    renamed = copy.deepcopy(stored)
    renamed["metadata"]["name"] = "w2"
    assert str(invalid(widget_type(), renamed, old=stored).causes[0]) == (
        'metadata.name: Invalid value: "w2": field is immutable'
    )


# -----------------------------------------------------------------------------------------------------------
# Robustness: whatever arrives, only BadRequest or Invalid come out


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "spec",
                    "metadata",
                    "name",
                    "labels",
                    "template",
                    "containers",
                    "ports",
                    "port",
                    "selector",
                    "matchLabels",
                    "matchExpressions",
                    "image",
                    "type",
                    "data",
                    "size",
                    "strategy",
                    "replicas",
                    "status",
                    "x",
                    "clusterIP",
                    "volumes",
                    "env",
                    "resources",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=30,
)
FUZZ_KINDS = [*sorted(TYPES), "Widget"]


@pytest.mark.parametrize("kind", FUZZ_KINDS)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=json_values, old=st.none() | json_values)
def test_arbitrary_bodies_only_raise_api_errors(kind: str, obj: Any, old: Any) -> None:
    rtype = widget_type() if kind == "Widget" else TYPES[kind]
    try:
        stored, warnings = validate(obj, rtype, old=old, field_validation="Warn")
    except (BadRequest, Invalid) as error:
        assert error.message
        json.dumps(error.status())
    else:
        json.dumps(stored)
        assert all(isinstance(warning, str) for warning in warnings)
