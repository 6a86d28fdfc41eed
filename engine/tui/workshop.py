"""Workshop mode (`driftlab serve --workshop`): many learners on one machine, each with a state folder of their own.

Every browser tab runs `driftlab start --workshop`, whose app first asks the learner's name. The name picks the
learner's folder (engine.paths.learner_home), which becomes this process's DRIFTLAB_HOME before anything reads
state: the progress store, the labs and the daemons they start (which inherit the environment) all live there,
so two learners never share a cluster or a progress record, and the same name again resumes. The name is also
DRIFTLAB_LEARNER, the namespace prefix on a shared `existing` cluster.

Every embedded cluster serves its API and its NodePorts on 127.0.0.1, and courses name 127.0.0.1:PORT, so on
Linux each tab's process runs in a network of its own (engine.netns), made when it starts, before the name is
asked: the labs, kubectl and shells it starts inherit it, and 127.0.0.1 is that learner's alone. Whether that
is possible is decided once, when the server starts (`network_for_learners`); the tabs are told by
`start --own-network`. A learner who comes back gets a new network: `lab up` replaces their cluster, which
still runs in the old one where nobody can reach it, and their objects and progress are in their folder.
"""

from __future__ import annotations

import logging
import os
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import netns, paths
from ..cluster.backend import BACKEND_ENV, EMBEDDED

LEARNER_NAME_MAX = 30  # the namespace prefix on a shared cluster (`ada-dev`) must stay a DNS label
HOME_ENV = "DRIFTLAB_HOME"
LEARNER_ENV = "DRIFTLAB_LEARNER"
_ALLOWED = frozenset(string.ascii_lowercase + string.digits + "-")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LearnerNetwork:
    """Whether each learner's session gets a 127.0.0.1 of its own; `reason` says why not when it does not."""

    own: bool
    reason: str = ""


def network_for_learners(
    env: Mapping[str, str] | None = None, probe: Callable[[], str | None] = netns.probe
) -> LearnerNetwork:
    """Decide, once for a whole workshop, whether learners' sessions can each have a network of their own.
    Only the embedded backend lives wholly inside one: a kind or existing cluster is reached through this
    machine's network, which a learner's own network cannot see."""
    environ = os.environ if env is None else env
    backend = environ.get(BACKEND_ENV, "").strip()
    if backend and backend != EMBEDDED:
        return LearnerNetwork(False, f"{BACKEND_ENV}={backend}: labs on that backend are reached through this "
                              "machine's own network")  # fmt: skip
    refused = probe()
    return LearnerNetwork(True) if refused is None else LearnerNetwork(False, refused)


def network_note(network: LearnerNetwork) -> str:
    """What the presenter is told about learners' networks when the workshop starts."""
    if network.own:
        return (
            "workshop: each learner's session has a network of its own, so 127.0.0.1 there is theirs alone: "
            "their labs (on the embedded cluster) never clash on a port"
        )
    return (
        f"workshop: learners share this machine's 127.0.0.1 ({network.reason}); courses with NodePorts will "
        "clash: a second learner's shop cannot take the port, and their curl reaches the first learner's shop"
    )


def enter_own_network() -> bool:
    """Run the rest of this process, and all it starts, in a network of its own (on the embedded backend);
    call before any thread starts. False, said in the log, where the system refuses after all (the session
    then shares the machine's network); DriftlabError where it failed halfway and the session cannot go on."""
    try:
        netns.isolate()
    except netns.IsolationError as err:
        if err.moved:
            raise
        log.warning("this session shares the machine's 127.0.0.1: %s", err)
        return False
    os.environ.setdefault(BACKEND_ENV, EMBEDDED)
    return True


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
