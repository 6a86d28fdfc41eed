"""kubectl-style JSONPath: the forms course authors copy from `kubectl get -o jsonpath=...`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.checks.jsonpath import JSONPathError, parse, render, values

DEPLOYMENT = {
    "metadata": {"name": "web", "labels": {"app": "web", "app.kubernetes.io/name": "shop"}},
    "spec": {
        "replicas": 3,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "shop/web:1.2",
                        "ports": [{"containerPort": 80, "name": "http"}],
                    },
                    {"name": "log", "image": "busybox:1.36", "ports": [{"containerPort": 9090}]},
                ]
            }
        },
    },
    "status": {
        "readyReplicas": 1,
        "conditions": [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
            {"type": "Progressing", "status": "True"},
        ],
    },
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("{.spec.replicas}", [3]),
        (".spec.replicas", [3]),
        ("spec.replicas", [3]),
        ("{$.spec.replicas}", [3]),
        ("{ .status.readyReplicas }", [1]),
        ('{.status.conditions[?(@.type=="Available")].status}', ["False"]),
        ("{.status.conditions[?(@.type=='Progressing')].status}", ["True"]),
        ('{.status.conditions[?(@.type!="Available")].type}', ["Progressing"]),
        ("{.status.conditions[?(@.reason)].type}", ["Available"]),
        ("{.spec.template.spec.containers[*].image}", ["shop/web:1.2", "busybox:1.36"]),
        ("{.spec.template.spec.containers[0].name}", ["web"]),
        ("{.spec.template.spec.containers[-1].name}", ["log"]),
        ("{.spec.template.spec.containers[0:1].name}", ["web"]),
        ("{.spec.template.spec.containers[0,1].name}", ["web", "log"]),
        ("{.spec.template.spec.containers[?(@.name=='log')].ports[0].containerPort}", [9090]),
        ("{..containerPort}", [80, 9090]),
        ("{.spec.template.spec.containers[*].ports[?(@.containerPort==80)].name}", ["http"]),
        ("{.spec.template.spec.containers[*].ports[?(@.containerPort>100)].containerPort}", [9090]),
        ("{.metadata.labels.app\\.kubernetes\\.io/name}", ["shop"]),
        ("{.metadata.labels['app.kubernetes.io/name']}", ["shop"]),
        ("{.metadata.labels.missing}", []),
        ("{.spec.template.spec.containers[5].name}", []),
        ('{.status.conditions[?(@.type=="Ready")].status}', []),
    ],
)
def test_selects_what_kubectl_selects(path: str, expected: list[object]) -> None:
    assert values(path, DEPLOYMENT) == expected


def test_renders_values_as_kubectl_prints_them() -> None:
    assert render(["a", "b"]) == "a b"
    assert render([3]) == "3"
    assert render([2.0]) == "2"
    assert render([True]) == "true"
    assert render([{"b": 1, "a": [1, 2]}]) == '{"a":[1,2],"b":1}'
    assert render([None]) == "null"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "empty JSONPath"),
        ("{.spec.replicas", "without closing"),
        ("{.a}{.b}", "not a template"),
        ("{range .items[*]}{.name}{end}", "not a template"),
        ("{.spec.}", "expected a field name after '.' at column 8"),
        ("{.spec[}", "expected an index"),
        ("{.spec[0}", "expected ']'"),
        ('{.status.conditions[?(@.type=="Available"].status}', "expected ')'"),
        ("{.status.conditions[?(@.type==Available)].status}", "found 'Available'"),
        ("{.items[::0]}", "step must be greater than 0"),
        ("{.a b}", "unexpected 'b' at column 5"),
        ("{.metadata.labels['app}", "unterminated quoted string"),
    ],
)
def test_bad_expressions_say_what_and_where(path: str, message: str) -> None:
    with pytest.raises(JSONPathError) as caught:
        parse(path)
    assert message in str(caught.value)


def test_a_parsed_path_is_reusable() -> None:
    path = parse("{.spec.replicas}")
    assert path.values({"spec": {"replicas": 1}}) == [1]
    assert path.values({"spec": {}}) == []
    assert path.values("not an object") == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="{}[]().@$?*=!<>'\"\\:,-_ ab01", max_size=30))
def test_any_text_parses_or_fails_with_the_modules_error(text: str) -> None:
    try:
        path = parse(text)
    except JSONPathError:
        return
    path.values(DEPLOYMENT)
