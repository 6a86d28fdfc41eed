"""The Pull GitOps courses (Flux, Argo CD) say the same thing in every place they say it.

The sync the learner is told to write lives in four places: the instructions, the solution that `course
test` runs, the manifests the step setups declare again after a lab reset, and (for Argo CD) the patches that
turn on selfHeal and prune. The bootstrap connects the agent to the repo those syncs name. If any of them
drifts, a learner who follows the text ends up somewhere the checks or a reset do not, so each is compared
here with the others. `driftlab course test` proves the steps themselves.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.cluster.embedded.workloads.loader import parse_catalogue
from engine.course import Course, load_course
from engine.lab import bootstrap
from engine.lab.edits import apply_patch

ROOT = Path(__file__).resolve().parents[2]
FLUX = ROOT / "courses" / "gitops-flux"
ARGO = ROOT / "courses" / "gitops-argo"
GIT_URL = "http://127.0.0.1:4242"
HEREDOC_RE = re.compile(r"cat > shop-app\.yaml <<EOF\n(.*?)\nEOF", re.DOTALL)
YAML_BLOCK_RE = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def _instructions(course: Course, step_id: str) -> str:
    return course.instructions(course.step(step_id))


def _documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _rendered(lab: str) -> dict[str, dict[str, Any]]:
    """The lab's bootstrap manifests as `lab up` applies them, by kind."""
    values = bootstrap.variables(GIT_URL, "deploy", "s3cret")
    lab_folder = ROOT / "labs" / lab
    lab_file = yaml.safe_load((lab_folder / "lab.yaml").read_text())
    text = "\n---\n".join(bootstrap.render(lab_folder / entry, values) for entry in lab_file["bootstrap"])
    return {doc["kind"]: doc for doc in _documents(text)}


# Flux -------------------------------------------------------------------------------------------------------


def test_flux_the_kustomization_of_the_text_is_the_one_the_solution_applies_and_a_reset_restores() -> None:
    course = load_course(FLUX)
    step = course.step("declare-the-sync")
    told = yaml.safe_load(YAML_BLOCK_RE.findall(_instructions(course, "declare-the-sync"))[0])
    assert step.solution is not None
    solved = yaml.safe_load(next(e.content for e in step.solution.files if e.path == "shop-sync.yaml") or "")
    restored = yaml.safe_load((FLUX / "manifests" / "shop-sync.yaml").read_text())
    assert told == solved == restored
    assert told["spec"]["prune"] is True
    assert told["spec"]["path"] == "./apps/shop"


def test_flux_bootstrap_gives_the_kustomization_its_source_with_the_deploy_account() -> None:
    sync = yaml.safe_load((FLUX / "manifests" / "shop-sync.yaml").read_text())
    objects = _rendered("gitops-flux")
    source, secret = objects["GitRepository"], objects["Secret"]
    assert source["metadata"]["name"] == sync["spec"]["sourceRef"]["name"]
    assert source["metadata"]["namespace"] == sync["metadata"]["namespace"] == "flux-system"
    assert source["spec"]["url"] == f"{GIT_URL}/fleet.git"
    assert source["spec"]["ref"] == {"branch": "main"}
    assert source["spec"]["secretRef"]["name"] == secret["metadata"]["name"]
    assert secret["stringData"] == {"username": "deploy", "password": "s3cret"}


def test_flux_the_shop_brings_its_own_namespace_since_flux_never_creates_one() -> None:
    namespace = yaml.safe_load((ROOT / "labs/gitops-flux/repos/fleet/apps/shop/namespace.yaml").read_text())
    assert namespace == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}


# Argo CD ----------------------------------------------------------------------------------------------------


def _solution_heredoc(course: Course) -> str:
    solution = course.step("declare-the-app").solution
    assert solution is not None
    command = next(c for c in solution.commands if c.startswith("cat > shop-app.yaml"))
    return HEREDOC_RE.search(command + "\n").group(1)  # type: ignore[union-attr]


def _manifest(name: str) -> str:
    """A setup manifest, written as the shell writes the heredoc of the text (with `$DRIFTLAB_GIT_URL`)."""
    return (ARGO / "manifests" / name).read_text().replace("${DRIFTLAB_GIT_URL}", "$DRIFTLAB_GIT_URL")


def test_argo_the_application_of_the_text_is_the_one_the_solution_applies_and_a_reset_restores() -> None:
    course = load_course(ARGO)
    told = HEREDOC_RE.search(_instructions(course, "declare-the-app")).group(1)  # type: ignore[union-attr]
    assert told == _solution_heredoc(course)
    assert yaml.safe_load(told) == yaml.safe_load(_manifest("shop-app.yaml"))
    app = yaml.safe_load(told)
    assert app["spec"]["syncPolicy"] == {"automated": {}, "syncOptions": ["CreateNamespace=true"]}


@pytest.mark.parametrize(
    ("step_id", "before", "after", "automated"),
    [
        ("edit-by-hand", "shop-app.yaml", "shop-app-self-heal.yaml", {"selfHeal": True}),
        ("delete-a-file", "shop-app-self-heal.yaml", "shop-app-prune.yaml", {"selfHeal": True, "prune": True}),
    ],
)
def test_argo_each_edit_of_the_application_leads_to_what_the_next_setup_restores(
    step_id: str, before: str, after: str, automated: dict[str, bool]
) -> None:
    course = load_course(ARGO)
    step = course.step(step_id)
    assert step.solution is not None
    edit = next(e for e in step.solution.files if e.path == "shop-app.yaml")
    start = _solution_heredoc(course) + "\n" if before == "shop-app.yaml" else _manifest(before)
    edited = yaml.safe_load(apply_patch(start, edit.patch or ""))
    assert edited == yaml.safe_load(_manifest(after))
    assert edited["spec"]["syncPolicy"]["automated"] == automated
    told = [yaml.safe_load(block) for block in YAML_BLOCK_RE.findall(_instructions(course, step_id))]
    assert {"automated": automated} in told


def test_argo_the_repository_secret_is_the_one_the_application_repo_url_finds() -> None:
    app = yaml.safe_load(_manifest("shop-app.yaml").replace("$DRIFTLAB_GIT_URL", GIT_URL))
    secret = _rendered("gitops-argo")["Secret"]
    assert secret["metadata"]["namespace"] == app["metadata"]["namespace"] == "argocd"
    assert secret["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "repository"}
    assert secret["stringData"] == {
        "type": "git",
        "url": app["spec"]["source"]["repoURL"],
        "username": "deploy",
        "password": "s3cret",
    }


def test_argo_the_shop_has_no_namespace_manifest_since_create_namespace_makes_it() -> None:
    assert not (ROOT / "labs/gitops-argo/repos/fleet/apps/shop/namespace.yaml").exists()


# Both -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lab", ["gitops-flux", "gitops-argo"])
def test_release_1_2_0_is_the_broken_one(lab: str) -> None:
    """Only 1.2.0 crashes at start; 1.1.0 needs the payment address that shop-config already has."""
    path = ROOT / "labs" / lab / "images.yaml"
    shop = parse_catalogue(path.read_text(), str(path)).repository("ghcr.io/driftlab/shop")
    assert shop is not None
    assert shop.behaviour("1.2.0").crash is not None
    assert shop.behaviour("1.1.0").crash is None and shop.behaviour("1.0.0").crash is None
    config = yaml.safe_load((ROOT / "labs" / lab / "repos/fleet/apps/shop/shop-config.yaml").read_text())
    assert [need.name for need in shop.behaviour("1.1.0").requires.env] == ["PAYMENT_URL"]
    assert config["data"]["PAYMENT_URL"]
