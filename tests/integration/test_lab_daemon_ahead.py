"""The lab daemon started ahead of its cluster: it serves only once told the cluster's pid, follows that cluster,
stops by itself when the cluster never comes, replaces a daemon left from an earlier cluster, and reports a
start that failed with its log; `lab up` gives it up when the cluster fails to start."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import paths
from engine.course import load_course
from engine.errors import DriftlabError
from engine.lab import daemon as lab_daemon
from engine.lab.daemon import LabDaemon, PendingDaemon, answers
from engine.lab.lab import LabRuntime

from .test_lab_git import COURSE, wait_gone

NAME = "ahead"
WAIT = 30.0


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DRIFTLAB_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"
    lab_daemon.stop_all()


@pytest.fixture
def cluster() -> Iterator[subprocess.Popen[bytes]]:
    """A stand-in for a running cluster's daemon: the lab daemon only follows its pid."""
    sleeper = subprocess.Popen(["sleep", "120"])
    yield sleeper
    sleeper.kill()
    sleeper.wait()


def make_daemon(tmp_path: Path) -> LabDaemon:
    repos = tmp_path / "repos"
    (repos / "app").mkdir(parents=True, exist_ok=True)
    (repos / "app" / "README.md").write_text("the app\n")
    return LabDaemon(NAME, repos, tmp_path / "lab.kubeconfig", "lab-ahead")


def record() -> dict[str, object]:
    return json.loads((paths.lab_dir(NAME) / lab_daemon.RECORD_FILE).read_text())


def test_a_daemon_started_ahead_serves_once_told_its_clusters_pid_and_follows_that_cluster(
    home: Path, tmp_path: Path, cluster: subprocess.Popen[bytes]
) -> None:
    daemon = make_daemon(tmp_path)
    pending = daemon.start_ahead()
    status = pending.serve(cluster.pid)
    assert status.running and status.port is not None and answers(status.port)
    assert status.cluster_pid == cluster.pid
    assert record()["cluster_pid"] == cluster.pid and record()["pid"] == pending.child.pid
    assert (paths.git_repos_dir(NAME) / "app.git").is_dir()
    # The same daemon is kept by a later `up` for the same cluster.
    assert daemon.up(cluster.pid).pid == status.pid
    cluster.kill()
    cluster.wait()
    assert pending.child.wait(WAIT) == 0  # its cluster stopped: so does it
    assert "pid" not in record()


def test_a_daemon_started_ahead_of_a_cluster_that_never_starts_stops_and_frees_the_lab(
    home: Path, tmp_path: Path, cluster: subprocess.Popen[bytes]
) -> None:
    daemon = make_daemon(tmp_path)
    pending = daemon.start_ahead()
    pending.cancel()
    assert pending.child.wait(WAIT) == 0
    assert not daemon.status().running
    assert "did not start; stopping" in daemon.log_path.read_text()
    # Nothing holds the lab: a daemon for a cluster that runs starts as usual.
    status = daemon.up(cluster.pid)
    assert status.running and status.port is not None and answers(status.port)


def test_a_daemon_started_ahead_replaces_the_one_of_an_earlier_cluster(
    home: Path, tmp_path: Path, cluster: subprocess.Popen[bytes]
) -> None:
    daemon = make_daemon(tmp_path)
    first = daemon.up(cluster.pid)
    assert first.pid is not None
    pending = daemon.start_ahead()
    assert wait_gone(first.pid)
    second = subprocess.Popen(["sleep", "120"])
    try:
        status = pending.serve(second.pid)
        assert status.running and status.pid not in (None, first.pid)
        assert status.port == first.port  # the port of the last run, still free
        assert record()["cluster_pid"] == second.pid
    finally:
        second.kill()
        second.wait()


def test_a_daemon_started_ahead_that_fails_is_reported_with_its_log(home: Path, tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path)
    blocker = paths.git_repos_dir(NAME) / "app.git"
    blocker.mkdir(parents=True)
    (blocker / "not-a-repository").write_text("")
    pending = daemon.start_ahead()
    with pytest.raises(DriftlabError) as caught:
        pending.serve(None)
    assert "did not start" in str(caught.value) and "is not a bare Git repository" in str(caught.value)
    assert not daemon.status().running


def test_lab_up_gives_up_the_daemon_it_started_when_the_cluster_fails_to_start(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[PendingDaemon] = []
    start_ahead = LabDaemon.start_ahead

    def record_start(self: LabDaemon) -> PendingDaemon:
        started.append(start_ahead(self))
        return started[-1]

    def fail(self: object, progress: object = None) -> object:
        raise DriftlabError("the cluster did not start")

    monkeypatch.setattr(LabDaemon, "start_ahead", record_start)
    monkeypatch.setattr("engine.cluster.embedded.backend.EmbeddedCluster.up", fail)
    runtime = LabRuntime(load_course(COURSE), trusted=True, backend="embedded")
    with pytest.raises(DriftlabError, match="the cluster did not start"):
        runtime.up()
    assert len(started) == 1
    assert started[0].child.wait(WAIT) == 0
    daemon = runtime.daemon()
    assert daemon is not None and not daemon.status().running
    assert "did not start; stopping" in daemon.log_path.read_text()
