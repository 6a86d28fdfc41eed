"""Turning `git http-backend`'s CGI head into an HTTP answer, and the environment it runs in."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.gitserver.cgi import CgiError, backend_env, parse_cgi_head, read_cgi_head


def test_status_and_headers_are_mapped() -> None:
    head = parse_cgi_head(
        ["Status: 403 Forbidden", "Content-Type: text/plain", "Expires: Fri, 01 Jan 1980 00:00:00 GMT"]
    )

    assert (head.status, head.reason) == (403, "Forbidden")
    assert head.headers == [("Content-Type", "text/plain"), ("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")]


def test_no_status_means_200_and_hop_by_hop_headers_are_dropped() -> None:
    head = parse_cgi_head(["Content-Type: x", "Transfer-Encoding: chunked", "Connection: close"])

    assert head.status == 200
    assert head.headers == [("Content-Type", "x")]


@pytest.mark.parametrize("line", ["no colon here", "Status: ok", "Status: 99 Low", "Bad Name: x", ": empty"])
def test_bad_head_lines_are_errors(line: str) -> None:
    with pytest.raises(CgiError):
        parse_cgi_head([line])


def read(data: bytes) -> tuple[object, bytes]:
    async def scenario() -> tuple[object, bytes]:
        stream = asyncio.StreamReader()
        stream.feed_data(data)
        stream.feed_eof()
        head = await read_cgi_head(stream)
        return head, await stream.read()

    return asyncio.run(scenario())


def test_head_is_read_off_the_stream_and_the_body_left() -> None:
    head, body = read(b"Status: 200 OK\r\nContent-Type: application/x-git\r\n\r\n0008NAK\nPACK")

    assert head == parse_cgi_head(["Status: 200 OK", "Content-Type: application/x-git"])
    assert body == b"0008NAK\nPACK"


def test_bare_newlines_end_the_head_too() -> None:
    head, body = read(b"Content-Type: a\n\nbody")

    assert head == parse_cgi_head(["Content-Type: a"])
    assert body == b"body"


def test_output_ending_inside_the_head_is_an_error() -> None:
    with pytest.raises(CgiError, match="stopped before the end"):
        read(b"Status: 200 OK\r\nContent-Type: a\r\n")


def test_endless_headers_are_an_error() -> None:
    with pytest.raises(CgiError, match="too many headers"):
        read(b"X-A: b\r\n" * 10_000)


def test_backend_env_is_complete_and_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/somewhere/else")
    env = backend_env(
        project_root=tmp_path,
        path_info="/shop.git/git-receive-pack",
        method="POST",
        query="",
        content_type="application/x-git-receive-pack-request",
        remote_user="deploy",
        remote_addr="127.0.0.1",
        can_push=False,
        git_protocol="version=2",
        extra={"DRIFTLAB_PUSH_REPO": "shop"},
    )

    assert env["GIT_PROJECT_ROOT"] == str(tmp_path)
    assert env["GIT_HTTP_EXPORT_ALL"] == "1"
    assert env["PATH_INFO"] == "/shop.git/git-receive-pack"
    assert env["REQUEST_METHOD"] == "POST"
    assert env["REMOTE_USER"] == "deploy"
    assert env["HTTP_GIT_PROTOCOL"] == "version=2"
    assert env["DRIFTLAB_PUSH_REPO"] == "shop"
    assert (env["GIT_CONFIG_KEY_0"], env["GIT_CONFIG_VALUE_0"]) == ("http.receivepack", "false")
    assert "GIT_DIR" not in env
    assert "CONTENT_LENGTH" not in env
