"""A GitOps lab's bootstrap: the objects that connect its agents to its Git server, made once both run.

Like `flux bootstrap` or `argocd repo add`, they need what only the running lab knows: the Git server's URL
and the read-only deploy account. Bootstrap manifests (lab.yaml `bootstrap:`) may therefore name
`${DRIFTLAB_GIT_URL}`, `${DRIFTLAB_GIT_USERNAME}` and `${DRIFTLAB_GIT_PASSWORD}` (the deploy account); any
other `${DRIFTLAB_...}` is an error, and nothing else is touched (so `${var}` meant for Flux's post-build
substitution passes through).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ..errors import DriftlabError

_VARIABLE_RE = re.compile(r"\$\{(DRIFTLAB_[A-Z0-9_]*)\}")


def variables(git_url: str, username: str, password: str) -> dict[str, str]:
    return {
        "DRIFTLAB_GIT_URL": git_url.rstrip("/"),
        "DRIFTLAB_GIT_USERNAME": username,
        "DRIFTLAB_GIT_PASSWORD": password,
    }


def render(path: Path, values: Mapping[str, str]) -> str:
    """The manifest file (or every YAML file of a folder, in name order) with the lab's variables replaced."""
    files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")) if path.is_dir() else [path]
    rendered = []
    for file in files:
        text = file.read_text()
        for number, line in enumerate(text.splitlines(), start=1):
            for match in _VARIABLE_RE.finditer(line):
                if match.group(1) not in values:
                    known = ", ".join("${" + name + "}" for name in values)
                    raise DriftlabError(
                        f"{file}:{number}:{match.start() + 1}: unknown variable {match.group(0)}; "
                        f"bootstrap manifests may use {known}"
                    )
        rendered.append(_VARIABLE_RE.sub(lambda m: values[m.group(1)], text))
    return "\n---\n".join(rendered)
