"""Faults: daemons killed (SIGKILL) in the middle of the learner's work, then `lab up` again; what a lab leaves
behind; two labs side by side. Everything through the real CLI, kubectl and git, with state in a temporary
DRIFTLAB_HOME. Each kill is of a pid the test's own lab recorded there."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine import paths, proc
from engine.course import load_course
from engine.lab.daemon import session_members
from engine.lab.lab import LabRuntime
from engine.lab.shell import prepare_shell
from engine.pipeline import PipelineStore, Run
from engine.pipeline.report import wait_finished

from .test_lab import TEST_REPOSITORY, Driftlab
from .test_lab_git import git, wait_gone

PIPELINES = str(TEST_REPOSITORY / "courses" / "pipelines")
BASICS = str(TEST_REPOSITORY / "courses" / "basics")
TIMEOUT = 60.0

pytestmark = pytest.mark.slow


@pytest.fixture
def driftlab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Driftlab]:
    lab = Driftlab(tmp_path)
    monkeypatch.setenv("DRIFTLAB_HOME", str(lab.home))
    yield lab
    lab.run("lab", "down", "--all", "--purge")


def record(driftlab: Driftlab, kind: str, name: str) -> dict[str, int]:
    """The daemon record of a lab (`labs`) or a cluster (`clusters`)."""
    return json.loads((driftlab.home / kind / name / "daemon.json").read_text())


def wait_for(condition: object, what: str, timeout: float = TIMEOUT) -> object:
    deadline = time.monotonic() + timeout
    while not (value := condition()):  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def run_of(store: PipelineStore, commit: str) -> Run:
    found = wait_for(lambda: next((r for r in store.runs("app") if r.commit == commit), None), f"a run of {commit}")
    assert isinstance(found, Run)
    return found


def fsck(bare: Path) -> None:
    result = proc.run(["git", "fsck", "--strict", "--no-dangling"], cwd=bare)
    assert result.ok, result.stderr


def test_a_lab_daemon_killed_mid_run_and_mid_push_loses_nothing(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", PIPELINES, "--trust")
    env = {**driftlab.env, **prepare_shell(LabRuntime(load_course(PIPELINES)), shell="bash").env}
    url = next(line for line in driftlab.ok("lab", "status", PIPELINES).stdout.splitlines() if "app.git" in line)
    git(env, "clone", "-q", url.split(": ", 1)[1].split(";")[0].split(" ")[0], "app", cwd=driftlab.root)
    work = driftlab.root / "app"
    bare = paths.git_repos_dir("pipelines") / "app.git"
    store = PipelineStore(paths.pipeline_store("pipelines"), create=False)

    # A finished run, and the step it completes.
    config = work / "deploy" / "config.yaml"
    config.write_text(config.read_text().replace("message: hello", "message: pushed"))
    git(env, "commit", "-q", "-am", "Say pushed", cwd=work)
    git(env, "push", "-q", "origin", "main", cwd=work)
    done = wait_finished(store, run_of(store, git(env, "rev-parse", "HEAD", cwd=work)).id, TIMEOUT)
    assert done.status == "succeeded"
    done_log = [line.text for line in store.lines(done.id)]
    assert driftlab.ok("check", PIPELINES, "--trust").returncode == 0

    # A run in the middle of its step.
    pipeline_file = work / ".driftlab" / "pipeline.yaml"
    good_pipeline = pipeline_file.read_text()
    marker = driftlab.root / "step.pid"
    slow = {"jobs": [{"name": "slow", "steps": [{"name": "wait", "run": f"echo $$ > {marker}; exec sleep 600"}]}]}
    pipeline_file.write_text(yaml.safe_dump(slow))
    git(env, "commit", "-q", "-am", "Wait", cwd=work)
    git(env, "push", "-q", "origin", "main", cwd=work)
    going = run_of(store, git(env, "rev-parse", "HEAD", cwd=work))
    wait_for(lambda: marker.exists() and marker.read_text().strip(), "the slow step to start")
    step_pid = int(marker.read_text())

    # A push held inside the Git server when the daemon dies: git's reference-transaction hook waits once the
    # refs are prepared and before they move (the server installs its own pre- and post-receive hooks each push).
    hook = bare / "hooks" / "reference-transaction"
    entered, release = driftlab.root / "entered", driftlab.root / "release"
    hook.write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        f'[ "$1" = prepared ] || exit 0\ntouch {entered}\nwhile [ ! -e {release} ]; do sleep 0.05; done\n'
    )
    hook.chmod(0o755)
    pipeline_file.write_text(good_pipeline)
    config.write_text(config.read_text().replace("message: pushed", "message: after"))
    git(env, "commit", "-q", "-am", "Say after", cwd=work)
    held = git(env, "rev-parse", "HEAD", cwd=work)
    before = proc.run(["git", "rev-parse", "main"], cwd=bare).stdout.strip()
    push = subprocess.Popen(["git", "push", "-q", "origin", "main"], cwd=work, env={**os.environ, **env})
    wait_for(entered.exists, "the push to reach the reference-transaction hook")

    pid = record(driftlab, "labs", "pipelines")["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    release.touch()
    assert push.wait(TIMEOUT) != 0  # the client saw its push fail
    hook.unlink()
    head = proc.run(["git", "rev-parse", "main"], cwd=bare).stdout.strip()
    assert head in (before, held)  # all of it, or none of it
    fsck(bare)

    driftlab.ok("lab", "up", PIPELINES, "--trust")
    assert record(driftlab, "labs", "pipelines")["pid"] != pid
    assert wait_gone(step_pid)  # the orphaned step was ended
    interrupted = store.run(going.id)
    assert interrupted.status == "interrupted"
    assert "the runner stopped while this run was going" in store.lines(going.id)[-1].text
    assert store.run(done.id).status == "succeeded"
    assert [line.text for line in store.lines(done.id)] == done_log
    if head == held:  # the push landed while nobody was told of it: its run comes at restart
        assert wait_finished(store, run_of(store, held).id, TIMEOUT).status == "succeeded"
    status = driftlab.ok("lab", "status", PIPELINES, "--trust").stdout
    assert "course finished" in status or "1 of 1 steps passed" in status

    # The lab works on: the learner pushes again (the held commit, if it did not land) and it deploys.
    git(env, "push", "-q", "origin", "main", cwd=work)
    assert wait_finished(store, run_of(store, held).id, TIMEOUT).status == "succeeded"
    message = driftlab.kubectl("lab-pipelines", "get", "configmap", "app-config", "-o", "jsonpath={.data.message}")
    assert message.stdout == "after"
    fsck(bare)
    store.close()


def test_a_cluster_daemon_killed_mid_apply_keeps_every_object_it_acknowledged(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", BASICS, "--trust")
    count = 300
    manifest = driftlab.root / "many.yaml"
    manifest.write_text(
        yaml.safe_dump_all(
            [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i:03d}"}, "data": {"i": str(i)}}
                for i in range(count)
            ]
        )
    )
    env = {**driftlab.env, "KUBECONFIG": str(driftlab.kubeconfig("lab-basics"))}
    apply = subprocess.Popen(
        [proc.tool("kubectl"), "apply", "-f", str(manifest)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert apply.stdout is not None
    created = []
    for line in apply.stdout:
        created.append(line.split()[0].removeprefix("configmap/"))
        if len(created) == 20:
            cluster_pid = record(driftlab, "clusters", "lab-basics")["pid"]
            os.kill(cluster_pid, signal.SIGKILL)
            break
    apply.stdout.close()
    assert apply.wait(TIMEOUT) != 0
    assert wait_gone(cluster_pid)

    driftlab.ok("lab", "up", BASICS, "--trust")
    names = set(driftlab.names("lab-basics", "configmaps"))
    assert set(created) <= names  # every object kubectl was told about is there
    driftlab.kubectl("lab-basics", "apply", "-f", str(manifest))
    assert len([name for name in driftlab.names("lab-basics", "configmaps") if name.startswith("c")]) == count
    assert "step 1 of 3 current" in driftlab.ok("lab", "status", BASICS, "--trust").stdout


def test_two_labs_are_apart_and_down_leaves_nothing_behind(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", BASICS, "--trust")
    driftlab.ok("lab", "up", PIPELINES, "--trust")
    driftlab.kubectl("lab-basics", "create", "configmap", "only-basics")
    driftlab.kubectl("lab-pipelines", "create", "configmap", "only-pipelines")
    assert "only-pipelines" not in driftlab.names("lab-basics", "configmaps")
    assert "only-basics" not in driftlab.names("lab-pipelines", "configmaps")
    driftlab.kubectl("lab-basics", "create", "configmap", "greeting", "--from-literal=message=hello")
    driftlab.ok("check", BASICS, "--trust")
    assert "1 of 3 steps passed" in driftlab.ok("lab", "status", BASICS, "--trust").stdout
    assert "0 of 1 steps passed" in driftlab.ok("lab", "status", PIPELINES, "--trust").stdout
    assert not (driftlab.home / "labs" / "basics").exists()  # no repos: no daemon, no runs of its own

    daemons = [record(driftlab, "clusters", "lab-basics")]
    driftlab.ok("lab", "down", BASICS)
    for daemon in daemons:
        assert wait_gone(daemon["pid"])
        assert refuses(daemon["port"])
        assert session_members(daemon["pid"]) == []
    assert str(driftlab.home) not in Path("/proc/self/mountinfo").read_text()
    # The other lab runs on, untouched.
    assert "only-pipelines" in driftlab.names("lab-pipelines", "configmaps")
    lab_daemon = record(driftlab, "labs", "pipelines")
    assert proc.alive(lab_daemon["pid"])

    # A stuck lab daemon (stopped: it takes connections and never answers) is reported, then replaced.
    os.kill(lab_daemon["pid"], signal.SIGSTOP)
    doctor = driftlab.run("doctor").stdout
    assert f"running but not answering: lab 'pipelines' (pid {lab_daemon['pid']})" in doctor
    driftlab.ok("lab", "up", PIPELINES, "--trust")
    assert wait_gone(lab_daemon["pid"])
    replaced = record(driftlab, "labs", "pipelines")
    assert replaced["pid"] != lab_daemon["pid"] and proc.alive(replaced["pid"])
    assert "OK       leftovers" in driftlab.run("doctor").stdout

    # A crashed one (its record left, its pid dead) is reported, then cleaned by `lab up`.
    os.kill(replaced["pid"], signal.SIGKILL)
    assert wait_gone(replaced["pid"])
    doctor = driftlab.run("doctor").stdout
    assert f"recorded as running but gone, after a crash: lab 'pipelines' (pid {replaced['pid']})" in doctor
    driftlab.ok("lab", "up", PIPELINES, "--trust")
    assert "OK       leftovers" in driftlab.run("doctor").stdout

    pipelines = [record(driftlab, "clusters", "lab-pipelines"), record(driftlab, "labs", "pipelines")]
    driftlab.ok("lab", "down", PIPELINES)
    for daemon in pipelines:
        assert wait_gone(daemon["pid"])
        assert refuses(daemon["port"])
        assert session_members(daemon["pid"]) == []
    assert "OK       leftovers" in driftlab.run("doctor").stdout


def test_a_watched_check_and_the_resources_feed_come_back_after_the_cluster_restarts(driftlab: Driftlab) -> None:
    import threading

    from engine.checks.results import StepResult
    from engine.cluster.embedded.settings import PodTimings
    from engine.lab.progress import ProgressStore
    from engine.lab.session import LabSession

    store = ProgressStore(driftlab.home / "progress.sqlite3")
    session = LabSession.load(Path(BASICS), trusted=True, store=store, timings=PodTimings().scaled(0))
    session.start(lambda event: None)
    step = session.current()
    assert step is not None
    results: list[StepResult] = []
    connections: list[bool] = []
    changed = threading.Condition()

    def got(result: StepResult) -> None:
        with changed:
            results.append(result)
            changed.notify_all()

    def connected(up: bool, message: str) -> None:
        with changed:
            connections.append(up)
            changed.notify_all()

    driftlab.kubectl("lab-basics", "create", "configmap", "greeting", "--from-literal=message=hello")
    watch = session.watch(step, got)
    feed = session.resources(lambda rows: None, connected)
    try:
        with changed:
            assert changed.wait_for(lambda: results and results[-1].passed and connections == [True], TIMEOUT)
        pid = record(driftlab, "clusters", "lab-basics")["pid"]
        os.kill(pid, signal.SIGKILL)
        assert wait_gone(pid)
        with changed:  # no key pressed: the watches see the API go
            assert changed.wait_for(lambda: not results[-1].passed and connections[-1] is False, TIMEOUT)
        driftlab.ok("lab", "up", BASICS, "--trust")
        with changed:  # ... and come back with it
            assert changed.wait_for(lambda: results[-1].passed and connections[-1] is True, TIMEOUT)
    finally:
        watch.stop()
        feed.stop()
        store.close()


STORAGE_SCENARIO = r"""
import json, os, subprocess, sys
root, basics = sys.argv[1], sys.argv[2]
base = {k: v for k, v in os.environ.items()}

def sh(*args):
    subprocess.run(args, check=True, capture_output=True)

def driftlab(home, *args):
    env = {**base, "DRIFTLAB_HOME": home}
    done = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, capture_output=True, text=True)
    return {"rc": done.returncode, "stderr": done.stderr, "stdout": done.stdout}

def fill(folder):
    with open(os.path.join(folder, "filler"), "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass

def kubectl(kubeconfig, *args):
    done = subprocess.run([sys.argv[3], "--kubeconfig", kubeconfig, *args], capture_output=True, text=True)
    return {"rc": done.returncode, "stderr": done.stderr, "stdout": done.stdout}

found = {}
commands = {
    "lab up": ["lab", "up", basics, "--trust"],
    "cluster up": ["cluster", "up"],
    "check": ["check", basics, "--trust"],
}
for case in ("read-only", "full"):
    mount = os.path.join(root, case)
    os.makedirs(mount)
    sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount)
    os.makedirs(os.path.join(mount, "home"))
    if case == "read-only":
        sh("mount", "-o", "remount,ro", mount)
    else:
        fill(mount)
    found[case] = {name: driftlab(os.path.join(mount, "home"), *args) for name, args in commands.items()}

mount = os.path.join(root, "later")
os.makedirs(mount)
sh("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount)
home = os.path.join(mount, "home")
found["up"] = driftlab(home, "cluster", "up", "--name", "f")
kubeconfig = os.path.join(root, "kubeconfig")
with open(kubeconfig, "w") as handle:
    handle.write(driftlab(home, "cluster", "kubeconfig", "--name", "f")["stdout"])
try:
    fill(mount)
    found["write when full"] = kubectl(kubeconfig, "create", "configmap", "big", "--from-literal=k=" + "x" * 100000)
    found["read when full"] = kubectl(kubeconfig, "get", "namespace", "default", "-o", "name")
    found["status when full"] = driftlab(home, "cluster", "status", "--name", "f")
    os.unlink(os.path.join(mount, "filler"))
    found["write after"] = kubectl(kubeconfig, "create", "configmap", "after", "-o", "name")
finally:
    found["down"] = driftlab(home, "cluster", "down", "--name", "f", "--purge")
print(json.dumps(found))
"""


def test_a_read_only_or_full_state_folder_is_one_clear_line_and_a_full_cluster_answers(tmp_path: Path) -> None:
    import sys

    if proc.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("unshare -m is refused here: no private mounts to make a read-only or full folder")
    scenario = proc.run(
        ["unshare", "-m", sys.executable, "-c", STORAGE_SCENARIO, str(tmp_path), BASICS, proc.tool("kubectl")],
        env={"HOME": str(tmp_path), "DRIFTLAB_TIMING_SCALE": "0"},
        cwd=Path(__file__).resolve().parents[2],
        timeout=180,
    )
    assert scenario.ok, scenario.stderr
    found = json.loads(scenario.stdout)
    for case, problem in (
        ("read-only", "the state folder {} is read-only"),
        ("full", "no space left on the device holding {}"),
    ):
        home = tmp_path / case / "home"
        for command, result in found[case].items():
            assert result["rc"] == 1, (case, command, result)
            lines = result["stderr"].splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: " + problem.format(home)), (case, command, result)
    # A cluster whose disk fills up answers writes with a Status, keeps serving reads, and writes again once
    # there is room.
    assert found["up"]["rc"] == 0, found["up"]
    refused = found["write when full"]
    assert refused["rc"] == 1
    assert "Internal error occurred: the cluster's storage is full: no space left on the device" in refused["stderr"]
    assert found["read when full"]["stdout"].strip() == "namespace/default"
    assert found["status when full"]["rc"] == 0
    assert found["write after"]["stdout"].strip() == "configmap/after"
    assert found["down"]["rc"] == 0, found["down"]


def test_a_flux_reconcile_cut_by_either_daemon_completes_after_lab_up(driftlab: Driftlab) -> None:
    course = str(paths.courses_dir() / "gitops-flux")
    driftlab.ok("lab", "up", course)
    env = {**driftlab.env, **prepare_shell(LabRuntime(load_course(course)), shell="bash").env}
    served = record(driftlab, "labs", "gitops-flux")["port"]
    git(env, "clone", "-q", f"http://127.0.0.1:{served}/fleet.git", "fleet", cwd=driftlab.root)
    work = driftlab.root / "fleet"
    sync = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "many", "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "path": "./many",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "fleet"},
        },
    }
    (driftlab.root / "sync.yaml").write_text(yaml.safe_dump(sync))
    driftlab.kubectl("lab-gitops-flux", "apply", "-f", str(driftlab.root / "sync.yaml"))
    count = 150

    def push(value: str) -> str:
        objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "many"}}] + [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"c{i:03d}", "namespace": "many"},
                "data": {"v": value},
            }
            for i in range(count)
        ]
        (work / "many").mkdir(exist_ok=True)
        (work / "many" / "all.yaml").write_text(yaml.safe_dump_all(objects))
        git(env, "add", "-A", cwd=work)
        git(env, "commit", "-q", "-m", f"Many {value}", cwd=work)
        git(env, "push", "-q", "origin", "HEAD:main", cwd=work)
        return git(env, "rev-parse", "HEAD", cwd=work)

    def values() -> list[str]:
        found = driftlab.kubectl("lab-gitops-flux", "get", "cm", "-n", "many", "-o", "json", check=False)
        items = json.loads(found.stdout)["items"] if found.ok else []
        return [item["data"]["v"] for item in items if item["metadata"]["name"].startswith("c")]

    def synced(sha: str) -> bool:
        found = driftlab.kubectl("lab-gitops-flux", "get", "kustomization", "many", "-n", "flux-system", "-o", "json")
        status = json.loads(found.stdout).get("status", {})
        ready = [c for c in status.get("conditions", []) if c.get("type") == "Ready"]
        return bool(ready and ready[0]["status"] == "True" and status.get("lastAppliedRevision", "").endswith(sha))

    for daemon, value in (("labs/gitops-flux", "one"), ("clusters/lab-gitops-flux", "two")):
        head = push(value)
        wait_for(lambda value=value: value in values(), f"Flux to start applying {value}")
        pid = record(driftlab, *daemon.split("/"))["pid"]
        os.kill(pid, signal.SIGKILL)
        assert wait_gone(pid)
        driftlab.ok("lab", "up", course)
        wait_for(lambda head=head: synced(head), f"the Kustomization to be Ready at {head}")
        assert values() == [value] * count
