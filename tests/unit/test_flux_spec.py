"""A Kustomization's spec with Flux's defaults, and clear errors for specs it cannot use."""

from __future__ import annotations

from typing import Any

import pytest

from engine.gitops.flux.errors import FluxError
from engine.gitops.flux.spec import Dependency, SourceRef, parse
from engine.gitops.objects import ObjectRef


def ks(**spec: Any) -> dict[str, Any]:
    base = {"interval": "10m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "repo"}}
    return {"metadata": {"name": "apps", "namespace": "flux-system"}, "spec": base | spec}


def test_defaults_follow_kustomize_controller() -> None:
    spec = parse(ks())
    assert spec.source == SourceRef("GitRepository", "repo", "flux-system")
    assert (spec.interval, spec.retry, spec.timeout) == (600, 600, 570)
    assert spec.path == "./" and spec.deletion_policy == "MirrorPrune"
    assert not spec.wait and not spec.suspend and spec.depends_on == ()


def test_the_timeout_is_never_below_thirty_seconds() -> None:
    assert parse(ks(interval="45s")).timeout == 30
    assert parse(ks(timeout="10s")).timeout == 30
    assert parse(ks(timeout="2m", retryInterval="20s")).timeout == 120
    assert parse(ks(retryInterval="20s")).retry == 20


def test_deletion_policy_mirrors_prune_unless_set() -> None:
    assert parse(ks(prune=True)).deletes_on_removal()
    assert not parse(ks(prune=False)).deletes_on_removal()
    assert parse(ks(prune=False, deletionPolicy="Delete")).deletes_on_removal()
    assert not parse(ks(prune=True, deletionPolicy="Orphan")).deletes_on_removal()


def test_references_default_to_the_kustomization_namespace() -> None:
    spec = parse(
        ks(
            dependsOn=[{"name": "infra"}, {"name": "crds", "namespace": "other"}],
            healthChecks=[{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}],
        )
    )
    assert spec.depends_on == (Dependency("flux-system", "infra"), Dependency("other", "crds"))
    assert spec.health_checks == (ObjectRef("flux-system", "web", "apps", "Deployment", "v1"),)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"interval": "soon"}, "spec.interval"),
        ({"sourceRef": {"name": "repo"}}, "spec.sourceRef"),
        ({"deletionPolicy": "Never"}, "spec.deletionPolicy"),
        ({"dependsOn": "infra"}, "spec.dependsOn must be a list"),
        ({"dependsOn": [{"namespace": "x"}]}, "dependsOn entry needs a name"),
        ({"healthChecks": [{"name": "web"}]}, "healthChecks entry needs a kind"),
    ],
)
def test_malformed_specs_are_flux_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(FluxError, match=message):
        parse(ks(**change))


def test_a_missing_spec_is_an_error() -> None:
    with pytest.raises(FluxError, match="spec is required"):
        parse({"metadata": {"name": "apps"}})
