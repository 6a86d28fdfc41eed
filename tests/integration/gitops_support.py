"""A GitOps lab for integration tests: the real Git server with seeded repos, the embedded agents, a cluster.

`GitOpsLab` serves bare repositories from a temporary folder with the real Git server (on its own event loop
thread), lets a test change a repository through a clone and push as the learner would, creates the deploy
account's Secret the agents' objects name, and starts the embedded agents against the session's cluster with
pushes connected to them. Agents run with a small `Timing` scale, so intervals of minutes take a second.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from engine import proc
from engine.gitops.agents import GitOpsAgents
from engine.gitops.controller import Timing
from engine.gitserver.credentials import Credentials
from engine.gitserver.events import PushEvent
from engine.gitserver.seed import seed_repo
from engine.gitserver.server import GitServer

from .conftest import Cluster

# An interval of 1m becomes 0.6 s; MIN_INTERVAL keeps shorter ones at 0.5 s.
TEST_TIMING = Timing(scale=0.01)


class RunningServer:
    """A GitServer on its own event loop thread, so blocking `git` commands can talk to it from the test."""

    def __init__(self, server: GitServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> GitServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=30)
        return self.server

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Workspace:
    """A learner's clone of one repository: write and remove files, commit and push."""

    def __init__(self, lab: GitOpsLab, name: str, path: Path) -> None:
        self.lab = lab
        self.name = name
        self.path = path

    def write(self, relative: str, content: str | Any) -> Workspace:
        """Write a file; a non-string is written as YAML (a list of objects as a multi-document file)."""
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content)
        elif isinstance(content, list):
            target.write_text(yaml.safe_dump_all(content, sort_keys=False))
        else:
            target.write_text(yaml.safe_dump(content, sort_keys=False))
        return self

    def remove(self, relative: str) -> Workspace:
        self.lab.git("rm", "-rq", relative, cwd=self.path)
        return self

    def push(self, message: str = "Change") -> str:
        """Commit everything and push to main; the new head's sha."""
        self.lab.git("add", "-A", cwd=self.path)
        self.lab.git("commit", "-q", "--allow-empty", "-m", message, cwd=self.path)
        self.lab.git("push", "-q", "origin", "HEAD:main", cwd=self.path)
        return self.head()

    def head(self) -> str:
        return self.lab.git("rev-parse", "HEAD", cwd=self.path).stdout.strip()

    def revert_last(self) -> str:
        self.lab.git("revert", "--no-edit", "HEAD", cwd=self.path)
        self.lab.git("push", "-q", "origin", "HEAD:main", cwd=self.path)
        return self.head()


class GitOpsLab:
    """Repositories on a running Git server, the cluster, and (once started) the embedded agents."""

    def __init__(self, cluster: Cluster, tmp: Path, server: GitServer, credentials: Credentials) -> None:
        self.cluster = cluster
        self.tmp = tmp
        self.server = server
        self.credentials = credentials
        self.root = server.root
        self.agents: GitOpsAgents | None = None
        self.pushes: list[PushEvent] = []
        self.home = tmp / "home"
        self.home.mkdir(exist_ok=True)

    # Git ---------------------------------------------------------------------------------------------------

    def git(self, *args: str, cwd: Path | None = None) -> proc.Result:
        env = {
            "HOME": str(self.home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Learner",
            "GIT_AUTHOR_EMAIL": "learner@example.com",
            "GIT_COMMITTER_NAME": "Learner",
            "GIT_COMMITTER_EMAIL": "learner@example.com",
            **self.server.git_env("learner"),
        }
        result = proc.run(["git", *args], env=env, cwd=cwd, timeout=60)
        assert result.ok, f"git {' '.join(args)} failed:\n{result.stderr}"
        return result

    def repo(self, files: dict[str, Any], name: str | None = None) -> Workspace:
        """Seed a new repository with `files` (text, or objects written as YAML) and return a clone of it."""
        name = name or f"r{uuid.uuid4().hex[:8]}"
        source = self.tmp / "seed" / name
        source.mkdir(parents=True)
        for relative, content in files.items():
            Workspace(self, name, source).write(relative, content)
        seed_repo(self.root, name, source)
        path = self.tmp / "work" / name
        self.git("clone", "-q", self.url(name), str(path))
        return Workspace(self, name, path)

    def url(self, name: str) -> str:
        return self.server.clone_url(name)

    # Cluster -----------------------------------------------------------------------------------------------

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> proc.Result:
        return self.cluster.kubectl(*args, input=input, check=check)

    def apply(self, *objects: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(list(objects), sort_keys=False))

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        args = ["get", kind, name, "-o", "json", "--ignore-not-found"]
        if namespace:
            args += ["-n", namespace]
        out = self.kubectl(*args).stdout.strip()
        return json.loads(out) if out else None

    def deploy_secret(self, namespace: str, name: str = "git-credentials") -> str:
        """The deploy account as a Secret with username/password keys (Flux's basic-auth Secret shape)."""
        deploy = self.credentials.deploy
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": {"username": deploy.username, "password": deploy.password},
        }
        self.apply(secret)
        return name

    def wait_for(self, condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        """Poll `condition` until it returns something truthy; fail with `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
            time.sleep(0.1)

    # Agents ------------------------------------------------------------------------------------------------

    @contextmanager
    def running(self, *agents: str, timing: Timing = TEST_TIMING) -> Iterator[GitOpsAgents]:
        """Start the named agents (`flux`, `argocd`) against the cluster, pushes connected, until the block ends."""
        started = GitOpsAgents(self.cluster.kubeconfig, self.tmp / "agent-cache", list(agents), timing)
        started.git_servers = self.server.urls
        started.start()
        self.agents = started
        try:
            yield started
        finally:
            self.agents = None
            started.stop()

    def on_push(self, event: PushEvent) -> None:
        self.pushes.append(event)
        if self.agents is not None:
            self.agents.on_push(event)


@contextmanager
def gitops_lab(cluster: Cluster, tmp: Path) -> Iterator[GitOpsLab]:
    credentials = Credentials.generate()
    holder: list[GitOpsLab] = []

    def forward(event: PushEvent) -> None:
        if holder:
            holder[0].on_push(event)

    with RunningServer(GitServer(tmp / "git", credentials, forward)) as server:
        lab = GitOpsLab(cluster, tmp, server, credentials)
        holder.append(lab)
        yield lab
