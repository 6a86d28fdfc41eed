"""Graceful pod deletion, and a kubelet that picks up where it left off after a daemon restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cluster.embedded import clock
from engine.cluster.embedded.kubelet import logs

from .test_kubelet_support import OPTS, Cluster, container


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    started = Cluster(tmp_path)
    yield started
    started.close()


def running(cluster: Cluster, name: str, *containers: dict, **spec: object) -> None:
    cluster.create_pod(name, *containers, **spec)
    cluster.advance(5)
    assert cluster.status(name)["phase"] == "Running"


def test_deleting_a_running_pod_marks_it_and_the_kubelet_stops_it(cluster: Cluster) -> None:
    running(cluster, "web")
    before = clock.now()
    marked = cluster.delete("web")
    meta = marked["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 30
    assert clock.parse(meta["deletionTimestamp"]) >= before.replace(microsecond=0) + timedelta(seconds=30)
    assert meta["generation"] == 2
    assert cluster.events("web")[-1] == ("Normal", "Killing", "Stopping container app")
    assert cluster.container_status("web")["ready"] is False
    cluster.advance(2.5)
    assert cluster.pod("web") is not None
    cluster.advance(0.5)
    assert cluster.pod("web") is None


def test_the_requested_grace_period_caps_the_shutdown(cluster: Cluster) -> None:
    running(cluster, "web")
    assert cluster.delete("web", {"gracePeriodSeconds": 1})["metadata"]["deletionGracePeriodSeconds"] == 1
    cluster.advance(1)
    assert cluster.pod("web") is None


@pytest.mark.parametrize("options", [{"gracePeriodSeconds": 0}, {}])
def test_what_never_ran_or_is_forced_goes_at_once(cluster: Cluster, options: dict) -> None:
    cluster.create_pod("web", nodeName="elsewhere" if options else "")
    cluster.delete("web", options)
    assert cluster.pod("web") is None


def test_a_finished_pod_is_deleted_at_once(cluster: Cluster) -> None:
    cluster.create_pod("job", container("app", "busybox:1.36", command=["true"]), restartPolicy="Never")
    cluster.advance(6)
    assert cluster.status("job")["phase"] == "Succeeded"
    cluster.delete("job")
    assert cluster.pod("job") is None


def test_a_second_delete_may_only_shorten_the_grace_period(cluster: Cluster) -> None:
    running(cluster, "web")
    first = cluster.delete("web", {"gracePeriodSeconds": 20})["metadata"]
    again = cluster.delete("web")["metadata"]
    assert (again["deletionGracePeriodSeconds"], again["deletionTimestamp"]) == (20, first["deletionTimestamp"])
    shorter = cluster.delete("web", {"gracePeriodSeconds": 10})["metadata"]
    assert shorter["deletionGracePeriodSeconds"] == 10
    shift = clock.parse(first["deletionTimestamp"]) - clock.parse(shorter["deletionTimestamp"])
    assert shift == timedelta(seconds=10)


def test_a_finalizer_keeps_the_stopped_pod_until_it_is_removed(cluster: Cluster) -> None:
    held = {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "spec": {"containers": [container()]}}
    cluster.create(held)
    cluster.advance(5)
    cluster.delete("held")
    cluster.advance(3)
    pod = cluster.pod("held")
    assert pod is not None and pod["metadata"]["deletionGracePeriodSeconds"] == 0
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 143
    pod["metadata"]["finalizers"] = []
    cluster._run(lambda: cluster.api.update(cluster.pods, "default", "held", pod, OPTS))
    assert cluster.pod("held") is None


# -- restarts ---------------------------------------------------------------------------------------------


def reopen(cluster: Cluster, state: Path) -> Cluster:
    """Stop the cluster as the daemon stops, and start a new one over the same state folder."""
    moment = cluster.time
    cluster.close()
    again = Cluster(state)
    again.time = moment
    again.settle()
    return again


def test_a_running_pod_keeps_running_after_a_restart(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    running(cluster, "web", container("web", "nginx:1.25", readinessProbe={"httpGet": {"port": 80}}))
    before = cluster.container_status("web")
    ip = cluster.status("web")["podIP"]
    cluster.advance(2)
    cluster = reopen(cluster, tmp_path)
    cluster.advance(1)
    after = cluster.container_status("web")
    assert cluster.status("web")["podIP"] == ip
    assert after["state"] == before["state"] and after["containerID"] == before["containerID"]
    assert after["ready"] is True and cluster.condition("web", "Ready")["status"] == "True"
    assert cluster.count("web", "Started") == 1
    lines = logs.read(cluster.node.logs, after["containerID"], logs.LogQuery(), cluster.time)
    assert "Configuration complete; ready for start up" in lines
    cluster.create_pod("new")
    cluster.advance(5)
    assert cluster.status("new")["podIP"] != ip
    assert cluster.reasons("new")[:3] == ["Scheduled", "Pulled", "Created"]  # the image is still on the node
    cluster.close()


def test_pending_timers_are_set_again_after_a_restart(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    cluster.create_pod("crash", container("app", "busybox:1.36", command=["sh", "-c", "exit 1"]))
    cluster.create_pod("late")
    cluster.advance(7)
    assert cluster.container_status("crash")["restartCount"] == 1
    assert cluster.state("late") == ("running", "")
    cluster.create_pod("pulling", container("app", "nginx:1.26"))
    cluster.advance(2)
    assert cluster.reasons("pulling")[-1] == "Pulling"
    cluster = reopen(cluster, tmp_path)
    cluster.advance(10)
    assert cluster.container_status("crash")["restartCount"] == 2
    assert cluster.state("pulling") == ("running", "")
    cluster.close()


def test_a_pod_deleted_before_a_restart_is_finished_after_it(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    running(cluster, "web")
    cluster.delete("web")
    cluster = reopen(cluster, tmp_path)
    cluster.advance(3)
    assert cluster.pod("web") is None
    cluster.close()


def test_a_restart_keeps_the_logs_of_the_previous_instance(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    cluster.create_pod("crash", container("app", "busybox:1.36", command=["sh", "-c", "echo bye; exit 1"]))
    cluster.advance(7)
    cluster = reopen(cluster, tmp_path)
    pod = cluster.pod("crash")
    assert pod is not None
    previous = logs.container_id_for(pod, "app", previous=True)
    assert logs.read(cluster.node.logs, previous, logs.LogQuery(), cluster.time) == "bye\n"
    cluster.close()
