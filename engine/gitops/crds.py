"""The custom resource definitions of the embedded agents, installed the way `flux install` installs Flux's."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from ..cluster.client import JSON, KubeClient

FOLDER = Path(__file__).parent / "crds"
FILES = {"flux": ("gitrepositories.yaml", "kustomizations.yaml"), "argocd": ("applications.yaml",)}
FIELD_MANAGER = "driftlab"
AGENTS = tuple(FILES)


def files(agents: Iterable[str]) -> list[Path]:
    """The CRD manifests of the named agents (`flux`, `argocd`)."""
    return [FOLDER / name for agent in agents for name in FILES[agent]]


def definitions(agents: Iterable[str]) -> list[JSON]:
    return [yaml.safe_load(path.read_text()) for path in files(agents)]


def install(client: KubeClient, agents: Iterable[str]) -> None:
    """Apply the agents' CRDs (server-side, so a newer shape replaces an older one) and wait until served."""
    for definition in definitions(agents):
        client.apply(definition, FIELD_MANAGER)
    for definition in definitions(agents):
        client.resolve(definition["spec"]["names"]["kind"], _served_version(definition))


def _served_version(definition: JSON) -> str:
    group = definition["spec"]["group"]
    version = next(v["name"] for v in definition["spec"]["versions"] if v.get("storage"))
    return f"{group}/{version}"
