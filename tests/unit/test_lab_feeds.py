"""The lab panel's live feeds: the resources tree follows watch events (and says when the API is gone and back),
the GitOps feed follows the agents' sources and syncs (and picks up a kind installed later), the Git feed
follows a bare repo's branch, the pipeline feed follows runs and a run's log as it is written."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.checks.memory import MemoryCluster
from engine.checks.reader import ApiResource
from engine.lab.feeds import GitFeed, GitOpsFeed, PipelineFeed, ResourceFeed, repo_history
from engine.pipeline import PipelineStore

NOW = 1_750_000_000.0
TIMEOUT = 10.0


class Recorder:
    """Collects what a feed hands over, on the feed's thread; `wait_until` returns once a call matches."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._cond = threading.Condition()

    def __call__(self, *args: Any) -> None:
        with self._cond:
            self.calls.append(args)
            self._cond.notify_all()

    def wait_until(self, predicate: Callable[[tuple[Any, ...]], bool], after: int = 0) -> tuple[Any, ...]:
        """The first call (from index `after` on) that matches."""
        with self._cond:
            found = self._cond.wait_for(lambda: next((c for c in self.calls[after:] if predicate(c)), None), TIMEOUT)
        assert found, f"nothing matched; calls were: {self.calls}"
        return found


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pod(name: str, ready: bool) -> dict:
    state = {"running": {}} if ready else {"waiting": {"reason": "ContainerCreating"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Running" if ready else "Pending", "containerStatuses": [{"ready": ready, "state": state}]},
    }


@pytest.fixture
def cluster() -> MemoryCluster:
    return MemoryCluster([namespace("shop"), namespace("kube-system"), pod("web", ready=False)])


@pytest.fixture
def feed(cluster: MemoryCluster) -> Iterator[tuple[ResourceFeed, Recorder, Recorder]]:
    rows, connection = Recorder(), Recorder()
    started = ResourceFeed(cluster, rows, connection, clock=lambda: NOW, debounce=0.01).start()
    yield started, rows, connection
    started.stop()


def statuses(call: tuple[Any, ...]) -> list[tuple[str, str]]:
    return [(row.name, row.status) for row in call[0]]


def test_the_resources_tree_follows_watch_events(cluster: MemoryCluster, feed: Any) -> None:
    _, rows, connection = feed
    rows.wait_until(
        lambda call: statuses(call) == [("shop", "Active"), ("(no workload)", ""), ("web", "ContainerCreating")]
    )
    connection.wait_until(lambda call: call == (True, ""))
    cluster.put(pod("web", ready=True))
    rows.wait_until(lambda call: ("web", "Running") in statuses(call))


def test_the_feed_says_when_the_lab_is_gone_and_when_it_is_back(cluster: MemoryCluster, feed: Any) -> None:
    _, rows, connection = feed
    connection.wait_until(lambda call: call[0] is True)
    cluster.disconnect()
    lost = connection.wait_until(lambda call: call[0] is False)
    assert "cannot reach the cluster API" in lost[1]
    cluster.reconnect()
    cluster.put(pod("db", ready=True))
    connection.wait_until(lambda call: call[0] is True, after=connection.calls.index(lost))
    rows.wait_until(lambda call: ("db", "Running") in statuses(call))


KUSTOMIZATIONS = ApiResource(
    "kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations", True, "kustomization", ("ks",)
)
APPLICATIONS = ApiResource("argoproj.io", "v1alpha1", "Application", "applications", True, "application", ("app",))


def kustomization(name: str, status: str, message: str) -> dict:
    condition = {"type": "Ready", "status": status, "reason": "Progressing", "message": message}
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "status": {"conditions": [condition], "lastAppliedRevision": "main@sha1:" + "ab" * 20},
    }


def agent_states(call: tuple[Any, ...]) -> list[tuple[str, str, str]]:
    return [(row.kind, row.name, row.ready) for row in call[0]]


def test_the_gitops_feed_follows_syncs_and_picks_up_a_kind_installed_later() -> None:
    cluster = MemoryCluster()
    cluster.serve(KUSTOMIZATIONS)
    cluster.put(kustomization("shop", "Unknown", "Reconciliation in progress"))
    rows, connection = Recorder(), Recorder()
    feed = GitOpsFeed(cluster, rows, connection, debounce=0.01).start()
    try:
        rows.wait_until(lambda call: agent_states(call) == [("Kustomization", "shop", "Unknown")])
        connection.wait_until(lambda call: call == (True, ""))
        cluster.put(kustomization("shop", "True", "Applied revision: main@sha1:abab"))
        latest = rows.wait_until(lambda call: agent_states(call) == [("Kustomization", "shop", "True")])
        assert latest[0][0].revision == "main@sha1:abababab"

        cluster.serve(APPLICATIONS)
        cluster.put({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                     "metadata": {"name": "applications.argoproj.io"}})  # fmt: skip
        cluster.put({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                     "metadata": {"name": "web", "namespace": "argocd"},
                     "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}})  # fmt: skip
        rows.wait_until(lambda call: ("Application", "web", "Synced/Healthy") in agent_states(call))
    finally:
        feed.stop()


def test_the_gitops_feed_says_when_the_lab_is_gone() -> None:
    cluster = MemoryCluster()
    cluster.disconnect()
    rows, connection = Recorder(), Recorder()
    feed = GitOpsFeed(cluster, rows, connection, debounce=0.01).start()
    try:
        lost = connection.wait_until(lambda call: call[0] is False)
        assert "cannot reach the cluster API" in lost[1]
        cluster.reconnect()
        connection.wait_until(lambda call: call[0] is True)
        assert rows.wait_until(lambda call: True) == ([],)
    finally:
        feed.stop()


def git(*args: str, cwd: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "Learner", "GIT_AUTHOR_EMAIL": "l@example.com", "GIT_COMMITTER_NAME": "Learner",
           "GIT_COMMITTER_EMAIL": "l@example.com", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "git"
    root.mkdir()
    git("init", "--bare", "--initial-branch=main", str(root / "app.git"), cwd=tmp_path)
    work = tmp_path / "work"
    git("clone", str(root / "app.git"), str(work), cwd=tmp_path)
    (work / "README.md").write_text("hello\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "Seed the app", cwd=work)
    git("push", "origin", "HEAD:main", cwd=work)
    return root, work


def test_repo_history_reads_the_newest_commits_of_a_branch(repos: tuple[Path, Path]) -> None:
    root, _ = repos
    history = repo_history(root, "app", "main")
    assert history.problem == ""
    assert [(commit.summary, commit.author) for commit in history.commits] == [("Seed the app", "Learner")]
    assert len(history.commits[0].short) == 7
    assert "not created yet" in repo_history(root, "missing", "main").problem
    assert "cannot read branch 'release'" in repo_history(root, "app", "release").problem


def test_the_git_feed_follows_pushes(repos: tuple[Path, Path]) -> None:
    root, work = repos
    histories = Recorder()
    feed = GitFeed(root, [("app", "main")], histories, interval=0.05)
    feed.start()
    try:
        histories.wait_until(lambda call: len(call[0][0].commits) == 1)
        (work / "README.md").write_text("pushed\n")
        git("commit", "-am", "Say pushed", cwd=work)
        git("push", "origin", "HEAD:main", cwd=work)
        latest = histories.wait_until(lambda call: len(call[0][0].commits) == 2)
        assert latest[0][0].commits[0].summary == "Say pushed"
    finally:
        feed.stop()


def test_the_pipeline_feed_follows_runs_and_streams_the_log(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.db"
    runs, logs = Recorder(), Recorder()
    feed = PipelineFeed(path, runs, logs, interval=0.05)
    feed.start()
    writer = PipelineStore(path)
    try:
        first = writer.add_run("app", "refs/heads/main", "a" * 40, "0" * 40, "Seed", "learner", "learner")
        runs.wait_until(lambda call: [run.id for run in call[0]] == [first.id])
        writer.append(first.id, [(NOW, None, "sys", "starting"), (NOW, 0, "out", "applied")])
        logs.wait_until(lambda call: call[0] == first.id and [line.text for line in call[1]] == ["starting", "applied"])
        writer.append(first.id, [(NOW, 0, "out", "done")])
        more = logs.wait_until(lambda call: [line.text for line in call[1]] == ["done"])
        assert more[2] is False

        second = writer.add_run("app", "refs/heads/main", "b" * 40, "a" * 40, "Again", "learner", "learner")
        runs.wait_until(lambda call: [run.id for run in call[0]] == [second.id, first.id])
        logs.wait_until(lambda call: call[0] == second.id and call[2] is True)
        feed.select(first.id)
        again = logs.wait_until(lambda call: call[0] == first.id and call[2] is True and len(call[1]) == 3)
        assert [line.text for line in again[1]] == ["starting", "applied", "done"]
    finally:
        feed.stop()
        writer.close()


def test_the_pipeline_feed_waits_for_a_store_that_does_not_exist_yet(tmp_path: Path) -> None:
    runs = Recorder()
    feed = PipelineFeed(tmp_path / "later" / "pipelines.db", runs, Recorder(), interval=0.05)
    feed.start()
    try:
        store = PipelineStore(tmp_path / "later" / "pipelines.db")
        store.add_run("app", "refs/heads/main", "c" * 40, "0" * 40, "Late", "learner", "learner")
        runs.wait_until(lambda call: len(call[0]) == 1)
        store.close()
    finally:
        feed.stop()
