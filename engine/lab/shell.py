"""`driftlab shell`: the learner's own shell, pointed at a lab.

The shell gets KUBECONFIG for the lab, driftlab's kubectl first on PATH, `DRIFTLAB_LAB` naming the course,
git configured (through the environment only) to use the learner's account for the lab's Git server, and
a prompt that starts with `(driftlab:<course>)`. bash and zsh read the learner's usual rc file first and then
mark the prompt; other shells get PS1 and DRIFTLAB_LAB to use as they like. `exit` returns to where the
learner was, since driftlab hands its process over to the shell.
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from .. import paths
from ..course import Course
from ..errors import DriftlabError
from .lab import LabRuntime
from .progress import ProgressStore
from .runner import tool_environment

SHELL_FOLDER = "shell"


@dataclass(frozen=True)
class ShellLaunch:
    """The program, its arguments and the environment additions that start the lab's shell."""

    program: str
    args: list[str]
    env: dict[str, str]
    marker: str


def prepare_shell(runtime: LabRuntime, shell: str | None = None) -> ShellLaunch:
    """How to start the learner's shell ($SHELL, else bash) for the lab; the lab must be running."""
    status = runtime.status(evaluate=False)
    if not status.running:
        raise DriftlabError(
            f"the lab of course {runtime.name!r} is not running; start it with: driftlab lab up {runtime.name}"
        )
    kubeconfig = runtime.write_kubeconfig()
    program = shell or os.environ.get("SHELL") or shutil.which("bash") or "sh"
    marker = f"(driftlab:{runtime.name})"
    env = {**tool_environment(kubeconfig), "DRIFTLAB_LAB": runtime.name, **learner_git_env(runtime)}
    folder = kubeconfig.parent / SHELL_FOLDER
    folder.mkdir(exist_ok=True)
    kind = Path(program).name
    if kind == "bash":
        rcfile = folder / "bashrc"
        rcfile.write_text(f'[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"\nPS1={shlex.quote(marker + " ")}"$PS1"\n')
        return ShellLaunch(program, [program, "--rcfile", str(rcfile), "-i"], env, marker)
    if kind == "zsh":
        user_dir = shlex.quote(os.environ.get("ZDOTDIR") or os.environ.get("HOME", ""))
        (folder / ".zshrc").write_text(
            f"[ -f {user_dir}/.zshrc ] && ZDOTDIR={user_dir} . {user_dir}/.zshrc\n"
            f'PROMPT={shlex.quote(marker + " ")}"$PROMPT"\n'
        )
        return ShellLaunch(program, [program, "-i"], {**env, "ZDOTDIR": str(folder)}, marker)
    return ShellLaunch(program, [program], {**env, "PS1": f"{marker} $ "}, marker)


def learner_git_env(runtime: LabRuntime) -> dict[str, str]:
    """What lets `git clone "$DRIFTLAB_GIT_URL/app.git"` reach the lab's Git server as the learner without
    asking for a password (the URL itself carries no credentials)."""
    daemon = runtime.daemon()
    if daemon is None:
        return {}
    served = daemon.status()
    if not served.running or served.git_url is None:
        raise DriftlabError(
            f"the Git server of course {runtime.name!r} is not running; start it with: driftlab lab up {runtime.name}"
        )
    from ..gitserver.client import git_env
    from ..gitserver.credentials import Credentials

    env = git_env([served.git_url], Credentials.load(paths.git_credentials_file(daemon.name)).learner)
    return {**env, "DRIFTLAB_GIT_URL": served.git_url.rstrip("/")}


def running_course(store: ProgressStore | None = None) -> Course:
    """The most recently opened course whose lab is running, for `driftlab shell` without a course."""
    from ..course import CourseError, load_course

    for progress in (store or ProgressStore()).courses():
        if progress.source is None:
            continue
        try:
            course = load_course(progress.source)
        except (CourseError, DriftlabError):
            continue
        if LabRuntime(course, store=store).status(evaluate=False).running:
            return course
    raise DriftlabError("no lab is running; start one with: driftlab lab up COURSE (see: driftlab course list)")


def exec_shell(launch: ShellLaunch) -> NoReturn:
    """Replace this process with the shell, so `exit` returns to the learner's own shell."""
    try:
        os.execvpe(launch.program, launch.args, {**os.environ, **launch.env})
    except OSError as err:
        raise DriftlabError(f"cannot start {launch.program}: {err.strerror or err}") from None
