"""Per-lab Git credentials: generation, the 0600 file, and checking basic auth."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from engine.gitserver.credentials import Credentials, CredentialsError
from engine.gitserver.errors import GitServerError


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_generated_credentials_differ_per_lab_and_per_account() -> None:
    first, second = Credentials.generate(), Credentials.generate()

    assert (first.learner.username, first.deploy.username) == ("learner", "deploy")
    assert first.learner.can_push and not first.deploy.can_push
    assert first.learner.password != first.deploy.password
    assert first.learner.password != second.learner.password
    assert len(first.learner.password) >= 24


def test_passwords_stay_out_of_reprs() -> None:
    credentials = Credentials.generate()

    assert credentials.learner.password not in repr(credentials)


def test_saved_file_is_private_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "lab" / "git-credentials.json"
    credentials = Credentials.generate()

    credentials.save(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Credentials.load(path) == credentials
    assert set(json.loads(path.read_text())) == {"learner", "deploy"}
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_load_or_generate_keeps_existing_credentials(tmp_path: Path) -> None:
    path = tmp_path / "git-credentials.json"

    created = Credentials.load_or_generate(path)

    assert Credentials.load_or_generate(path) == created


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "expected an object"),
        ('{"learner": {"username": "learner", "password": "longenough"}}', "'deploy' account is missing"),
        (
            '{"learner": {"username": "Bad:Name", "password": "longenough"},'
            ' "deploy": {"username": "deploy", "password": "longenough"}}',
            "no valid username",
        ),
        (
            '{"learner": {"username": "learner", "password": "short"},'
            ' "deploy": {"username": "deploy", "password": "longenough"}}',
            "no valid password",
        ),
        (
            '{"learner": {"username": "same", "password": "longenough"},'
            ' "deploy": {"username": "same", "password": "longenough2"}}',
            "different usernames",
        ),
    ],
)
def test_malformed_files_give_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)

    with pytest.raises(CredentialsError, match=message):
        Credentials.load(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot read Git credentials"):
        Credentials.load(tmp_path / "missing.json")


def test_authenticate_finds_the_matching_account() -> None:
    credentials = Credentials.generate()
    learner, deploy = credentials.learner, credentials.deploy

    assert credentials.authenticate("learner", learner.password) == learner
    assert credentials.authenticate("deploy", deploy.password) == deploy
    assert credentials.authenticate("deploy", learner.password) is None
    assert credentials.authenticate("learner", "") is None
    assert credentials.authenticate("", "") is None


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "Basic",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
def test_malformed_authorization_headers_authenticate_nobody(header: str | None) -> None:
    assert Credentials.generate().authenticate_header(header) is None


def test_basic_auth_header_is_decoded() -> None:
    credentials = Credentials.generate()

    assert credentials.authenticate_header(basic("learner", credentials.learner.password)) == credentials.learner
    assert credentials.authenticate_header(basic("learner", credentials.deploy.password)) is None


def test_unknown_account_role_is_refused() -> None:
    with pytest.raises(GitServerError, match="unknown Git account"):
        Credentials.generate().account("admin")
