"""`command`: a shell command run with the lab's KUBECONFIG passes on its exit code (and stdout).

Running is separate from judging so the judgement is a pure function of the outcome. `reads` finds what the
command's own `kubectl` calls read (`kubectl get deploy web -n shop`), so the watcher can re-run it when that
changes; anything it cannot see (logs, HTTP, files) is covered by the watcher's slow timer.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from engine import proc

from ..context import CheckContext
from ..reader import Read, ReadError
from ..spec import CommandCheck
from .common import Scope, Verdict

OUTPUT_LIMIT = 200


@dataclass(frozen=True)
class CommandRun:
    """What one run of the command did. `exit_code` is None when it could not run or timed out."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str = ""


def title(body: CommandCheck) -> str:
    return f"`{_short(body.run)}` exits with {body.exit_code}"


def _short(script: str, limit: int = 60) -> str:
    line = script.strip().splitlines()[0] if script.strip() else ""
    more = "…" if len(line) > limit or len(script.strip().splitlines()) > 1 else ""
    return line[:limit].rstrip() + more


def run(body: CommandCheck, context: CheckContext) -> CommandRun:
    """Run the command in a shell with KUBECONFIG set and the project's kubectl first on PATH."""
    shell = shutil.which("bash") or "sh"
    args = [shell, "-c", body.run]
    limiter = shutil.which("timeout")
    if limiter:
        # GNU timeout signals its whole process group, so kubectl started by the script stops too.
        args = [limiter, "-k", "2", f"{body.timeout_seconds:g}", *args]
    try:
        result = proc.run(
            args,
            env=_environment(context),
            cwd=context.cwd,
            input="",
            timeout=body.timeout_seconds + 5,
        )
    except subprocess.TimeoutExpired:
        return CommandRun(None, timed_out=True)
    except OSError as err:
        return CommandRun(None, error=f"could not start {shell}: {err.strerror or err}")
    if limiter and result.returncode == 124:
        return CommandRun(None, result.stdout, result.stderr, timed_out=True)
    return CommandRun(result.returncode, result.stdout, result.stderr)


def _environment(context: CheckContext) -> dict[str, str]:
    kubectl_dir = str(Path(proc.tool("kubectl")).parent)
    env = {"PATH": f"{kubectl_dir}{os.pathsep}{os.environ.get('PATH', '')}", **dict(context.env)}
    if context.kubeconfig is not None:
        env["KUBECONFIG"] = str(context.kubeconfig)
    return env


def judge(body: CommandCheck, outcome: CommandRun) -> Verdict:
    command = f"`{_short(body.run)}`"
    expected = f"exit code {body.exit_code}" + (f" and output matching {body.stdout}" if body.stdout else "")
    if outcome.error:
        return Verdict(False, f"{command} could not run: {outcome.error}", expected, "not run")
    if outcome.timed_out:
        found = f"still running after {body.timeout_seconds:g}s"
        return Verdict(False, f"{command} did not finish within {body.timeout_seconds:g}s", expected, found)
    said = _said(outcome)
    if outcome.exit_code != body.exit_code:
        found = f"exit code {outcome.exit_code}"
        tail = f": {said}" if said else ""
        return Verdict(False, f"expected {command} to exit with {body.exit_code}, found {found}{tail}", expected, found)
    if body.stdout and re.search(body.stdout, outcome.stdout, re.MULTILINE) is None:
        excerpt = _excerpt(outcome.stdout) or "no output"
        message = f"expected the output of {command} to match {body.stdout}, found: {excerpt}"
        return Verdict(False, message, expected, excerpt)
    tail = f": {_excerpt(outcome.stdout)}" if outcome.stdout.strip() else ""
    return Verdict(True, f"{command} exited with {outcome.exit_code}{tail}", expected, f"exit code {outcome.exit_code}")


def _said(outcome: CommandRun) -> str:
    """What the script told the learner: a `FAIL:` line if it printed one, else its last line of output."""
    lines = [line.strip() for line in (outcome.stdout + "\n" + outcome.stderr).splitlines() if line.strip()]
    flagged = [line for line in lines if line.startswith("FAIL:")]
    chosen = flagged[-1].removeprefix("FAIL:").strip() if flagged else (lines[-1] if lines else "")
    return chosen[:OUTPUT_LIMIT]


def _excerpt(text: str) -> str:
    flat = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return flat if len(flat) <= OUTPUT_LIMIT else flat[: OUTPUT_LIMIT - 1] + "…"


# What the command's kubectl calls read ---------------------------------------------------------------------

_VALUE_FLAGS = {
    "-o", "--output", "-c", "--container", "--timeout", "--for", "--context", "--kubeconfig", "--sort-by",
    "-L", "--label-columns", "--template", "-f", "--filename", "--since", "--tail", "--type", "-p", "--patch",
    "--server", "-s", "--user", "--cluster", "--request-timeout", "-k", "--kustomize", "--revision", "--chunk-size",
    "--token", "--since-time", "--limit-bytes", "-v", "--v",
}  # fmt: skip
_READ_VERBS = {"get", "describe", "wait", "logs", "events"}


def reads(body: CommandCheck, scope: Scope) -> list[Read]:
    """The reads of every `kubectl get|describe|wait|logs|events|rollout status` in the script we can parse."""
    found: list[Read] = []
    for words in _commands(body.run):
        for kind, name, namespace, labels, fields in _kubectl_targets(words):
            try:
                resource = scope.resolve(kind, None)
            except ReadError:
                continue
            ns = namespace if resource.namespaced else None
            read = Read(resource, ns, name, labels, fields)
            if read not in found:
                found.append(read)
    return found


def _commands(script: str) -> list[list[str]]:
    """The script's simple commands as word lists (a heuristic: enough for the kubectl calls checks make)."""
    text = script.replace("\\\n", " ").replace("\n", " ; ").replace("$(", " ( ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()`")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    nested: list[list[str]] = []
    try:
        for token in lexer:
            if set(token) <= set(";&|()`"):
                commands.append([])
            elif "kubectl" in token and token != "kubectl" and (" " in token or "(" in token):
                nested.extend(_commands(token))  # a quoted command substitution: "$(kubectl get ...)"
            else:
                commands[-1].append(token)
    except ValueError:
        return []
    return [words for words in commands + nested if words]


def _kubectl_targets(words: list[str]) -> list[tuple[str, str | None, str | None, str | None, str | None]]:
    if not words or os.path.basename(words[0]) != "kubectl" or any("$" in word for word in words):
        return []
    namespace: str | None = None
    labels: str | None = None
    fields: str | None = None
    positional: list[str] = []
    items = iter(words[1:])
    for word in items:
        flag, has_value, value = word.partition("=")
        if word in ("-A", "--all-namespaces"):
            namespace = None
        elif flag in ("-n", "--namespace", "-l", "--selector", "--field-selector"):
            value = value if has_value else next(items, "")
            if flag in ("-n", "--namespace"):
                namespace = value
            elif flag == "--field-selector":
                fields = value
            else:
                labels = value
        elif flag == "--for" and word.startswith("--for="):
            continue
        elif word in _VALUE_FLAGS:
            next(items, None)
        elif not word.startswith("-"):
            positional.append(word)
    if not positional:
        return []
    verb, rest = positional[0], positional[1:]
    if verb == "rollout" and rest[:1] == ["status"]:
        rest = rest[1:]
    elif verb == "events":
        return [("events", None, namespace, None, None)]
    elif verb == "logs":
        rest = rest[:1]
        if rest and "/" not in rest[0]:
            return [("pods", rest[0], namespace, labels, fields)]
    elif verb not in _READ_VERBS:
        return []
    return [(kind, name, namespace, labels, fields) for kind, name in _type_names(rest)]


def _type_names(args: list[str]) -> list[tuple[str, str | None]]:
    if not args:
        return []
    if "/" in args[0]:
        return [tuple(arg.split("/", 1)) for arg in args if "/" in arg]  # type: ignore[misc]
    kinds = [kind for kind in args[0].split(",") if kind]
    names = args[1:]
    return [(kind, name) for kind in kinds for name in (names or [None])]
