"""Which container runtime kind would use and whether it answers, the kind network's gateway, and the default
backend, against stand-in docker, podman and nerdctl executables on PATH."""

from __future__ import annotations

import time

import pytest

from engine.cluster import runtime as runtime_module
from engine.cluster.kind import KindError
from engine.cluster.runtime import Runtime, default_backend, detect_runtime, network_gateway
from tests.unit.test_kind import STUBS, Stubs
from tests.unit.test_kind import stubs as stubs  # the fixture


def test_docker_that_answers(stubs: Stubs) -> None:
    assert detect_runtime() == Runtime("docker", str(stubs.bin / "docker"), True, "docker 28.2.2 answers")
    assert stubs.commands("docker") == [["-v"], ["info", "--format", "{{json .}}"]]


def test_docker_whose_daemon_is_down(stubs: Stubs) -> None:
    stubs.answer("docker", "down")
    found = detect_runtime()
    assert (found.name, found.answers) == ("docker", False)
    assert (
        found.detail
        == "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
    )


def test_docker_whose_socket_is_not_ours(stubs: Stubs) -> None:
    stubs.answer("docker", "denied")
    found = detect_runtime()
    assert not found.answers
    assert found.detail.startswith("permission denied while trying to connect to the Docker daemon socket")


def test_docker_that_hangs_does_not_answer(stubs: Stubs) -> None:
    stubs.answer("docker", "hang")
    stubs.monkeypatch.setattr(runtime_module, "INFO_TIMEOUT", 0.5)
    started = time.monotonic()
    found = detect_runtime()
    assert time.monotonic() - started < 10
    assert (found.answers, found.detail) == (False, "docker's daemon did not answer within 0.5s")


def test_nothing_installed_falls_back_to_docker_as_kind_does(stubs: Stubs) -> None:
    (stubs.bin / "docker").unlink()
    assert detect_runtime() == Runtime("docker", None, False, "no container runtime found (docker, nerdctl or podman)")


def test_docker_comes_before_nerdctl_and_podman(stubs: Stubs) -> None:
    stubs.install("nerdctl", "podman")
    assert detect_runtime().name == "docker"
    (stubs.bin / "docker").unlink()
    assert detect_runtime() == Runtime("nerdctl", str(stubs.bin / "nerdctl"), True, "nerdctl v2.0.2 answers")
    (stubs.bin / "nerdctl").unlink()
    assert detect_runtime() == Runtime("podman", str(stubs.bin / "podman"), True, "podman 5.2.2 answers (rootless)")


def test_podmans_docker_command_is_not_taken_for_docker(stubs: Stubs) -> None:
    stubs.answer("docker", "podman-shim")
    stubs.install("podman")
    assert detect_runtime().name == "podman"
    assert stubs.commands("docker") == [["-v"]]  # kind's test, and nothing more


def test_the_provider_variable_forces_a_runtime(stubs: Stubs) -> None:
    stubs.install("podman")
    stubs.monkeypatch.setenv("KIND_EXPERIMENTAL_PROVIDER", "podman")
    found = detect_runtime()
    assert found == Runtime(
        "podman",
        str(stubs.bin / "podman"),
        True,
        "podman 5.2.2 answers (rootless) (chosen by KIND_EXPERIMENTAL_PROVIDER)",
    )
    assert stubs.commands("docker") == []
    assert stubs.commands("podman") == [["info", "--format", "json"]]


def test_the_provider_can_be_given_in_env(stubs: Stubs) -> None:
    stubs.install("nerdctl")
    assert detect_runtime({"KIND_EXPERIMENTAL_PROVIDER": "nerdctl"}).name == "nerdctl"


def test_nerdctl_under_another_name_can_be_asked_for(stubs: Stubs) -> None:
    stubs.link("finch", STUBS / "nerdctl")
    found = detect_runtime({"KIND_EXPERIMENTAL_PROVIDER": "finch"})
    assert (found.name, found.binary, found.answers) == ("finch", str(stubs.bin / "finch"), True)


def test_a_forced_runtime_that_is_missing_is_reported(stubs: Stubs) -> None:
    found = detect_runtime({"KIND_EXPERIMENTAL_PROVIDER": "podman"})
    assert found == Runtime(
        "podman", None, False, "podman is not installed (KIND_EXPERIMENTAL_PROVIDER=podman asks for it)"
    )


def test_an_unknown_provider_is_ignored_as_kind_ignores_it(stubs: Stubs) -> None:
    assert detect_runtime({"KIND_EXPERIMENTAL_PROVIDER": "lxc"}).name == "docker"
    (stubs.bin / "docker").unlink()
    assert detect_runtime({"KIND_EXPERIMENTAL_PROVIDER": "lxc"}).detail == (
        "no container runtime found (docker, nerdctl or podman); "
        "KIND_EXPERIMENTAL_PROVIDER='lxc' is not docker, nerdctl or podman, so kind ignores it"
    )


def test_podman_without_its_machine(stubs: Stubs) -> None:
    stubs.install("podman")
    stubs.answer("podman", "down")
    found = detect_runtime({"KIND_EXPERIMENTAL_PROVIDER": "podman"})
    assert not found.answers
    assert found.detail.startswith("Cannot connect to Podman.")


# The kind network --------------------------------------------------------------------------------------------


def test_the_gateway_is_the_ipv4_one_of_the_kind_network(stubs: Stubs) -> None:
    assert network_gateway(detect_runtime()) == "172.18.0.1"
    assert stubs.commands("docker")[-1] == ["network", "inspect", "kind"]


def test_a_subnet_without_a_gateway_uses_its_first_address(stubs: Stubs) -> None:
    stubs.answer("docker", "no-gateway")
    assert network_gateway(Runtime("docker", str(stubs.bin / "docker"), True, "")) == "172.19.0.1"


def test_podman_and_nerdctl_networks(stubs: Stubs) -> None:
    stubs.install("podman", "nerdctl")
    assert network_gateway(Runtime("podman", str(stubs.bin / "podman"), True, "")) == "10.89.0.1"
    assert network_gateway(Runtime("nerdctl", str(stubs.bin / "nerdctl"), True, "")) == "10.4.0.1"


def test_a_network_that_does_not_exist_yet(stubs: Stubs) -> None:
    with pytest.raises(KindError) as caught:
        network_gateway(detect_runtime(), "lab")
    assert str(caught.value) == (
        "the docker network 'lab' does not exist yet: kind creates it with the first cluster, so create the "
        "cluster first"
    )


def test_the_gateway_of_a_runtime_that_does_not_answer(stubs: Stubs) -> None:
    stubs.answer("docker", "down")
    with pytest.raises(KindError, match=r"`docker network inspect kind` failed \(Cannot connect to the Docker daemon"):
        network_gateway(Runtime("docker", str(stubs.bin / "docker"), False, ""))


def test_the_gateway_without_a_runtime(stubs: Stubs) -> None:
    with pytest.raises(KindError, match="cannot look up the 'kind' network: no container runtime found"):
        network_gateway(Runtime("docker", None, False, "no container runtime found (docker, nerdctl or podman)"))


# The default backend -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("runtime", "kind", "expected"),
    [
        (Runtime("docker", "/d", True, ""), "/k", ("kind", "docker answers and kind is installed")),
        (Runtime("podman", "/p", True, ""), None, ("embedded", "podman answers, but kind is not installed")),
        (Runtime("docker", "/d", False, ""), "/k", ("embedded", "docker's daemon does not answer")),
        (Runtime("docker", None, False, ""), "/k", ("embedded", "no container runtime is installed")),
    ],
)
def test_default_backend(runtime: Runtime, kind: str | None, expected: tuple[str, str]) -> None:
    assert default_backend(runtime, kind) == expected
