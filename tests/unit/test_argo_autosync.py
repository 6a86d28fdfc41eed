"""Automated sync rules: when a refresh starts a sync, and the back-offs of self-heal and retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.gitops.argo.autosync import decide, retry_delay, retry_limit, self_heal_backoff
from engine.gitops.argo.compare import Resource
from engine.gitops.argo.tracking import ResourceKey
from engine.gitops.controller import Timing

JSON = dict[str, Any]
SHA = "a" * 40
NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
SOURCE = {"repoURL": "http://git/shop.git", "path": "apps", "targetRevision": "HEAD"}


def app(automated: JSON | None, state: JSON | None = None, **extra: Any) -> JSON:
    policy = {"automated": automated} if automated is not None else {}
    result: JSON = {"metadata": {"name": "shop"}, "spec": {"source": SOURCE, "syncPolicy": policy}, **extra}
    if state is not None:
        result["status"] = {"operationState": state}
    return result


def resource(name: str, status: str = "OutOfSync", target: bool = True, live: bool = True) -> Resource:
    obj = {"kind": "ConfigMap", "metadata": {"name": name}}
    return Resource(
        ResourceKey("", "ConfigMap", "shop", name), "v1", obj if target else None, obj if live else None, status
    )


def attempted(phase: str, heals: int = 0, finished: datetime = NOW) -> JSON:
    sync: JSON = {"revision": SHA, "prune": False}
    if heals:
        sync["selfHealAttemptsCount"] = heals
    return {
        "operation": {"sync": sync},
        "phase": phase,
        "message": "one or more objects failed to apply",
        "finishedAt": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "syncResult": {"revision": SHA, "source": SOURCE},
    }


def test_self_heal_waits_0_2_6_18_54_162_then_300_seconds() -> None:
    assert [self_heal_backoff(n) for n in range(8)] == [0, 2, 6, 18, 54, 162, 300, 300]


def test_retries_wait_5_10_20_40_80_seconds_by_default_and_follow_the_app_backoff() -> None:
    assert [retry_delay(None, n) for n in range(5)] == [5, 10, 20, 40, 80]
    assert retry_delay(None, 10) == 180
    custom = {"backoff": {"duration": "1s", "factor": 3, "maxDuration": "5s"}}
    assert [retry_delay(custom, n) for n in range(3)] == [1, 3, 5]
    assert retry_limit({"limit": 2}) == 2 and retry_limit(None) == 0


def test_nothing_happens_without_automation_or_when_in_sync() -> None:
    out = [resource("a")]
    assert decide(app(None), "OutOfSync", SHA, out, NOW).operation is None
    assert decide(app({"enabled": False}), "OutOfSync", SHA, out, NOW).operation is None
    assert decide(app({}), "Synced", SHA, [resource("a", "Synced")], NOW).operation is None
    assert decide(app({}, operation={"sync": {}}), "OutOfSync", SHA, out, NOW).operation is None


def test_an_out_of_sync_app_gets_an_automated_operation_for_the_revision() -> None:
    decision = decide(app({"enabled": None, "prune": True}), "OutOfSync", SHA, [resource("a")], NOW)
    assert decision.operation == {
        "sync": {"revision": SHA, "prune": True},
        "initiatedBy": {"automated": True},
        "retry": {"limit": 5},
    }


def test_pruning_alone_does_nothing_without_prune() -> None:
    extra = resource("old", target=False)
    assert decide(app({}), "OutOfSync", SHA, [resource("a", "Synced"), extra], NOW).operation is None
    assert decide(app({"prune": True}), "OutOfSync", SHA, [resource("a", "Synced"), extra], NOW).operation is not None


def test_a_sync_that_would_delete_everything_is_refused_unless_allow_empty() -> None:
    gone = [resource("a", target=False), resource("b", target=False)]
    refused = decide(app({"prune": True}), "OutOfSync", SHA, gone, NOW)
    assert refused.operation is None
    assert refused.condition == f"Skipping sync attempt to [{SHA}]: auto-sync will wipe out all resources"
    assert decide(app({"prune": True, "allowEmpty": True}), "OutOfSync", SHA, gone, NOW).operation is not None


def test_a_failed_revision_is_not_attempted_again() -> None:
    decision = decide(app({}, attempted("Failed")), "OutOfSync", SHA, [resource("a")], NOW)
    assert decision.operation is None
    assert decision.condition == f"Failed last sync attempt to [{SHA}]: one or more objects failed to apply"
    other = decide(app({}, attempted("Failed")), "OutOfSync", "b" * 40, [resource("a")], NOW)
    assert other.operation is not None, "a new revision is attempted"


def test_a_succeeded_revision_is_synced_again_only_by_self_heal_after_its_backoff() -> None:
    out = [resource("a"), resource("b", "Synced")]
    assert decide(app({}, attempted("Succeeded")), "OutOfSync", SHA, out, NOW) == decide(
        app({}), "Synced", SHA, out, NOW
    )
    first = decide(app({"selfHeal": True}, attempted("Succeeded")), "OutOfSync", SHA, out, NOW)
    assert first.operation is not None
    assert first.operation["sync"]["selfHealAttemptsCount"] == 1
    assert first.operation["sync"]["resources"] == [
        {"group": "", "kind": "ConfigMap", "name": "a", "namespace": "shop"}
    ]
    waiting = decide(
        app({"selfHeal": True}, attempted("Succeeded", heals=2)), "OutOfSync", SHA, out, NOW + timedelta(seconds=1)
    )
    assert waiting.operation is None and waiting.retry_after == 5.0
    due = decide(
        app({"selfHeal": True}, attempted("Succeeded", heals=2)), "OutOfSync", SHA, out, NOW + timedelta(seconds=7)
    )
    assert due.operation is not None and due.operation["sync"]["selfHealAttemptsCount"] == 3


def test_the_self_heal_backoff_goes_through_timing() -> None:
    healed = app({"selfHeal": True}, attempted("Succeeded", heals=3))
    decision = decide(healed, "OutOfSync", SHA, [resource("a")], NOW, Timing(scale=0.1))
    assert decision.retry_after is not None and abs(decision.retry_after - 1.8) < 1e-9


def test_a_status_or_operation_of_the_wrong_shape_reads_as_absent() -> None:
    for state in ("garbage", {"syncResult": [1], "operation": "x", "phase": 3}):
        decision = decide(app({}, state), "OutOfSync", SHA, [resource("a")], NOW)
        assert decision.operation is not None
    assert retry_delay("junk", 0) == 5 and retry_limit(["junk"]) == 0
