"""Kind names resolve as kubectl resolves them, and a check's spec rejects bad JSONPath, CEL and regexes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.checks.memory import BUILTIN_RESOURCES
from engine.checks.reader import ApiResource, Read, UnknownKind, resolve_in
from engine.checks.spec import Check

WIDGET = ApiResource("example.com", "v1alpha1", "Widget", "widgets", True, "widget", ("wd",))
WIDGET_V1 = ApiResource("example.com", "v1", "Widget", "widgets", True, "widget", ("wd",))
RESOURCES = [*BUILTIN_RESOURCES, WIDGET_V1, WIDGET]


@pytest.mark.parametrize(
    ("name", "api_version", "expected"),
    [
        ("Deployment", None, ("apps", "Deployment")),
        ("deployment", None, ("apps", "Deployment")),
        ("deployments", None, ("apps", "Deployment")),
        ("deploy", None, ("apps", "Deployment")),
        ("DEPLOY", None, ("apps", "Deployment")),
        ("deployments.apps", None, ("apps", "Deployment")),
        ("deployments.v1.apps", None, ("apps", "Deployment")),
        ("Deployment", "apps/v1", ("apps", "Deployment")),
        ("po", None, ("", "Pod")),
        ("cm", "v1", ("", "ConfigMap")),
        ("crd", None, ("apiextensions.k8s.io", "CustomResourceDefinition")),
        ("events", None, ("", "Event")),
        ("ev", None, ("", "Event")),
        ("events.events.k8s.io", None, ("events.k8s.io", "Event")),
        ("Event", "events.k8s.io/v1", ("events.k8s.io", "Event")),
        ("wd", None, ("example.com", "Widget")),
    ],
)
def test_names_resolve_like_kubectl(name: str, api_version: str | None, expected: tuple[str, str]) -> None:
    resource = resolve_in(RESOURCES, name, api_version)
    assert (resource.group, resource.kind) == expected


def test_the_preferred_version_wins_unless_one_is_asked_for() -> None:
    assert resolve_in(RESOURCES, "widgets").version == "v1"
    assert resolve_in(RESOURCES, "widgets", "example.com/v1alpha1").version == "v1alpha1"
    assert resolve_in(RESOURCES, "widgets.v1alpha1.example.com").version == "v1alpha1"


@pytest.mark.parametrize(
    ("name", "api_version", "message"),
    [
        ("Deploymnt", None, 'the cluster serves no kind "Deploymnt" (did you mean "Deployment"?)'),
        ("gizmo", None, 'the cluster serves no kind "gizmo"'),
        ("Deployment", "apps/v1beta1", 'the cluster serves "Deployment" as apps/v1, not apps/v1beta1'),
        ("Pod", "apps/v1", 'the cluster serves "Pod" as v1, not apps/v1'),
        ("deployments.batch", None, 'no kind "deployments.batch" (did you mean "deployments"?)'),
        ("", None, "a check names no kind"),
    ],
)
def test_unknown_kinds_say_so(name: str, api_version: str | None, message: str) -> None:
    with pytest.raises(UnknownKind) as caught:
        resolve_in(RESOURCES, name, api_version)
    assert str(caught.value).endswith(message)


def test_reads_describe_themselves() -> None:
    deployment = resolve_in(RESOURCES, "deploy")
    pod = resolve_in(RESOURCES, "pod")
    node = resolve_in(RESOURCES, "node")
    policy = resolve_in(RESOURCES, "ingress")
    assert Read(deployment, "shop", "web").describe() == "Deployment shop/web"
    assert Read(pod, "shop", None, "app=web").describe() == "Pods in shop matching app=web"
    assert Read(pod, None).describe() == "Pods in every namespace"
    assert Read(node, None, "n1").describe() == "Node n1"
    assert Read(node, None).describe() == "Nodes"
    assert Read(policy, "x").describe() == "Ingresses in x"
    assert Read(resolve_in(RESOURCES, "ep"), "x").describe() == "Endpoints in x"
    assert Read(resolve_in(RESOURCES, "cm"), "x").describe() == "ConfigMaps in x"
    assert Read(resolve_in(RESOURCES, "crd"), None).describe() == "CustomResourceDefinitions"
    assert Read(pod, "shop", "web", None, "status.phase=Running").selector_for_list() == (
        "metadata.name=web,status.phase=Running"
    )


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"field": {"kind": "Pod", "path": "{.status.phase", "expect": {"equals": "x"}}}, "without closing"),
        ({"field": {"kind": "Pod", "path": ".status[?(@.a==b)]", "expect": {"equals": "x"}}}, "found 'b'"),
        (
            {"field": {"kind": "Pod", "path": ".a", "expect": {"matches": "(unclosed"}}},
            "invalid regular expression",
        ),
        ({"field": {"kind": "Pod", "path": ".a", "expect": {"equals": 1, "gt": 0}}}, "give exactly one of"),
        ({"cel": {"kind": "Pod", "expression": "object.spec =="}}, "invalid CEL expression at line 1"),
        ({"cel": {"kind": "Pod", "expression": "  "}}, "empty CEL expression"),
        (
            {"event": {"kind": "Pod", "name": "a", "reason": "X", "message": "[a-"}},
            "invalid regular expression",
        ),
        ({"command": {"run": "true", "stdout": "*x"}}, "invalid regular expression"),
        ({"command": {"run": "true", "timeoutSeconds": 0}}, "greater than 0"),
        ({"exists": {"kind": "Pod"}, "absent": {"kind": "Pod"}}, "exactly one of"),
        ({"exists": {"kind": "Pod", "nme": "x"}}, "Extra inputs are not permitted"),
    ],
)
def test_bad_checks_are_rejected_when_a_course_loads(check: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Check.model_validate(check)
    assert message in str(caught.value)


def test_a_command_check_has_a_run_timeout() -> None:
    check = Check.model_validate({"command": {"run": "true", "timeoutSeconds": 2.5}})
    assert check.command is not None and check.command.timeout_seconds == 2.5
    assert Check.model_validate({"command": {"run": "true"}}).command.timeout_seconds == 30  # type: ignore[union-attr]
