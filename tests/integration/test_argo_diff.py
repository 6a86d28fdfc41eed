"""`driftlab gitops diff app/NAME`: what a sync would create, change and delete, before Argo CD does it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine import proc

from .conftest import Cluster
from .gitops_support import GitOpsLab, gitops_lab
from .test_argo import application, config_map, synced_at

pytestmark = pytest.mark.slow


@pytest.fixture
def lab(cluster: Cluster, tmp_path: Path):  # type: ignore[no-untyped-def]
    with gitops_lab(cluster, tmp_path) as started:
        yield started


def gitops_diff(lab: GitOpsLab, *args: str) -> proc.Result:
    return proc.run([sys.executable, "-m", "engine.cli", "gitops", "diff", *args], env=lab.cluster.env, timeout=60)


def test_diff_of_an_application_against_the_git_head_and_a_folder(lab: GitOpsLab, ns: str, tmp_path: Path) -> None:
    repo = lab.repo({"apps/a.yaml": config_map("a", k="1"), "apps/b.yaml": config_map("b", k="1")})
    with lab.running("argocd"):
        application(lab, ns, repo.name, automated={"prune": True})
        lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="the first sync")
        assert gitops_diff(lab, "app/shop", "-n", ns).returncode == 0
        # Without automated sync, the head is compared but nothing applies it.
        lab.kubectl(
            "patch", "application", "shop", "-n", ns, "--type=json", "-p", '[{"op":"remove","path":"/spec/syncPolicy"}]'
        )
        repo.write("apps/a.yaml", config_map("a", k="2")).write("apps/c.yaml", config_map("c", k="1"))
        repo.remove("apps/b.yaml").push("Change a, add c, drop b")
        result = gitops_diff(lab, "app/shop", "-n", ns)
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert f"► ConfigMap/{ns}/a drifted" in lines
        assert f"► ConfigMap/{ns}/c created" in lines
        assert f"► ConfigMap/{ns}/b deleted" in lines
        assert "a sync keeps it: automated sync does not prune" in result.stdout
        assert "-  k: '1'" in result.stdout and "+  k: '2'" in result.stdout

        folder = tmp_path / "local"
        folder.mkdir()
        (folder / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: '1'}\n")
        (folder / "b.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: '1'}\n")
        assert gitops_diff(lab, "app/shop", "-n", ns, "--path", str(folder)).returncode == 0
