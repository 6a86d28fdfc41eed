"""The lab's Git server and pipelines through the real CLI and the real git: lab up serves the lab's repos, a
push from `driftlab shell`'s git environment deploys through the pipeline, lab down stops the lab's daemon."""

from __future__ import annotations

import json
import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import paths, proc
from engine.course import load_course
from engine.lab.lab import LabRuntime
from engine.lab.shell import prepare_shell
from engine.pipeline import PipelineStore, Run
from engine.pipeline.report import wait_finished

from .test_lab import TEST_REPOSITORY, Driftlab

COURSE = str(TEST_REPOSITORY / "courses" / "pipelines")
CLUSTER = "lab-pipelines"
RUN_TIMEOUT = 60.0


@pytest.fixture
def driftlab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Driftlab]:
    lab = Driftlab(tmp_path)
    monkeypatch.setenv("DRIFTLAB_HOME", str(lab.home))
    yield lab
    lab.run("lab", "down", "--all", "--purge")


def daemon_pid(driftlab: Driftlab) -> int:
    record = json.loads((driftlab.home / "labs" / "pipelines" / "daemon.json").read_text())
    return int(record["pid"])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def wait_gone(pid: int, timeout: float = 10) -> bool:
    """Whether the process has exited within `timeout` seconds; waits on a pidfd, which works for non-children."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    return bool(readable)


def git(env: dict[str, str], *args: str, cwd: Path) -> str:
    result = proc.run(
        ["git", "-c", "user.name=Lea Learner", "-c", "user.email=lea@example.com", *args], env=env, cwd=cwd
    )
    assert result.ok, f"git {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout.strip()


def run_of(store: PipelineStore, commit: str, timeout: float) -> Run:
    """The run the push of `commit` made, once it has ended (the daemon records it a moment after the push)."""
    deadline = time.monotonic() + timeout
    while (run := store.latest("app")) is None or run.commit != commit:
        assert time.monotonic() < deadline, f"no pipeline run for {commit} after {timeout}s"
        time.sleep(0.05)
    return wait_finished(store, run.id, timeout=max(deadline - time.monotonic(), 0.1))


def test_push_from_the_shell_deploys_through_the_pipeline_and_down_stops_the_daemon(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", COURSE, "--trust")
    pid = daemon_pid(driftlab)
    assert alive(pid)

    status = driftlab.ok("lab", "status", COURSE, "--trust").stdout.splitlines()
    repo_line = next(line for line in status if line.startswith("  app: "))
    url = repo_line.removeprefix("  app: ").split(";")[0]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/app.git")
    assert repo_line.endswith("; no pipeline runs yet")
    assert "learner" not in repo_line  # no credentials in what is shown

    launch = prepare_shell(LabRuntime(load_course(COURSE)), shell="bash")
    env = {**driftlab.env, **launch.env}
    git(env, "clone", "-q", url, "app", cwd=driftlab.root)
    work = driftlab.root / "app"
    assert "learner" not in git(env, "remote", "-v", cwd=work)
    manifest = work / "deploy" / "config.yaml"
    manifest.write_text(manifest.read_text().replace("message: hello", "message: pushed"))
    git(env, "commit", "-q", "-am", "Say pushed", cwd=work)
    git(env, "push", "-q", "origin", "main", cwd=work)
    commit = git(env, "rev-parse", "HEAD", cwd=work)

    store = PipelineStore(paths.pipeline_store("pipelines"), create=False)
    run = run_of(store, commit, RUN_TIMEOUT)
    assert run.status == "succeeded", "\n".join(line.text for line in store.lines(run.id))
    message = driftlab.kubectl(CLUSTER, "get", "configmap", "app-config", "-o", "jsonpath={.data.message}")
    assert message.stdout == "pushed"
    status = driftlab.ok("lab", "status", COURSE, "--trust").stdout
    assert f"app: {url}; latest pipeline run {run.id} succeeded (main {commit[:7]} Say pushed)" in status

    again = driftlab.ok("lab", "up", COURSE, "--trust")  # idempotent: the same daemon keeps serving
    assert "step 1 of 1 ready" in again.stdout
    assert daemon_pid(driftlab) == pid

    driftlab.ok("lab", "down", COURSE)
    assert not alive(pid)
    stopped = driftlab.run("lab", "status", COURSE).stdout
    assert f"app: {url} (not running: driftlab lab up starts it)" in stopped


def test_a_crashed_daemon_is_replaced_at_the_same_port(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", COURSE, "--trust")
    pid = daemon_pid(driftlab)
    before = driftlab.ok("lab", "status", COURSE).stdout
    proc.kill_group(pid)  # the daemon leads its own session: this is a crash of it and all it started
    assert wait_gone(pid)

    driftlab.ok("lab", "up", COURSE, "--trust")
    replacement = daemon_pid(driftlab)
    assert replacement != pid and alive(replacement)
    after = driftlab.ok("lab", "status", COURSE).stdout
    assert [line for line in after.splitlines() if "app.git" in line] == [
        line for line in before.splitlines() if "app.git" in line
    ]
    driftlab.ok("lab", "down", COURSE)
    assert not alive(replacement)
