"""What an evaluation needs besides the checks: where to read state, the default namespace, how to run commands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .reader import Reader


@dataclass
class CheckContext:
    """The cluster to read, the namespace namespaced kinds default to, and the environment of command checks.

    `lab` is the lab's state name (see engine.paths): git and pipeline checks find its repos and runs by it.
    """

    reader: Reader
    namespace: str = "default"
    kubeconfig: Path | None = None
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    lab: str | None = None

    @classmethod
    def from_kubeconfig(
        cls,
        kubeconfig: str | Path,
        namespace: str | None = None,
        *,
        context: str | None = None,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        lab: str | None = None,
    ) -> CheckContext:
        """A context reading the cluster a kubeconfig points at; the namespace defaults to its context's."""
        from .kube import KubeReader

        reader = KubeReader(kubeconfig, context)
        return cls(
            reader=reader,
            namespace=namespace or reader.namespace(),
            kubeconfig=Path(kubeconfig),
            cwd=Path(cwd) if cwd is not None else None,
            env=dict(env or {}),
            lab=lab,
        )
