"""`driftlab gitops diff`: what the Git head (or a local folder) would create, change and delete, before Flux does.

The guard the 2024-02-21 outage lacked: a change that makes Flux prune exits 1 and names what would go.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import proc

from .conftest import Cluster
from .gitops_support import GitOpsLab, gitops_lab
from .test_flux import configmap, kustomization, start, wait_applied

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitOpsLab]:
    with gitops_lab(cluster, tmp_path_factory.mktemp("flux-diff")) as started, started.running("flux"):
        yield started


def gitops_diff(lab: GitOpsLab, *args: str) -> proc.Result:
    return proc.run([sys.executable, "-m", "engine.cli", "gitops", "diff", *args], env=lab.cluster.env, timeout=60)


def test_diff_names_what_the_git_head_would_create_change_and_delete(lab: GitOpsLab, ns: str) -> None:
    files = {"apps/a.yaml": configmap("a", ns), "apps/b.yaml": configmap("b", ns)}
    repo, head = start(lab, ns, files, kustomization("apps", ns, "./apps", interval="1h"))
    wait_applied(lab, "apps", ns, head)
    assert gitops_diff(lab, "ks/apps", "-n", ns).returncode == 0

    # Suspended, Flux leaves the cluster alone, so the diff sees the push before anything applies it.
    lab.kubectl("patch", "kustomization", "apps", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    repo.write("apps/a.yaml", configmap("a", ns, {"key": "new"})).write("apps/c.yaml", configmap("c", ns))
    repo.remove("apps/b.yaml").push("Change a, add c, drop b")
    result = gitops_diff(lab, "ks/apps", "-n", ns)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert f"► ConfigMap/{ns}/a drifted" in lines
    assert f"► ConfigMap/{ns}/c created" in lines
    assert f"► ConfigMap/{ns}/b deleted" in lines
    assert "-  key: a" in result.stdout and "+  key: new" in result.stdout
    assert "would delete objects" in result.stderr
    assert lab.get("configmap", "b", ns) is not None, "a diff changes nothing"


def test_a_local_folder_like_the_outage_change_is_caught(lab: GitOpsLab, ns: str, tmp_path: Path) -> None:
    files = {
        "fleet/gotk-components.yaml": configmap("flux-components", ns),
        "fleet/team-a.yaml": configmap("team-a", ns),
        "fleet/team-b.yaml": configmap("team-b", ns),
    }
    _, head = start(lab, ns, files, kustomization("fleet", ns, "./fleet"))
    wait_applied(lab, "fleet", ns, head)
    work = tmp_path / "work"
    lab.git("clone", "-q", lab.url(_repo_of(lab, ns)), str(work))
    (work / "fleet" / "kustomization.yaml").write_text("resources: [gotk-components.yaml]\n")

    result = gitops_diff(lab, "ks/fleet", "-n", ns, "--path", str(work / "fleet"))
    assert result.returncode == 1
    assert f"► ConfigMap/{ns}/team-a deleted" in result.stdout
    assert f"► ConfigMap/{ns}/team-b deleted" in result.stdout
    assert not (work / "fleet" / "kustomization.yaml").read_text().count("team"), "the learner's files are untouched"

    (work / "fleet" / "kustomization.yaml").write_text("resources: [gotk-components.yaml, team-a.yaml, team-b.yaml]\n")
    assert gitops_diff(lab, "ks/fleet", "-n", ns, "--path", str(work / "fleet")).returncode == 0


def test_prune_disabled_objects_are_deleted_from_git_but_kept_by_flux(lab: GitOpsLab, ns: str, tmp_path: Path) -> None:
    protected = configmap("keep", ns, annotations={"kustomize.toolkit.fluxcd.io/prune": "disabled"})
    _, head = start(
        lab, ns, {"apps/keep.yaml": protected, "apps/x.yaml": configmap("x", ns)}, kustomization("apps", ns, "./apps")
    )
    wait_applied(lab, "apps", ns, head)
    folder = tmp_path / "apps"
    folder.mkdir()
    (folder / "x.yaml").write_text(Path(lab.tmp / "seed").joinpath(_repo_of(lab, ns), "apps", "x.yaml").read_text())
    result = gitops_diff(lab, "ks/apps", "-n", ns, "--path", str(folder))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"► ConfigMap/{ns}/keep deleted" in result.stdout
    assert "Flux will not delete it (kustomize.toolkit.fluxcd.io/prune: disabled)" in result.stdout


def test_diff_errors_exit_2_with_the_reason(lab: GitOpsLab, ns: str) -> None:
    result = gitops_diff(lab, "ks/missing", "-n", ns)
    assert result.returncode == 2
    assert f"Kustomization {ns}/missing not found" in result.stderr


def _repo_of(lab: GitOpsLab, ns: str) -> str:
    url = lab.get("gitrepository", "repo", ns)["spec"]["url"]
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
