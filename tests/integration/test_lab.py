"""The lab life cycle on the embedded backend, through the real CLI and kubectl: up, check, status, reset, down,
kubeconfig, shell and trust, on the small course in tests/lab_courses."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from engine import proc

ROOT = Path(__file__).resolve().parents[2]
TEST_REPOSITORY = ROOT / "tests" / "lab_courses"
BASICS = TEST_REPOSITORY / "courses" / "basics"


@dataclass
class Driftlab:
    """The driftlab CLI and kubectl, with all state under `root`."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "driftlab-home"

    @property
    def env(self) -> dict[str, str]:
        user_home = self.root / "user-home"
        user_home.mkdir(parents=True, exist_ok=True)
        return {
            "DRIFTLAB_HOME": str(self.home),
            "HOME": str(user_home),
            "KUBECACHEDIR": str(user_home / "kube-cache"),
            "DRIFTLAB_TIMING_SCALE": "0",
            "SHELL": shutil.which("bash") or "/bin/bash",
        }

    def run(self, *args: str, timeout: float = 120) -> proc.Result:
        return proc.run([sys.executable, "-m", "engine.cli", *args], env=self.env, cwd=ROOT, timeout=timeout)

    def ok(self, *args: str, timeout: float = 120) -> proc.Result:
        result = self.run(*args, timeout=timeout)
        assert result.ok, f"driftlab {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        return result

    def kubeconfig(self, cluster: str) -> Path:
        return self.home / "clusters" / cluster / "lab.kubeconfig"

    def kubectl(self, cluster: str, *args: str, check: bool = True) -> proc.Result:
        env = {**self.env, "KUBECONFIG": str(self.kubeconfig(cluster))}
        result = proc.run([proc.tool("kubectl"), *args], env=env, timeout=60)
        assert result.ok or not check, f"kubectl {' '.join(args)} failed:\n{result.stderr}"
        return result

    def names(self, cluster: str, kind: str) -> list[str]:
        listed = self.kubectl(cluster, "get", kind, "-o", "name").stdout.split()
        return [name.split("/", 1)[1] for name in listed]

    def clusters(self) -> list[str]:
        folder = self.home / "clusters"
        return sorted(child.name for child in folder.iterdir()) if folder.is_dir() else []


def copy_repository(target: Path) -> Path:
    """A copy of the test course repository, to break on purpose; returns the copy of the basics course."""
    shutil.copytree(TEST_REPOSITORY, target)
    return target / "courses" / "basics"


COURSE = str(BASICS)
CLUSTER = "lab-basics"


@pytest.fixture
def driftlab(tmp_path: Path) -> Iterator[Driftlab]:
    lab = Driftlab(tmp_path)
    yield lab
    lab.run("lab", "down", "--all", "--purge")


def test_lab_up_then_check_before_and_after_doing_the_step_by_hand(driftlab: Driftlab) -> None:
    up = driftlab.ok("lab", "up", COURSE, "--trust")
    assert up.stdout.splitlines()[1] == "step 1 of 3 ready: greeting (Create the greeting)"
    assert "marker" in driftlab.names(CLUSTER, "configmaps")  # the first step's setup ran
    assert "leftover" in driftlab.names(CLUSTER, "configmaps")  # the lab's seed is there

    before = driftlab.run("check", COURSE, "--trust")
    assert before.returncode == 1
    assert before.stdout.splitlines() == [
        "step greeting (Create the greeting):",
        "  ✗ the greeting says hello: ConfigMap work/greeting does not exist",
        "step greeting: 0 of 1 checks pass; not passed yet",
    ]

    driftlab.kubectl(CLUSTER, "create", "configmap", "greeting", "--from-literal=message=hello")
    after = driftlab.run("check", COURSE, "--trust")
    assert after.returncode == 0, after.stderr
    assert "  ✓ the greeting says hello: ConfigMap work/greeting: {.data.message} is hello" in after.stdout
    assert after.stdout.splitlines()[-1] == "step greeting passed; now on step scale (Scale the web app)"
    assert driftlab.names(CLUSTER, "deployments") == ["web"]  # the next step is ready

    # Step 2 has a check with a timeout: by default `check` says it will wait; --no-wait checks once, silently.
    waiting = driftlab.run("check", COURSE, "--trust")
    assert waiting.returncode == 1
    assert "checks that do not pass yet get up to 20s (--no-wait checks once)" in waiting.stderr
    once = driftlab.run("check", COURSE, "--trust", "--no-wait")
    assert once.returncode == 1 and "get up to" not in once.stderr
    assert once.stdout.splitlines()[-1] == "step scale: 0 of 2 checks pass; not passed yet"

    status = driftlab.ok("lab", "status", COURSE, "--trust").stdout.splitlines()
    assert status[0].startswith("lab 'basics' (cluster lab-basics): running at https://127.0.0.1:")
    assert status[1].endswith("1 of 3 steps passed")
    assert status[2] == "step 2 of 3 current: scale (Scale the web app)"
    assert status[3].startswith("checks: ")


def test_up_is_idempotent_and_progress_survives_down_and_up(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", COURSE, "--trust")
    again = driftlab.ok("lab", "up", COURSE, "--trust")
    assert "step 1 of 3 ready: greeting" in again.stdout
    driftlab.kubectl(CLUSTER, "create", "configmap", "greeting", "--from-literal=message=hello")
    driftlab.ok("check", COURSE, "--trust")

    assert driftlab.ok("lab", "down", COURSE).stdout.strip() == "lab 'basics' stopped"
    stopped = driftlab.run("lab", "status", COURSE)
    assert stopped.returncode == 1
    assert "stopped; start it with: driftlab lab up" in stopped.stdout

    back = driftlab.ok("lab", "up", COURSE, "--trust")
    assert "step 2 of 3 ready: scale (Scale the web app)" in back.stdout
    assert "greeting" in driftlab.names(CLUSTER, "configmaps")  # the learner's work is still there


def test_reset_recreates_the_namespaces_and_runs_the_setups_up_to_the_current_step(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", COURSE, "--trust")
    driftlab.kubectl(CLUSTER, "create", "configmap", "greeting", "--from-literal=message=hello")
    driftlab.ok("check", COURSE, "--trust")
    driftlab.kubectl(CLUSTER, "create", "configmap", "stray")
    driftlab.kubectl(CLUSTER, "delete", "configmap", "marker")
    driftlab.kubectl(CLUSTER, "scale", "deployment", "web", "--replicas=2")

    reset = driftlab.ok("lab", "reset", COURSE, "--trust")
    assert reset.stdout.strip() == "lab 'basics' reset; step 2 of 3 ready: scale (Scale the web app)"
    # The learner's greeting and the stray ConfigMap went with the namespace; the seed and setup came back.
    assert [name for name in driftlab.names(CLUSTER, "configmaps") if name != "kube-root-ca.crt"] == [
        "leftover",
        "marker",
    ]
    replicas = driftlab.kubectl(CLUSTER, "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}").stdout
    assert replicas == "1"
    status = driftlab.ok("lab", "status", COURSE, "--trust").stdout
    assert "step 2 of 3 current: scale" in status


def test_check_of_another_step_leaves_the_current_step_alone(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", COURSE, "--trust")
    other = driftlab.run("check", COURSE, "--step", "settings", "--trust")
    assert other.returncode == 1
    assert "  ✗ the leftover is gone: " in other.stdout
    assert "✗ the settings are final: ConfigMap work/settings does not exist" in other.stdout
    unknown = driftlab.run("check", COURSE, "--step", "nope", "--trust")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "error: course 'basics' has no step 'nope'; its steps are: greeting, scale, settings"
    )
    assert "step 1 of 3 current: greeting" in driftlab.ok("lab", "status", COURSE, "--trust").stdout


def test_kubeconfig_uses_the_courses_namespace(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", COURSE, "--trust")
    text = driftlab.ok("lab", "kubeconfig", COURSE).stdout
    assert "namespace: work" in text and "current-context: driftlab-lab-basics" in text
    export = driftlab.ok("lab", "kubeconfig", COURSE, "--export").stdout.strip()
    assert export == f"export KUBECONFIG={driftlab.kubeconfig(CLUSTER)}"


def test_a_course_outside_driftlabs_courses_runs_nothing_without_trust(driftlab: Driftlab) -> None:
    refused = driftlab.run("lab", "up", COURSE)
    assert refused.returncode == 1
    assert "is not one of driftlab's own courses, and it would run 1 shell command" in refused.stderr
    assert "step greeting, setup: kubectl create configmap marker" in refused.stderr
    assert f"if you trust the course, run: driftlab lab up {COURSE} --trust" in refused.stderr
    assert driftlab.clusters() == []

    driftlab.ok("lab", "up", COURSE, "--trust")
    driftlab.kubectl(CLUSTER, "create", "configmap", "greeting", "--from-literal=message=hello")
    driftlab.ok("check", COURSE, "--trust")
    # The step now current has a command check: checking it runs shell code.
    check = driftlab.run("check", COURSE)
    assert check.returncode == 1
    assert "step scale, check: kubectl get deployment web" in check.stderr
    status = driftlab.run("lab", "status", COURSE)
    assert "checks: not checked: its checks run shell code and the course is not trusted" in status.stdout

    test = driftlab.run("course", "test", COURSE)
    assert test.returncode == 1
    assert "step scale, solution: kubectl scale deployment web --replicas=3" in test.stderr


def test_shell_opens_a_shell_on_the_lab_and_exit_comes_back(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", COURSE, "--trust")
    for args in ([COURSE], []):
        child = pexpect.spawn(
            sys.executable,
            ["-m", "engine.cli", "shell", *args],
            cwd=str(ROOT),
            env={**_base_env(), **driftlab.env},
            encoding="utf-8",
            timeout=30,
        )
        child.expect_exact("(driftlab:basics)")
        child.sendline("kubectl get configmap marker -o name; echo lab=$DRIFTLAB_LAB")
        child.expect_exact("configmap/marker")
        child.expect_exact("lab=basics")
        child.sendline("exit")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0


def test_shell_without_a_running_lab_says_how_to_start_one(driftlab: Driftlab) -> None:
    refused = driftlab.run("shell")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "error: no lab is running; start one with: driftlab lab up COURSE (see: driftlab course list)"
    )


def test_lab_down_all_stops_every_lab(driftlab: Driftlab) -> None:
    driftlab.ok("lab", "up", COURSE, "--trust")
    down = driftlab.ok("lab", "down", "--all")
    assert down.stdout.strip() == "cluster 'lab-basics' stopped"
    assert driftlab.run("lab", "status", COURSE).returncode == 1
    assert driftlab.ok("lab", "down", "--all", "--purge").stdout.strip() == "cluster 'lab-basics' was not running"
    assert driftlab.clusters() == []


def test_a_setup_that_fails_names_step_and_action_and_leaves_no_new_lab(driftlab: Driftlab, tmp_path: Path) -> None:
    course = copy_repository(tmp_path / "repo")
    text = (course / "course.yaml").read_text()
    (course / "course.yaml").write_text(text.replace("- run: kubectl create configmap marker", "- run: false && x", 1))
    failed = driftlab.run("lab", "up", str(course), "--trust")
    assert failed.returncode == 1
    assert failed.stderr.startswith(
        "error: step greeting: setup action 1 (run: false && x --from-literal=step=greeting"
    )
    assert "failed:\nexit code 1" in failed.stderr
    assert driftlab.clusters() == []


def _base_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key in ("PATH", "LANG", "LC_ALL", "TERM")}
