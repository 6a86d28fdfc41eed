"""The Deployment controller's arithmetic, hashing and revision bookkeeping, as pure functions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.cluster.embedded.controllers.deployments import history, replicas
from engine.cluster.embedded.controllers.deployments.hashing import (
    POD_TEMPLATE_HASH,
    compute_hash,
    equal_ignore_hash,
    safe_encode,
)
from engine.cluster.embedded.controllers.deployments.replicas import DeploymentError
from engine.cluster.embedded.controllers.deployments.sync import scale

Obj = dict[str, Any]
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}


def _deployment(count: int = 10, surge: Any = "25%", unavailable: Any = "25%", kind: str = "RollingUpdate") -> Obj:
    strategy: Obj = {"type": kind}
    if kind == "RollingUpdate":
        strategy["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 1, "annotations": {}},
        "spec": {"replicas": count, "strategy": strategy, "template": copy.deepcopy(TEMPLATE)},
        "status": {},
    }


def _rs(name: str, count: int, created: str = "2030-01-01T00:00:00Z", **annotations: str) -> Obj:
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"{name}-uid",
            "creationTimestamp": created,
            "annotations": dict(annotations),
        },
        "spec": {"replicas": count},
        "status": {},
    }


# Surge and unavailability -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        (3, 10, True, 3),
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("25%", 3, True, 1),
        ("25%", 3, False, 0),
        ("100%", 7, False, 7),
        ("0%", 5, True, 0),
        ("33%", 3, True, 1),
        ("50%", 5, False, 2),
    ],
)
def test_scaled_values_round_like_intstr(value: Any, total: int, round_up: bool, expected: int) -> None:
    assert replicas.scaled_value(value, total, round_up) == expected


@pytest.mark.parametrize("value", ["25", "abc%", None, 1.5])
def test_malformed_int_or_percent_is_an_error(value: Any) -> None:
    with pytest.raises(DeploymentError, match="invalid value for IntOrString"):
        replicas.scaled_value(value, 10, True)


@pytest.mark.parametrize(
    ("count", "surge", "unavailable", "expected"),
    [
        (10, "25%", "25%", (3, 2)),
        (3, "25%", "25%", (1, 0)),
        (1, "25%", "25%", (1, 0)),
        (4, 0, "10%", (0, 1)),  # both resolve to zero: one pod may be unavailable
        (10, 2, 0, (2, 0)),
        (5, "100%", "100%", (5, 5)),
    ],
)
def test_fenceposts(count: int, surge: Any, unavailable: Any, expected: tuple[int, int]) -> None:
    d = _deployment(count, surge, unavailable)
    assert (replicas.max_surge(d), replicas.max_unavailable(d)) == expected


def test_max_unavailable_never_exceeds_the_replicas() -> None:
    assert replicas.max_unavailable(_deployment(2, 0, 5)) == 2
    assert replicas.max_unavailable(_deployment(0, 1, 1)) == 0


def test_recreate_has_no_surge_and_no_unavailability_budget() -> None:
    d = _deployment(4, kind="Recreate")
    assert (replicas.max_surge(d), replicas.max_unavailable(d)) == (0, 0)


@pytest.mark.parametrize(
    ("existing", "new", "expected"),
    [
        ([], 0, 10),  # a first rollout scales straight to the desired size
        ([10], 0, 3),  # maxSurge 25% of 10 = 3 extra pods
        ([8], 4, 5),  # 12 of 13 allowed: one more
        ([10], 3, 3),  # no room left
        ([2], 9, 10),  # never above the desired size
    ],
)
def test_new_replica_set_grows_within_max_surge(existing: list[int], new: int, expected: int) -> None:
    d = _deployment(10)
    new_rs = _rs("new", new)
    old = [_rs(f"old{i}", count) for i, count in enumerate(existing)]
    assert replicas.new_rs_new_replicas(d, [*old, new_rs], new_rs) == expected


def test_recreate_scales_the_new_set_straight_to_size() -> None:
    d = _deployment(4, kind="Recreate")
    assert replicas.new_rs_new_replicas(d, [_rs("old", 4), _rs("new", 0)], _rs("new", 0)) == 4


# Proportional scaling ------------------------------------------------------------------------------------


class RecordingClient:
    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self.events: list[str] = []

    def update_replica_set(self, rs: Obj) -> Obj:
        self.sizes[rs["metadata"]["name"]] = rs["spec"]["replicas"]
        return rs

    def event(self, d: Obj, event_type: str, reason: str, message: str) -> None:
        self.events.append(message)


def test_resizing_mid_rollout_spreads_the_change_in_proportion() -> None:
    # 10 replicas, maxSurge 3: the old set had 8 and the new one 5 when the Deployment grew to 20.
    d = _deployment(20, surge=3, unavailable=2)
    old = _rs("old", 8, "2030-01-01T00:00:00Z", **{replicas.MAX_REPLICAS: "13"})
    new = _rs("new", 5, "2030-01-01T00:01:00Z", **{replicas.MAX_REPLICAS: "13"})
    client = RecordingClient()

    scale(client, d, new, [old])  # type: ignore[arg-type]

    # 23 allowed: old grows to round(8*23/13)=14, new to round(5*23/13)=9; the leftover goes to the largest.
    assert client.sizes == {"old": 14, "new": 9}
    assert client.events == ["Scaled up replica set old from 8 to 14", "Scaled up replica set new from 5 to 9"]


def test_shrinking_mid_rollout_takes_from_the_larger_and_older_sets_first() -> None:
    d = _deployment(5, surge=1, unavailable=0)
    old = _rs("old", 6, "2030-01-01T00:00:00Z", **{replicas.MAX_REPLICAS: "11"})
    new = _rs("new", 5, "2030-01-01T00:01:00Z", **{replicas.MAX_REPLICAS: "11"})
    client = RecordingClient()

    scale(client, d, new, [old])  # type: ignore[arg-type]

    assert client.sizes == {"old": 3, "new": 3}
    assert sum(client.sizes.values()) == 6


def test_a_single_active_set_takes_the_whole_size() -> None:
    d = _deployment(7)
    client = RecordingClient()
    scale(client, d, _rs("new", 3), [_rs("old", 0)])  # type: ignore[arg-type]
    assert client.sizes == {"new": 7}
    assert client.events == ["Scaled up replica set new from 3 to 7"]


def test_rounding_is_half_away_from_zero() -> None:
    assert [replicas.round_half_away(x) for x in (0.5, 1.5, 2.5, -0.5, -1.5, 2.49)] == [1, 2, 3, -1, -2, 2]


# Hashing -------------------------------------------------------------------------------------------------


def test_the_hash_of_a_template_is_stable() -> None:
    assert compute_hash(TEMPLATE) == "59bd5955b7"
    assert compute_hash(copy.deepcopy(TEMPLATE)) == compute_hash(TEMPLATE)


def test_the_hash_ignores_key_order_but_not_content() -> None:
    reordered = {"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]}
    changed = copy.deepcopy(TEMPLATE)
    changed["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert compute_hash(reordered) == compute_hash(TEMPLATE)
    assert compute_hash(changed) != compute_hash(TEMPLATE)


def test_a_collision_count_gives_a_new_hash() -> None:
    hashes = {compute_hash(TEMPLATE, None), compute_hash(TEMPLATE, 0), compute_hash(TEMPLATE, 1)}
    assert len(hashes) == 3


def test_hashes_use_the_safe_alphabet() -> None:
    assert safe_encode("0123456789") == "456789bcdf"
    assert set(compute_hash(TEMPLATE)) <= set("456789bcdf")


def test_templates_compare_equal_without_their_hash_label_and_empty_fields() -> None:
    with_hash = copy.deepcopy(TEMPLATE)
    with_hash["metadata"]["labels"][POD_TEMPLATE_HASH] = "abc"
    with_hash["metadata"]["annotations"] = {}
    with_hash["spec"]["volumes"] = []
    other = copy.deepcopy(TEMPLATE)
    other["spec"]["containers"][0]["image"] = "nginx:1.26"

    assert equal_ignore_hash(with_hash, TEMPLATE)
    assert not equal_ignore_hash(other, TEMPLATE)


# Revisions -------------------------------------------------------------------------------------------------


def test_a_new_set_gets_the_revision_and_the_deployment_size() -> None:
    d = _deployment(10)
    d["metadata"]["annotations"] = {
        "kubernetes.io/change-cause": "kubectl set image",
        history.LAST_APPLIED: "{}",
        history.REVISION: "7",
    }
    rs = _rs("new", 0)

    assert history.set_new_rs_annotations(d, rs, "4", exists=False)
    assert rs["metadata"]["annotations"] == {
        "kubernetes.io/change-cause": "kubectl set image",
        history.REVISION: "4",
        replicas.DESIRED_REPLICAS: "10",
        replicas.MAX_REPLICAS: "13",
    }


def test_a_rolled_back_set_keeps_its_earlier_revisions() -> None:
    d = _deployment()
    rs = _rs("old", 0, **{history.REVISION: "1"})

    assert history.set_new_rs_annotations(d, rs, "3", exists=True)
    assert history.set_new_rs_annotations(d, rs, "5", exists=True)
    assert rs["metadata"]["annotations"] == {history.REVISION: "5", history.REVISION_HISTORY: "1,3"}
    assert not history.set_new_rs_annotations(d, rs, "5", exists=True)
    assert not history.set_new_rs_annotations(d, rs, "4", exists=True)


def test_revision_history_drops_the_oldest_entries_beyond_the_limit() -> None:
    rs = _rs("old", 0, **{history.REVISION: "40", history.REVISION_HISTORY: "10,20,30"})
    history.set_new_rs_annotations(_deployment(), rs, "50", exists=True, limit=8)
    assert rs["metadata"]["annotations"][history.REVISION_HISTORY] == "20,30,40"


def test_a_set_with_an_unreadable_revision_is_left_alone() -> None:
    rs = _rs("old", 0, **{history.REVISION: "x"})
    assert not history.set_new_rs_annotations(_deployment(), rs, "2", exists=True)
    assert rs["metadata"]["annotations"][history.REVISION] == "x"


def test_max_revision_skips_unreadable_values() -> None:
    sets = [_rs("a", 0, **{history.REVISION: "3"}), _rs("b", 0, **{history.REVISION: "x"}), _rs("c", 0)]
    assert history.max_revision(sets) == 3


def test_revision_order_falls_back_to_creation_time() -> None:
    sets = [
        _rs("c", 0, "2030-01-01T00:00:03Z", **{history.REVISION: "2"}),
        _rs("b", 0, "2030-01-01T00:00:02Z", **{history.REVISION: "x"}),
        _rs("a", 0, "2030-01-01T00:00:01Z", **{history.REVISION: "1"}),
    ]
    assert [rs["metadata"]["name"] for rs in history.by_revision(sets)] == ["a", "b", "c"]


class DeletingClient:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete_replica_set(self, rs: Obj) -> None:
        self.deleted.append(rs["metadata"]["name"])


def test_cleanup_deletes_the_lowest_revisions_that_are_fully_scaled_down() -> None:
    d = _deployment()
    d["spec"]["revisionHistoryLimit"] = 1
    scaled_down = [_rs(f"r{i}", 0, **{history.REVISION: str(i)}) for i in (1, 2, 3)]
    busy = _rs("r0", 1, **{history.REVISION: "0"})
    client = DeletingClient()

    history.cleanup(client, [*scaled_down, busy], d)  # type: ignore[arg-type]

    assert client.deleted == ["r1", "r2"]


def test_cleanup_keeps_sets_the_replica_set_controller_has_not_caught_up_with() -> None:
    d = _deployment()
    d["spec"]["revisionHistoryLimit"] = 0
    lagging = _rs("lagging", 0, **{history.REVISION: "1"})
    lagging["metadata"]["generation"] = 2
    lagging["status"] = {"observedGeneration": 1}
    client = DeletingClient()

    history.cleanup(client, [lagging], d)  # type: ignore[arg-type]

    assert client.deleted == []


def test_saturation_needs_size_desired_annotation_and_availability() -> None:
    d = _deployment(3)
    rs = _rs("new", 3, **{replicas.DESIRED_REPLICAS: "3"})
    assert not replicas.is_saturated(d, rs)
    rs["status"] = {"availableReplicas": 3}
    assert replicas.is_saturated(d, rs)
    rs["metadata"]["annotations"][replicas.DESIRED_REPLICAS] = "2"
    assert not replicas.is_saturated(d, rs)
