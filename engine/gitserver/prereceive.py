"""What a push may not do to a lab's repository, decided by the pre-receive hook before any ref moves.

Git runs the hook once the pushed objects have arrived in a quarantine folder and before it updates any ref;
when the hook refuses, git throws the quarantine away and reports every ref as rejected, so a refused push
leaves the repository exactly as it was. The hook runs this file as a script with the server's Python in
isolated mode, so it uses the standard library only. It refuses a push that:

- adds a file (blob) larger than `DRIFTLAB_MAX_BLOB_SIZE` bytes (100 MiB unless the server says otherwise);
- deletes the default branch (the branch HEAD names) or rewrites its history: the lab's pipelines and agents
  follow that branch, and a commit they deployed must stay on it (undo with `git revert`; other branches may
  be force-pushed and deleted);
- names a ref that is not UTF-8, or longer than git can store as a file (255 bytes between slashes, 1024 in
  all), so each accepted ref can be stored and reported;
- updates more than MAX_UPDATES refs at once.

Each problem is one `driftlab: ...` line on stderr, which git shows the pusher as `remote: driftlab: ...`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ZERO_IDS = ("0" * 40, "0" * 64)
MAX_BLOB_SIZE = 100 * 1024 * 1024
MAX_REF_BYTES = 1024
MAX_REF_PART_BYTES = 255
MAX_UPDATES = 10_000
MAX_REPORTED = 10
LIMIT_ENV = "DRIFTLAB_MAX_BLOB_SIZE"


@dataclass(frozen=True)
class Update:
    """One line of the hook's input: a ref moving from `old` to `new` (all zeros: created or deleted)."""

    old: str
    new: str
    ref: bytes

    @property
    def name(self) -> str:
        return self.ref.decode("utf-8", errors="replace")

    @property
    def created(self) -> bool:
        return self.old in ZERO_IDS

    @property
    def deleted(self) -> bool:
        return self.new in ZERO_IDS


@dataclass(frozen=True)
class Blob:
    """A pushed file over the limit: its path in the pushed tree ("" when a ref names the blob itself)."""

    sha: str
    size: int
    path: str


def parse_updates(data: bytes) -> list[Update]:
    """The ref updates of the hook's input (`<old> <new> <ref>` per line)."""
    updates = []
    for line in data.splitlines():
        parts = line.split(b" ", 2)
        if len(parts) == 3:
            updates.append(Update(parts[0].decode("ascii"), parts[1].decode("ascii"), parts[2]))
    return updates


def size_text(size: int) -> str:
    """A size as people read it, with the exact byte count beside it."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit} ({size} bytes)"
    return f"{size} bytes"


def ref_problem(ref: bytes) -> str | None:
    """Why a ref name cannot be taken, or None; git has already checked the rest of its format."""
    try:
        name = ref.decode("utf-8")
    except UnicodeDecodeError:
        return f"{ref.decode('utf-8', errors='replace')!r}: ref names must be UTF-8"
    if len(ref) > MAX_REF_BYTES:
        return f"{name[:60]}...: ref names may be at most {MAX_REF_BYTES} bytes long (this one has {len(ref)})"
    longest = max(ref.split(b"/"), key=len)
    if len(longest) > MAX_REF_PART_BYTES:
        return (
            f"{name[:60]}...: each part of a ref name between slashes may be at most {MAX_REF_PART_BYTES} bytes "
            f"(one has {len(longest)}), the longest file name a file system takes"
        )
    return None


def branch_problem(update: Update, default: str | None, fast_forward: bool) -> str | None:
    """Why an update of the default branch is refused, or None; `fast_forward`: old is an ancestor of new."""
    if default is None or update.name != default or update.created:
        return None
    branch = default.removeprefix("refs/heads/")
    if update.deleted:
        return (
            f"{branch} is this repository's default branch and cannot be deleted: the lab's pipelines and GitOps "
            "agents follow it"
        )
    if not fast_forward:
        return (
            f"{branch} is this repository's default branch and its history cannot be rewritten (this push is not a "
            "fast-forward): the lab's pipelines and GitOps agents follow it. Undo a commit with `git revert` and "
            "push that; force pushes are fine on other branches"
        )
    return None


def blob_problems(blobs: Sequence[Blob], limit: int) -> list[str]:
    """One line per file over the limit (at most MAX_REPORTED, then how many more)."""
    lines = []
    for blob in blobs[:MAX_REPORTED]:
        what = blob.path or f"the blob {blob.sha}"
        lines.append(f"{what} is {size_text(blob.size)}; files may be at most {size_text(limit)}")
    if len(blobs) > MAX_REPORTED:
        lines.append(f"... and {len(blobs) - MAX_REPORTED} more files over the limit")
    if blobs:
        lines.append(
            "take the large files out of the commits you push (for example `git reset HEAD~1`, then commit "
            "without them) and push again"
        )
    return lines


def parse_blob_line(line: bytes, limit: int) -> Blob | None:
    """A `cat-file --batch-check` line (`<type> <size> <sha> <path>`), kept when it is a blob over the limit."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[0] != b"blob" or not parts[1].isdigit() or int(parts[1]) <= limit:
        return None
    path = parts[3].decode("utf-8", errors="replace") if len(parts) == 4 else ""
    return Blob(parts[2].decode("ascii"), int(parts[1]), path)


def oversized_blobs(tips: Iterable[str], limit: int, git: str = "git") -> list[Blob]:
    """The blobs over `limit` among the objects reachable from `tips` that no existing ref reaches.

    `rev-list` walks the new objects (still in quarantine, which the hook's environment points git at) and
    `cat-file` sizes them, streamed from one into the other so a push of many files costs no memory here.
    """
    tips = sorted(set(tips))
    if not tips:
        return []
    walk = subprocess.Popen([git, "rev-list", "--objects", *tips, "--not", "--all"], stdout=subprocess.PIPE)
    sizes = subprocess.Popen(
        [git, "cat-file", "--batch-check=%(objecttype) %(objectsize) %(objectname) %(rest)"],
        stdin=walk.stdout,
        stdout=subprocess.PIPE,
    )
    assert walk.stdout is not None and sizes.stdout is not None
    walk.stdout.close()  # cat-file holds the pipe now; rev-list sees it close if cat-file stops early
    found = [blob for line in sizes.stdout if (blob := parse_blob_line(line, limit)) is not None]
    if sizes.wait() != 0 or walk.wait() != 0:
        raise RuntimeError("could not list the pushed objects")
    return found


def default_branch(git: str = "git") -> str | None:
    """The ref HEAD names, e.g. `refs/heads/main`."""
    result = subprocess.run([git, "symbolic-ref", "-q", "HEAD"], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def is_ancestor(old: str, new: str, git: str = "git") -> bool:
    return subprocess.run([git, "merge-base", "--is-ancestor", old, new], capture_output=True).returncode == 0


def limit_from_env(environ: Mapping[str, str]) -> int:
    value = environ.get(LIMIT_ENV, "")
    return int(value) if value.isascii() and value.isdigit() else MAX_BLOB_SIZE


def problems(updates: Sequence[Update], limit: int, git: str = "git") -> list[str]:
    """Every reason to refuse this push; empty when it may go ahead."""
    if len(updates) > MAX_UPDATES:
        return [f"a push may update at most {MAX_UPDATES} refs at once (this one updates {len(updates)})"]
    found = [problem for update in updates if (problem := ref_problem(update.ref)) is not None]
    if found:
        return found
    default = default_branch(git)
    for update in updates:
        moves = update.name == default and not update.created and not update.deleted
        problem = branch_problem(update, default, moves and is_ancestor(update.old, update.new, git))
        if problem is not None:
            found.append(problem)
    tips = [update.new for update in updates if not update.deleted]
    return found + blob_problems(oversized_blobs(tips, limit, git), limit)


def main() -> int:
    updates = parse_updates(sys.stdin.buffer.read())
    try:
        found = problems(updates, limit_from_env(os.environ))
    except (OSError, RuntimeError, UnicodeDecodeError) as err:
        found = [f"the push could not be checked ({err}); try again"]
    for line in found:
        print(f"driftlab: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
