"""Workshop mode (`driftlab serve --workshop`): many learners on one machine, each with a state folder of their own.

Every browser tab runs `driftlab start --workshop`, whose app first asks the learner's name. The name picks the
learner's folder (engine.paths.learner_home), which becomes this process's DRIFTLAB_HOME before anything reads
state: the progress store, the labs and the daemons they start (which inherit the environment) all live there,
so two learners never share a cluster or a progress record, and the same name again resumes. The name is also
DRIFTLAB_LEARNER, the namespace prefix on a shared `existing` cluster.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

from .. import paths

LEARNER_NAME_MAX = 30  # the namespace prefix on a shared cluster (`ada-dev`) must stay a DNS label
HOME_ENV = "DRIFTLAB_HOME"
LEARNER_ENV = "DRIFTLAB_LEARNER"
_ALLOWED = frozenset(string.ascii_lowercase + string.digits + "-")


def learner_name_problem(name: str) -> str | None:
    """What is wrong with a learner's name, said so they can fix it; None for a good one."""
    if not name:
        return "Type your name first, for example ada."
    if len(name) > LEARNER_NAME_MAX:
        return f"That is {len(name)} characters: use at most {LEARNER_NAME_MAX}."
    for char in name:
        if char in _ALLOWED:
            continue
        if char.isspace():
            return "No spaces, please: join the words with '-', as in ada-lovelace."
        if char.isupper():
            lower = name.lower()
            instead = f", as in {lower}" if learner_name_problem(lower) is None else ""
            return f"{char!r} is a capital letter: use lowercase letters only{instead}."
        return f"{char!r} cannot be part of a name: use lowercase letters, digits and '-'."
    if not name[0].isalpha():
        return "Start with a letter."
    if name.endswith("-"):
        return "End with a letter or a digit, not '-'."
    return None


def enter_learner(name: str) -> Path:
    """Make `name`'s folder this process's driftlab home (and its children's); returns the folder.
    ValueError for a name learner_name_problem refuses."""
    problem = learner_name_problem(name)
    if problem is not None:
        raise ValueError(f"invalid learner name {name!r}: {problem}")
    folder = paths.learner_home(name)
    os.environ[HOME_ENV] = str(folder)
    os.environ[LEARNER_ENV] = name
    return folder


def saved_environment() -> dict[str, str | None]:
    """What enter_learner changes, to put back if the learner's state cannot be opened after all."""
    return {key: os.environ.get(key) for key in (HOME_ENV, LEARNER_ENV)}


def restore_environment(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def learners_with_state() -> list[str]:
    """The learners who have a state folder, by name."""
    try:
        found = [entry for entry in paths.learners_dir().iterdir() if entry.is_dir()]
    except OSError:
        return []
    return sorted(entry.name for entry in found if learner_name_problem(entry.name) is None)
