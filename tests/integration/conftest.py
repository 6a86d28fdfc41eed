"""A real embedded cluster per test worker, driven through the real CLI, the real kubectl and the Python client."""

from __future__ import annotations

import functools
import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine import proc

from ..kubehttp import KubeHTTP


@dataclass
class Cluster:
    name: str
    home: Path
    kubeconfig: Path
    env: dict[str, str] = field(default_factory=dict)

    def driftlab(self, *args: str, check: bool = True) -> proc.Result:
        result = proc.run([sys.executable, "-m", "engine.cli", *args], env=self.env, timeout=60)
        if check and not result.ok:
            raise AssertionError(f"driftlab {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> proc.Result:
        result = proc.run([proc.tool("kubectl"), *args], env=self.env, input=input, timeout=timeout)
        if check and not result.ok:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\nstdout: {result.stdout}\n"
                f"stderr: {result.stderr}"
            )
        return result

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    @property
    def server(self) -> str:
        return self.http.server

    @functools.cached_property
    def http(self) -> KubeHTTP:
        """Raw HTTP to this cluster's API, with the kubeconfig's CA and token."""
        return KubeHTTP.from_kubeconfig(self.kubeconfig.read_text())


def start_cluster(root: Path, name: str = "test", extra_env: dict[str, str] | None = None) -> Cluster:
    home = root / "driftlab-home"
    user_home = root / "user-home"
    user_home.mkdir(parents=True, exist_ok=True)
    kubeconfig = root / "kubeconfig"
    env = {
        "DRIFTLAB_HOME": str(home),
        "HOME": str(user_home),
        "KUBECONFIG": str(kubeconfig),
        "KUBECACHEDIR": str(user_home / "kube-cache"),
        "DRIFTLAB_TIMING_SCALE": "0",
        **(extra_env or {}),
    }
    cluster = Cluster(name, home, kubeconfig, env)
    cluster.driftlab("cluster", "up", "--name", name)
    kubeconfig.write_text(cluster.driftlab("cluster", "kubeconfig", "--name", name).stdout)
    return cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    started = start_cluster(root)
    try:
        yield started
    finally:
        started.driftlab("cluster", "down", "--name", started.name, "--purge", check=False)


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace per test, so tests never see each other's objects."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def write(tmp_path: Path) -> Any:
    """Write a manifest file and return its path."""

    def _write(text: str, name: str = "manifest.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return _write


os.environ.setdefault("PYTHONUNBUFFERED", "1")
