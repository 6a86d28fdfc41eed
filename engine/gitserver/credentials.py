"""Per-lab Git accounts: a learner who may fetch and push, and a read-only deploy account for agents.

Saved as JSON readable by the owner only (mode 0600):
`{"learner": {"username": ..., "password": ...}, "deploy": {"username": ..., "password": ...}}`.
Secrets are compared in constant time, and every account is compared on every attempt, so the time an
answer takes says nothing about which part was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths
from .errors import GitServerError

LEARNER = "learner"
DEPLOY = "deploy"
ROLES = (LEARNER, DEPLOY)
_USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")


class CredentialsError(GitServerError):
    """A credentials file that cannot be read or does not hold both accounts."""


@dataclass(frozen=True)
class Account:
    """One Git account; `can_push` separates the learner from the read-only deploy account."""

    username: str
    password: str = field(repr=False)
    can_push: bool = False


def _password() -> str:
    return secrets.token_urlsafe(24)


def _check_password(password: object) -> bool:
    return isinstance(password, str) and len(password) >= 8 and password.isprintable() and " " not in password


@dataclass(frozen=True)
class Credentials:
    """The lab's two Git accounts."""

    learner: Account
    deploy: Account

    @classmethod
    def generate(cls) -> Credentials:
        """Fresh random passwords; each lab gets its own."""
        return cls(Account(LEARNER, _password(), can_push=True), Account(DEPLOY, _password(), can_push=False))

    @property
    def accounts(self) -> tuple[Account, Account]:
        return (self.learner, self.deploy)

    def account(self, role: str) -> Account:
        """The account for a role, `learner` or `deploy`."""
        if role == LEARNER:
            return self.learner
        if role == DEPLOY:
            return self.deploy
        raise GitServerError(f"unknown Git account {role!r}: use {LEARNER!r} or {DEPLOY!r}")

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account these credentials belong to, or None."""
        given_user, given_password = username.encode(), password.encode()
        found = None
        for account in self.accounts:
            user_ok = hmac.compare_digest(given_user, account.username.encode())
            password_ok = hmac.compare_digest(given_password, account.password.encode())
            if user_ok & password_ok:
                found = account
        return found

    def authenticate_header(self, header: str | None) -> Account | None:
        """The account named by an `Authorization: Basic ...` header, or None when it is missing or wrong."""
        if not header:
            return None
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        username, colon, password = decoded.partition(":")
        return self.authenticate(username, password) if colon else None

    def to_json(self) -> dict[str, Any]:
        return {
            role: {"username": a.username, "password": a.password} for role, a in zip(ROLES, self.accounts, strict=True)
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "credentials") -> Credentials:
        if not isinstance(data, dict):
            raise CredentialsError(f"{source}: expected an object with {LEARNER!r} and {DEPLOY!r} accounts")
        accounts = []
        for role in ROLES:
            entry = data.get(role)
            if not isinstance(entry, dict):
                raise CredentialsError(f"{source}: the {role!r} account is missing")
            username, password = entry.get("username"), entry.get("password")
            if not isinstance(username, str) or not _USERNAME_RE.match(username):
                raise CredentialsError(f"{source}: the {role!r} account has no valid username")
            if not _check_password(password):
                raise CredentialsError(f"{source}: the {role!r} account has no valid password (8+ characters)")
            accounts.append(Account(username, str(password), can_push=role == LEARNER))
        if accounts[0].username == accounts[1].username:
            raise CredentialsError(f"{source}: the learner and deploy accounts need different usernames")
        return cls(*accounts)

    def save(self, path: Path) -> None:
        """Write atomically, readable by the owner only, so other users of the machine cannot push."""
        paths.write_private(Path(path), json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Credentials:
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise CredentialsError(f"cannot read Git credentials {path}: {err.strerror or err}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise CredentialsError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
        return cls.from_json(data, str(path))

    @classmethod
    def load_or_generate(cls, path: Path) -> Credentials:
        """The lab's credentials: read them when the file exists, else generate and save new ones."""
        if Path(path).exists():
            return cls.load(path)
        credentials = cls.generate()
        credentials.save(path)
        return credentials
