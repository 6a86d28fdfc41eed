from __future__ import annotations

import pytest

from engine.cluster.embedded.selectors import (
    format_selector,
    labels_match,
    parse_field_selector,
    parse_label_selector,
    selector_from_match,
)
from engine.cluster.embedded.status import ApiError


def obj(**labels: str) -> dict:
    return {"metadata": {"name": "x", "namespace": "default", "labels": labels}}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app!=web", {}, True),
        ("app in (web,db)", {"app": "db"}, True),
        ("app notin (web,db)", {"app": "db"}, False),
        ("app", {"app": "x"}, True),
        ("!app", {"app": "x"}, False),
        ("app=web,tier in (front, back)", {"app": "web", "tier": "back"}, True),
        ("app=web,tier in (front, back)", {"app": "web", "tier": "data"}, False),
        ("n>3", {"n": "5"}, True),
        ("", {}, True),
    ],
)
def test_label_selector_matches_like_the_api_server(selector: str, labels: dict, expected: bool) -> None:
    assert labels_match(parse_label_selector(selector), obj(**labels)) is expected


@pytest.mark.parametrize("bad", ["app=we b", "a in (x", "=web", "app=-bad-"])
def test_bad_label_selectors_are_400(bad: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_label_selector(bad)
    assert err.value.code == 400


def test_field_selectors_know_kind_specific_fields() -> None:
    event = {
        "metadata": {"name": "e1", "namespace": "default"},
        "involvedObject": {"kind": "Deployment", "name": "web", "namespace": "default"},
        "type": "Normal",
    }
    reqs = parse_field_selector("involvedObject.kind=Deployment,involvedObject.name=web", "Event")
    assert all(r.matches(event) for r in reqs)
    assert not parse_field_selector("involvedObject.name!=web", "Event")[0].matches(event)
    with pytest.raises(ApiError, match=r"field label not supported: status\.phase"):
        parse_field_selector("status.phase=Running", "ConfigMap")


def test_match_expressions_and_rendering() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
    }
    reqs = selector_from_match(selector)
    assert labels_match(reqs, obj(app="web", tier="a"))
    assert not labels_match(reqs, obj(app="web"))
    assert format_selector(selector) == "app=web,tier in (a,b)"
