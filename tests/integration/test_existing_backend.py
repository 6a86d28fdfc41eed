"""The existing backend, with the embedded cluster standing in for a shared workshop cluster reached through a
kubeconfig: each learner's lab lives in namespaces prefixed with their name, foreign namespaces are refused,
and a course's checks pass there as on its own cluster."""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from engine import proc

from .conftest import Cluster

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Workshop:
    """One learner's driftlab (its own state folder) pointed at the shared cluster."""

    cluster: Cluster
    root: Path
    learner: str

    @property
    def course(self) -> str:
        return str(self.root / "repo" / "courses" / "basics")

    @property
    def env(self) -> dict[str, str]:
        return {**self.cluster.env, "DRIFTLAB_HOME": str(self.root / "home")}

    @property
    def lab_kubeconfig(self) -> Path:
        return self.root / "home" / "clusters" / "lab-basics" / "lab.kubeconfig"

    def ns(self, name: str) -> str:
        return f"{self.learner}-{name}"

    def driftlab(self, *args: str) -> proc.Result:
        return proc.run([sys.executable, "-m", "engine.cli", *args], env=self.env, cwd=ROOT, timeout=120)

    def ok(self, *args: str) -> proc.Result:
        result = self.driftlab(*args)
        assert result.ok, f"driftlab {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        return result

    def up(self, *extra: str) -> proc.Result:
        return self.driftlab(
            "lab", "up", self.course, "--trust", "--backend", "existing", "--learner", self.learner, *extra
        )

    def as_learner(self, *args: str, input: str | None = None) -> proc.Result:
        """kubectl as the learner types it, with the lab's kubeconfig."""
        env = {**self.env, "KUBECONFIG": str(self.lab_kubeconfig)}
        result = proc.run([proc.tool("kubectl"), *args], env=env, input=input, timeout=60)
        assert result.ok, f"kubectl {' '.join(args)} failed:\n{result.stderr}"
        return result


@pytest.fixture
def workshop(cluster: Cluster, tmp_path: Path) -> Iterator[Workshop]:
    shutil.copytree(ROOT / "tests" / "lab_courses", tmp_path / "repo")
    lab_file = tmp_path / "repo" / "labs" / "basics" / "lab.yaml"
    lab_file.write_text(lab_file.read_text().replace("backend: embedded", "backend: any"))
    found = Workshop(cluster, tmp_path, f"l{uuid.uuid4().hex[:6]}")
    yield found
    found.driftlab("lab", "down", found.course, "--purge")
    for name in ("work", "default"):
        cluster.kubectl("delete", "namespace", found.ns(name), "--ignore-not-found", "--wait=false", check=False)


def labels(cluster: Cluster, namespace: str) -> dict[str, str]:
    return dict(cluster.get_json("namespace", namespace)["metadata"].get("labels") or {})


def test_a_learners_lab_lives_in_prefixed_namespaces_and_its_checks_pass(workshop: Workshop) -> None:
    cluster, learner = workshop.cluster, workshop.learner
    up = workshop.up()
    assert up.ok, up.stderr
    assert "backend: existing (--backend existing)" in up.stderr
    assert "step 1 of 3 ready: greeting" in up.stdout
    owned = labels(cluster, workshop.ns("work"))
    assert owned["driftlab.dev/learner"] == learner and owned["driftlab.dev/lab"] == "lab-basics"
    assert cluster.kubectl("get", "namespace", workshop.ns("default"), check=False).returncode != 0  # not named
    assert cluster.kubectl("get", "namespace", "work", check=False).returncode != 0  # the course's name stays free
    # The seed and the first step's setup landed in the learner's namespace, which the kubeconfig defaults to.
    config = yaml.safe_load(workshop.lab_kubeconfig.read_text())
    assert config["contexts"][0]["context"]["namespace"] == workshop.ns("work")
    assert workshop.as_learner("get", "configmap", "leftover", "marker", "-o", "name").stdout.split() == [
        "configmap/leftover",
        "configmap/marker",
    ]

    before = workshop.driftlab("check", workshop.course, "--trust")
    assert before.returncode == 1
    assert "ConfigMap work/greeting does not exist" in before.stdout  # checks speak the course's names
    workshop.as_learner("create", "configmap", "greeting", "--from-literal=message=hello")
    assert "step greeting passed; now on step scale" in workshop.ok("check", workshop.course, "--trust").stdout
    assert json.loads(workshop.as_learner("get", "deployment", "web", "-o", "json").stdout)["metadata"][
        "namespace"
    ] == workshop.ns("work")

    workshop.as_learner("scale", "deployment", "web", "--replicas=3")
    assert "step scale passed; now on step settings" in workshop.ok("check", workshop.course, "--trust").stdout
    assert workshop.as_learner("get", "configmap", "leftover", "--ignore-not-found", "-o", "name").stdout == ""

    settings = (Path(workshop.course) / "settings.yaml").read_text().replace("mode: draft", "mode: final")
    workshop.as_learner("apply", "-f", "-", input=settings)
    finished = workshop.ok("check", workshop.course, "--trust").stdout
    assert "step settings passed" in finished

    down = workshop.ok("lab", "down", workshop.course, "--purge")
    assert "the shared cluster keeps running; your namespaces of it were deleted" in down.stdout
    left = cluster.kubectl("get", "namespace", workshop.ns("work"), "-o", "jsonpath={.status.phase}", check=False)
    assert left.returncode != 0 or left.stdout == "Terminating"


def test_a_namespace_the_lab_did_not_create_is_refused(workshop: Workshop) -> None:
    cluster = workshop.cluster
    cluster.kubectl("create", "namespace", workshop.ns("work"))
    refused = workshop.up()
    assert refused.returncode == 1
    assert f"namespace '{workshop.ns('work')}' exists and is not this lab's (driftlab did not create it)" in (
        refused.stderr
    )
    listed = cluster.kubectl("get", "configmaps", "-n", workshop.ns("work"), "-o", "name").stdout.split()
    assert "configmap/leftover" not in listed  # nothing was seeded into it
    assert labels(cluster, workshop.ns("work")) == {"kubernetes.io/metadata.name": workshop.ns("work")}


def test_another_learners_namespace_is_refused(workshop: Workshop) -> None:
    cluster = workshop.cluster
    cluster.kubectl("create", "namespace", workshop.ns("work"))
    cluster.kubectl("label", "namespace", workshop.ns("work"), "driftlab.dev/learner=someone-else")
    refused = workshop.up()
    assert refused.returncode == 1 and "it belongs to learner 'someone-else'" in refused.stderr


def test_reset_refuses_a_namespace_that_lost_its_owner(workshop: Workshop) -> None:
    assert workshop.up().ok
    workshop.cluster.kubectl("label", "namespace", workshop.ns("work"), "driftlab.dev/learner-")
    refused = workshop.driftlab("lab", "reset", workshop.course, "--trust")
    assert refused.returncode == 1 and "is not this lab's (driftlab did not create it)" in refused.stderr
    assert workshop.cluster.get_json("namespace", workshop.ns("work"))["status"]["phase"] == "Active"
    workshop.cluster.kubectl("label", "namespace", workshop.ns("work"), f"driftlab.dev/learner={workshop.learner}")
    reset = workshop.ok("lab", "reset", workshop.course, "--trust")
    assert "reset; step 1 of 3 ready" in reset.stdout
    assert workshop.as_learner("get", "configmap", "leftover", "-o", "name").stdout.strip() == "configmap/leftover"


def test_a_course_whose_commands_name_namespaces_is_refused_before_anything_is_created(workshop: Workshop) -> None:
    course = Path(workshop.course) / "course.yaml"
    course.write_text(
        course.read_text().replace("kubectl scale deployment web", "kubectl -n work scale deployment web")
    )
    refused = workshop.up()
    assert refused.returncode == 1
    assert "cannot run on a shared cluster (the existing backend)" in refused.stderr
    assert "step scale: solution code says '-n work'" in refused.stderr
    assert workshop.cluster.kubectl("get", "namespace", workshop.ns("work"), check=False).returncode != 0
