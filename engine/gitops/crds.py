"""The custom resource definitions of the embedded agents, installed the way `flux install` installs Flux's."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import yaml

from ..cluster.client import JSON, KubeClient
from ..cluster.errors import UnknownKind

FOLDER = Path(__file__).parent / "crds"
FILES = {"flux": ("gitrepositories.yaml", "kustomizations.yaml"), "argocd": ("applications.yaml",)}
FIELD_MANAGER = "driftlab"
AGENTS = tuple(FILES)
SERVE_TIMEOUT = 10.0


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
        _wait_served(client, definition["spec"]["names"]["kind"], _served_version(definition))


def _wait_served(client: KubeClient, kind: str, api_version: str, timeout: float = SERVE_TIMEOUT) -> None:
    """A new CRD is served a moment after it is created: ask discovery again until it is."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.resolve(kind, api_version)
            return
        except UnknownKind:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _served_version(definition: JSON) -> str:
    group = definition["spec"]["group"]
    version = next(v["name"] for v in definition["spec"]["versions"] if v.get("storage"))
    return f"{group}/{version}"
