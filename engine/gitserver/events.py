"""What a push tells the rest of the lab: pipelines start on it, GitOps agents reconcile on it."""

from __future__ import annotations

from dataclasses import dataclass

ZERO = "0" * 40


@dataclass(frozen=True)
class PushEvent:
    """One ref update received by the Git server (one line of git's post-receive input)."""

    repo: str  # repository name without `.git`, e.g. "shop"
    ref: str  # full ref name, e.g. "refs/heads/main"
    old: str  # previous commit, or ZERO when the ref was created
    new: str  # new commit, or ZERO when the ref was deleted
    pusher: str = ""  # the account that pushed

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None

    @property
    def deleted(self) -> bool:
        return self.new == ZERO
