"""Push checks and push events without polling: a pre-receive and a post-receive hook in every repository.

Every served repository gets the same static `hooks/pre-receive` and `hooks/post-receive`. When git's backend
runs a push for the server, the server puts these variables in its environment, and git hands them on to the
hooks: `DRIFTLAB_PYTHON` (the interpreter to run them with, standard library only), `DRIFTLAB_PRE_RECEIVE`
(the path of `prereceive.py`) and `DRIFTLAB_MAX_BLOB_SIZE` for the checks, and for the report
`DRIFTLAB_PUSH_URL` (the server's internal notice endpoint), `DRIFTLAB_PUSH_TOKEN` (a random token made per
server start) and `DRIFTLAB_PUSH_REPO` (the repository name).

The pre-receive hook refuses what a lab's repository must not take (see `prereceive`) before any ref moves.
The post-receive hook posts the ref updates, with the pusher from `REMOTE_USER`, as one JSON notice and
returns at once; the server queues the events and delivers them in order, so the push never waits for what
reacts to it. Outside the server (a push on the file system) the variables are absent and the hooks do
nothing. Because the hooks hold no port, path or secret, they stay valid across restarts and moves of the
installation.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from . import prereceive
from .errors import GitServerError
from .events import PushEvent
from .repos import check_repo_name

HOOK = "post-receive"
PRE_HOOK = "pre-receive"
NOTICE_PATH = "/_driftlab/push"
TOKEN_HEADER = "X-Driftlab-Push-Token"
_SHA_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_REF_RE = re.compile(r"^refs/[^\x00-\x20\x7f~^:?*\[\\]+$")
MAX_UPDATES = prereceive.MAX_UPDATES

_REPORTER = """
import json, os, sys, urllib.request
updates = []
for line in sys.stdin:
    parts = line.split()
    if len(parts) == 3:
        updates.append({"old": parts[0], "new": parts[1], "ref": parts[2]})
notice = {"repo": os.environ["DRIFTLAB_PUSH_REPO"], "pusher": os.environ.get("REMOTE_USER", ""),
          "updates": updates}
request = urllib.request.Request(os.environ["DRIFTLAB_PUSH_URL"], data=json.dumps(notice).encode(),
    headers={"Content-Type": "application/json", "X-Driftlab-Push-Token": os.environ["DRIFTLAB_PUSH_TOKEN"]})
try:
    urllib.request.urlopen(request, timeout=10).read()
except Exception as err:
    print("driftlab: the lab was not told about this push:", err, file=sys.stderr)
"""

HOOK_SCRIPT = f"""#!/bin/sh
# Installed by driftlab: tells the lab's Git server which refs this push updated (engine/gitserver/hooks.py).
if [ -z "$DRIFTLAB_PUSH_URL" ] || [ -z "$DRIFTLAB_PYTHON" ]; then
    cat >/dev/null
    exit 0
fi
exec "$DRIFTLAB_PYTHON" -I -S -c '{_REPORTER.strip()}'
"""


PRE_HOOK_SCRIPT = """#!/bin/sh
# Installed by driftlab: refuses pushes a lab's repository must not take (engine/gitserver/prereceive.py).
if [ -z "$DRIFTLAB_PRE_RECEIVE" ] || [ -z "$DRIFTLAB_PYTHON" ]; then
    cat >/dev/null
    exit 0
fi
exec "$DRIFTLAB_PYTHON" -I -S "$DRIFTLAB_PRE_RECEIVE"
"""


HOOKS = {PRE_HOOK: PRE_HOOK_SCRIPT, HOOK: HOOK_SCRIPT}


class NoticeError(GitServerError):
    """A push notice that is not what the hook sends."""


def install_hook(repo: Path) -> bool:
    """Put the pre-receive and post-receive hooks in a bare repository; True when a file had to be (re)written."""
    written = [_install(Path(repo) / "hooks" / name, script) for name, script in HOOKS.items()]
    return any(written)


def _install(hook: Path, script: str) -> bool:
    if hook.is_file() and not hook.is_symlink() and os.access(hook, os.X_OK):
        try:
            if hook.read_text() == script:
                return False
        except (OSError, UnicodeDecodeError):
            pass
    hook.parent.mkdir(parents=True, exist_ok=True)
    temporary = hook.with_name(f".{hook.name}.tmp")
    temporary.write_text(script)
    temporary.chmod(0o700)  # state is private to its owner; git only needs to run it
    os.replace(temporary, hook)
    return True


def hook_env(
    notice_url: str, token: str, repo: str, python: str, max_blob_size: int = prereceive.MAX_BLOB_SIZE
) -> dict[str, str]:
    """The variables that make the hooks check a push and report it to this server."""
    return {
        "DRIFTLAB_PUSH_URL": notice_url,
        "DRIFTLAB_PUSH_TOKEN": token,
        "DRIFTLAB_PUSH_REPO": repo,
        "DRIFTLAB_PYTHON": python,
        "DRIFTLAB_PRE_RECEIVE": str(Path(prereceive.__file__).resolve()),
        prereceive.LIMIT_ENV: str(max_blob_size),
    }


def parse_notice(data: Any) -> list[PushEvent]:
    """The push events of one notice, in the order git updated the refs."""
    if not isinstance(data, dict):
        raise NoticeError("a push notice is a JSON object")
    repo, pusher, updates = data.get("repo"), data.get("pusher", ""), data.get("updates")
    if not isinstance(repo, str):
        raise NoticeError("a push notice names its repository")
    check_repo_name(repo)
    if not isinstance(pusher, str) or not pusher.isprintable():
        raise NoticeError("the pusher of a push notice must be a printable string")
    if not isinstance(updates, list) or len(updates) > MAX_UPDATES:
        raise NoticeError("a push notice lists its ref updates")
    events = []
    for update in updates:
        if not isinstance(update, dict):
            raise NoticeError("each ref update is an object with old, new and ref")
        old, new, ref = update.get("old"), update.get("new"), update.get("ref")
        if not all(isinstance(value, str) for value in (old, new, ref)):
            raise NoticeError("each ref update has string old, new and ref")
        if not _SHA_RE.match(str(old)) or not _SHA_RE.match(str(new)) or not _REF_RE.match(str(ref)):
            raise NoticeError(f"bad ref update {old!r} {new!r} {ref!r}")
        events.append(PushEvent(repo, str(ref), str(old), str(new), pusher))
    return events
