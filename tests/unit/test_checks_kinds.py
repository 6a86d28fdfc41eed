"""Every check kind, passing and failing, with the message a learner reads (objects held in memory)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.checks.context import CheckContext
from engine.checks.evaluator import evaluate, evaluate_check, not_yet_checked
from engine.checks.memory import MemoryCluster
from engine.checks.results import CheckResult
from engine.checks.spec import Check


def _deployment(name: str = "web", ready: int = 1, available: str = "False") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [{"name": "web", "image": "shop/web:1.2"}]}},
        },
        "status": {
            "readyReplicas": ready,
            "conditions": [
                {
                    "type": "Available",
                    "status": available,
                    "reason": "MinimumReplicasUnavailable",
                    "message": "Deployment does not have minimum availability.",
                },
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        },
    }


def _pod(name: str, phase: str = "Running", app: str = "web", deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "shop", "labels": {"app": app}}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "status": {"phase": phase}}


def _event(name: str, reason: str, message: str, kind: str = "Pod", on: str = "web-1", type_: str = "Warning") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "creationTimestamp": f"2026-01-01T00:00:0{name[-1]}Z",
        },
        "involvedObject": {"kind": kind, "name": on, "namespace": "shop"},
        "reason": reason,
        "message": message,
        "type": type_,
        "lastTimestamp": f"2026-01-01T00:00:0{name[-1]}Z",
    }


@pytest.fixture
def cluster() -> MemoryCluster:
    return MemoryCluster(
        [
            _deployment(),
            _pod("web-1"),
            _pod("web-2", phase="Pending"),
            _pod("db-1", app="db"),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": "shop"},
                "data": {},
            },
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
            _event("e1", "Pulled", "Successfully pulled image", type_="Normal"),
            _event("e2", "BackOff", "Back-off restarting failed container web"),
        ]
    )


def run(cluster: MemoryCluster, check: dict[str, Any], namespace: str = "shop") -> CheckResult:
    return evaluate_check(Check.model_validate(check), CheckContext(cluster, namespace))


# exists / absent ------------------------------------------------------------------------------------------


def test_exists_passes_for_an_object_by_name(cluster: MemoryCluster) -> None:
    result = run(cluster, {"exists": {"kind": "deploy", "name": "web"}})
    assert (result.passed, result.message) == (True, "Deployment shop/web exists")


def test_exists_fails_when_the_object_is_missing(cluster: MemoryCluster) -> None:
    result = run(cluster, {"exists": {"kind": "Deployment", "name": "api"}})
    assert result.passed is False
    assert result.message == "Deployment shop/api does not exist"
    assert result.lines() == ["✗ Deployment api exists: Deployment shop/api does not exist"]


def test_exists_by_selector_names_what_it_found(cluster: MemoryCluster) -> None:
    result = run(cluster, {"exists": {"kind": "pods", "selector": "app=web"}})
    assert result.message == "Pods in shop matching app=web: found 2 (web-1, web-2)"
    missing = run(cluster, {"exists": {"kind": "pods", "selector": "app=cache"}})
    assert missing.message == "expected at least one of Pods in shop matching app=cache, found none"


def test_exists_reads_the_namespace_given_over_the_default(cluster: MemoryCluster) -> None:
    assert run(cluster, {"exists": {"kind": "deploy", "name": "web"}}, namespace="other").passed is False
    assert run(cluster, {"exists": {"kind": "deploy", "name": "web", "namespace": "shop"}}, "other").passed is True


def test_a_star_namespace_reads_every_namespace(cluster: MemoryCluster) -> None:
    result = run(cluster, {"count": {"kind": "pods", "namespace": "*", "expect": {"equals": 3}}}, namespace="x")
    assert result.passed is True
    assert result.message.startswith("Pods in every namespace: found 3")


def test_cluster_scoped_kinds_ignore_the_default_namespace(cluster: MemoryCluster) -> None:
    result = run(cluster, {"exists": {"kind": "ns", "name": "shop"}}, namespace="elsewhere")
    assert (result.passed, result.message) == (True, "Namespace shop exists")


def test_absent_passes_when_nothing_matches(cluster: MemoryCluster) -> None:
    result = run(cluster, {"absent": {"kind": "deploy", "name": "api"}})
    assert (result.passed, result.message) == (True, "Deployment shop/api is absent")


def test_absent_fails_and_says_the_object_is_there(cluster: MemoryCluster) -> None:
    result = run(cluster, {"absent": {"kind": "deploy", "name": "web"}})
    assert result.passed is False
    assert result.message == "Deployment shop/web: expected it to be absent, found it present"


def test_absent_counts_an_object_being_deleted_as_present(cluster: MemoryCluster) -> None:
    cluster.put(_pod("old-1", app="old", deleting=True))
    result = run(cluster, {"absent": {"kind": "pods", "selector": "app=old"}})
    assert result.passed is False
    assert result.message == "expected no Pods in shop matching app=old, found 1: old-1 (1 being deleted)"
    by_name = run(cluster, {"absent": {"kind": "pod", "name": "old-1"}})
    assert by_name.message == "Pod shop/old-1: expected it to be absent, found it still being deleted"


# field ----------------------------------------------------------------------------------------------------


def test_field_compares_numbers_as_numbers(cluster: MemoryCluster) -> None:
    result = run(
        cluster,
        {"field": {"kind": "deploy", "name": "web", "path": "{.spec.replicas}", "expect": {"equals": 3}}},
    )
    assert (result.passed, result.message) == (True, "Deployment shop/web: {.spec.replicas} is 3")
    failed = run(
        cluster,
        {"field": {"kind": "deploy", "name": "web", "path": ".status.readyReplicas", "expect": {"ge": 3}}},
    )
    assert failed.passed is False
    assert failed.message == "Deployment shop/web: expected .status.readyReplicas ≥ 3, found 1"
    assert (failed.expected, failed.found) == (".status.readyReplicas ≥ 3", "1")


def test_field_with_a_filter_reads_a_condition(cluster: MemoryCluster) -> None:
    path = '{.status.conditions[?(@.type=="Available")].status}'
    result = run(cluster, {"field": {"kind": "deploy", "name": "web", "path": path, "expect": {"equals": "True"}}})
    assert result.passed is False
    assert result.message == f"Deployment shop/web: expected {path} = True, found False"


def test_field_that_is_not_set_says_so(cluster: MemoryCluster) -> None:
    check = {"field": {"kind": "cm", "name": "cfg", "path": "{.data.color}", "expect": {"equals": "blue"}}}
    result = run(cluster, check)
    assert result.message == "ConfigMap shop/cfg: expected {.data.color} = blue, found no value (the field is not set)"
    unset = {"field": {"kind": "cm", "name": "cfg", "path": "{.data.color}", "expect": {"equals": None}}}
    assert run(cluster, unset).passed is True


@pytest.mark.parametrize(
    ("expect", "passed"),
    [
        ({"matches": r"^shop/web:1\.\d+$"}, True),
        ({"matches": "nginx"}, False),
        ({"notEquals": "shop/web:1.1"}, True),
        ({"equals": "shop/web:1.2"}, True),
        ({"lt": 3}, False),
    ],
)
def test_field_operators(cluster: MemoryCluster, expect: dict[str, Any], passed: bool) -> None:
    path = "{.spec.template.spec.containers[0].image}"
    assert run(cluster, {"field": {"kind": "deploy", "name": "web", "path": path, "expect": expect}}).passed is passed


def test_field_compares_quantities_as_numbers(cluster: MemoryCluster) -> None:
    cluster.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "limits", "namespace": "shop"},
            "data": {"memory": "128Mi", "cpu": "500m"},
        }
    )
    memory = {"field": {"kind": "cm", "name": "limits", "path": ".data.memory", "expect": {"ge": 134217728}}}
    assert run(cluster, memory).passed is True
    cpu = {"field": {"kind": "cm", "name": "limits", "path": ".data.cpu", "expect": {"lt": 0.5}}}
    assert run(cluster, cpu).message == "ConfigMap shop/limits: expected .data.cpu < 0.5, found 500m"


def test_field_over_a_selector_must_hold_for_every_object(cluster: MemoryCluster) -> None:
    check = {
        "field": {
            "kind": "pods",
            "selector": "app=web",
            "path": ".status.phase",
            "expect": {"equals": "Running"},
        }
    }
    result = run(cluster, check)
    assert result.passed is False
    assert result.message == "Pod shop/web-2: expected .status.phase = Running, found Pending"


def test_field_of_a_missing_object_fails(cluster: MemoryCluster) -> None:
    check = {"field": {"kind": "deploy", "name": "api", "path": ".spec.replicas", "expect": {"equals": 1}}}
    assert run(cluster, check).message == "Deployment shop/api does not exist"


# condition ------------------------------------------------------------------------------------------------


def test_condition_fails_with_reason_and_message(cluster: MemoryCluster) -> None:
    result = run(cluster, {"condition": {"kind": "deploy", "name": "web", "type": "Available"}})
    assert result.passed is False
    assert result.message == (
        "Deployment shop/web: expected condition Available=True, found Available=False "
        "(MinimumReplicasUnavailable: Deployment does not have minimum availability.)"
    )
    assert result.lines()[0].startswith("✗ deploy web: condition Available=True: Deployment shop/web: expected")


def test_condition_passes(cluster: MemoryCluster) -> None:
    result = run(cluster, {"condition": {"kind": "deploy", "name": "web", "type": "Progressing"}})
    assert result.passed is True
    assert result.message == "Deployment shop/web: condition Progressing=True (NewReplicaSetAvailable)"
    wanted_false = {"condition": {"kind": "deploy", "name": "web", "type": "Available", "status": "False"}}
    assert run(cluster, wanted_false).passed is True


def test_condition_checks_the_reason_when_given(cluster: MemoryCluster) -> None:
    check = {
        "condition": {
            "kind": "deploy",
            "name": "web",
            "type": "Progressing",
            "reason": "ProgressDeadlineExceeded",
        }
    }
    result = run(cluster, check)
    assert result.passed is False
    assert "expected condition Progressing=True (reason ProgressDeadlineExceeded)" in result.message


def test_condition_that_is_not_reported_lists_those_that_are(cluster: MemoryCluster) -> None:
    result = run(cluster, {"condition": {"kind": "deploy", "name": "web", "type": "ReplicaFailure"}})
    assert result.message == (
        "Deployment shop/web: expected condition ReplicaFailure=True, found no ReplicaFailure condition "
        "(conditions: Available=False, Progressing=True)"
    )


# count ----------------------------------------------------------------------------------------------------


def test_count_passes_and_fails_with_numbers(cluster: MemoryCluster) -> None:
    three = run(cluster, {"count": {"kind": "po", "selector": "app=web", "expect": {"equals": 3}}})
    assert three.passed is False
    assert three.message == "expected exactly 3 Pods in shop matching app=web, found 2: web-1, web-2"
    assert (three.expected, three.found) == ("exactly 3", "2")
    at_least = run(cluster, {"count": {"kind": "po", "selector": "app=web", "expect": {"ge": 2}}})
    assert (at_least.passed, at_least.message) == (
        True,
        "Pods in shop matching app=web: found 2 (web-1, web-2)",
    )


def test_count_with_a_field_selector(cluster: MemoryCluster) -> None:
    check = {"count": {"kind": "pods", "fieldSelector": "status.phase=Running", "expect": {"equals": 2}}}
    result = run(cluster, check)
    assert result.passed is True
    assert result.message == "Pods in shop matching status.phase=Running: found 2 (db-1, web-1)"


def test_count_of_nothing(cluster: MemoryCluster) -> None:
    result = run(cluster, {"count": {"kind": "jobs", "expect": {"gt": 0}}})
    assert result.message == "expected more than 0 Jobs in shop, found 0"


# cel ------------------------------------------------------------------------------------------------------


def test_cel_over_one_object(cluster: MemoryCluster) -> None:
    good = run(cluster, {"cel": {"kind": "deploy", "name": "web", "expression": "object.spec.replicas >= 3"}})
    assert (good.passed, good.message) == (True, "Deployment shop/web: object.spec.replicas >= 3")
    expression = "object.status.readyReplicas == object.spec.replicas"
    bad = run(cluster, {"cel": {"kind": "deploy", "name": "web", "expression": expression}})
    assert bad.passed is False
    assert bad.message == f"Deployment shop/web: expected {expression} to be true, found false"


def test_cel_over_a_list(cluster: MemoryCluster) -> None:
    expression = 'objects.all(p, p.status.phase == "Running")'
    result = run(cluster, {"cel": {"kind": "pods", "selector": "app=web", "expression": expression}})
    assert result.passed is False
    assert result.message == f"Pods in shop matching app=web: expected {expression} to be true, found false"
    sized = run(cluster, {"cel": {"kind": "pods", "expression": "objects.size() == 3"}})
    assert sized.passed is True


def test_cel_that_is_not_a_boolean_or_cannot_run(cluster: MemoryCluster) -> None:
    number = run(cluster, {"cel": {"kind": "pods", "expression": "objects.size()"}})
    assert number.message == "Pods in shop: expected objects.size() to give true or false, found 3"
    missing = run(cluster, {"cel": {"kind": "deploy", "name": "web", "expression": "object.spec.paused"}})
    assert missing.passed is False
    assert "could not evaluate object.spec.paused: no such member" in missing.message
    assert "has(...)" in missing.message
    absent = run(cluster, {"cel": {"kind": "deploy", "name": "api", "expression": "true"}})
    assert absent.message == "Deployment shop/api does not exist"


# event ----------------------------------------------------------------------------------------------------


def test_event_seen(cluster: MemoryCluster) -> None:
    result = run(cluster, {"event": {"kind": "pod", "name": "web-1", "reason": "BackOff", "message": "restarting"}})
    assert result.passed is True
    assert result.message == "Pod shop/web-1: event BackOff seen (Back-off restarting failed container web)"


def test_event_missing_names_the_events_there_are(cluster: MemoryCluster) -> None:
    result = run(cluster, {"event": {"kind": "po", "name": "web-1", "reason": "Killing"}})
    assert result.passed is False
    assert result.message == "Pod shop/web-1: expected an event Killing, found only BackOff, Pulled"
    none = run(cluster, {"event": {"kind": "pod", "name": "web-2", "reason": "Killing"}})
    assert none.message == "Pod shop/web-2: expected an event Killing, found no events about it"


def test_event_type_and_message_must_match(cluster: MemoryCluster) -> None:
    typed = run(cluster, {"event": {"kind": "pod", "name": "web-1", "reason": "BackOff", "type": "Normal"}})
    assert typed.message == (
        "Pod shop/web-1: expected a Normal event BackOff, "
        "found Warning BackOff: Back-off restarting failed container web"
    )
    worded = run(cluster, {"event": {"kind": "pod", "name": "web-1", "reason": "BackOff", "message": "^OOM"}})
    assert worded.passed is False
    assert "expected an event BackOff with a message matching ^OOM" in worded.message


# groups ---------------------------------------------------------------------------------------------------


def test_all_group_names_what_fails(cluster: MemoryCluster) -> None:
    result = run(
        cluster,
        {
            "name": "the shop is deployed",
            "all": [
                {"name": "web exists", "exists": {"kind": "deploy", "name": "web"}},
                {"name": "api exists", "exists": {"kind": "deploy", "name": "api"}},
                {"name": "db exists", "exists": {"kind": "deploy", "name": "db"}},
            ],
        },
    )
    assert result.passed is False
    assert result.message == "1 of 3 checks pass; failing: api exists, db exists"
    assert result.lines() == [
        "✗ the shop is deployed: 1 of 3 checks pass; failing: api exists, db exists",
        "  ✓ web exists: Deployment shop/web exists",
        "  ✗ api exists: Deployment shop/api does not exist",
        "  ✗ db exists: Deployment shop/db does not exist",
    ]


def test_any_group_passes_on_one(cluster: MemoryCluster) -> None:
    result = run(
        cluster,
        {
            "any": [
                {"name": "api exists", "exists": {"kind": "deploy", "name": "api"}},
                {"name": "web exists", "exists": {"kind": "deploy", "name": "web"}},
            ]
        },
    )
    assert (result.passed, result.name) == (True, "any of 2 checks")
    assert result.message == "1 of 2 checks pass (one is enough): web exists"
    nothing = run(cluster, {"any": [{"exists": {"kind": "deploy", "name": "api"}}]})
    assert (nothing.passed, nothing.message) == (False, "none of 1 checks pass (at least one must)")


def test_nested_groups(cluster: MemoryCluster) -> None:
    check = {
        "all": [
            {"exists": {"kind": "ns", "name": "shop"}},
            {
                "any": [
                    {"exists": {"kind": "deploy", "name": "api"}},
                    {"absent": {"kind": "deploy", "name": "api"}},
                ]
            },
        ]
    }
    result = run(cluster, check)
    assert result.passed is True
    assert [r.passed for r in result.walk()] == [True, True, True, False, True]


# failures that are not the learner's ----------------------------------------------------------------------


def test_an_unknown_kind_fails_with_a_suggestion(cluster: MemoryCluster) -> None:
    result = run(cluster, {"exists": {"kind": "Deploymnet", "name": "web"}})
    assert result.passed is False
    assert result.message == 'could not check: the cluster serves no kind "Deploymnet" (did you mean "Deployment"?)'


def test_an_unreachable_api_fails_every_check_without_raising(cluster: MemoryCluster) -> None:
    cluster.disconnect()
    checks = [Check.model_validate({"exists": {"kind": "deploy", "name": "web"}})] * 2
    step = evaluate(checks, CheckContext(cluster, "shop"))
    assert step.passed is False
    assert [r.message for r in step.results] == [
        "could not check: cannot reach the cluster API at memory (connection refused)"
    ] * 2


def test_a_bad_selector_fails_the_check(cluster: MemoryCluster) -> None:
    result = run(cluster, {"count": {"kind": "pods", "selector": "app in (web", "expect": {"equals": 1}}})
    assert result.passed is False
    assert result.message.startswith("could not check: the cluster API answered 400: unable to parse requirement")


def test_a_bug_in_a_kind_fails_the_check_instead_of_raising(
    cluster: MemoryCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.checks.kinds import exists

    def broken(*args: object) -> None:
        raise KeyError("metadata")

    monkeypatch.setattr(exists, "judge", broken)
    result = run(cluster, {"exists": {"kind": "deploy", "name": "web"}})
    assert (result.passed, result.message) == (False, "could not check (KeyError: 'metadata')")


def test_reads_are_shared_within_one_pass(cluster: MemoryCluster) -> None:
    checks = [
        Check.model_validate({"exists": {"kind": "deploy", "name": "web"}}),
        Check.model_validate({"condition": {"kind": "Deployment", "name": "web", "type": "Available"}}),
        Check.model_validate({"cel": {"kind": "deployments", "name": "web", "expression": "true"}}),
    ]
    evaluate(checks, CheckContext(cluster, "shop"))
    assert cluster.fetches == 1


def test_a_step_result_summarises(cluster: MemoryCluster) -> None:
    checks = [
        Check.model_validate({"name": "web", "exists": {"kind": "deploy", "name": "web"}}),
        Check.model_validate({"name": "api", "exists": {"kind": "deploy", "name": "api"}}),
    ]
    step = evaluate(checks, CheckContext(cluster, "shop"))
    assert (step.passed, step.pending, step.summary) == (False, False, "1 of 2 checks pass")
    assert [r.name for r in step.failed] == ["api"]
    assert str(step) == "✓ web: Deployment shop/web exists\n✗ api: Deployment shop/api does not exist"
    assert evaluate([], CheckContext(cluster, "shop")).passed is True


def test_before_the_first_evaluation_every_check_is_pending() -> None:
    checks = [
        Check.model_validate({"name": "web", "exists": {"kind": "deploy", "name": "web"}}),
        Check.model_validate({"any": [{"absent": {"kind": "pod", "name": "x"}}]}),
    ]
    step = not_yet_checked(checks)
    assert (step.passed, step.pending) == (False, True)
    assert step.lines() == [
        "… web: not checked yet",
        "… any of 1 checks: not checked yet",
        "  … pod x is absent: not checked yet",
    ]
