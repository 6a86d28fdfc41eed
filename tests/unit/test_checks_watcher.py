"""The watch-driven evaluator: re-evaluates on changes (never by polling), debounces, reports only changes."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest

from engine.checks.context import CheckContext
from engine.checks.memory import MemoryCluster
from engine.checks.reader import ApiResource
from engine.checks.results import StepResult
from engine.checks.spec import Check
from engine.checks.watcher import CheckWatcher, wait

WAIT = 10  # seconds a callback may take before the test gives up; never a sleep


def config(value: str, name: str = "cfg", labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "shop", "labels": labels or {}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"color": value}}


def color_is(value: str, **extra: Any) -> Check:
    return Check.model_validate(
        {
            "field": {"kind": "cm", "name": "cfg", "path": "{.data.color}", "expect": {"equals": value}},
            **extra,
        }
    )


class Results:
    """Collects callbacks; `next()` waits for the next one (bounded), so tests never sleep."""

    def __init__(self) -> None:
        self.queue: queue.Queue[StepResult] = queue.Queue()
        self.seen: list[StepResult] = []

    def __call__(self, result: StepResult) -> None:
        self.seen.append(result)
        self.queue.put(result)

    def next(self) -> StepResult:
        return self.queue.get(timeout=WAIT)


@pytest.fixture
def cluster() -> MemoryCluster:
    return MemoryCluster([config("red")])


@pytest.fixture
def watching(cluster: MemoryCluster) -> Iterator[tuple[CheckWatcher, Results]]:
    results = Results()
    watcher = CheckWatcher([color_is("blue")], CheckContext(cluster, "shop"), results, debounce=0.05)
    with watcher:
        yield watcher, results


def test_first_result_then_a_change_re_evaluates(
    cluster: MemoryCluster, watching: tuple[CheckWatcher, Results]
) -> None:
    watcher, results = watching
    first = results.next()
    assert first.passed is False
    assert first.results[0].message == "ConfigMap shop/cfg: expected {.data.color} = blue, found red"
    cluster.put(config("blue"))
    second = results.next()
    assert second.passed is True
    assert watcher.evaluations == 2


def test_it_watches_exactly_what_the_checks_read(
    cluster: MemoryCluster, watching: tuple[CheckWatcher, Results]
) -> None:
    watcher, results = watching
    results.next()
    assert [read.describe() for read in watcher.watched] == ["ConfigMap shop/cfg"]
    assert cluster.streams() == 1
    assert watcher.timer_due is None  # nothing is polled


def test_unrelated_changes_do_not_re_evaluate(cluster: MemoryCluster, watching: tuple[CheckWatcher, Results]) -> None:
    watcher, results = watching
    results.next()
    cluster.put(config("green", name="other"))
    cluster.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cfg", "namespace": "shop"}})
    cluster.put(config("blue"))
    assert results.next().passed is True
    assert watcher.evaluations == 2


def test_a_change_that_keeps_the_result_is_not_reported(
    cluster: MemoryCluster, watching: tuple[CheckWatcher, Results]
) -> None:
    _, results = watching
    results.next()
    cluster.put(config("red"))  # same value: evaluated, result unchanged, no callback
    cluster.put(config("green"))
    changed = results.next()
    assert changed.results[0].found == "green"
    assert len(results.seen) == 2


def test_a_burst_of_changes_is_evaluated_once(cluster: MemoryCluster) -> None:
    results = Results()
    context = CheckContext(cluster, "shop")
    with CheckWatcher([color_is("blue")], context, results, debounce=0.3, max_delay=5) as watcher:
        results.next()
        for shade in range(40):
            cluster.put(config(f"shade-{shade}"))
        cluster.put(config("blue"))
        assert results.next().passed is True
        assert watcher.evaluations == 2
        assert watcher.triggers >= 41


def test_max_delay_bounds_the_debounce(cluster: MemoryCluster) -> None:
    results = Results()
    context = CheckContext(cluster, "shop")
    with CheckWatcher([color_is("blue")], context, results, debounce=60, max_delay=0.2) as watcher:
        results.next()
        cluster.put(config("blue"))
        assert results.next().passed is True
        assert watcher.evaluations == 2


def test_selector_reads_see_objects_that_start_to_match(cluster: MemoryCluster) -> None:
    results = Results()
    count = Check.model_validate({"count": {"kind": "cm", "selector": "tier=web", "expect": {"equals": 2}}})
    with CheckWatcher([count], CheckContext(cluster, "shop"), results, debounce=0.05):
        assert results.next().results[0].found == "0"
        cluster.put(config("a", name="one", labels={"tier": "web"}))
        assert results.next().results[0].found == "1"
        cluster.put(config("b", name="two", labels={"tier": "web"}))
        assert results.next().passed is True
        cluster.delete("cm", "one", "shop")
        assert results.next().results[0].found == "1"


def test_it_reconnects_and_relists_after_the_api_went_away(
    cluster: MemoryCluster, watching: tuple[CheckWatcher, Results]
) -> None:
    _, results = watching
    results.next()
    cluster.disconnect()
    down = results.next()
    assert down.results[0].message == "could not check: cannot reach the cluster API at memory (connection refused)"
    cluster.reconnect()
    back = results.next()
    assert back.results[0].message == "ConfigMap shop/cfg: expected {.data.color} = blue, found red"
    cluster.put(config("blue"))
    assert results.next().passed is True


def test_a_kind_served_later_is_picked_up_through_crds(cluster: MemoryCluster) -> None:
    results = Results()
    widget = Check.model_validate({"exists": {"kind": "widgets", "name": "w1"}})
    with CheckWatcher([widget], CheckContext(cluster, "shop"), results, debounce=0.05) as watcher:
        first = results.next()
        assert first.results[0].message == 'could not check: the cluster serves no kind "widgets"'
        assert [read.describe() for read in watcher.watched] == ["CustomResourceDefinitions"]
        assert watcher.timer_due is None
        cluster.serve(ApiResource("example.com", "v1", "Widget", "widgets", True, "widget"))
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}
        cluster.put({**crd, "metadata": {"name": "widgets.example.com"}})
        assert results.next().results[0].message == "Widget shop/w1 does not exist"
        assert [read.describe() for read in watcher.watched] == ["Widget shop/w1"]
        cluster.put(
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w1", "namespace": "shop"},
            }
        )
        assert results.next().passed is True


def test_command_checks_run_on_changes_and_on_a_slow_timer(cluster: MemoryCluster) -> None:
    results = Results()
    checks = [color_is("blue"), Check.model_validate({"command": {"run": "true"}})]
    with CheckWatcher(checks, CheckContext(cluster, "shop"), results, command_interval=30) as watcher:
        results.next()
        assert watcher.timer_due is not None
        cluster.put(config("blue"))
        assert results.next().passed is True


def test_a_failing_callback_does_not_stop_the_watcher(cluster: MemoryCluster) -> None:
    results = Results()

    def flaky(result: StepResult) -> None:
        results(result)
        if len(results.seen) == 1:
            raise RuntimeError("the screen went away")

    with CheckWatcher([color_is("blue")], CheckContext(cluster, "shop"), flaky, debounce=0.05):
        results.next()
        cluster.put(config("blue"))
        assert results.next().passed is True


def test_stop_closes_every_watch(cluster: MemoryCluster) -> None:
    results = Results()
    watcher = CheckWatcher([color_is("blue")], CheckContext(cluster, "shop"), results).start()
    results.next()
    assert cluster.streams() == 1
    watcher.stop()
    assert cluster.streams() == 0


# wait -----------------------------------------------------------------------------------------------------


def test_wait_returns_as_soon_as_a_change_makes_everything_pass(cluster: MemoryCluster) -> None:
    def learner_fixes_it(result: StepResult) -> None:
        if not result.passed:
            cluster.put(config("blue"))

    result = wait([color_is("blue", timeout=WAIT)], CheckContext(cluster, "shop"), on_result=learner_fixes_it)
    assert result.passed is True


def test_wait_gives_up_when_each_failing_check_had_its_time(cluster: MemoryCluster) -> None:
    seen: list[StepResult] = []
    result = wait([color_is("blue", timeout=0.2)], CheckContext(cluster, "shop"), on_result=seen.append)
    assert result.passed is False
    assert result.results[0].message.endswith("found red")
    assert len(seen) == 1


def test_wait_with_no_time_is_one_evaluation(cluster: MemoryCluster) -> None:
    result = wait([color_is("red")], CheckContext(cluster, "shop"))
    assert result.passed is True
    failing = wait([color_is("blue")], CheckContext(cluster, "shop"), timeout=0)
    assert failing.passed is False
