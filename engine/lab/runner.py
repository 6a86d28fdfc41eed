"""Running a step's setup actions against a lab: `run:` through a shell, `apply:` and `delete:` through kubectl.

Manifests go through the real `kubectl` (the one installed with driftlab) so that what happens, and what is
said when it goes wrong, is exactly what a learner typing the same command would see. Every action is
idempotent where kubectl allows it (`apply`, `delete --ignore-not-found`), because `lab up` and `lab reset`
may run a step's setup again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import proc
from ..course import CourseError, SetupAction, Step, load_manifests
from ..course.model import DeleteTarget
from ..errors import DriftlabError

KUBECTL_TIMEOUT = 120.0
RUN_TIMEOUT = 300.0
OUTPUT_LINES = 15
# What kubectl says when a manifest's kind belongs to a CustomResourceDefinition applied in the same call.
_CRD_PENDING = re.compile(r"ensure CRDs are installed first|could not find the requested resource|no matches for kind")


class SetupError(DriftlabError):
    """A setup action failed; the message names the step and the action, and quotes what the tool said."""


def tool_environment(kubeconfig: Path) -> dict[str, str]:
    """KUBECONFIG for the lab, and driftlab's own kubectl first on PATH."""
    kubectl_dir = str(Path(proc.tool("kubectl")).parent)
    return {"KUBECONFIG": str(kubeconfig), "PATH": f"{kubectl_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def tail(text: str, lines: int = OUTPUT_LINES) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


@dataclass
class ActionRunner:
    """Runs setup actions of a course against the cluster its kubeconfig names.

    `folder` is where relative manifest paths point and where `run:` code runs (the course's folder, or a
    scratch copy of it); `namespace` is the course's default namespace.
    """

    kubeconfig: Path
    namespace: str
    folder: Path
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def environment(self) -> dict[str, str]:
        return {**tool_environment(self.kubeconfig), **dict(self.env)}

    # kubectl --------------------------------------------------------------------------------------------------

    def kubectl(self, *args: str, input: str | None = None, timeout: float = KUBECTL_TIMEOUT) -> proc.Result:
        """Run the real kubectl against the lab; a kubectl that does not answer in time fails like an error."""
        command = [proc.tool("kubectl"), *args]
        try:
            return proc.run(command, env=self.environment, cwd=self.folder, input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            return proc.Result(command, 124, "", f"kubectl {' '.join(args)} did not finish within {timeout:g}s")
        except OSError as err:
            return proc.Result(command, 127, "", f"cannot run kubectl: {err.strerror or err}")

    def apply(self, sources: Sequence[str], *, namespace: str | None = None, stdin: str | None = None) -> str:
        """`kubectl apply -f` every source in one call, in order (`-` reads `stdin`); returns kubectl's output.

        When a manifest's kind comes from a CRD applied in the same call, kubectl cannot map it yet; then the
        CRDs are awaited (Established) and the apply is repeated once, as one would by hand.
        """
        args = ["apply", *(["-n", namespace] if namespace else [])]
        for source in sources:
            args += ["-f", source]
        result = self.kubectl(*args, input=stdin)
        if not result.ok and _CRD_PENDING.search(result.stderr):
            crds = _crd_names(self.folder, sources, stdin)
            if crds:
                self.kubectl("wait", "--for=condition=Established", *[f"crd/{name}" for name in crds], "--timeout=30s")
                result = self.kubectl(*args, input=stdin)
        if not result.ok:
            raise SetupError(tail(result.stderr) or tail(result.stdout) or f"kubectl exited with {result.returncode}")
        return result.stdout

    # Actions --------------------------------------------------------------------------------------------------

    def run_setup(self, step: Step) -> None:
        """Every setup action of the step, in order; stops at the first that fails."""
        for index, action in enumerate(step.setup, start=1):
            try:
                self.run_action(action)
            except SetupError as err:
                raise SetupError(f"step {step.id}: setup action {index} ({describe(action)}) failed:\n{err}") from None

    def run_action(self, action: SetupAction) -> None:
        namespace = action.namespace or self.namespace
        if action.run is not None:
            self.run_shell(action.run)
        elif isinstance(action.apply, str):
            self.apply([action.apply], namespace=namespace)
        elif isinstance(action.apply, dict):
            self.apply(["-"], namespace=namespace, stdin=yaml.safe_dump(action.apply, sort_keys=False))
        elif isinstance(action.delete, str):
            self._delete("-n", namespace, "-f", action.delete)
        elif isinstance(action.delete, DeleteTarget):
            target = action.delete
            which = [target.name] if target.name else ["-l", target.selector] if target.selector else ["--all"]
            self._delete("-n", target.namespace or namespace, target.kind, *which)

    def _delete(self, *args: str) -> None:
        result = self.kubectl("delete", "--ignore-not-found", *args)
        if not result.ok:
            raise SetupError(tail(result.stderr) or f"kubectl exited with {result.returncode}")

    def run_shell(self, code: str, timeout: float = RUN_TIMEOUT) -> proc.Result:
        """Shell code with the lab's KUBECONFIG, in the course's folder; a non-zero exit is a SetupError."""
        shell = shutil.which("bash") or "sh"
        args = [shell, "-c", code]
        limiter = shutil.which("timeout")
        if limiter:
            # GNU timeout signals its whole process group, so what the code started stops too.
            args = [limiter, "-k", "2", f"{timeout:g}", *args]
        try:
            result = proc.run(args, env=self.environment, cwd=self.folder, input="", timeout=timeout + 5)
        except subprocess.TimeoutExpired:
            raise SetupError(f"the command did not finish within {timeout:g}s") from None
        except OSError as err:
            raise SetupError(f"cannot run {shell}: {err.strerror or err}") from None
        if limiter and result.returncode == 124:
            raise SetupError(f"the command did not finish within {timeout:g}s")
        if not result.ok:
            said = tail(result.stdout + "\n" + result.stderr)
            raise SetupError(f"exit code {result.returncode}" + (f":\n{said}" if said else ""))
        return result


def describe(action: SetupAction) -> str:
    """An action as a course author wrote it, in a few words."""
    if action.run is not None:
        first = action.run.strip().splitlines()[0] if action.run.strip() else ""
        return f"run: {first[:60]}"
    if isinstance(action.apply, str):
        return f"apply: {action.apply}"
    if isinstance(action.apply, dict):
        name = (action.apply.get("metadata") or {}).get("name", "?")
        return f"apply: {action.apply.get('kind', '?')} {name}"
    if isinstance(action.delete, str):
        return f"delete: {action.delete}"
    target = action.delete
    if isinstance(target, DeleteTarget):
        return f"delete: {target.kind} {target.name or target.selector or '(all)'}"
    return action.kind


def _crd_names(folder: Path, sources: Sequence[str], stdin: str | None) -> list[str]:
    """Names of the CustomResourceDefinitions among the manifests being applied."""
    manifests: list[Any] = []
    for source in sources:
        if source == "-":
            try:
                manifests.extend(yaml.safe_load_all(stdin or ""))
            except yaml.YAMLError:
                continue
        else:
            try:
                manifests.extend(load_manifests(folder / source))
            except (CourseError, OSError):
                continue
    return [
        str(item["metadata"]["name"])
        for item in manifests
        if isinstance(item, dict)
        and item.get("kind") == "CustomResourceDefinition"
        and isinstance(item.get("metadata"), dict)
        and isinstance(item["metadata"].get("name"), str)
    ]
