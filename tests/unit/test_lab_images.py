"""The lab's own images on kind: which are built, what the image runner does in a real process, and the build and
load through the container runtime and kind (stand-ins on PATH that record their calls)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from engine.cluster.images.build import ImageBuilder, OwnImage, own_images, tag_dockerfile, write_runner_context
from engine.cluster.images.runner import volume_files
from engine.cluster.kind import Kind
from engine.cluster.kind_backend import KindCluster
from engine.cluster.runtime import Runtime
from engine.errors import DriftlabError

from .test_kind import Stubs, stubs  # noqa: F401 - the stand-ins' fixture

LABS = Path(__file__).resolve().parents[2] / "labs"
SHOP = LABS / "antipatterns" / "images.yaml"


def test_only_images_under_driftlabs_registry_are_built_one_per_listed_tag() -> None:
    built = own_images(LABS / "is-it-perfect" / "images.yaml")
    references = [image.reference for image in built]
    assert "ghcr.io/driftlab/shop:1.0.0" in references and "ghcr.io/driftlab/payments:2.3.1" in references
    assert not [r for r in references if not r.startswith("ghcr.io/driftlab/")]
    assert {image.user for image in built} == {"10001"}


def test_a_tag_image_names_its_catalogue_entry_and_runs_as_its_user() -> None:
    text = tag_dockerfile("driftlab/image-runner:abc", OwnImage("ghcr.io/driftlab/shop:1.1.0", "10001"))
    assert text.splitlines() == [
        "FROM driftlab/image-runner:abc",
        "ENV DRIFTLAB_IMAGE=ghcr.io/driftlab/shop:1.1.0",
        "USER 10001",
    ]


def test_the_runner_image_digest_follows_the_catalogue(tmp_path: Path) -> None:
    first = write_runner_context(tmp_path / "a", SHOP)
    assert first == write_runner_context(tmp_path / "b", SHOP)
    other = tmp_path / "images.yaml"
    other.write_text(SHOP.read_text().replace("listening on :8080", "listening on port 8080"))
    assert write_runner_context(tmp_path / "c", other) != first


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_from_context(context: Path, image: str, port: int, **env: str) -> subprocess.Popen[str]:
    """The runner as the image starts it: only the build context's copy of the engine on the path."""
    return subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-c",
            "import sys; sys.path[:0] = ['.', *sys.argv[1:]]; import runpy; "
            "runpy.run_module('engine.cluster.images.runner', run_name='__main__')",
            *_site_packages(),
        ],
        cwd=context,
        env={
            "PATH": os.environ["PATH"],
            "DRIFTLAB_IMAGE": image,
            "DRIFTLAB_CATALOGUE": str(context / "images.yaml"),
            "DRIFTLAB_PORT": str(port),
            "HOSTNAME": "shop-7d9f-abcde",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _site_packages() -> list[str]:
    """Where pydantic and PyYAML are installed (the image installs them with pip)."""
    import pydantic
    import yaml

    return sorted({str(Path(pydantic.__file__).parents[1]), str(Path(yaml.__file__).parents[1])})


def _get(port: int, path: str, user_agent: str = "curl/8.5.0") -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"User-Agent": user_agent})
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, answer.read().decode()
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        except urllib.error.URLError as err:
            if not isinstance(err.reason, ConnectionError) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_the_runner_acts_out_its_entry_from_the_build_context_alone(tmp_path: Path) -> None:
    context = tmp_path / "context"
    write_runner_context(context, SHOP)
    port = _free_port()
    process = _run_from_context(context, "ghcr.io/driftlab/shop:1.0.0", port, ENVIRONMENT="staging")
    try:
        status, body = _get(port, "/")
        assert status == 200
        assert json.loads(body) == {
            "app": "shop",
            "version": "1.0.0",
            "environment": "staging",
            "banner": "Welcome to the Driftlab Shop",
            "pod": "shop-7d9f-abcde",
        }
        assert _get(port, "/healthz") == (200, "ok\n")
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    lines = out.splitlines()
    assert lines[0].endswith("INFO  shop 1.0.0 starting on shop-7d9f-abcde"), (out, err)
    assert any(line.endswith("INFO  environment: staging") for line in lines)
    assert any(line.endswith("INFO  GET / 200 (curl/8.5.0)") for line in lines)


def test_the_runner_exits_as_its_entry_does_when_configuration_is_missing(tmp_path: Path) -> None:
    context = tmp_path / "context"
    write_runner_context(context, SHOP)
    process = _run_from_context(context, "ghcr.io/driftlab/shop:1.1.0", _free_port())
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1, err
    assert "FATAL PAYMENT_URL is not set" in out.splitlines()[-1]


def test_the_runner_refuses_an_image_its_catalogue_does_not_list(tmp_path: Path) -> None:
    context = tmp_path / "context"
    write_runner_context(context, SHOP)
    process = _run_from_context(context, "ghcr.io/driftlab/shop:9.9.9", _free_port())
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "ghcr.io/driftlab/shop:9.9.9 is not in the lab's image catalogue" in err


def test_volume_files_are_the_pods_mounts_not_the_runtimes(tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "..2024_05_01").mkdir(parents=True)
    (config / "..2024_05_01" / "PAYMENT_URL").write_text("http://payments")
    (config / "PAYMENT_URL").symlink_to(config / "..2024_05_01" / "PAYMENT_URL")
    mountinfo = "\n".join(
        [
            "1 0 0:1 / / rw - overlay overlay rw",
            "2 1 0:2 / /proc rw - proc proc rw",
            "3 1 0:3 / /etc/hosts rw - ext4 /dev/sda1 rw",
            f"4 1 0:4 / {config} ro - tmpfs tmpfs ro",
            "5 1 0:5 / /var/run/secrets/kubernetes.io/serviceaccount ro - tmpfs tmpfs ro",
        ]
    )
    assert volume_files(mountinfo) == {str(config / "PAYMENT_URL"): "http://payments"}


def _cluster(stubs: Stubs, tmp_path: Path) -> KindCluster:  # noqa: F811
    runtime = Runtime("docker", str(stubs.bin / "docker"), True, "Docker 28.2.2")
    cluster = KindCluster("lab-shop", kind=Kind(), runtime=runtime, probe=lambda kubeconfig: True)
    cluster.up()
    return cluster


def test_lab_images_are_built_once_and_loaded_into_the_node(
    stubs: Stubs,  # noqa: F811
    tmp_path: Path,
    driftlab_home: Path,
) -> None:
    cluster, said = _cluster(stubs, tmp_path), []
    loaded = cluster.load_images(SHOP, said.append)
    assert loaded == ["ghcr.io/driftlab/shop:1.0.0", "ghcr.io/driftlab/shop:1.1.0"]
    builds = [args for args in stubs.commands("docker") if args[0] == "build"]
    built = [args[2] for args in builds]
    assert built[0].startswith("driftlab/image-runner:")
    assert built[1:] == loaded
    assert ["load", "docker-image", *loaded, "--name", cluster.kind_name] in stubs.commands("kind")
    assert said[0].startswith("building the lab's images (2)") and said[-1].startswith("loading 2 lab images")
    assert cluster.load_images(SHOP, said.append) == []


def test_a_failed_build_says_what_the_build_needs_and_how_to_do_without(
    stubs: Stubs,  # noqa: F811
    tmp_path: Path,
    driftlab_home: Path,
) -> None:
    stubs.answer("docker", "build-fails")
    with pytest.raises(DriftlabError) as caught:
        _cluster(stubs, tmp_path).load_images(SHOP)
    message = str(caught.value)
    assert "could not build the lab image driftlab/image-runner:" in message
    assert "lookup registry-1.docker.io: no such host" in message
    assert "--backend embedded" in message


def test_a_runtime_that_cannot_be_run_is_a_clear_error(tmp_path: Path) -> None:
    builder = ImageBuilder("/nonexistent/podman", tmp_path, lambda line: None)
    with pytest.raises(DriftlabError, match="cannot run /nonexistent/podman: No such file or directory"):
        builder.has("ghcr.io/driftlab/shop:1.0.0")
