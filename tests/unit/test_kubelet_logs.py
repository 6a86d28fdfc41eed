"""Container logs: the store, the request options, which instance a request means, and following."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.cluster.embedded.kubelet import logs
from engine.cluster.embedded.status import ApiError
from engine.cluster.embedded.workloads import RunPlan, StaticLookup, load_catalogue

from .test_kubelet_support import START, Cluster, container


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    started = Cluster(tmp_path)
    yield started
    started.close()


def plan(script: str) -> RunPlan:
    image = load_catalogue(None).resolve("busybox:1.36")
    spec = {"name": "box", "command": ["sh", "-c", script]}
    return image.plan(spec, {"metadata": {"name": "box"}, "spec": {"containers": [spec]}}, StaticLookup())


def lines_of(cluster: Cluster, name: str, **query: str) -> str:
    pod = cluster.pod(name)
    assert pod is not None
    parsed = logs.LogQuery.parse(query, cluster.time)
    container_id = logs.container_id_for(pod, logs.choose_container(pod, parsed.container), parsed.previous)
    return logs.read(cluster.node.logs, container_id, parsed, cluster.time)


def test_a_run_logs_its_plan_with_real_timestamps() -> None:
    store = logs.LogStore()
    store.open("uid", "box", "c1", plan("echo one; sleep 2; echo two; sleep 600"), START)
    run = store.run("c1")
    assert run is not None
    assert run.lines(START + timedelta(seconds=1)) == [(START, "one")]
    assert run.lines(START + timedelta(seconds=5))[-1] == (START + timedelta(seconds=2), "two")
    assert run.next_line_at(START + timedelta(seconds=1)) == START + timedelta(seconds=2)
    assert run.next_line_at(START + timedelta(seconds=3)) is None


def test_appended_lines_merge_in_time_order_until_the_run_stops() -> None:
    store = logs.LogStore()
    store.open("uid", "box", "c1", plan("echo one; sleep 2; echo two; sleep 600"), START)
    store.append("c1", "GET /", START + timedelta(seconds=1))
    store.close("c1", START + timedelta(seconds=3))
    store.append("c1", "too late", START + timedelta(seconds=4))
    run = store.run("c1")
    assert run is not None
    assert [text for _, text in run.lines(START + timedelta(hours=1))] == ["one", "GET /", "two"]


def test_only_the_current_and_the_previous_instance_are_kept() -> None:
    store = logs.LogStore()
    for index in range(3):
        store.open("uid", "box", f"c{index}", None, START)
    assert store.run("c0") is None and store.run("c1") is not None and store.run("c2") is not None
    store.forget_pod("uid")
    assert store.run("c2") is None


def test_query_options_select_and_format_lines() -> None:
    lines = [(START + timedelta(seconds=s), f"line {s}") for s in range(5)]
    now = START + timedelta(seconds=5)
    assert logs.LogQuery.parse({"tailLines": "2"}, now).render(
        logs.LogQuery.parse({"tailLines": "2"}, now).select(lines)
    ) == ("line 3\nline 4\n")
    since = logs.LogQuery.parse({"sinceSeconds": "2"}, now)
    assert [text for _, text in since.select(lines)] == ["line 3", "line 4"]
    assert logs.LogQuery.parse({"tailLines": "0"}, now).select(lines) == []
    stamped = logs.LogQuery.parse({"timestamps": "true"}, now)
    assert stamped.render(lines[:1]) == "2024-05-01T10:00:00Z line 0\n"
    moment = datetime(2024, 5, 1, 10, 0, 0, 123400, tzinfo=UTC)
    assert logs.rfc3339_nano(moment) == "2024-05-01T10:00:00.1234Z"
    when = logs.LogQuery.parse({"sinceTime": "2024-05-01T10:00:03Z"}, now)
    assert [text for _, text in when.select(lines)] == ["line 3", "line 4"]


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ({"tailLines": "x"}, 400, "tailLines: invalid integer 'x'"),
        ({"tailLines": "-1"}, 422, "tailLines: Invalid value: -1: must be greater than or equal to 0"),
        ({"sinceSeconds": "0"}, 422, "sinceSeconds: Invalid value: 0: must be greater than 0"),
        ({"sinceSeconds": "5", "sinceTime": "2024-05-01T10:00:00Z"}, 422, "at most one of `sinceTime`"),
        ({"follow": "maybe"}, 400, "follow: invalid boolean 'maybe'"),
        ({"limitBytes": "0"}, 422, "limitBytes: Invalid value: 0: must be greater than 0"),
    ],
)
def test_bad_options_are_rejected_like_the_api_server_does(query: dict, code: int, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        logs.LogQuery.parse(query, START)
    assert caught.value.code == code and message in caught.value.message


def test_limit_bytes_cuts_the_answer() -> None:
    store = logs.LogStore()
    store.open("uid", "box", "c1", plan("echo hello; echo world; sleep 600"), START)
    query = logs.LogQuery.parse({"limitBytes": "8"}, START)
    assert logs.read(store, "c1", query, START + timedelta(seconds=1)) == "hello\nwo"


def test_kubectl_logs_reads_the_running_container(cluster: Cluster) -> None:
    cluster.create_pod("web")
    cluster.advance(5)
    text = lines_of(cluster, "web")
    assert (
        text.splitlines()[0]
        == "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration"
    )
    assert lines_of(cluster, "web", tailLines="1").endswith("start worker process 29\n")


def test_previous_is_the_instance_before_a_restart(cluster: Cluster) -> None:
    script = 'echo "started $(date +%s)"; exit 1'
    cluster.create_pod("crash", container("app", "busybox:1.36", command=["sh", "-c", script]))
    cluster.advance(5)
    with pytest.raises(ApiError) as caught:
        lines_of(cluster, "crash", previous="true")
    assert caught.value.message == 'previous terminated container "app" in pod "crash" not found'
    assert lines_of(cluster, "crash") == f"started {int(START.timestamp()) + 5}\n"
    cluster.advance(2)
    assert lines_of(cluster, "crash", previous="true") == f"started {int(START.timestamp()) + 7}\n"


def test_a_waiting_container_has_no_log_yet(cluster: Cluster) -> None:
    cluster.create_pod("web")
    cluster.create_pod("bad", container("app", "nginx:nope-nope"))
    cluster.advance(1)
    with pytest.raises(ApiError) as caught:
        lines_of(cluster, "web")
    assert caught.value.message == 'container "app" in pod "web" is waiting to start: ContainerCreating'
    cluster.advance(2)
    with pytest.raises(ApiError) as caught:
        lines_of(cluster, "bad")
    assert caught.value.message == 'container "app" in pod "bad" is waiting to start: image can\'t be pulled'


def test_a_pod_with_several_containers_needs_a_container_name(cluster: Cluster) -> None:
    init = [container("setup", "busybox:1.36", command=["true"])]
    cluster.create_pod("two", container("a"), container("b", "busybox:1.36"), initContainers=init)
    pod = cluster.pod("two")
    assert pod is not None
    with pytest.raises(ApiError) as caught:
        logs.choose_container(pod, "")
    assert caught.value.message == (
        "a container name must be specified for pod two, choose one of: [a b] or one of the init containers: [setup]"
    )
    with pytest.raises(ApiError) as caught:
        logs.choose_container(pod, "c")
    assert caught.value.message == "container c is not valid for pod two"
    assert logs.choose_container(pod, "setup") == "setup"


def test_follow_streams_new_lines_and_ends_when_the_container_stops() -> None:
    async def scenario() -> list[str]:
        store = logs.LogStore()
        now = datetime.now(UTC)
        store.open("uid", "box", "c1", plan("echo first; sleep 3600"), now)
        received: list[str] = []

        async def write(text: str) -> None:
            received.append(text)

        follower = asyncio.create_task(logs.follow(store, "c1", logs.LogQuery(follow=True), write))
        await asyncio.sleep(0)
        store.append("c1", "appended")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        store.close("c1", datetime.now(UTC))
        await asyncio.wait_for(follower, 1)
        return received

    assert asyncio.run(scenario()) == ["first\n", "appended\n"]


def test_follow_ends_when_the_pod_is_forgotten() -> None:
    async def scenario() -> bool:
        store = logs.LogStore()
        store.open("uid", "box", "c1", plan("sleep 3600"), datetime.now(UTC))

        async def write(text: str) -> None:
            return None

        follower = asyncio.create_task(logs.follow(store, "c1", logs.LogQuery(follow=True), write))
        await asyncio.sleep(0)
        store.forget_pod("uid")
        await asyncio.wait_for(follower, 1)
        return follower.done()

    assert asyncio.run(scenario())
